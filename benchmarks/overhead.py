"""Per-request overhead: one 100-row ``list`` page, SDK against hand-written aiohttp.

Every contender asks the same URL of the same simulator (its own process) the same
number of times in a row; wall and CPU time are per request. The scenario runs twice:
with no injected latency (loopback speed, where any overhead shows) and with 20 ms, a
near network round trip. The repetitions interleave the contenders, so that a noisy
neighbour slows them alike.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from activecalls_async import ActiveCallsClient, RateLimit
from activecalls_async._wire.calls import decode_calls

from ._contenders import (
    DEFAULT_CONCURRENCY,
    PAGE_SIZE,
    auth_headers,
    list_url,
    raw_session,
    sdk_client,
)
from ._results import Check, Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "overhead"
TITLE = f"Per-request overhead: list_active_calls, one {PAGE_SIZE}-row page"

RAW = "aiohttp + json.loads"
RAW_DECODE = "aiohttp + SDK decode_calls"
RAW_AS_SDK = "aiohttp set up as the SDK's transport + SDK decode_calls"
SDK = "SDK list_active_calls"
SDK_LIMITED = "SDK list_active_calls, rate limiter on"

#: Blocks per repetition, each contender taking its turn in each.
ROUNDS = 10

#: The targets: SDK wall time per request against raw aiohttp, by latency (s).
TARGETS = {0.0: 1.15, 0.02: 1.05}
#: The target for CPU time per request at loopback speed, where any overhead shows.
CPU_TARGET = 1.10

Request = Callable[[], Awaitable[object]]


def _raw(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Request:
    async def request() -> object:
        async with session.get(url, headers=headers) as response:
            return json.loads(await response.read())

    return request


def _raw_decoded(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Request:
    async def request() -> object:
        async with session.get(url, headers=headers) as response:
            return decode_calls(await response.read())

    return request


def _tracer() -> aiohttp.TraceConfig:
    """Two trace hooks, as the SDK's transport installs to tell whether a request was sent."""

    async def mark(session: aiohttp.ClientSession, context: SimpleNamespace, _: Any) -> None:
        context.trace_request_ctx["seen"] = True

    tracer = aiohttp.TraceConfig()
    tracer.on_request_start.append(mark)
    tracer.on_request_headers_sent.append(mark)
    return tracer


