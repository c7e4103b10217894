"""Listing a contact centre: 7 listings of 10 pages of 100 rows, ~20 ms per request.

Every contender lists the same seven listings (1,000 calls each, in seven queues and
campaigns) from the same simulator, which holds each request for the injected latency,
and must end up with every call. The ideal bound is the least time any client keeping
``CONCURRENCY`` requests in flight could take: ⌈pages ÷ concurrency⌉ round trips.

Two regimes. **No limit**: no rate limit anywhere, a fresh client walks the listings
(prefetching from slack, nothing known of their sizes), then the same client walks them
again (every page it expects asked at once). **Under the account's limit**: the server
enforces 120 requests a minute and the client keeps to its default ``RateLimit(120,
per=60)`` while a watch of three other queues spends part of it; the walk runs ahead
only while the limiter has room, and once requests wait, at most one request goes past
the end of each listing. In both, the server counts the requests each listing got past
its end, and the 429s it answered.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from activecalls_async import ActiveCallsClient

from ._contenders import (
    OfficialSdk,
    auth_headers,
    list_url,
    official_available,
    raw_session,
    raw_walk,
)
from ._results import Check, Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "listing"
TITLE = "Listing a contact centre: 7 listings x 10 pages of 100 rows, 20 ms per request"

LATENCY = 0.02
PAGE_SIZE = 100
CONCURRENCY = 16
#: The seven listings walked, 1,000 calls each (10 pages of 100).
LISTINGS = {
    ("ACD", 55): 1000,
    ("ACD", 56): 1000,
    ("ACD", 57): 1000,
    ("OUTBOUND", 101): 1000,
    ("VISUAL_IVR", 201): 1000,
    ("CLOUD_PROFILE", 301): 1000,
    ("TRAC_NUMBER", 401): 1000,
}
#: What the watch of the limited regime polls: three small queues.
WATCHED = {("ACD", 58): 20, ("ACD", 59): 20, ("ACD", 60): 20}

OFFICIAL = "official SDK (sequential get() loop)"
RAW = "aiohttp, hand-written sequential loop"
FIRST = f"SDK iter_active_calls_many, fresh client (max_concurrency={CONCURRENCY})"
SECOND = "SDK iter_active_calls_many, same client again"
LIMITED = "SDK iter_active_calls_many, 120/min shared with a watch"
IDEAL = f"ideal bound (⌈pages ÷ {CONCURRENCY}⌉ round trips)"
FLOOR = f"aiohttp, every page known beforehand, {CONCURRENCY} at once (this machine's floor)"
FLOOR_AGAIN = "the same floor, on the connections it has open"

Listing = tuple[str, int, int]


def _listings(sizes: dict[tuple[str, int], int]) -> list[Listing]:
    return [(product, product_id, calls) for (product, product_id), calls in sizes.items()]


def _client(server: ServerInfo, **options: Any) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=server.account_id,
        auth=server.token,
        base_url=server.base_url,
        page_size=PAGE_SIZE,
        max_concurrency=CONCURRENCY,
        telemetry=None,
        **options,
    )


async def _fan_out(client: ActiveCallsClient, listings: list[Listing]) -> set[str]:
    targets = [(product, product_id) for product, product_id, _ in listings]
    async with client.iter_active_calls_many(targets) as calls:
        return {call.uii async for call in calls}


def _official(server: ServerInfo, listings: list[Listing]) -> set[str]:
    sdk, seen = OfficialSdk(server), set[str]()
    for listing in listings:
        sdk.walk(listing, seen)
    return seen


def _raw(server: ServerInfo, listings: list[Listing]) -> set[str]:
    async def walk() -> set[str]:
        seen = set[str]()
        async with raw_session() as session:
            for listing in listings:
                await raw_walk(session, server, listing, seen)
        return seen

    return asyncio.run(walk())


class _Uii(msgspec.Struct):
    uii: str


def _floor(
    server: ServerInfo, listings: list[Listing], record: Callable[[str, float, int], None]
) -> None:
    """What no client can beat on this machine: every page a listing needs (the last one
    proving its end) known beforehand, ``CONCURRENCY`` in flight, hand-written aiohttp, only
    each row's uii decoded with the fastest decoder there is; walked on fresh connections,
    then again on the same ones (as the SDK's fresh and same-client walks are)."""
    decode = msgspec.json.Decoder(list[_Uii]).decode
    headers = auth_headers(server)
    urls = [
        list_url(server, product, product_id, page)
        for product, product_id, calls in listings
        for page in range(calls // PAGE_SIZE + 1)
    ]

    async def walk(session: aiohttp.ClientSession) -> int:
        seen = set[str]()
        slots = asyncio.Semaphore(CONCURRENCY)

        async def fetch(url: str) -> None:
            async with slots, session.get(url, headers=headers) as response:
                response.raise_for_status()
                seen.update(row.uii for row in decode(await response.read()))

        await asyncio.gather(*(fetch(url) for url in urls))
        return len(seen)

    async def twice() -> None:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            for name in (FLOOR, FLOOR_AGAIN):
                started = time.perf_counter()
                seen = await walk(session)
                record(name, time.perf_counter() - started, seen)

    asyncio.run(twice())


def _past_the_end(stats: dict[str, Any], listings: list[Listing]) -> list[int]:
    """For each listing, the requests the server got for pages past the one proving its
    end (the pages holding its rows, and the empty or short one after them)."""
    past = []
    for product, product_id, calls in listings:
        last = calls // PAGE_SIZE  # the page that proves the end
        pages = stats["pages"].get(f"{product}:{product_id}", [])
        past.append(sum(1 for page, rows in pages if rows == PAGE_SIZE and page > last))
    return past


def _timed(run: Callable[[], set[str]]) -> tuple[float, set[str]]:
    started = time.perf_counter()
    seen = run()
    return time.perf_counter() - started, seen


def _no_limit(config: Config, result: ScenarioResult) -> None:
    """The first regime: no rate limit; official and hand-written loops against the SDK,
    fresh and again."""
    repeat = config.repetitions(full=5, quick=2)
    listings = _listings(LISTINGS)
    pages = sum(math.ceil(calls / PAGE_SIZE) for _, _, calls in listings)
    ideal = math.ceil(pages / CONCURRENCY) * LATENCY
    expected = sum(LISTINGS.values())
    names = (OFFICIAL, RAW, FLOOR, FLOOR_AGAIN, FIRST, SECOND)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    requests: dict[str, list[float]] = {name: [] for name in seconds}
    past: dict[str, list[int]] = {FIRST: [], SECOND: []}
    with SimulatorProcess(calls=0, latency=LATENCY, listings=LISTINGS) as process:
        server = process.server
        for _ in range(repeat):
            if official_available() is None:
                process.reset()
                took, seen = _timed(lambda: _official(server, listings))
                seconds[OFFICIAL].append(took)
                requests[OFFICIAL].append(process.stats()["requests"])
                assert len(seen) == expected, (OFFICIAL, len(seen))
            process.reset()
            took, seen = _timed(lambda: _raw(server, listings))
            seconds[RAW].append(took)
            requests[RAW].append(process.stats()["requests"])
            assert len(seen) == expected, (RAW, len(seen))

            def record(name: str, took: float, seen: int) -> None:
                seconds[name].append(took)
                requests[name].append(process.stats()["requests"])
                process.reset()
                assert seen == expected, (name, seen)

            process.reset()
            _floor(server, listings, record)

            async def twice() -> None:
                async with _client(server, rate_limit=None) as client:
                    for name in (FIRST, SECOND):
                        process.reset()
                        started = time.perf_counter()
                        seen = await _fan_out(client, listings)
                        seconds[name].append(time.perf_counter() - started)
                        stats = process.stats()
                        requests[name].append(stats["requests"])
                        past[name].extend(_past_the_end(stats, listings))
                        assert len(seen) == expected, (name, len(seen))

            asyncio.run(twice())
    base_name = OFFICIAL if seconds[OFFICIAL] else RAW
    base = seconds[base_name]
    for name, values in seconds.items():
        if not values:
            continue
        result.rows.append(
            Row(
                name,
                "wall time",
                "s",
                Stat.of(values),
                None if name == base_name else paired_ratio(values, base),
                None if name == base_name else base_name,
                sense="speedup",
                note=f"{Stat.of(requests[name]).median:.0f} requests",
            )
        )
    result.rows.append(Row(IDEAL, "wall time", "s", Stat.of([ideal]), note=f"{pages} pages"))
    for name, limit, floor in ((FIRST, 1.4, FLOOR), (SECOND, 1.2, FLOOR_AGAIN)):
        to_ideal = Stat.of([value / ideal for value in seconds[name]])
        to_floor = paired_ratio(seconds[name], seconds[floor])
        result.rows.append(Row(name, "wall time", "s", Stat.of(seconds[name]), to_ideal, IDEAL))
        result.rows.append(Row(name, "wall time", "s", Stat.of(seconds[name]), to_floor, floor))
        result.rows.append(Row(name, "requests past the end, per listing", "", Stat.of(past[name])))
        result.checks += [
            Check(f"{name} ≤ {limit}x the ideal bound", to_ideal.median, "<=", limit),
            Check(f"{name} ≤ {limit}x this machine's floor", to_floor.median, "<=", limit),
        ]
        if seconds[OFFICIAL]:
            speedup = 1 / paired_ratio(seconds[name], seconds[OFFICIAL]).median
            result.checks.append(Check(f"{name} ≥ 10x faster than official", speedup, ">=", 10))
    if not seconds[OFFICIAL]:
        result.notes.append(f"official SDK not measured: {official_available()}")
    result.params.update(
        {
            "listings": ", ".join(f"{p} {i}: {n} calls" for p, i, n in listings),
            "pages": pages,
            "page_size": PAGE_SIZE,
            "latency_s": LATENCY,
            "concurrency": CONCURRENCY,
            "repetitions": repeat,
        }
    )


def _limited(config: Config, result: ScenarioResult) -> None:
    """The second regime: the server enforces 120 requests a minute, a watch spends part
    of the client's budget, and the walk has no slack."""
    sizes = dict.fromkeys(LISTINGS, 300 if config.quick else 1000)
    listings = _listings(sizes)
    watched = [(product, product_id) for product, product_id in WATCHED]
    with SimulatorProcess(
        calls=0, latency=LATENCY, rate_limit=120, listings={**sizes, **WATCHED}
    ) as process:
        server = process.server

        async def walk() -> tuple[float, dict[str, Any]]:
            async with _client(server) as client:  # the default RateLimit(120, per=60)
                async with client.watch_active_calls_many(watched, interval=2.0) as watch:
                    first = await watch.__anext__()  # the watch is spending its share
                    process.reset()
                    polls = asyncio.ensure_future(_drain(watch))
                    started = time.perf_counter()
                    seen = await _fan_out(client, listings)
                    took = time.perf_counter() - started
                    polls.cancel()
                    assert first.calls
                assert len(seen) == sum(sizes.values()), len(seen)
            return took, process.stats()

        took, stats = asyncio.run(walk())
    past = _past_the_end(stats, listings)
    rejected = stats["statuses"].get("429", 0)
    result.rows.append(
        Row(
            LIMITED,
            "wall time",
            "s",
            Stat.of([took]),
            note=f"{stats['requests']} requests (the watch's included), {rejected} x 429",
        )
    )
    result.rows.append(Row(LIMITED, "requests past the end, per listing", "", Stat.of(past)))
    result.checks.append(Check(f"{LIMITED}: 429s", rejected, "<=", 0))


async def _drain(watch: Any) -> None:
    async for _ in watch:
        pass


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the listing scenario in both regimes."""
    result = ScenarioResult(NAME, TITLE, {})
    _no_limit(config, result)
    _limited(config, result)
    result.notes.append(
        "The ideal bound counts round trips only. On a small machine the server's and the "
        "client's CPU (a page of 100 rows built, sent and decoded) stretch every walk: the "
        "floor is what hand-written aiohttp takes when it knows every page beforehand and "
        "keeps as many in flight, measured in the same run."
    )
    result.notes.append(
        "Prefetch spends slack, never budget: with no limit the fresh client runs ahead "
        "of each listing within its share of the slots, and walked again it asks every "
        "page it expects at once; under the account's limit, with a watch spending part "
        "of it, each listing gets at most one request past its end."
    )
    return result
