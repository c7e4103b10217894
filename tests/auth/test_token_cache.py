"""RingCentralAuth with a TokenCache: one login shared by many users, renewed once for all."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from activecalls_async import ActiveCallsClient, RingCentralAuth, ValidationError
from activecalls_async.auth import AgentDetails
from activecalls_async.testing import Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from activecalls_async.token_cache import StoredLogin, TokenCache


class MemoryCache:
    """A TokenCache in memory: what a shared store does, seen from one event loop."""

    def __init__(self, login: StoredLogin | None = None) -> None:
        self.login = login
        self.lock = asyncio.Lock()
        self.loads = self.stores = self.renewals = 0

    async def load(self) -> StoredLogin | None:
        self.loads += 1
        await asyncio.sleep(0)  # a real store answers later
        return self.login

    async def store(self, login: StoredLogin) -> None:
        self.stores += 1
        self.login = login

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[None]:
        async with self.lock:
            self.renewals += 1
            yield

    def age(self, seconds: float) -> None:
        """Make the stored login ``seconds`` older, as if obtained that long ago."""
        assert self.login is not None
        self.login = StoredLogin(self.login.answer, self.login.obtained_at - seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwt_auth(sim: Simulator, cache: TokenCache | None, **options: Any) -> RingCentralAuth:
    return RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
        cache=cache,
        **options,
    )


def count(sim: Simulator, operation: str) -> int:
    return sum(1 for r in sim.requests if r.operation == operation)


async def list_some(client: ActiveCallsClient, sim: Simulator) -> None:
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=5)


def bearer(auth: RingCentralAuth) -> str:
    return auth._headers["Authorization"]


async def test_users_starting_at_once_log_in_once(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    cache = MemoryCache()
    auths = [jwt_auth(sim, cache) for _ in range(8)]
    clients = [make_client(auth=auth) for auth in auths]
    try:
        await asyncio.gather(*(list_some(client, sim) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert (count(sim, "auth.jwt"), count(sim, "auth.exchange")) == (1, 1)
    assert cache.stores == 1
    assert len({bearer(auth) for auth in auths}) == 1
    assert cache.login is not None
    assert 0 <= time.time() - cache.login.obtained_at < 5  # wall clock, taken before asking


async def test_a_fresh_login_in_the_cache_is_used_without_asking(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    answer = {
        "accessToken": sim.token,
        "refreshToken": "cached-refresh-token",
        "mainAccountId": 12440000,
        "agentDetails": [{"agentId": 7, "firstName": "Ana", "skills": ["es"], "email": None}],
    }
    cache = MemoryCache(StoredLogin(answer, time.time() - 100))
    auth = jwt_auth(sim, cache)
    async with make_client(auth=auth) as client:
        await list_some(client, sim)
    assert [r.operation for r in sim.requests] == ["list"]
    assert cache.renewals == 0  # used as found: nobody needed the lock
    assert auth.main_account_id == "12440000"
    assert auth.agent_details == (
        AgentDetails(agent_id="7", first_name="Ana", email=None, extra={"skills": ["es"]}),
    )


async def test_a_due_login_is_renewed_once_for_every_user(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    cache = MemoryCache()
    clock = FakeClock()
    auths = [jwt_auth(sim, cache, clock=clock) for _ in range(4)]
    clients = [make_client(auth=auth) for auth in auths]
    try:
        await asyncio.gather(*(list_some(client, sim) for client in clients))
        first = bearer(auths[0])
        refresh_token = cache.login.answer["refreshToken"] if cache.login else None
        cache.age(250.0)  # lifetime 300 s, renewal due 60 s before the end
        clock.now += 250.0
        await asyncio.gather(*(list_some(client, sim) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert count(sim, "auth.refresh") == 1
    assert count(sim, "auth.exchange") == 1
    assert len({bearer(auth) for auth in auths}) == 1
    assert bearer(auths[0]) != first
    refresh = next(r for r in sim.requests if r.operation == "auth.refresh")
    assert f"refresh_token={refresh_token}" in refresh.body  # the cache's, the latest one


async def test_an_expired_token_is_renewed_once_for_every_user(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    cache = MemoryCache()
    auths = [jwt_auth(sim, cache) for _ in range(5)]
    clients = [make_client(auth=auth) for auth in auths]
    try:
        await asyncio.gather(*(list_some(client, sim) for client in clients))
        expired = bearer(auths[0]).removeprefix("Bearer ")
        sim.expire_token(expired)
        await asyncio.gather(*(list_some(client, sim) for client in clients))
        await asyncio.gather(*(list_some(client, sim) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert count(sim, "auth.refresh") == 1  # not one per user
    assert cache.stores == 2
    assert len({bearer(auth) for auth in auths}) == 1
    assert expired not in bearer(auths[0])


async def test_a_user_that_renewed_alone_still_shares_the_renewal(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    # The second user meets the expired token only after the first has renewed it: it
    # finds a different token in the cache and uses it, with no login request.
    cache = MemoryCache()
    first, second = jwt_auth(sim, cache), jwt_auth(sim, cache)
    async with make_client(auth=first) as one, make_client(auth=second) as two:
        await list_some(one, sim)
        await list_some(two, sim)
        sim.expire_token(bearer(first).removeprefix("Bearer "))
        await list_some(one, sim)
        sim.reset_counters()
        await list_some(two, sim)
    assert [(r.operation, r.status) for r in sim.requests] == [("list", 401), ("list", 200)]
    assert bearer(first) == bearer(second)


async def test_without_a_cache_each_object_logs_in_on_its_own(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auths = [jwt_auth(sim, None) for _ in range(2)]
    for auth in auths:
        async with make_client(auth=auth) as client:
            await list_some(client, sim)
    assert count(sim, "auth.exchange") == 2
    agent = auths[0].agent_details[0]
    assert agent.agent_id is not None
    assert agent.account_name == "Simulated Contact Centre"
    assert auths[1].agent_details == auths[0].agent_details


def test_a_cache_must_be_a_token_cache() -> None:
    with pytest.raises(ValidationError) as caught:
        RingCentralAuth("rc-token", cache=object())  # type: ignore[arg-type]
    assert caught.value.parameter == "cache"
    assert isinstance(MemoryCache(), TokenCache)
