"""Decode throughput: a 100-row ``list`` body into ActiveCall objects, and its baselines.

The body is one page fetched from the simulator, so the bytes are what the server
sends. Each contender decodes it many times per repetition; figures are calls per
second. The SDK decodes with its fast cattrs converter (``detailed_validation=False``)
and re-decodes with the detailed one only to explain a body that failed; the
detailed converter's throughput and that failure path are measured too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from activecalls_async import ActiveCall
from activecalls_async._convert import (
    _WIRE_NAMES,
    _parse_datetime,
    make_converter,
    structure_calls,
)

from ._contenders import PAGE_SIZE, auth_headers, list_url, raw_session
from ._results import Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "decode"
TITLE = f"Decode: one {PAGE_SIZE}-row list body into calls"

LOADS = "json.loads only"
DICTS = "json.loads + plain dicts"
SDK = "json.loads + SDK structure_calls (fast cattrs)"
DETAILED = "json.loads + cattrs detailed_validation=True"
BROKEN = "SDK decode of a body with one bad field (fast fails, detailed explains)"

_PYTHON_NAMES = {wire: python for python, wire in _WIRE_NAMES.items()}
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


def _contenders() -> dict[str, Decode]:
    detailed = make_converter(detailed=True)
    return {
        LOADS: json.loads,
        DICTS: _plain_dicts,
        SDK: lambda body: structure_calls(json.loads(body)),
        DETAILED: lambda body: detailed.structure(json.loads(body), list[ActiveCall]),
    }


def _broken(body: bytes) -> bytes:
    """The same body with one field of one row in the wrong shape."""
    rows = json.loads(body)
    rows[len(rows) // 2]["archive"] = "yes"
    return json.dumps(rows).encode()


def _explained(body: bytes) -> object:
    try:
        structure_calls(json.loads(body))
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
        {"rows_per_body": rows, "body_bytes": len(body), "pages": pages, "repetitions": repeat},
    )
    contenders: dict[str, Decode] = {**_contenders(), BROKEN: _explained}
    bodies = dict.fromkeys(contenders, body)
    bodies[BROKEN] = _broken(body)
    for name, decode in contenders.items():
        _time(decode, bodies[name], 10)  # warm up
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
    result.rows.append(Row(SDK, "time per body", "ms", Stat.of([v * 1000 for v in seconds[SDK]])))
    result.rows.append(
        Row(
            BROKEN,
            "time per body",
            "ms",
            Stat.of([v * 1000 for v in bad]),
            paired_ratio(bad, seconds[SDK]),
            SDK,
        )
    )
    fast = Stat.of(seconds[SDK]).median
    result.notes.append(
        "Ratios are time per body against json.loads alone. "
        f"The SDK's typed decode costs {fast / rows * 1e6:.2f} µs per call; "
        f"cattrs' detailed validation would cost "
        f"{Stat.of(seconds[DETAILED]).median / fast:.2f}x that on every body, so the SDK "
        "keeps it for explaining failures only."
    )
    return result
