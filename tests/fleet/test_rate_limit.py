"""RedisRateLimit against a real redis-server: the window, leases, priorities, fallback."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from activecalls_async import ClientClosedError, Priority, ValidationError
from activecalls_async.fleet import RedisRateLimit
from activecalls_async.ratelimit import Limiter

from .redis_server import RedisServer


def test_is_a_limiter_with_a_safe_repr() -> None:
    limit = RedisRateLimit("redis://:s3cret@127.0.0.1:1/0", key="k", requests=60, per=5)
    assert isinstance(limit, Limiter)
    assert repr(limit) == "RedisRateLimit(60, per=5, key='k')"
    assert "s3cret" not in repr(limit)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"redis": "http://127.0.0.1:6379"}, "redis"),
        ({"redis": 42}, "redis"),
        ({"key": ""}, "key"),
        ({"key": "a b"}, "key"),
        ({"requests": 0}, "requests"),
        ({"per": -1}, "per"),
        ({"requests": 10, "reserve": 10}, "reserve"),
        ({"fallback_share": 0}, "fallback_share"),
        ({"fallback_share": 1.5}, "fallback_share"),
        ({"lease": 1.0, "heartbeat": 0.5}, "heartbeat"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], parameter: str) -> None:
    settings: dict[str, object] = {"redis": "redis://127.0.0.1:1/0", "key": "k", **options}
    with pytest.raises(ValidationError) as caught:
        RedisRateLimit(**settings)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


def _limit(redis_server: RedisServer, key: str, **options: object) -> RedisRateLimit:
    settings: dict[str, object] = {"heartbeat": 0.1, "lease": 1.0, "margin": 0.0, **options}
    return RedisRateLimit(redis_server.url, key=key, **settings)  # type: ignore[arg-type]


def _most_in_any_window(times: list[float], per: float) -> int:
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + per) for t in times)


async def test_two_members_share_one_window(redis_server: RedisServer, fleet_key: str) -> None:
    starts: list[float] = []

    async def request(limit: RedisRateLimit) -> None:
        await limit.acquire()
        starts.append(time.monotonic())
        await limit.release()

    async with (
        _limit(redis_server, fleet_key, requests=5, per=0.4) as one,
        _limit(redis_server, fleet_key, requests=5, per=0.4) as two,
    ):
        await asyncio.gather(*(request(one if i % 2 else two) for i in range(20)))
    assert _most_in_any_window(starts, 0.39) <= 5
    # 20 starts at 5 per 0.4 s need at least three further windows.
    assert max(starts) - min(starts) >= 3 * 0.4 - 0.05


async def test_a_request_counts_until_released(redis_server: RedisServer, fleet_key: str) -> None:
    async with _limit(redis_server, fleet_key, requests=2, per=0.2) as limit:
        await limit.acquire()
        await limit.acquire()
        assert limit.in_window == 2  # as the fleet's window was last seen
        assert limit.rate == pytest.approx(10.0)
        third = asyncio.create_task(limit.acquire())
        await asyncio.sleep(0.5)  # longer than the window: still in flight
        assert not third.done()
        released = time.monotonic()
        await limit.release()
        await third
        # Counted as started at its release: the slot frees one window later.
        assert time.monotonic() - released >= 0.2 - 0.02
        await limit.release()
        await limit.release()


async def test_action_in_one_member_overtakes_bulk_queued_in_another(
    redis_server: RedisServer, fleet_key: str
) -> None:
    order: list[str] = []

    async def request(limit: RedisRateLimit, name: str, priority: Priority) -> None:
        await limit.acquire(priority)
        order.append(name)
        await limit.release()

    async with (
        _limit(redis_server, fleet_key, requests=1, per=0.2, reserve=0) as bulk_member,
        _limit(redis_server, fleet_key, requests=1, per=0.2, reserve=0) as action_member,
    ):
        await bulk_member.acquire(Priority.BULK)  # fills the window
        bulk = [
            asyncio.create_task(request(bulk_member, f"bulk{i}", Priority.BULK)) for i in range(3)
        ]
        await asyncio.sleep(0.05)
        action = asyncio.create_task(request(action_member, "action", Priority.ACTION))
        await asyncio.sleep(0.05)
        await bulk_member.release()
        await asyncio.gather(action, *bulk)
    assert order[0] == "action"
    assert sorted(order[1:]) == ["bulk0", "bulk1", "bulk2"]  # none starved


async def test_first_come_first_served_within_a_priority_across_members(
    redis_server: RedisServer, fleet_key: str
) -> None:
    order: list[int] = []

    async def request(limit: RedisRateLimit, number: int) -> None:
        await limit.acquire()
        order.append(number)
        await limit.release()

    async with (
        _limit(redis_server, fleet_key, requests=1, per=0.1, reserve=0) as one,
        _limit(redis_server, fleet_key, requests=1, per=0.1, reserve=0) as two,
    ):
        await one.acquire()
        tasks = []
        for number in range(6):
            tasks.append(asyncio.create_task(request(one if number % 2 else two, number)))
            await asyncio.sleep(0.02)
        await one.release()
        await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_a_long_wait_ages_past_newer_urgent_requests(
    redis_server: RedisServer, fleet_key: str
) -> None:
    order: list[str] = []

    async def request(limit: RedisRateLimit, name: str, priority: Priority) -> None:
        await limit.acquire(priority)
        order.append(name)
        await limit.release()

    async with _limit(redis_server, fleet_key, requests=1, per=0.1, reserve=0, age=0.05) as lim:
        await lim.acquire()
        old_bulk = asyncio.create_task(request(lim, "bulk", Priority.BULK))
        await asyncio.sleep(0.4)  # more than 3 levels x 0.05 s of aging
        action = asyncio.create_task(request(lim, "action", Priority.ACTION))
        await asyncio.sleep(0.05)
        await lim.release()
        await asyncio.gather(old_bulk, action)
    assert order == ["bulk", "action"]


async def test_reserve_keeps_room_for_reads_and_actions(
    redis_server: RedisServer, fleet_key: str
) -> None:
    async with _limit(redis_server, fleet_key, requests=4, per=5.0, reserve=2) as limit:
        await limit.acquire(Priority.BULK)
        await limit.acquire(Priority.WATCH)
        third_bulk = asyncio.create_task(limit.acquire(Priority.BULK))
        await asyncio.wait_for(limit.acquire(Priority.ACTION), 1)
        await asyncio.wait_for(limit.acquire(Priority.READ), 1)
        await asyncio.sleep(0.2)
        assert not third_bulk.done()
        third_bulk.cancel()
        for _ in range(4):
            await limit.release()


async def test_a_crashed_member_holds_the_window_only_for_its_lease(
    redis_server: RedisServer, fleet_key: str
) -> None:
    crashed = _limit(redis_server, fleet_key, requests=1, per=0.2, lease=0.6, heartbeat=0.1)
    await crashed.acquire()
    await crashed.aclose()  # heartbeats stop, the request is never released
    async with _limit(redis_server, fleet_key, requests=1, per=0.2, lease=0.6) as survivor:
        started = time.monotonic()
        await asyncio.wait_for(survivor.acquire(), 3)
        waited = time.monotonic() - started
        await survivor.release()
    assert 0.6 + 0.2 - 0.15 <= waited < 2.0


async def test_a_live_member_keeps_its_lease(redis_server: RedisServer, fleet_key: str) -> None:
    async with (
        _limit(redis_server, fleet_key, requests=1, per=0.1, lease=0.3) as slow,
        _limit(redis_server, fleet_key, requests=1, per=0.1, lease=0.3) as other,
    ):
        await slow.acquire()
        waiting = asyncio.create_task(other.acquire())
        await asyncio.sleep(1.0)  # three leases: heartbeats kept extending it
        assert not waiting.done()
        await slow.release()
        await asyncio.wait_for(waiting, 2)
        await other.release()


async def test_a_cancelled_waiter_does_not_block_the_queue(
    redis_server: RedisServer, fleet_key: str
) -> None:
    async with _limit(redis_server, fleet_key, requests=1, per=0.1, reserve=0) as limit:
        await limit.acquire()
        first = asyncio.create_task(limit.acquire(Priority.ACTION))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(limit.acquire(Priority.BULK))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.sleep(0.05)
        released = time.monotonic()
        await limit.release()
        await asyncio.wait_for(second, 2)
        # Far less than the 3 s a silent waiter takes to be dropped from the queue.
        assert time.monotonic() - released < 1.0
        await limit.release()


async def test_heartbeats_count_live_members(redis_server: RedisServer, fleet_key: str) -> None:
    async with (
        _limit(redis_server, fleet_key) as one,
        _limit(redis_server, fleet_key) as two,
        _limit(redis_server, fleet_key) as three,
    ):
        for limit in (one, two, three):
            await limit.acquire()
        await asyncio.sleep(0.3)
        assert one.members == 3
        assert one.share == pytest.approx(1 / 3)
        for limit in (one, two, three):
            await limit.release()


async def test_a_client_passed_in_stays_open(redis_client: aioredis.Redis, fleet_key: str) -> None:
    async with RedisRateLimit(redis_client, key=fleet_key, heartbeat=0.1) as limit:
        await limit.acquire()
        await limit.release()
    assert await redis_client.ping()


async def test_fallback_and_rejoin(
    private_redis: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    options = {"requests": 8, "per": 0.5, "probe_interval": 0.3, "timeout": 0.2}
    async with _limit(private_redis, fleet_key, **options) as limit:
        async with _limit(private_redis, fleet_key, **options) as other:
            await other.acquire()
            await limit.acquire()
            await limit.release()
            await asyncio.sleep(0.3)
            assert limit.members == 2
            await other.release()
        private_redis.stop()
        starts = []
        for _ in range(6):
            await asyncio.wait_for(limit.acquire(), 3)
            starts.append(time.monotonic())
            await limit.release()
        assert not limit.online
        # Half of 8 per 0.5 s, counting the fleet's window from before the switch.
        assert _most_in_any_window(starts, 0.49) <= 4
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "50%" in warnings[0].getMessage()
        private_redis.start()
        for _ in range(40):
            await limit.acquire()
            await limit.release()
            if limit.online:
                break
            await asyncio.sleep(0.05)
        assert limit.online
        infos = [r for r in caplog.records if "rejoined" in r.getMessage()]
        assert len(infos) == 1
        assert infos[0].levelno == logging.INFO


async def test_fallback_carries_over_recent_requests(
    private_redis: RedisServer, fleet_key: str
) -> None:
    async with _limit(
        private_redis, fleet_key, requests=4, per=1.0, fallback_share=0.5, timeout=0.2
    ) as limit:
        for _ in range(2):
            await limit.acquire()
            await limit.release()
        last = time.monotonic()
        private_redis.stop()
        await asyncio.wait_for(limit.acquire(), 5)
        # Its own 2 requests plus half the fleet's 2 use up its share of 2 until they age out.
        assert time.monotonic() - last >= 1.0 - 0.05
        await limit.release()


async def test_a_slow_redis_counts_as_unreachable(
    private_redis: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    pause = aioredis.Redis.from_url(private_redis.url)
    async with _limit(private_redis, fleet_key, requests=10, per=1, timeout=0.1) as limit:
        await limit.acquire()
        await limit.release()
        await pause.client_pause(1500)
        started = time.monotonic()
        await limit.acquire()
        assert time.monotonic() - started < 1.0
        assert not limit.online
        await limit.release()
    await pause.aclose()
    assert any("unreachable" in r.getMessage() for r in caplog.records)


async def test_members_take_turns_within_a_priority(
    redis_server: RedisServer, fleet_key: str
) -> None:
    order: list[str] = []

    async def request(limit: RedisRateLimit, name: str) -> None:
        await limit.acquire()
        order.append(name)
        await limit.release()

    async with (
        _limit(redis_server, fleet_key, requests=2, per=0.2, reserve=0) as busy,
        _limit(redis_server, fleet_key, requests=2, per=0.2, reserve=0) as newcomer,
    ):
        await busy.acquire()
        await busy.acquire()
        many = [asyncio.create_task(request(busy, "busy")) for _ in range(8)]
        await asyncio.sleep(0.05)
        late = asyncio.create_task(request(newcomer, "newcomer"))
        await asyncio.sleep(0.05)
        await busy.release()
        await busy.release()
        await asyncio.gather(late, *many)
    # Ten busy tasks queued first, yet the newcomer goes within the first two turns.
    assert "newcomer" in order[:2]


async def test_a_refusing_redis_is_named_in_one_error(
    redis_server: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = aioredis.Redis.from_url(redis_server.url)
    user = f"bot{fleet_key[-8:]}"
    # No +time: the scripts cannot read the server's clock.
    await admin.execute_command("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-time")
    url = f"redis://{user}:pw@127.0.0.1:{redis_server.port}/0"
    async with RedisRateLimit(url, key=fleet_key, fallback_share=0.5) as limit:
        await limit.acquire()
        await limit.release()
        assert not limit.online
    await admin.execute_command("ACL", "DELUSER", user)
    await admin.aclose()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR
    assert "can't run this command" in errors[0].getMessage()
    assert "check the Redis user's rights" in errors[0].getMessage()  # no key of a wrong type
    assert "pw@" not in caplog.text


async def test_rejoining_brings_back_the_requests_made_while_cut_off(
    private_redis: RedisServer, fleet_key: str
) -> None:
    async with _limit(
        private_redis, fleet_key, requests=10, per=5.0, fallback_share=0.5, probe_interval=0.2
    ) as limit:
        await limit.acquire()
        await limit.release()
        private_redis.stop()
        for _ in range(2):
            await limit.acquire()
            await limit.release()
        assert not limit.online
        private_redis.start()  # empty, as a restarted Redis without persistence is
        for _ in range(40):
            if limit.online:
                break
            await asyncio.sleep(0.05)
        assert limit.online
        check = aioredis.Redis.from_url(private_redis.url)
        # The two requests made while cut off count in the fleet's window again, and so
        # does the one made before, which the restarted Redis lost.
        assert await check.zcard(f"{fleet_key}:window") == 3
        await check.aclose()


async def test_sparse_requests_still_probe_and_rejoin(
    private_redis: RedisServer, fleet_key: str
) -> None:
    # Idle for longer than a few heartbeats between requests: the heartbeats stop and
    # start again, and the probe must not start its wait over each time.
    async with _limit(
        private_redis, fleet_key, requests=100, per=1.0, heartbeat=0.05, probe_interval=0.3
    ) as limit:
        await limit.acquire()
        await limit.release()
        private_redis.stop()
        await limit.acquire()
        await limit.release()
        private_redis.start()
        for _ in range(15):
            await asyncio.sleep(0.25)
            await limit.acquire()
            await limit.release()
            if limit.online:
                break
        assert limit.online


async def test_a_closed_limiter_refuses_to_acquire(
    redis_server: RedisServer, fleet_key: str
) -> None:
    limit = _limit(redis_server, fleet_key)
    await limit.aclose()
    await limit.aclose()  # a second close does nothing
    with pytest.raises(ClientClosedError):
        await limit.acquire()
