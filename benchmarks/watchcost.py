"""Watch cost: seven listings of 5 to 80 calls watched together for 2 minutes.

``watch_active_calls_many`` polls ACD queues 55 to 60 and outbound campaign 101 every
5 s under the account's real limit (120 requests a minute, half of it for the watch),
with calls starting and ending between polls. Time runs 20 times faster than real:
the client's limit is ``RateLimit(120, per=3.0)``, the server enforces the same, and
the watch polls every 0.25 s, so 2 minutes take 6 s. Two clients: one that knows
nothing of the server, and one told what it honours (``server_max_rows``). The figures
are counts, not timings, so the simulator runs in this process, where the scenario can
start and end calls between polls.
"""

from __future__ import annotations

import asyncio
import logging
import random

import attrs

from activecalls_async import ActiveCallsClient, RateLimit, Snapshot, Target
from activecalls_async.testing import Simulator

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "watchcost"
TITLE = "Watch cost: seven listings of 5 to 80 calls, 2 minutes, 120 requests a minute"

#: Simulated seconds per real second.
SCALE = 20.0
INTERVAL = 5.0
LIMIT, WINDOW = 120, 60.0
SHARE = 0.5
#: Each listing and the calls it starts with.
LISTINGS = {
    Target("ACD", 55): 5,
    Target("ACD", 56): 12,
    Target("ACD", 57): 20,
    Target("ACD", 58): 32,
    Target("ACD", 59): 45,
    Target("ACD", 60): 60,
    Target("OUTBOUND", 101): 80,
}
#: Mean call length (simulated seconds); arrivals keep each listing near its size.
MEAN_CALL = 180.0

FRESH = "client told nothing"
TOLD = "client told server_max_rows=1000"
#: What each client's short listing costs a poll: page 0 and the probe that proves its end,
#: or page 0 alone when the client knows the server honours a page of that size.
PER_LISTING = {FRESH: 2, TOLD: 1}


@attrs.define
class _Figures:
    snapshots: list[Snapshot] = attrs.field(factory=list)
    server_requests: int = 0
    #: The most list requests the server saw start inside one (simulated) minute.
    busiest_minute: int = 0
    rejected: int = 0
    stretch_warnings: int = 0
    simulated: float = 0.0


