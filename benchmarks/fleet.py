"""Fleet: 8 OS processes x 20 tasks listing and acting on one account, limit 60 per 5 s.

Each process is a real ``python`` process (tests/fleet/worker.py) with its own client;
the simulator runs in this process and enforces 60 requests per 5 s, and a real
``redis-server`` on a free loopback port carries the fleet's window. The SDK's
``RedisRateLimit(60, per=5)`` shared by all eight is set against what a fleet gets
without it: each process with its own ``RateLimit(60, per=5)``. The figures are from
the server's log: 429 answers, and how fast the starts came compared with the fastest
the limit allows.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from activecalls_async.testing import API_OPERATIONS, Simulator
from tests.fleet.processes import run_fleet
from tests.fleet.redis_server import INSTALL_HINT, RedisServer, redis_binary

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "fleet"
TITLE = "Fleet: 8 processes x 20 tasks, one account limited to 60 requests per 5 s"

PROCESSES = 8
TASKS = 20
LIMIT = 60
WINDOW = 5.0
WINDOWS = 3  # whole windows measured per run

FLEET = f"SDK RedisRateLimit({LIMIT}, per={WINDOW:g}) shared by {PROCESSES} processes"
ALONE = f"SDK RateLimit({LIMIT}, per={WINDOW:g}) in each process, no fleet"


def _pace(starts: list[float]) -> float:
    """How close the starts came to the limit's pace: 1.0 is as fast as allowed.

    The ``k * LIMIT + 1``-th start can come no sooner than ``k`` windows after the
    first; the share is ``k`` windows over the time it actually took, for the largest
    whole ``k`` in the run.
    """
    windows = (len(starts) - 1) // LIMIT
    if windows == 0:
        return float("nan")
    return windows * WINDOW / (starts[windows * LIMIT] - starts[0])


async def _run(redis_url: str, limiter: str) -> dict[str, Any]:
    async with Simulator(calls=40, live=False, rate_limit=LIMIT, rate_window=WINDOW) as sim:
        config = {
            "mode": "traffic",
            "limiter": limiter,
            "redis_url": redis_url,
            "key": f"bench-fleet-{uuid.uuid4().hex[:8]}",
            "base_url": sim.base_url,
            "token": sim.token,
            "account_id": sim.account_id,
            "tasks": TASKS,
            "requests": LIMIT,
            "per": WINDOW,
            # A little past the last whole window, so that its closing start is seen.
            "duration": WINDOWS * WINDOW + 0.5,
        }
        results = await run_fleet([config] * PROCESSES, timeout=120)
        api = [r for r in sim.requests if r.operation in API_OPERATIONS]
    ok = sorted(r.started for r in api if r.status == 200)
    return {
        "429s": sum(1 for r in api if r.status == 429),
        "pace": _pace(ok),
        "answered": len(ok),
        "fewest": min(r["requests"] for r in results),
        "most": max(r["requests"] for r in results),
    }


def run(config: Config) -> ScenarioResult:
    """Measure the fleet with and without the shared limiter."""
    repeat = config.repetitions(full=2, quick=1)
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "processes": PROCESSES,
            "tasks_per_process": TASKS,
            "limit": f"{LIMIT} per {WINDOW:g} s",
            "windows": WINDOWS,
            "repetitions": repeat,
        },
    )
    binary = redis_binary()
    if binary is None:
        result.notes.append(f"Not run: {INSTALL_HINT}")
        return result
    figures: dict[str, list[dict[str, Any]]] = {FLEET: [], ALONE: []}
    server = RedisServer(binary)
    server.start()
    try:
        for _ in range(repeat):
            figures[FLEET].append(asyncio.run(_run(server.url, "redis")))
            figures[ALONE].append(asyncio.run(_run(server.url, "local")))
    finally:
        server.close()
    for name, runs in figures.items():
        result.rows += [
            Row(name, "429 answers", "429s", Stat.of([r["429s"] for r in runs])),
            Row(name, "answered (200)", "requests", Stat.of([r["answered"] for r in runs])),
        ]
    fleet = figures[FLEET]
    pace = Stat.of([r["pace"] * 100 for r in fleet])
    result.rows += [
        Row(FLEET, "pace, share of the limit", "%", pace),
        Row(
            FLEET, "fewest requests, one process", "requests", Stat.of([r["fewest"] for r in fleet])
        ),
        Row(FLEET, "most requests, one process", "requests", Stat.of([r["most"] for r in fleet])),
    ]
    result.checks += [
        Check("fleet pace ≥ 95% of the limit", pace.median, ">=", 95),
        Check("fleet 429 answers = 0", max(r["429s"] for r in fleet), "<=", 0),
    ]
    result.notes.append("The workers do not retry: every request over the limit is one 429.")
    result.notes.append(
        f"Pace: the (k x {LIMIT} + 1)-th answered request can start no sooner than k "
        f"windows ({WINDOW:g} s each) after the first; the share is k windows over the "
        "time the server actually saw it start (100% = as fast as the limit allows)."
    )
    return result
