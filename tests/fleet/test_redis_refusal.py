"""A Redis that answers but refuses (a fleet key of the wrong type, an ACL): the members are
not alone, say which key is wrong, keep to a share they know or refuse, and recover."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    NoPermissionError,
    ReadOnlyError,
    ResponseError,
)

from activecalls_async import ActiveCallsError
from activecalls_async.fleet import RedisRateLimit, RedisRefusedError
from activecalls_async.fleet._redis import refused
from activecalls_async.testing import Simulator

from .members import fleet, statuses, until
from .redis_server import RedisServer

REQUESTS, PER = 20, 2.0


def _limit(server: RedisServer, key: str, **options: object) -> RedisRateLimit:
    settings: dict[str, object] = {
        "requests": REQUESTS,
        "per": PER,
        "heartbeat": 0.1,
        "lease": 1.0,
        "probe_interval": 0.3,
        **options,
    }
    return RedisRateLimit(server.url, key=key, **settings)  # type: ignore[arg-type]


async def _corrupt(server: RedisServer, key: str, kind: str) -> None:
    """Replace ``key`` with a value of another Redis type, at once (never an empty key)."""
    admin = aioredis.Redis.from_url(server.url)
    async with admin.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        if kind == "string":
            pipe.set(key, "not a sorted set")
        elif kind == "list":
            pipe.rpush(key, "not", "a", "string")
        else:
            raise AssertionError(kind)
        await pipe.execute()
    await admin.aclose()


async def _repair(server: RedisServer, key: str) -> None:
    admin = aioredis.Redis.from_url(server.url)
    await admin.delete(key)
    await admin.aclose()


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "error",
    [
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        NoPermissionError("NOPERM this user has no permissions to access one of the keys"),
        ResponseError("ERR The user executing the script can't run this command"),
        AuthenticationError("invalid username-password pair"),
    ],
)
def test_an_answer_that_will_not_pass_is_a_refusal(error: Exception) -> None:
    assert refused(error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("Error 111 connecting"),
        TimeoutError(),
        OSError("network is unreachable"),
        BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        ResponseError("BUSY Redis is busy running a script"),
        ReadOnlyError("READONLY You can't write against a read only replica."),
        ResponseError("MASTERDOWN Link with MASTER is down"),
    ],
)
def test_an_outage_that_passes_is_not_a_refusal(error: Exception) -> None:
    assert not refused(error)


async def test_a_corrupted_key_keeps_each_member_to_its_share_with_one_error(
    private_redis: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    window = f"{fleet_key}:window"
    async with Simulator(calls=5, rate_limit=REQUESTS, rate_window=PER) as sim:
        limits = [_limit(private_redis, fleet_key) for _ in range(2)]
        async with fleet(sim, limits) as members:
            await until(lambda: all(m.limit.members == 2 for m in members), 5)
            await _corrupt(private_redis, window, "string")
            await until(lambda: len(_errors(caplog)) == 2, 5)
            assert not any(m.limit.online for m in members)
            offline = [len(m.answered) for m in members]
            # A window and a half on their shares: each member keeps working.
            await asyncio.sleep(1.5 * PER)
            assert all(len(m.answered) > n for m, n in zip(members, offline, strict=True))
            await _repair(private_redis, window)
            await until(lambda: all(m.limit.online for m in members), 5)
            back = [len(m.answered) for m in members]
            await until(lambda: sum(len(m.answered) for m in members) > sum(back) + 5, 5)
            assert [m.errors for m in members] == [[], []]
    assert statuses(sim)[429] == 0
    errors = _errors(caplog)
    assert len(errors) == 2  # one per member
    for record in errors:
        message = record.getMessage()
        assert f"key {window!r} holds a string, not a zset" in message
        assert "WRONGTYPE" in message
        assert "keeping to 50% of 20 requests per 2s" in message
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len([r for r in caplog.records if "rejoined" in r.getMessage()]) == 2


@pytest.mark.parametrize(("part", "kind"), [("window", "string"), ("epoch", "list")])
async def test_members_that_never_saw_the_fleet_refuse_rather_than_take_the_whole_limit(
    private_redis: RedisServer,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
    part: str,
    kind: str,
) -> None:
    key = f"{fleet_key}:{part}"
    await _corrupt(private_redis, key, kind)
    async with Simulator(calls=5, rate_limit=REQUESTS, rate_window=PER) as sim:
        limits = [_limit(private_redis, fleet_key) for _ in range(3)]
        async with fleet(sim, limits) as members:
            await until(lambda: all(len(m.errors) >= 5 for m in members), 5)
            assert statuses(sim) == {}  # nothing reached the server
            assert {e for m in members for e in m.errors} == {"RedisRefusedError"}
            await _repair(private_redis, key)
            await until(lambda: all(len(m.answered) >= 3 for m in members), 5)
    assert statuses(sim)[429] == 0
    errors = _errors(caplog)
    assert len(errors) == 3  # one per member, however many requests it refused
    expected = "zset" if part == "window" else "string"
    for record in errors:
        assert f"key {key!r} holds a {kind}, not a {expected}" in record.getMessage()
        assert "RedisRefusedError" in record.getMessage()


async def test_a_refusal_is_raised_as_an_sdk_error_naming_the_remedy(
    redis_server: RedisServer, fleet_key: str
) -> None:
    await _corrupt(redis_server, f"{fleet_key}:window", "string")
    async with _limit(redis_server, fleet_key) as limit:
        with pytest.raises(RedisRefusedError) as caught:
            await limit.acquire()
        assert isinstance(caught.value, ActiveCallsError)
        assert "fallback_share" in str(caught.value)
        assert not limit.online
    await _repair(redis_server, f"{fleet_key}:window")


async def test_a_fallback_share_is_kept_when_redis_refuses_from_the_start(
    redis_server: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    inflight = f"{fleet_key}:inflight"
    await _corrupt(redis_server, inflight, "string")
    async with _limit(redis_server, fleet_key, requests=10, per=1.0, fallback_share=0.5) as limit:
        granted = 0
        while granted < 6:
            try:
                await asyncio.wait_for(limit.acquire(), 0.5)
            except asyncio.TimeoutError:
                break
            granted += 1
            await limit.release()
        assert granted == 5  # half of 10 within the window
    await _repair(redis_server, inflight)
    errors = _errors(caplog)
    assert len(errors) == 1
    assert f"key {inflight!r} holds a string, not a zset" in errors[0].getMessage()
    assert "keeping to 50% of 10 requests per 1s" in errors[0].getMessage()
