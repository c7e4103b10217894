"""Rate-limited listing: the simulator enforces a scaled limit (60 requests per 5 s).

The SDK lists the contact centre with a matching ``RateLimit(60, per=5.0)``; a naive
``asyncio.gather`` asks for every page at once over plain aiohttp. The figures are
from the server's log: how many requests it saw, how many it answered 429, and how
fast their starts came compared with the fastest the limit allows.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from activecalls_async import RateLimit

from ._contenders import (
    PAGE_SIZE,
    Listing,
    auth_headers,
    list_url,
    pages_of,
    pick_listings,
    sdk_client,
)
from ._results import Check, Config, Row, ScenarioResult, Stat
from ._server import ServerInfo, SimulatorProcess

NAME = "ratelimited"
TITLE = "Rate-limited listing: server limit 60 requests per 5 s, 20 ms per request"

LIMIT = 60
WINDOW = 5.0
LATENCY = 0.02

SDK = f"SDK iter_active_calls_many, RateLimit({LIMIT}, per={WINDOW:g})"
NAIVE = "aiohttp, naive asyncio.gather of every page"


async def _sdk(server: ServerInfo, listings: list[Listing]) -> int:
    async with sdk_client(server, rate_limit=RateLimit(LIMIT, per=WINDOW)) as client:
        targets = [(product, product_id) for product, product_id, _ in listings]
        seen = set[str]()
        async with client.iter_active_calls_many(targets) as calls:
            async for call in calls:
                seen.add(call.uii)
    return len(seen)


async def _naive(server: ServerInfo, listings: list[Listing]) -> int:
    """Every page of every listing at once; a page answered 429 is simply lost."""
    headers = auth_headers(server)

    async def page(session: aiohttp.ClientSession, url: str) -> int:
        async with session.get(url, headers=headers) as response:
            await response.read()
            return response.status

    # The default connector's 100 connections, as naive code gets them.
    async with aiohttp.ClientSession() as session:
        urls = [
            list_url(server, product, product_id, number)
            for product, product_id, n in listings
            for number in range(pages_of((product, product_id, n)))
        ]
        statuses = await asyncio.gather(*(page(session, url) for url in urls))
    return sum(1 for status in statuses if status == 200)


def _share(stats: dict[str, Any]) -> float:
    """How close the request starts came to the limit's pace: 1.0 is as fast as allowed.

    Judged over whole windows: the ``k * LIMIT + 1``-th start can come no sooner than
    ``k`` windows after the first. The partial last window is left out, because its
    pace is set by how many pages are left, not by the limiter.
    """
    starts: list[float] = stats["starts"]
    windows = (len(starts) - 1) // LIMIT
    if windows == 0:
        return float("nan")
    return windows * WINDOW / starts[windows * LIMIT]


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the rate-limited scenario."""
    calls = 6_000 if config.quick else 10_000
    repeat = config.repetitions(full=3, quick=1)
    figures: dict[str, dict[str, list[float]]] = {
        name: {"seconds": [], "requests": [], "429s": [], "share": [], "done": []}
        for name in (SDK, NAIVE)
    }
    with SimulatorProcess(
        calls=calls, latency=LATENCY, rate_limit=LIMIT, rate_window=WINDOW
    ) as process:
        server = process.server
        listings = pick_listings(server.targets)
        pages = sum(pages_of(listing) for listing in listings)
        expected = next(n for product, _, n in listings if product == "ACCOUNT")
        for _ in range(repeat):
            for name, contender in ((SDK, _sdk), (NAIVE, _naive)):
                process.reset()  # an empty window for each contender
                started = time.perf_counter()
                done = asyncio.run(contender(server, listings))
                elapsed = time.perf_counter() - started
                stats = process.stats()
                figure = figures[name]
                figure["seconds"].append(elapsed)
                figure["requests"].append(stats["requests"])
                figure["429s"].append(stats["statuses"].get("429", 0))
                figure["share"].append(_share(stats))
                # The SDK's figure is calls listed; the naive one's is pages obtained.
                figure["done"].append(done)
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "limit": f"{LIMIT} per {WINDOW:g} s",
            "pages": pages,
            "page_size": PAGE_SIZE,
            "latency_s": LATENCY,
            "repetitions": repeat,
        },
    )
    sdk, naive = figures[SDK], figures[NAIVE]
    result.rows += [
        Row(SDK, "requests", "requests", Stat.of(sdk["requests"])),
        Row(SDK, "429 answers", "429s", Stat.of(sdk["429s"])),
        Row(SDK, "wall time", "s", Stat.of(sdk["seconds"])),
        Row(SDK, "pace, share of the limit", "%", Stat.of([s * 100 for s in sdk["share"]])),
        Row(SDK, "calls listed", "calls", Stat.of(sdk["done"]), note=f"of {expected}"),
        Row(NAIVE, "requests", "requests", Stat.of(naive["requests"])),
        Row(NAIVE, "429 answers", "429s", Stat.of(naive["429s"])),
        Row(NAIVE, "wall time", "s", Stat.of(naive["seconds"])),
        Row(NAIVE, "pages obtained", "pages", Stat.of(naive["done"]), note=f"of {pages}"),
    ]
    result.checks += [
        Check("SDK pace ≥ 95% of the limit", Stat.of(sdk["share"]).median * 100, ">=", 95),
        Check("SDK 429 answers = 0", max(sdk["429s"]), "<=", 0),
    ]
    result.notes.append(
        f"Pace: the (k x {LIMIT} + 1)-th request can start no sooner than k windows "
        f"({WINDOW:g} s each) after the first; the share is k windows over the time the "
        "server actually saw it start, for the largest whole k (100% = as fast as the "
        "limit allows). The pages left for the last, partial window are not counted."
    )
    return result
