"""The shared login against a hostile Redis: a renewal lock nobody keeps, a stored login that
cannot be read, and one stamped by a host whose clock runs ahead."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
import redis.asyncio as aioredis

from activecalls_async import ActiveCallsClient, RingCentralAuth
from activecalls_async.fleet import RedisTokenCache
from activecalls_async.fleet import token_cache as token_cache_module
from activecalls_async.testing import API_OPERATIONS, Simulator
from activecalls_async.token_cache import StoredLogin

from .redis_server import RedisServer

ANSWER = {"accessToken": "access-SECRET-1234567890", "refreshToken": "refresh-SECRET-0987"}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=5, rate_limit=None) as simulator:
        yield simulator


async def _renew(cache: RedisTokenCache) -> None:
    """Take the renewal lock and let it go; a hang fails the test."""

    async def renew() -> None:
        async with cache.renewal():
            pass

    await asyncio.wait_for(renew(), 5)


async def _request(sim: Simulator, cache: RedisTokenCache) -> None:
    """One listing, as a new process of the fleet would make it (its own auth and client)."""
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
        cache=cache,
    )
    async with ActiveCallsClient(
        account_id=sim.account_id, auth=auth, base_url=sim.base_url, retry=None, rate_limit=None
    ) as client:
        await asyncio.wait_for(client.list_active_calls("ACCOUNT", int(sim.account_id)), 5)
    await auth.aclose()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _api_statuses(sim: Simulator) -> Counter[int]:
    return Counter(r.status for r in sim.requests if r.operation in API_OPERATIONS)


def _logins(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.operation.startswith("auth."))


# -- the renewal lock -----------------------------------------------------------------------


async def test_a_renewal_lock_without_expiry_is_not_waited_for(
    redis_client: aioredis.Redis, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = f"{fleet_key}:renewal"
    await redis_client.set(lock, "left-by-an-old-version")  # no TTL
    async with RedisTokenCache(redis_client, key=fleet_key, lock_lease=5) as cache:
        for _ in range(2):
            started = time.monotonic()
            await _renew(cache)
            assert time.monotonic() - started < 1.0  # far less than the lease
    assert _warnings(caplog) == [
        f"the fleet login's renewal lock {lock!r} has no expiry; this process renews its "
        "login without it"
    ]
    assert await redis_client.get(lock) == b"left-by-an-old-version"  # not its to remove


async def test_a_renewal_lock_nobody_renews_is_waited_for_one_lease(
    redis_client: aioredis.Redis, fleet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = f"{fleet_key}:renewal"
    await redis_client.set(lock, "a-stuck-holder", px=60_000)  # far longer than the lease
    async with RedisTokenCache(redis_client, key=fleet_key, lock_lease=0.5) as cache:
        started = time.monotonic()
        await _renew(cache)
        waited = time.monotonic() - started
        await _renew(cache)  # the same stuck lock: not waited for again
        assert time.monotonic() - started - waited < 0.4
    assert 0.5 <= waited < 2.0
    assert _warnings(caplog) == [
        f"the fleet login's renewal lock {lock!r} was not renewed for 0.5s; this process "
        "renews its login without it"
    ]


async def test_requests_go_on_while_the_renewal_lock_is_stuck(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await redis_client.set(f"{fleet_key}:renewal", "stuck")
    for _ in range(2):  # two processes, each of which must log in
        async with RedisTokenCache(redis_server.url, key=fleet_key) as cache:
            await _request(sim, cache)
        await redis_client.delete(fleet_key)
    assert _api_statuses(sim) == {200: 2}
    assert len(_warnings(caplog)) == 2  # one per process
    assert all("has no expiry" in message for message in _warnings(caplog))


# -- unreadable logins ----------------------------------------------------------------------

UNREADABLE = {
    "nested lists": "[" * 100_000 + "]" * 100_000,
    "nested objects": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "not JSON": "{not json",
    "not UTF-8": b"\xff\xfe{}",
    "a list": "[1, 2]",
    "no answer": '{"obtained_at": 1}',
    "an answer that is text": '{"answer": "x", "obtained_at": 1}',
    "a time too big": '{"answer": {}, "obtained_at": 1' + "0" * 400 + "}",
    "a time that is not finite": '{"answer": {}, "obtained_at": 1e999}',
    "a time that is a boolean": '{"answer": {}, "obtained_at": true}',
}


@pytest.mark.parametrize("value", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_an_unreadable_login_is_ignored_with_one_warning(
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
    value: str | bytes,
) -> None:
    await redis_client.set(fleet_key, value)
    async with RedisTokenCache(redis_client, key=fleet_key) as cache:
        for _ in range(3):
            assert await cache.load() is None
    assert _warnings(caplog) == ["the fleet login in Redis is unreadable; ignoring it"]


async def test_a_process_logs_in_itself_past_a_deeply_nested_login(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await redis_client.set(fleet_key, UNREADABLE["nested lists"])
    async with RedisTokenCache(redis_server.url, key=fleet_key) as cache:
        await _request(sim, cache)
        await _request(sim, cache)
    assert _api_statuses(sim) == {200: 2}
    assert _warnings(caplog) == ["the fleet login in Redis is unreadable; ignoring it"]
    stored = json.loads(await redis_client.get(fleet_key))  # replaced by a readable login
    assert isinstance(stored["answer"]["accessToken"], str)


# -- ages on Redis's clock ------------------------------------------------------------------


def _clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """This host's wall clock, as the cache reads it, runs ``seconds`` ahead."""
    real = time.time
    monkeypatch.setattr(token_cache_module, "time", SimpleNamespace(time=lambda: real() + seconds))


async def test_a_login_is_aged_on_redis_clock_not_the_storing_host(
    redis_client: aioredis.Redis, fleet_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = 3600.0
    _clock_ahead(monkeypatch, ahead)
    async with RedisTokenCache(redis_client, key=fleet_key) as fast:
        # Obtained 100 s ago by the clock of a host running an hour ahead.
        await fast.store(StoredLogin(answer=ANSWER, obtained_at=time.time() + ahead - 100))
    monkeypatch.undo()
    async with RedisTokenCache(redis_client, key=fleet_key) as right:
        loaded = await right.load()
    assert loaded is not None
    assert time.time() - loaded.obtained_at == pytest.approx(100, abs=1)


async def test_a_login_stored_in_the_future_is_renewed_not_used(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with RedisTokenCache(redis_server.url, key=fleet_key) as cache:
        await _request(sim, cache)
    # As a host whose clock ran an hour ahead stamped it; its token has expired since.
    stored = json.loads(await redis_client.get(fleet_key))
    stored["obtained_at"] += 3600
    await redis_client.set(fleet_key, json.dumps(stored))
    sim.expire_token(stored["answer"]["accessToken"])
    async with RedisTokenCache(redis_server.url, key=fleet_key) as cache:
        await _request(sim, cache)  # a second process: renews, never sends the stale token
    logins = _logins(sim)
    renewed = json.loads(await redis_client.get(fleet_key))
    seconds, micros = await redis_client.time()
    assert renewed["obtained_at"] <= seconds + micros / 1e6  # replaced, on Redis's clock
    assert renewed["answer"]["accessToken"] != stored["answer"]["accessToken"]
    async with RedisTokenCache(redis_server.url, key=fleet_key) as cache:
        await _request(sim, cache)  # a third process: uses the renewed login as it is
    assert _logins(sim) == logins
    assert _api_statuses(sim) == {200: 3}
    assert _warnings(caplog) == ["the fleet login in Redis has a time in the future; renewing it"]