class _Counter(logging.Handler):
    """Counts the watch's stretch warnings (and keeps them off the table's stream)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.stretches = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "polling every" in record.getMessage():
            self.stretches += 1


def _churn(sim: Simulator, rng: random.Random, seconds: float) -> None:
    """``seconds`` of simulated traffic: calls end and arrive, each listing near its size."""
    for target, size in LISTINGS.items():
        product, product_id = target.product.value, int(target.product_id or 0)
        for call in list(sim.state.listing(product, product_id)):
            if rng.random() < seconds / MEAN_CALL:
                sim.end_call(call.uii)
        expected = size * seconds / MEAN_CALL
        for _ in range(int(expected) + (rng.random() < expected % 1)):
            sim.add_call(product=product, product_id=product_id)


def _fill(sim: Simulator) -> None:
    for target, size in LISTINGS.items():
        for _ in range(size):
            sim.add_call(product=target.product.value, product_id=int(target.product_id or 0))


async def _watch(*, told: bool, simulated: float, seed: int) -> _Figures:
    """Watch the seven listings for ``simulated`` seconds; count what it cost."""
    figures = _Figures()
    rng = random.Random(seed)
    async with Simulator(calls=0, seed=seed, rate_limit=LIMIT, rate_window=WINDOW / SCALE) as sim:
        _fill(sim)
        async with ActiveCallsClient(
            account_id=sim.account_id,
            auth=sim.token,
            base_url=sim.base_url,
            rate_limit=RateLimit(LIMIT, per=WINDOW / SCALE),
            server_max_rows=1000 if told else None,
        ) as client:
            sim.reset_counters()
            loop = asyncio.get_running_loop()
            started = loop.time()
            counter = _Counter()
            logger = logging.getLogger("activecalls_async")
            logger.addHandler(counter)
            try:
                async with client.watch_active_calls_many(
                    LISTINGS, interval=INTERVAL / SCALE, budget_share=SHARE
                ) as watch:
                    async for snapshot in watch:
                        figures.snapshots.append(snapshot)
                        if (loop.time() - started) * SCALE >= simulated:
                            break
                        _churn(sim, rng, snapshot.interval * SCALE)
            finally:
                logger.removeHandler(counter)
            figures.simulated = (loop.time() - started) * SCALE
            figures.stretch_warnings = counter.stretches
            lists = [r for r in sim.requests if r.operation == "list"]
            figures.server_requests = len(lists)
            figures.rejected = sum(1 for r in lists if r.status == 429)
            figures.busiest_minute = _busiest(sorted(r.started for r in lists), WINDOW / SCALE)
    return figures


def _busiest(starts: list[float], window: float) -> int:
    """The most starts inside any window of ``window`` seconds (as a sliding limit counts)."""
    most, first = 0, 0
    for last, start in enumerate(starts):
        while starts[first] <= start - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def run(config: Config) -> ScenarioResult:
    """Watch the seven listings with a client told nothing and with one told the cap."""
    simulated = 60.0 if config.quick else 120.0
    repeat = config.repetitions(full=1, quick=1)
    runs: dict[str, list[_Figures]] = {FRESH: [], TOLD: []}
    for repetition in range(repeat):
        for name, told in ((FRESH, False), (TOLD, True)):
            figures = asyncio.run(_watch(told=told, simulated=simulated, seed=7 + repetition))
            runs[name].append(figures)
    listings = len(LISTINGS)
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "listings": {str(target): size for target, size in LISTINGS.items()},
            "interval_s": INTERVAL,
            "limit": f"{LIMIT} per {WINDOW:g} s",
            "budget_share": SHARE,
            "simulated_s": simulated,
            "time_scale": SCALE,
            "repetitions": repeat,
        },
    )
    budget = LIMIT * SHARE
    for name, figures_list in runs.items():
        later = [s.requests for f in figures_list for s in f.snapshots[1:]]
        first = [f.snapshots[0].requests for f in figures_list]
        intervals = [s.interval * SCALE for f in figures_list for s in f.snapshots[1:]]
        busiest = [f.busiest_minute for f in figures_list]
        per_listing = Stat.of([r / listings for r in later])
        result.rows += [
            Row(
                name,
                "requests per poll (after the first)",
                "requests",
                Stat.of(later),
                ratio=per_listing,
                baseline="requests per listing",
            ),
            Row(name, "requests, first poll", "requests", Stat.of(first)),
            Row(name, "interval achieved", "s (simulated)", Stat.of(intervals)),
            Row(
                name,
                "most requests in any minute",
                "requests",
                Stat.of(busiest),
                note=f"the watch's share: {budget:g}",
            ),
            Row(name, "polls", "polls", Stat.of([len(f.snapshots) for f in figures_list])),
            Row(name, "429 answers", "429s", Stat.of([f.rejected for f in figures_list])),
            Row(
                name,
                "stretch warnings",
                "lines",
                Stat.of([f.stretch_warnings for f in figures_list]),
            ),
        ]
        result.checks += [
            Check(
                f"{name}: requests per listing per poll ≤ {PER_LISTING[name]} (after the first)",
                per_listing.median,
                "<=",
                PER_LISTING[name],
            ),
            Check(
                f"{name}: requests in any minute ≤ {budget:g}",
                max(busiest),
                "<=",
                budget,
            ),
            Check(
                f"{name}: Σ Snapshot.requests = the server's count",
                max(
                    abs(sum(s.requests for s in f.snapshots) - f.server_requests)
                    for f in figures_list
                ),
                "<=",
                0,
            ),
        ]
    result.notes.append(
        "A listing shorter than a page costs two requests a poll: page 0 and, sent with it, "
        "a probe of two thirds of the rows it had last time, which proves the end against "
        "what the server honours now (a cap that appeared since the last poll cannot hide "
        "calls). Told server_max_rows, the client takes a short page 0 as the end: one "
        "request. The watch's half of 120 allows 60 requests in any minute: 4 polls of 14, "
        "or 8 of 7, so the interval stretches from 5 s to fit; each poll's cost sets the "
        "pace of the next."
    )
    return result
