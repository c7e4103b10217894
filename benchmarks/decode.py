"""Decode throughput: a 100-row ``list`` body from bytes into ActiveCall objects.

The body is one page fetched from the simulator, so the bytes are what the server
sends. Each contender decodes it many times per repetition; figures are calls per
second and µs per call, ratios are against ``json.loads`` of the same bytes. The SDK
decodes with msgspec into ``ActiveCall`` (``activecalls_async._wire.calls``); a body the
fast path does not cover goes to the cattrs converter, whose cost is measured too
(fast configuration, detailed validation, and a body that fails and is explained).
The same body with an undocumented field shows the fast path once it has learnt the
field's name.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from activecalls_async import ActiveCall
from activecalls_async._wire.calls import CallDecoder, decode_calls
from activecalls_async._wire.convert import (
    WIRE_NAMES,
    _parse_datetime,
    make_converter,
    structure_calls,
)

from ._contenders import PAGE_SIZE, auth_headers, list_url, raw_session
from ._results import Check, Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "decode"
TITLE = f"Decode: one {PAGE_SIZE}-row list body into calls"

LOADS = "json.loads only"
ORJSON = "orjson.loads only"
MSGSPEC = "msgspec.json.decode only (builtins)"
DICTS = "json.loads + plain dicts"
SDK = "SDK decode_calls (msgspec into ActiveCall)"
SDK_EXTRA = "SDK decode_calls, one undocumented field per call (learnt)"
CATTRS = "json.loads + cattrs converter (fallback path)"
DETAILED = "json.loads + cattrs detailed_validation=True"
BROKEN = "SDK decode of a body with one bad field (fast declines, detailed explains)"

#: The targets for the SDK's decode.
MAX_RATIO = 1.5
MAX_US_PER_CALL = 2.5

_PYTHON_NAMES = {wire: python for python, wire in WIRE_NAMES.items()}
_TIME_FIELDS = ("enqueue_time", "dequeue_time")

#: Blocks per repetition, each contender taking its turn in each.
ROUNDS = 10

Decode = Callable[[bytes], object]


async def _fetch_page(server: ServerInfo) -> bytes:
    async with (
        raw_session() as session,
        session.get(
            list_url(server, "ACCOUNT", int(server.account_id), 0), headers=auth_headers(server)
        ) as response,
    ):
        response.raise_for_status()
        return await response.read()


def _plain_dicts(body: bytes) -> object:
    """What hand-written code would build: snake_case dicts with parsed times."""
    rows: list[dict[str, Any]] = []
    for wire in json.loads(body):
        row = {_PYTHON_NAMES.get(key, key): value for key, value in wire.items()}
        for key in _TIME_FIELDS:
            value = row.get(key)
            if value is not None:
                row[key] = _parse_datetime(value)
        rows.append(row)
    return rows


def _orjson() -> Decode | None:
    """``orjson.loads`` when it is installed (benchmarks/requirements.txt), else None."""
    try:
        import orjson
    except ImportError:
        return None
    loads: Decode = orjson.loads
    return loads


def _contenders() -> dict[str, Decode]:
    detailed = make_converter(detailed=True)
    learning = CallDecoder()
    contenders: dict[str, Decode] = {LOADS: json.loads}
    orjson_loads = _orjson()
    if orjson_loads is not None:
        contenders[ORJSON] = orjson_loads
    contenders.update(
        {
            MSGSPEC: msgspec.json.Decoder().decode,
            DICTS: _plain_dicts,
            SDK: decode_calls,
            SDK_EXTRA: learning.decode,
            CATTRS: lambda body: structure_calls(json.loads(body)),
            DETAILED: lambda body: detailed.structure(json.loads(body), list[ActiveCall]),
        }
    )
    return contenders


def _with_extra(body: bytes) -> bytes:
    """The same body with one field the API does not document in every call."""
    return json.dumps([{**row, "queueName": "Support"} for row in json.loads(body)]).encode()


def _broken(body: bytes) -> bytes:
    """The same body with one field of one row in the wrong shape."""
    rows = json.loads(body)
    rows[len(rows) // 2]["archive"] = "yes"
    return json.dumps(rows).encode()


def _explained(body: bytes) -> object:
    try:
        decode_calls(body)
    except ValueError as exc:
        return str(exc)
    raise AssertionError("the broken body decoded")


def _time(decode: Decode, body: bytes, pages: int) -> float:
    """Seconds spent decoding ``body`` ``pages`` times in a row."""
    started = time.perf_counter()
    for _ in range(pages):
        decode(body)
    return time.perf_counter() - started


def _repetition(
    contenders: dict[str, Decode], bodies: dict[str, bytes], pages: int
) -> dict[str, float]:
    """Seconds per body for each contender, over ``pages`` bodies taken in rotating blocks."""
    names = list(contenders)
    spent = dict.fromkeys(names, 0.0)
    block = max(1, pages // ROUNDS)
    # Short blocks in a rotating order: a busy moment on a shared machine then lands
    # on every contender alike.
    for turn in range(ROUNDS):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            spent[name] += _time(contenders[name], bodies[name], block)
    return {name: seconds / (block * ROUNDS) for name, seconds in spent.items()}


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the decode scenario."""
    # Many short repetitions: on a shared machine their median shrugs off a busy moment.
    pages = 50 if config.quick else 150
    repeat = config.repetitions(full=15, quick=5)
    with SimulatorProcess(calls=2000) as process:
        body = asyncio.run(_fetch_page(process.server))
    rows = len(json.loads(body))
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "rows_per_body": rows,
            "body_bytes": len(body),
            "pages": pages,
            "repetitions": repeat,
            "msgspec": msgspec.__version__,
        },
    )
    contenders: dict[str, Decode] = {**_contenders(), BROKEN: _explained}
    bodies = dict.fromkeys(contenders, body)
    bodies[BROKEN] = _broken(body)
    bodies[SDK_EXTRA] = _with_extra(body)
    for name, decode in contenders.items():
        _time(decode, bodies[name], 10)  # warm up (and learn the undocumented field)
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, value in _repetition(contenders, bodies, pages).items():
            seconds[name].append(value)
    bad = seconds.pop(BROKEN)
    base = seconds[LOADS]
    for name, values in seconds.items():
        result.rows.append(
            Row(
                name,
                "throughput",
                "calls/s",
                Stat.of([rows / v for v in values]),
                None if name == LOADS else paired_ratio(values, base),
                None if name == LOADS else LOADS,
            )
        )
    for name in (LOADS, SDK, SDK_EXTRA, CATTRS):
        result.rows.append(
            Row(name, "time per call", "µs", Stat.of([v / rows * 1e6 for v in seconds[name]]))
        )
    result.rows.append(
        Row(
            BROKEN,
            "time per body",
            "ms",
            Stat.of([v * 1000 for v in bad]),
            paired_ratio(bad, seconds[CATTRS]),
            CATTRS,
        )
    )
    ratio = paired_ratio(seconds[SDK], base).median
    per_call = Stat.of(seconds[SDK]).median / rows * 1e6
    result.checks.append(Check(f"SDK decode ≤ {MAX_RATIO}x json.loads", ratio, "<=", MAX_RATIO))
    result.checks.append(
        Check(f"SDK decode ≤ {MAX_US_PER_CALL} µs per call", per_call, "<=", MAX_US_PER_CALL)
    )
    cattrs_median = Stat.of(seconds[CATTRS]).median
    result.notes.append(
        "Ratios are time per body against json.loads of the same bytes. "
        f"The SDK's typed decode costs {per_call:.2f} µs per call, times parsed; the cattrs "
        f"converter it falls back to for bodies outside the documented shape costs "
        f"{cattrs_median / rows * 1e6:.2f} µs, and cattrs' detailed validation "
        f"{Stat.of(seconds[DETAILED]).median / cattrs_median:.2f}x that, so the SDK keeps "
        "it for explaining failures only."
    )
    return result
