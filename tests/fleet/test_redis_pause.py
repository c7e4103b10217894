"""A paused Redis (SIGSTOP, then SIGCONT) runs the calls it was sent meanwhile: a grant the
client gave up on must not hold a slot, and the fleet's pace must come back within a window."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from activecalls_async.fleet import RedisRateLimit, scripts
from activecalls_async.testing import Simulator

from .members import fleet, statuses, until
from .redis_server import RedisServer


async def _zcard(server: RedisServer, key: str) -> int:
    check = aioredis.Redis.from_url(server.url)
    try:
        return int(await check.zcard(key))
    finally:
        await check.aclose()


async def test_an_acquire_redis_runs_after_the_client_gave_up_holds_no_slot(
    private_redis: RedisServer, fleet_key: str
) -> None:
    async with RedisRateLimit(
        private_redis.url,
        key=fleet_key,
        requests=10,
        per=2.0,
        timeout=0.2,
        connect_timeout=0.5,
        probe_interval=0.2,
    ) as limit:
        await limit.acquire()  # connected, scripts loaded
        await limit.release()
        private_redis.pause()
        # Sent to the paused Redis, given up after 0.2 s; a local slot is taken instead.
        await asyncio.wait_for(limit.acquire(), 3)
        assert not limit.online
        private_redis.resume()  # runs the acquire it was sent: a grant nobody will use
        await until(lambda: limit.online, 5)
        # The request in flight counts once (in flight), and the window holds the first.
        assert await _zcard(private_redis, f"{fleet_key}:inflight") == 1
        assert await _zcard(private_redis, f"{fleet_key}:window") == 1
        await limit.release()
        # Nothing left in flight, and the window holds the two requests that were made.
        assert await _zcard(private_redis, f"{fleet_key}:inflight") == 0
        assert await _zcard(private_redis, f"{fleet_key}:window") == 2


async def test_a_ticket_forgotten_first_is_never_granted(
    redis_client: aioredis.Redis, fleet_key: str
) -> None:
    # The order a resumed Redis may run them in: the forget, then the acquire it cancels.
    keys = {part: f"{fleet_key}:{part}" for part in ("window", "inflight", "queue", "seen")}
    keys |= {"clocks": f"{fleet_key}:clocks", "epoch": f"{fleet_key}:epoch"}
    keys["cancelled"] = f"{fleet_key}:cancelled"
    ticket, ttl = f"{uuid.uuid4().hex}:1", 60_000
    forget = redis_client.register_script(scripts.FORGET)
    acquire = redis_client.register_script(scripts.ACQUIRE)
    await forget(
        keys=[keys[p] for p in ("window", "inflight", "queue", "seen", "cancelled")],
        args=[ttl, ticket],
    )
    reply = await acquire(
        keys=[keys[p] for p in ("window", "inflight", "queue", "seen", "clocks", "epoch")]
        + [keys["cancelled"]],
        args=[ticket, "member", 2, 10, 0, 2000, 10_000, 2000, 3000, ttl, "", "epoch-1"],
    )
    assert int(reply[0]) == -2  # given up: not granted, not queued
    assert await redis_client.zcard(keys["inflight"]) == 0
    assert await redis_client.zcard(keys["queue"]) == 0


@pytest.mark.slow
async def test_the_fleet_is_back_to_its_pace_one_window_after_a_pause(
    private_redis: RedisServer, fleet_key: str
) -> None:
    requests, per = 20, 2.0
    async with Simulator(calls=5, rate_limit=requests, rate_window=per) as sim:
        limits = [
            RedisRateLimit(
                private_redis.url,
                key=fleet_key,
                requests=requests,
                per=per,
                timeout=0.2,
                connect_timeout=0.5,
                heartbeat=0.2,
                probe_interval=0.2,
            )
            for _ in range(2)
        ]
        async with fleet(sim, limits, tasks=8) as members:
            await until(lambda: all(m.limit.members == 2 for m in members), 5)
            await until(lambda: sum(len(m.answered) for m in members) >= requests, 5)
            private_redis.pause()
            paused = time.monotonic()
            await until(lambda: not any(m.limit.online for m in members), 5)
            await asyncio.sleep(max(0.0, paused + 3.0 - time.monotonic()))  # a 3 s pause
            private_redis.resume()
            resumed = time.time()
            await until(lambda: all(m.limit.online for m in members), 5)
            await until(lambda: time.time() >= resumed + 2 * per + 0.1, 3 * per)
        answered = sorted(t for m in members for t in m.answered)
        assert [m.errors for m in members] == [[], []]
    assert statuses(sim)[429] == 0
    # The second window after Redis answered again: at least 80 % of the limit.
    second = sum(1 for t in answered if resumed + per <= t < resumed + 2 * per)
    assert second >= 0.8 * requests, second
    assert await _zcard(private_redis, f"{fleet_key}:inflight") == 0  # no grant left behind
