"""RedisTokenCache against a real redis-server: the stored login, the renewal lock, fallback."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from activecalls_async import ValidationError
from activecalls_async.fleet import RedisTokenCache
from activecalls_async.token_cache import StoredLogin, TokenCache

from .redis_server import RedisServer

SECRET = "access-SECRET-1234567890"
ANSWER = {
    "accessToken": SECRET,
    "refreshToken": "refresh-SECRET-0987654321",
    "tokenType": "Bearer",
    "agentDetails": [{"agentId": 1, "firstName": "Ada"}],
    "accountId": "12440001",
}


def test_is_a_token_cache_with_a_safe_repr() -> None:
    cache = RedisTokenCache("rediss://:pw@127.0.0.1:1/0", key="login")
    assert isinstance(cache, TokenCache)
    assert repr(cache) == "RedisTokenCache(key='login', lock_lease=10)"
    assert "pw" not in repr(cache)
    assert SECRET not in repr(StoredLogin(answer=ANSWER, obtained_at=1.0))


@pytest.mark.parametrize(
    ("options", "parameter"),
    [({"key": " "}, "key"), ({"lock_lease": 0}, "lock_lease"), ({"redis": "tcp://x"}, "redis")],
)
def test_bad_options_are_refused(options: dict[str, object], parameter: str) -> None:
    settings: dict[str, object] = {"redis": "redis://127.0.0.1:1/0", "key": "k", **options}
    with pytest.raises(ValidationError) as caught:
        RedisTokenCache(**settings)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


async def test_the_login_is_stored_as_answered(
    redis_server: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        RedisTokenCache(redis_server.url, key=fleet_key) as one,
        RedisTokenCache(redis_server.url, key=fleet_key) as two,
    ):
        assert await two.load() is None
        await one.store(StoredLogin(answer=ANSWER, obtained_at=1700000000.5))
        loaded = await two.load()
    assert loaded is not None
    assert loaded.answer == ANSWER
    # Its age went through Redis's clock: the same within the calls' round trips.
    assert loaded.obtained_at == pytest.approx(1700000000.5, abs=0.1)
    assert SECRET not in caplog.text


async def test_the_newest_login_wins(redis_server: RedisServer, fleet_key: str) -> None:
    async with (
        RedisTokenCache(redis_server.url, key=fleet_key) as one,
        RedisTokenCache(redis_server.url, key=fleet_key) as two,
    ):
        await one.store(StoredLogin(answer={"accessToken": "new"}, obtained_at=20.0))
        # A member cut off meanwhile stores an older login: it does not replace the newer.
        await two.store(StoredLogin(answer={"accessToken": "old"}, obtained_at=10.0))
        loaded = await two.load()
    assert loaded is not None
    assert loaded.answer == {"accessToken": "new"}
    assert (await _reload(redis_server, fleet_key)).obtained_at == pytest.approx(20.0, abs=0.1)


async def _reload(redis_server: RedisServer, key: str) -> StoredLogin:
    async with RedisTokenCache(redis_server.url, key=key) as cache:
        loaded = await cache.load()
    assert loaded is not None
    return loaded


async def test_an_unreadable_value_is_ignored(
    redis_client: aioredis.Redis, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    await redis_client.set(fleet_key, '{"answer": "not a mapping", "obtained_at": 1}')
    cache = RedisTokenCache(redis_client, key=fleet_key)
    assert await cache.load() is None
    assert "unreadable" in caplog.text
    await cache.aclose()
    assert await redis_client.ping()  # a client passed in stays open


async def test_one_renewal_at_a_time_across_members(
    redis_server: RedisServer, fleet_key: str
) -> None:
    inside = 0
    most = 0

    async def renew(cache: RedisTokenCache) -> None:
        nonlocal inside, most
        async with cache.renewal():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.05)
            inside -= 1

    caches = [RedisTokenCache(redis_server.url, key=fleet_key, poll=0.01) for _ in range(4)]
    await asyncio.gather(*(renew(cache) for cache in caches for _ in range(2)))
    for cache in caches:
        await cache.aclose()
    assert most == 1


async def test_a_crashed_holder_blocks_only_for_the_lease(
    redis_client: aioredis.Redis, fleet_key: str
) -> None:
    crashed = RedisTokenCache(redis_client, key=fleet_key, lock_lease=0.5)
    lock = redis_client.lock(f"{fleet_key}:renewal", timeout=0.5)
    assert await lock.acquire(blocking=False)  # as a holder that then dies would
    started = time.monotonic()
    async with crashed.renewal():
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0


async def test_unreachable_redis_falls_back_to_the_own_login(
    private_redis: RedisServer, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with RedisTokenCache(private_redis.url, key=fleet_key, timeout=0.2) as cache:
        first = StoredLogin(answer=ANSWER, obtained_at=1.0)
        await cache.store(first)
        private_redis.stop()
        assert await cache.load() == first
        second = StoredLogin(answer={**ANSWER, "accessToken": "rotated"}, obtained_at=2.0)
        started = time.monotonic()
        async with cache.renewal():
            await cache.store(second)
        assert time.monotonic() - started < 2.0
        assert await cache.load() == second
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "own login" in warnings[0].getMessage()
    assert SECRET not in caplog.text


async def test_a_live_holder_keeps_the_lock_past_its_lease(
    redis_server: RedisServer, fleet_key: str
) -> None:
    async with (
        RedisTokenCache(redis_server.url, key=fleet_key, lock_lease=0.3) as slow,
        RedisTokenCache(redis_server.url, key=fleet_key, lock_lease=0.3) as other,
    ):
        async with slow.renewal():
            waiting = asyncio.create_task(other.renewal().__aenter__())
            await asyncio.sleep(1.0)  # three leases: the holder kept renewing it
            assert not waiting.done()
        await asyncio.wait_for(waiting, 2)
