"""Listing a contact centre: one listing per product, 10+ pages each, ~20 ms per request.

Every contender lists the same seven listings (the largest of each product) from the
same simulator, which holds each request for the injected latency, and must end up
with the same set of calls. The ideal bound is the least time any client limited to
the SDK's default concurrency could take: pages ÷ concurrency × latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ._contenders import (
    DEFAULT_CONCURRENCY,
    PAGE_SIZE,
    Listing,
    OfficialSdk,
    official_available,
    pages_of,
    pick_listings,
    raw_session,
    raw_walk,
    sdk_client,
)
from ._results import Check, Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "listing"
TITLE = "Listing a contact centre: 7 products x 10+ pages, 20 ms per request"

LATENCY = 0.02
CONCURRENCY = DEFAULT_CONCURRENCY
#: The fan-out's prefetch when tuned to keep every concurrency slot busy.
TUNED_PREFETCH = CONCURRENCY

OFFICIAL = "official SDK (sequential get() loop)"
RAW = "aiohttp, hand-written sequential loop"
SDK_ONE = "SDK iter_active_calls, one listing at a time"
SDK_FAN = "SDK iter_active_calls_many (defaults)"
SDK_FAN_TUNED = f"SDK iter_active_calls_many (prefetch={TUNED_PREFETCH})"
#: A wider client, to show where the default concurrency, not the SDK, sets the pace.
WIDE = 2 * CONCURRENCY
SDK_FAN_WIDE = f"SDK iter_active_calls_many (max_concurrency={WIDE}, prefetch={WIDE})"
IDEAL = f"ideal bound (pages ÷ {CONCURRENCY} x latency)"
IDEAL_WIDE = f"ideal bound (pages ÷ {WIDE} x latency)"

#: A run returns the uiis it listed.
Contender = Callable[[ServerInfo, list[Listing]], set[str]]


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


def _sdk_one(server: ServerInfo, listings: list[Listing]) -> set[str]:
    async def walk() -> set[str]:
        seen = set[str]()
        async with sdk_client(server) as client:
            for product, product_id, _ in listings:
                async with client.iter_active_calls(product, product_id) as calls:
                    async for call in calls:
                        seen.add(call.uii)
        return seen

    return asyncio.run(walk())


def _sdk_fan(prefetch: int | None, concurrency: int = CONCURRENCY) -> Contender:
    def run(server: ServerInfo, listings: list[Listing]) -> set[str]:
        async def walk() -> set[str]:
            seen = set[str]()
            options: dict[str, Any] = {} if prefetch is None else {"prefetch": prefetch}
            async with sdk_client(server, max_concurrency=concurrency) as client:
                targets = [(product, product_id) for product, product_id, _ in listings]
                async with client.iter_active_calls_many(targets, **options) as calls:
                    async for call in calls:
                        seen.add(call.uii)
            return seen

        return asyncio.run(walk())

    return run


def _contenders() -> dict[str, Contender]:
    contenders: dict[str, Contender] = {}
    if official_available() is None:
        contenders[OFFICIAL] = _official
    contenders[RAW] = _raw
    contenders[SDK_ONE] = _sdk_one
    contenders[SDK_FAN] = _sdk_fan(None)
    contenders[SDK_FAN_TUNED] = _sdk_fan(TUNED_PREFETCH)
    contenders[SDK_FAN_WIDE] = _sdk_fan(WIDE, WIDE)
    return contenders


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the listing scenario."""
    calls = 10_000 if config.quick else 20_000
    repeat = config.repetitions(full=3, quick=1)
    contenders = _contenders()
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    requests: dict[str, list[float]] = {name: [] for name in contenders}
    mismatches: list[str] = []
    with SimulatorProcess(calls=calls, latency=LATENCY) as process:
        server = process.server
        listings = pick_listings(server.targets)
        expected = next(n for product, _, n in listings if product == "ACCOUNT")
        pages = sum(pages_of(listing) for listing in listings)
        for _ in range(repeat):
            for name, contender in contenders.items():
                process.reset()
                started = time.perf_counter()
                seen = contender(server, listings)
                seconds[name].append(time.perf_counter() - started)
                requests[name].append(process.stats()["requests"])
                if len(seen) != expected:
                    mismatches.append(f"{name} listed {len(seen)} calls, not {expected}")
    ideals = {CONCURRENCY: pages / CONCURRENCY * LATENCY, WIDE: pages / WIDE * LATENCY}
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "listings": ", ".join(f"{p} {i}: {pages_of((p, i, n))} pages" for p, i, n in listings),
            "pages": pages,
            "page_size": PAGE_SIZE,
            "latency_s": LATENCY,
            "concurrency": CONCURRENCY,
            "rate_limits": "off (server and SDK)",
            "repetitions": repeat,
        },
    )
    base_name = OFFICIAL if OFFICIAL in contenders else RAW
    base = seconds[base_name]
    for name, values in seconds.items():
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
    for label, width in ((IDEAL, CONCURRENCY), (IDEAL_WIDE, WIDE)):
        result.rows.append(
            Row(label, "wall time", "s", Stat.of([ideals[width]]), note=f"{pages} pages")
        )
    for name, width, ideal_name in (
        (SDK_FAN, CONCURRENCY, IDEAL),
        (SDK_FAN_TUNED, CONCURRENCY, IDEAL),
        (SDK_FAN_WIDE, WIDE, IDEAL_WIDE),
    ):
        to_ideal = Stat.of([v / ideals[width] for v in seconds[name]])
        result.rows.append(
            Row(name, "wall time", "s", Stat.of(seconds[name]), to_ideal, ideal_name)
        )
        if OFFICIAL in contenders:
            speedup = 1 / paired_ratio(seconds[name], seconds[OFFICIAL]).median
            result.checks.append(Check(f"{name} ≥ 10x faster than official", speedup, ">=", 10))
        result.checks.append(Check(f"{name} ≤ 2x its ideal bound", to_ideal.median, "<=", 2))
    if OFFICIAL not in contenders:
        result.notes.append(f"official SDK not measured: {official_available()}")
    result.notes.append(
        f"At {CONCURRENCY} requests in flight the ideal bound itself is only "
        f"{Stat.of(seconds[base_name]).median / ideals[CONCURRENCY]:.1f}x faster than the "
        f"{base_name}: the ideal bound ignores the CPU time each page costs the client "
        "and the server (one thread each, sharing the machine's cores)."
    )
    result.notes.extend(mismatches)
    return result