def _raw_as_sdk(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Request:
    """What the SDK asks of aiohttp per request: a prebuilt URL, its own timeout, no
    redirects, a trace context; everything else (checks, limiter, retries) left out."""
    target = URL(url, encoded=True)
    timeout = 30.0

    async def request() -> object:
        async with session.request(
            "GET",
            target,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
            trace_request_ctx={},
        ) as response:
            return decode_calls(await response.read())

    return request


def _sdk(client: ActiveCallsClient, account: int) -> Request:
    async def request() -> object:
        return await client.list_active_calls("ACCOUNT", account, page=0, max_rows=PAGE_SIZE)

    return request


async def _time(request: Request, count: int) -> tuple[float, float]:
    """Wall and CPU seconds spent on ``count`` requests in a row."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await request()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _measure(
    server: ServerInfo, *, count: int, repeat: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Per contender, the wall and CPU milliseconds per request of each repetition."""
    account = int(server.account_id)
    url = list_url(server, "ACCOUNT", account, 0)
    headers = auth_headers(server)
    # A limit that never binds: what the default-on limiter's bookkeeping costs.
    never_binding = RateLimit(10**9, per=60.0)
    async with (
        raw_session() as session,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=DEFAULT_CONCURRENCY), trace_configs=[_tracer()]
        ) as traced,
        sdk_client(server) as client,
        sdk_client(server, rate_limit=never_binding) as limited,
    ):
        contenders = {
            RAW: _raw(session, url, headers),
            RAW_DECODE: _raw_decoded(session, url, headers),
            RAW_AS_SDK: _raw_as_sdk(traced, url, headers),
            SDK: _sdk(client, account),
            SDK_LIMITED: _sdk(limited, account),
        }
        for request in contenders.values():
            await _time(request, 30)  # warm up connections and caches
        results: dict[str, tuple[list[float], list[float]]] = {
            name: ([], []) for name in contenders
        }
        names = list(contenders)
        block = max(1, count // ROUNDS)
        for _ in range(repeat):
            wall = dict.fromkeys(names, 0.0)
            cpu = dict.fromkeys(names, 0.0)
            # Short blocks in a rotating order: a busy moment on a shared machine then
            # lands on every contender alike instead of on whichever ran at the time.
            for turn in range(ROUNDS):
                for name in names[turn % len(names) :] + names[: turn % len(names)]:
                    spent_wall, spent_cpu = await _time(contenders[name], block)
                    wall[name] += spent_wall
                    cpu[name] += spent_cpu
            for name in names:
                results[name][0].append(wall[name] / (block * ROUNDS) * 1000)
                results[name][1].append(cpu[name] / (block * ROUNDS) * 1000)
    return results


def _workload(config: Config, latency: float) -> tuple[int, int]:
    """Requests per repetition and repetitions: fewer when each request waits ``latency``."""
    if latency:
        return (40 if config.quick else 100), config.repetitions(full=5, quick=3)
    return (100 if config.quick else 300), config.repetitions(full=7, quick=3)


def _report(
    result: ScenarioResult, data: dict[str, tuple[list[float], list[float]]], latency: float
) -> None:
    """Rows for one latency: every contender against raw aiohttp, and the SDK's target."""
    at = f" @ {latency * 1000:.0f} ms"
    for index, metric in enumerate(("wall", "CPU")):
        base = data[RAW][index]
        for name, values in data.items():
            measured = values[index]
            is_base = name == RAW
            result.rows.append(
                Row(
                    name + at,
                    f"{metric} per request",
                    "ms",
                    Stat.of(measured),
                    None if is_base else paired_ratio(measured, base),
                    None if is_base else RAW + at,
                )
            )
        result.rows.append(
            Row(
                f"{SDK}, transport only{at}",
                f"{metric} per request",
                "ms",
                Stat.of(data[SDK][index]),
                paired_ratio(data[SDK][index], data[RAW_DECODE][index]),
                RAW_DECODE + at,
            )
        )
    for index, metric in ((0, "wall"), (1, "CPU")):
        if latency and metric == "CPU":
            continue  # waiting costs no CPU: the zero-latency CPU ratio already says it all
        limit = CPU_TARGET if metric == "CPU" else TARGETS[latency]
        ratio = paired_ratio(data[SDK][index], data[RAW][index]).median
        result.checks.append(
            Check(f"SDK {metric} time ≤ {limit:.2f}x raw aiohttp{at}", ratio, "<=", limit)
        )


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the per-request overhead scenario, at 0 and at 20 ms."""
    result = ScenarioResult(NAME, TITLE, {"latencies_s": list(TARGETS)})
    measured: dict[float, dict[str, tuple[list[float], list[float]]]] = {}
    for latency in TARGETS:
        count, repeat = _workload(config, latency)
        result.params[f"requests_per_repetition@{latency}"] = count
        result.params[f"repetitions@{latency}"] = repeat
        with SimulatorProcess(calls=2000, latency=latency) as process:
            measured[latency] = asyncio.run(_measure(process.server, count=count, repeat=repeat))
        _report(result, measured[latency], latency)
    data = measured[0.0]
    extra_wall = Stat.of(data[SDK][0]).median - Stat.of(data[RAW][0]).median
    extra_cpu = Stat.of(data[SDK][1]).median - Stat.of(data[RAW][1]).median
    result.notes.append(
        f"At loopback speed the SDK adds {extra_wall:.2f} ms wall and {extra_cpu:.2f} ms CPU "
        f"per {PAGE_SIZE}-row page ({extra_cpu * 1000 / PAGE_SIZE:.1f} µs CPU per call) "
        "over hand-written aiohttp + json.loads, typed ActiveCall objects included "
        "(negative where the typed decode costs less than json.loads alone)."
    )
    result.notes.append(
        f"'transport only' compares the SDK with '{RAW_DECODE}': both decode into "
        "ActiveCall objects, so the ratio is what the SDK's request path adds "
        "(validation, URL building, limiter, retry wrapper, tracing, error mapping)."
    )
    cpu = {name: Stat.of(values[1]).median * 1000 for name, values in data.items()}
    result.notes.append(
        "Where the request path's CPU goes, per request at loopback speed: "
        f"{cpu[RAW_AS_SDK] - cpu[RAW_DECODE]:.0f} µs in what the SDK asks of aiohttp "
        "(per-request timeout, no redirects, trace hooks: "
        f"'{RAW_AS_SDK}' against '{RAW_DECODE}'), "
        f"{cpu[SDK] - cpu[RAW_AS_SDK]:.0f} µs in the SDK's own Python (checks, URL, "
        "credentials, concurrency slot, retry wrapper, error mapping)."
    )
    return result
