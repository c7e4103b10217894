"""A Redis that loses the fleet's window (restarted empty on the same port, or flushed) while
its clients reconnect without a failed call: the members notice, count their recent requests
back in, and the limit is not spent twice."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from activecalls_async.fleet import RedisRateLimit, scripts
from activecalls_async.testing import Simulator

from .members import statuses, until
from .processes import collect, spawn, start_together, traffic_config
from .redis_server import RedisServer


def _limit(server: RedisServer, key: str, **options: object) -> RedisRateLimit:
    settings: dict[str, object] = {
        "requests": 10,
        "per": 2.0,
        "heartbeat": 0.1,
        "lease": 1.0,
        "probe_interval": 0.2,
        **options,
    }
    return RedisRateLimit(server.url, key=key, **settings)  # type: ignore[arg-type]


async def _lose_the_window(server: RedisServer, how: str) -> None:
    if how == "restart":
        server.restart()
    else:
        admin = aioredis.Redis.from_url(server.url)
        await admin.flushall()
        await admin.aclose()


@pytest.mark.parametrize("how", ["restart", "flush"])
async def test_a_lost_window_is_noticed_and_not_spent_twice(
    private_redis: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    async with _limit(private_redis, fleet_key) as one, _limit(private_redis, fleet_key) as two:
        for limit in (one, two):
            for _ in range(4):
                await limit.acquire()
                await limit.release()
        for _ in range(100):  # both have beaten: each knows of the other
            if one.members == two.members == 2:
                break
            await asyncio.sleep(0.02)
        assert one.members == two.members == 2
        await _lose_the_window(private_redis, how)
        # 8 of 10 were spent less than a window ago: at most 2 more may start now.
        asks = {
            asyncio.create_task(limit.acquire()): limit for limit in (one, two) for _ in range(5)
        }
        done, pending = await asyncio.wait(asks, timeout=0.8)
        assert len(done) <= 2
        for ask in pending:
            ask.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        check = aioredis.Redis.from_url(private_redis.url)
        window = await check.zcard(f"{fleet_key}:window")
        inflight = await check.zcard(f"{fleet_key}:inflight")
        await check.aclose()
        assert window + inflight >= 8  # both members counted their requests back in
        assert one.online
        assert two.online
        for ask in done:
            await asks[ask].release()
    # Each member says so once: a WARNING that Redis lost the window, or, when it saw the
    # restart as a dropped connection first, a WARNING that Redis is unreachable and then
    # an INFO line, as it rejoins, that Redis had lost the window.
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2  # one per member
    assert all(r.levelno == logging.WARNING for r in warnings)
    for record in warnings:
        if "unreachable" in record.getMessage():
            continue
        assert "lost the fleet rate limit's window" in record.getMessage()
    unreachable = sum("unreachable" in r.getMessage() for r in warnings)
    rejoined = [r for r in caplog.records if "had lost the window" in r.getMessage()]
    assert len(rejoined) == unreachable


async def test_the_window_is_whole_again_one_window_after_it_was_lost(
    private_redis: RedisServer, fleet_key: str
) -> None:
    async with _limit(private_redis, fleet_key, requests=4, per=0.5) as limit:
        for _ in range(3):
            await limit.acquire()
            await limit.release()
        private_redis.restart()
        started = time.monotonic()
        for _ in range(4):
            await asyncio.wait_for(limit.acquire(), 3)
            await limit.release()
        # Only one slot was left: the fourth request waited for the first three to age out.
        assert time.monotonic() - started >= 0.5 - 0.1
        assert limit.online


async def test_keys_that_expired_while_idle_are_not_a_lost_window(
    redis_server: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _limit(redis_server, fleet_key) as limit:
        await limit.acquire()
        await limit.release()
        # Idle: the heartbeats stop, and then the keys expire (their TTL, shortened here).
        await until(lambda: limit._beat is not None and limit._beat.done(), 2)
        limit._heard_at = time.monotonic() - limit._ttl() / 1000
        admin = aioredis.Redis.from_url(redis_server.url)
        await admin.delete(*(f"{fleet_key}:{part}" for part in scripts.WINDOW_KEYS))
        await admin.aclose()
        await asyncio.wait_for(limit.acquire(), 1)
        await limit.release()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.slow
async def test_a_fleet_keeps_one_budget_across_a_redis_restart(
    private_redis: RedisServer, fleet_key: str
) -> None:
    per, requests, members = 2.0, 20, 3
    async with Simulator(calls=40, live=False, rate_limit=requests, rate_window=per) as sim:
        config = traffic_config(
            sim,
            private_redis.url,
            fleet_key,
            requests=requests,
            per=per,
            duration=3 * per,
            tasks=5,
            heartbeat=0.2,
            probe_interval=0.5,
        )
        processes = [await spawn(config) for _ in range(members)]
        try:
            start_at = await start_together(processes)
            await asyncio.sleep(start_at - time.time() + 1.5 * per)  # a full window behind
            private_redis.restart()
            results = [await collect(process) for process in processes]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert statuses(sim)[429] == 0
    assert [r["errors"] for r in results] == [[]] * members
    for result in results:
        # One WARNING each: the window lost, or, when the restart was slow enough for the
        # client to see it, Redis unreachable, and then a rejoin that says the window was lost.
        warnings = [m for m in result["log"] if m.startswith("WARNING")]
        assert len(warnings) == 1, result["log"]
        noticed = [m for m in result["log"] if "lost the fleet" in m or "had lost the window" in m]
        assert len(noticed) == 1, result["log"]
