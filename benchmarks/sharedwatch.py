"""Shared watch: 1, 4 and 8 processes watching ten listings, through one hub or each alone.

Each process is a real ``python`` process (tests/fleet/hub_worker.py) with its own client,
watching ACD queues 55 to 60, outbound campaigns 101 to 103 and cloud profile 301 every 5
s with the default half of the budget. They share the account's 120 requests a minute
through one ``RedisRateLimit`` (a real ``redis-server`` on a free loopback port), as a
fleet must, and the simulator enforces the same limit. Shared: every process passes one
``WatchHub``, so one of them polls. Alone: each polls for itself. Time runs ten times
faster than real (a minute takes 6 s, the interval 0.5 s); figures are shown in simulated
time.

Measured: list requests a minute at the server (after the first half minute), 429
answers, and the staleness of each process's view: the age of the newest snapshot it
has, sampled every simulated second, averaged over the run; the median over processes.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from typing import Any

from activecalls_async.testing import Simulator
from tests.fleet.processes import run_fleet
from tests.fleet.redis_server import INSTALL_HINT, RedisServer, redis_binary

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "sharedwatch"
TITLE = "Shared watch: 1, 4 and 8 processes watching 10 listings, 120 requests a minute"

#: Simulated seconds per real second.
SCALE = 10.0
LIMIT, MINUTE = 120, 60.0
INTERVAL = 5.0
LISTINGS = [
    ("ACD", 55), ("ACD", 56), ("ACD", 57), ("ACD", 58), ("ACD", 59), ("ACD", 60),
    ("OUTBOUND", 101), ("OUTBOUND", 102), ("OUTBOUND", 103), ("CLOUD_PROFILE", 301),
]  # fmt: skip
PROCESSES = (1, 4, 8)
#: Simulated seconds left out of the figures at the start (first polls, pace settling).
WARMUP = 30.0

SHARED = "one WatchHub"
ALONE = "each process alone"


def _contender(shared: bool, processes: int) -> str:
    return f"{processes} x {SHARED if shared else ALONE}"


def _staleness(snapshots: list[dict[str, Any]], began: float, start: float, end: float) -> float:
    """The mean age (simulated s) of the newest snapshot held, sampled every simulated second
    from ``start``; before its first snapshot, a process's view counts as taken at ``began``
    (the fleet's first snapshot)."""
    received = sorted((s["received"], s["taken_at"]) for s in snapshots)
    ages = []
    step = 1.0 / SCALE
    at, newest, index = start, began, 0
    while at < end:
        while index < len(received) and received[index][0] <= at:
            newest = max(newest, received[index][1])
            index += 1
        ages.append((at - newest) * SCALE)
        at += step
    return statistics.fmean(ages)


async def _run(redis_url: str, *, shared: bool, processes: int, minutes: float) -> dict[str, Any]:
    window = MINUTE / SCALE
    async with Simulator(
        calls=60, seed=1, live=True, mean_call_seconds=MINUTE, rate_limit=LIMIT, rate_window=window
    ) as sim:
        duration = minutes * window
        config = {
            "mode": "watch",
            "redis_url": redis_url,
            "key": f"bench-sharedwatch-{uuid.uuid4().hex[:8]}",
            "base_url": sim.base_url,
            "token": sim.token,
            "account_id": sim.account_id,
            "targets": LISTINGS,
            "interval": INTERVAL / SCALE,
            "hub": shared,
            "lease": 1.0,
            "limiter": "redis",
            "requests": LIMIT,
            "per": window,
            "duration": duration,
        }
        results = await run_fleet([config] * processes, timeout=60 + duration)
        lists = [r for r in sim.requests if r.operation == "list"]
    first = min(r.started for r in lists)
    since, until = first + WARMUP / SCALE, first + duration
    counted = [r for r in lists if since <= r.started < until]
    per_minute = len(counted) / ((until - since) * SCALE / MINUTE)
    # Wall-clock times (the simulator's journal runs on the monotonic clock).
    began = min(s["received"] for r in results for s in r["snapshots"])
    end = max(s["received"] for r in results for s in r["snapshots"])
    stale = [_staleness(r["snapshots"], began, began + WARMUP / SCALE, end) for r in results]
    return {
        "per_minute": per_minute,
        "stale": statistics.median(stale),
        "rejected": sum(1 for r in lists if r.status == 429),
    }


def run(config: Config) -> ScenarioResult:
    """Run every count of processes, shared and alone, interleaved."""
    repeat = config.repetitions(full=2, quick=1)
    minutes = 2.0
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "listings": [f"{p} {i}" for p, i in LISTINGS],
            "interval_s": INTERVAL,
            "limit": f"{LIMIT} per {MINUTE:g} s (RedisRateLimit, shared by every process)",
            "budget_share": 0.5,
            "processes": list(PROCESSES),
            "simulated_minutes": minutes,
            "time_scale": SCALE,
            "repetitions": repeat,
        },
    )
    binary = redis_binary()
    if binary is None:
        result.notes.append(f"Not run: {INSTALL_HINT}")
        return result
    runs: dict[tuple[bool, int], list[dict[str, Any]]] = {}
    server = RedisServer(binary)
    server.start()
    try:
        for _ in range(repeat):
            for processes in PROCESSES:
                for shared in (True, False):
                    measured = asyncio.run(
                        _run(server.url, shared=shared, processes=processes, minutes=minutes)
                    )
                    runs.setdefault((shared, processes), []).append(measured)
    finally:
        server.close()
    baseline = runs[(False, 1)]
    for (shared, processes), figures in runs.items():
        name = _contender(shared, processes)
        rate = Stat.of([f["per_minute"] for f in figures])
        result.rows += [
            Row(
                name,
                "list requests a minute",
                "requests",
                rate,
                ratio=Stat.of(
                    [
                        f["per_minute"] / b["per_minute"]
                        for f, b in zip(figures, baseline, strict=True)
                    ]
                ),
                baseline="1 process alone",
            ),
            Row(
                name,
                "staleness of the view (mean age)",
                "s",
                Stat.of([f["stale"] for f in figures]),
            ),
            Row(name, "429 answers", "429s", Stat.of([f["rejected"] for f in figures])),
        ]
    one, eight = runs[(True, 1)], runs[(True, 8)]
    flat = statistics.median(
        f8["per_minute"] / f1["per_minute"] for f1, f8 in zip(one, eight, strict=True)
    )
    later = statistics.median(f8["stale"] - f1["stale"] for f1, f8 in zip(one, eight, strict=True))
    result.checks += [
        Check("shared: requests a minute, 8 processes ÷ 1", flat, "<=", 1.1),
        Check("shared: staleness at 8 processes - at 1 (s)", later, "<=", INTERVAL),
        Check(
            "429 answers (every run)",
            max(f["rejected"] for figures in runs.values() for f in figures),
            "<=",
            0,
        ),
    ]
    result.notes.append(
        "Ten listings shorter than a page cost two requests each a poll (page 0, and page "
        "1 at page 0's size, which proves the end: a short page alone could be a cap); the "
        "watch's half of 120 a minute allows three such polls a minute, so one watcher "
        "polls about every 20 s, not 5 (it says so once). Alone, every process wants that "
        "much of the one budget: the fleet's RedisRateLimit keeps them all within 120 a "
        "minute, so each one's view ages as the count grows. Shared, one of them polls for "
        "all."
    )
    result.notes.append(
        "Staleness: the age of the newest snapshot a process holds (now minus its "
        "taken_at), sampled every simulated second after the first half minute (before its "
        "first snapshot, the time since the fleet's first); the mean per process, then the "
        "median over processes. A poller's own view is as old as its last poll; a reader's "
        "adds the trip through Redis."
    )
    return result
