"""Eight OS processes, 20 tasks each, one RedisRateLimit(60, per=5), one simulator enforcing it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from activecalls_async.testing import API_OPERATIONS, Simulator

from .processes import collect, run_fleet, spawn, start_together, traffic_config
from .redis_server import RedisServer

pytestmark = pytest.mark.slow

PROCESSES = 8
TASKS = 20


def _most_in_any_window(starts: list[float], per: float) -> int:
    starts = sorted(starts)
    most, first = 0, 0
    for last, start in enumerate(starts):
        while starts[first] <= start - per:
            first += 1
        most = max(most, last - first + 1)
    return most


async def test_a_fleet_spends_one_budget_without_a_429(
    redis_server: RedisServer, fleet_key: str
) -> None:
    per = 5.0
    async with Simulator(calls=40, live=False, rate_limit=60, rate_window=per) as sim:
        config = traffic_config(
            sim, redis_server.url, fleet_key, requests=60, per=per, duration=2 * per + 0.5
        )
        results = await run_fleet([config] * PROCESSES)
    api = [r for r in sim.requests if r.operation in API_OPERATIONS]
    assert Counter(r.status for r in api)[429] == 0
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    # (Which process gets the slots is the queue's business: the first window goes to
    # whoever asked first, then their actions go before everyone's reads.)
    starts = sorted(r.started for r in api)
    assert _most_in_any_window(starts, per) <= 60
    # Two windows from the first start: the limit allows 120 starts (the bench
    # reports the ratio; here a sane lower bound under a shared, loaded machine).
    in_two_windows = sum(1 for start in starts if start < starts[0] + 2 * per)
    assert in_two_windows >= 0.8 * 120


async def test_a_fleet_cut_off_from_redis_keeps_to_its_shares(
    private_redis: RedisServer, fleet_key: str
) -> None:
    per, requests = 2.0, 24
    async with Simulator(calls=40, live=False, rate_limit=requests, rate_window=per) as sim:
        config = traffic_config(
            sim,
            private_redis.url,
            fleet_key,
            requests=requests,
            per=per,
            duration=4 * per,
            tasks=5,
            heartbeat=0.2,
            probe_interval=0.5,
        )
        processes = [await spawn(config) for _ in range(PROCESSES)]
        try:
            start_at = await start_together(processes)
            await asyncio.sleep(start_at - time.time() + per)  # one window with Redis
            private_redis.stop()
            await asyncio.sleep(1.5 * per)
            private_redis.start()  # empty: the members bring back their recent requests
            results = [await collect(p) for p in processes]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    api = [r for r in sim.requests if r.operation in API_OPERATIONS]
    assert Counter(r.status for r in api)[429] == 0
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    for result in results:
        warnings = [m for m in result["log"] if m.startswith("WARNING")]
        rejoined = [m for m in result["log"] if "rejoined" in m]
        assert len(warnings) == 1, result["log"]
        assert len(rejoined) == 1, result["log"]
    assert sum(r["offline"] for r in results) > 0  # kept working while cut off
