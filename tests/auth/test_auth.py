"""Auth against the simulator: login, early and on-demand renewal, fallback, limits."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from activecalls_async import (
    ActiveCallsClient,
    ApiToken,
    Auth,
    AuthenticationError,
    BearerToken,
    ClientClosedError,
    RateLimit,
    RingCentralAuth,
    ServerError,
    ValidationError,
)
from activecalls_async.auth import LoginRequest, LoginSender, TokenSource
from activecalls_async.priority import Priority
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import FAST, client_tasks, wait_for_arrival, wait_until


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingLimiter:
    """A Limiter that lets everything through and counts what it let through."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        self.acquired += 1

    async def release(self) -> None:
        pass


def jwt_auth(sim: Simulator, **options: Any) -> RingCentralAuth:
    return RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
        **options,
    )


def waiting_for_login(client: ActiveCallsClient) -> int:
    """How many requests of the client wait for its credentials' login in flight."""
    auth = client._transport.auth
    assert isinstance(auth, RingCentralAuth)
    renewal = auth._renewal
    return 0 if renewal is None or renewal.task.done() else renewal.waiters


def trail(sim: Simulator) -> list[tuple[str, int]]:
    return [(r.operation, r.status) for r in sim.requests]


def last_bearer(sim: Simulator) -> str:
    header = [r for r in sim.requests if r.operation == "list"][-1].headers["Authorization"]
    return header.removeprefix("Bearer ")


async def list_some(client: ActiveCallsClient, sim: Simulator) -> None:
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=5)


def basic_auth(login: str, password: str) -> dict[str, str]:
    """An HTTP Basic header, built by hand (aiohttp 3.14 deprecates BasicAuth)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


async def grant_rc_token(sim: Simulator) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sim.root_url}/restapi/oauth/token",
            headers=basic_auth(sim.rc_client_id, sim.rc_client_secret),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": sim.rc_jwt,
            },
        ) as response,
    ):
        token: str = (await response.json())["access_token"]
    sim.reset_counters()
    return token


async def test_from_jwt_grants_then_exchanges_then_calls(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        await list_some(client, sim)
    assert trail(sim) == [("auth.jwt", 200), ("auth.exchange", 200), ("list", 200), ("list", 200)]
    grant, exchange = sim.requests[0], sim.requests[1]
    assert grant.headers["Authorization"].startswith("Basic ")
    assert "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in grant.body
    assert exchange.param("includeRefresh") == "true"
    assert "rcTokenType=Bearer" in exchange.body


async def test_a_ringcentral_token_string_is_exchanged(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    rc_token = await grant_rc_token(sim)
    async with make_client(auth=RingCentralAuth(rc_token, auth_url=sim.root_url)) as client:
        await list_some(client, sim)
    assert trail(sim) == [("auth.exchange", 200), ("list", 200)]


async def test_an_async_callable_is_asked_for_each_exchange(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    rc_token = await grant_rc_token(sim)
    asked = 0

    async def current_rc_token() -> str:
        nonlocal asked
        asked += 1
        return rc_token

    # Every refresh is refused, so every renewal is a fresh exchange.
    sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.refresh"})
    auth = RingCentralAuth(current_rc_token, auth_url=sim.root_url)
    async with make_client(auth=auth) as client:
        await list_some(client, sim)
        sim.expire_token(last_bearer(sim))
        await list_some(client, sim)
    assert asked == 2
    assert [op for op, _ in trail(sim)].count("auth.exchange") == 2


async def test_the_token_is_renewed_before_it_expires(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    clock = FakeClock()
    async with make_client(auth=jwt_auth(sim, clock=clock)) as client:
        await list_some(client, sim)
        clock.now += 239.0  # lifetime 300 s, renewed 60 s early
        await list_some(client, sim)
        assert [op for op, _ in trail(sim)].count("auth.refresh") == 0
        first = last_bearer(sim)
        clock.now += 2.0
        await list_some(client, sim)
    assert trail(sim)[-2:] == [("auth.refresh", 200), ("list", 200)]
    assert last_bearer(sim) != first
    assert all(status != 401 for _, status in trail(sim))


async def test_a_401_expired_renews_the_token_and_repeats(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        sim.expire_token(last_bearer(sim))
        await list_some(client, sim)
    assert trail(sim)[-3:] == [("list", 401), ("auth.refresh", 200), ("list", 200)]


@pytest.mark.parametrize("how", ["expired-on-server", "due-by-clock"])
async def test_renewal_is_single_flight(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory, how: str
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    clock = FakeClock()
    async with make_client(auth=jwt_auth(sim, clock=clock), max_concurrency=30) as client:
        await list_some(client, sim)
        if how == "expired-on-server":
            sim.expire_token(last_bearer(sim))
        else:
            clock.now += 250.0
        await asyncio.wait_for(asyncio.gather(*(list_some(client, sim) for _ in range(25))), 5.0)
        await list_some(client, sim)
    operations = [op for op, _ in trail(sim)]
    assert operations.count("auth.refresh") == 1
    assert operations.count("auth.exchange") == 1
    assert operations.count("list") >= 27
    assert trail(sim)[-1] == ("list", 200)


async def test_a_refused_refresh_token_falls_back_to_a_fresh_exchange(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.refresh"})
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        sim.expire_token(last_bearer(sim))
        await list_some(client, sim)
    assert trail(sim)[-4:] == [
        ("list", 401),
        ("auth.refresh", 401),
        ("auth.exchange", 200),
        ("list", 200),
    ]
    # The RingCentral token from the JWT grant lives an hour: it is reused, not re-granted.
    assert [op for op, _ in trail(sim)].count("auth.jwt") == 1


async def test_a_spent_refresh_token_falls_back_to_a_fresh_exchange(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        exchange = next(r for r in sim.requests if r.operation == "auth.exchange")
        assert exchange.status == 200
        # Someone else spends the refresh token (a second process sharing the login).
        auth = client._transport.auth
        assert isinstance(auth, RingCentralAuth)
        refresh_token = auth._refresh_token
        assert refresh_token is not None
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{sim.root_url}/api/auth/token/refresh", data={"refresh_token": refresh_token}
            )
            response.release()
        sim.expire_token(last_bearer(sim))
        await list_some(client, sim)
    assert trail(sim)[-4:] == [
        ("list", 401),
        ("auth.refresh", 401),
        ("auth.exchange", 200),
        ("list", 200),
    ]


async def test_exchanges_and_only_exchanges_wait_for_the_exchange_limit(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    limiter = CountingLimiter()
    clock = FakeClock()
    async with make_client(auth=jwt_auth(sim, exchange_limit=limiter, clock=clock)) as client:
        await list_some(client, sim)
        clock.now += 250.0
        await list_some(client, sim)  # a refresh: not an exchange
        sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.refresh"})
        sim.expire_token(last_bearer(sim))
        await list_some(client, sim)
    operations = [op for op, _ in trail(sim)]
    assert operations.count("auth.refresh") == 2
    assert limiter.acquired == operations.count("auth.exchange") == 2


def test_the_default_exchange_limit_is_the_documented_five_per_minute() -> None:
    auth = RingCentralAuth("rc-token")
    assert isinstance(auth.exchange_limit, RateLimit)
    assert (auth.exchange_limit.requests, auth.exchange_limit.per) == (5, 60.0)
    # Private to each object unless one is passed in.
    assert RingCentralAuth("rc-token").exchange_limit is not auth.exchange_limit


async def test_the_exchange_limit_spaces_out_exchanges(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.refresh"})
    limit = RateLimit(2, per=0.2, margin=0.0)
    async with make_client(auth=jwt_auth(sim, exchange_limit=limit)) as client:
        for _ in range(3):
            await list_some(client, sim)
            sim.expire_token(last_bearer(sim))
    starts = [r.started for r in sim.requests if r.operation == "auth.exchange"]
    assert len(starts) == 3
    assert starts[2] - starts[0] >= 0.18


async def test_a_login_service_outage_is_ridden_out_while_the_token_lasts(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    caplog.set_level(logging.WARNING, logger="activecalls_async")
    clock = FakeClock()
    async with make_client(auth=jwt_auth(sim, clock=clock)) as client:
        await list_some(client, sim)
        sim.faults = Faults(error_rate=1.0, error_status=503, operations={"auth.refresh"})
        clock.now += 250.0
        await list_some(client, sim)
        assert trail(sim)[-2:] == [("auth.refresh", 503), ("list", 200)]
        assert "could not renew the RingCX token early" in caplog.text
        await list_some(client, sim)  # no new attempt at once: the service is down
        assert trail(sim)[-2:] == [("list", 200), ("list", 200)]
        clock.now += 6.0
        await list_some(client, sim)
        assert trail(sim)[-2:] == [("auth.refresh", 503), ("list", 200)]
        clock.now += 60.0  # now past the token's lifetime: no more riding it out
        with pytest.raises(ServerError) as caught:
            await list_some(client, sim)
        assert caught.value.operation == "auth.refresh"
        assert caught.value.retries == FAST.max_attempts - 1
        # Service back: the same refresh token still works.
        sim.faults = Faults()
        await list_some(client, sim)
    assert trail(sim)[-2:] == [("auth.refresh", 200), ("list", 200)]


async def test_an_expired_token_is_not_ridden_out_when_renewal_fails(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        sim.faults = Faults(error_rate=1.0, error_status=503, operations={"auth.refresh"})
        sim.expire_token(last_bearer(sim))
        # The server said "expired": the old token is not used again, the renewal is
        # retried like any request that was never sent, and its failure is reported.
        with pytest.raises(ServerError) as caught:
            await list_some(client, sim)
        assert caught.value.operation == "auth.refresh"
        assert caught.value.retries == FAST.max_attempts - 1
        assert [status for op, status in trail(sim) if op == "list"] == [200, 401]
        sim.faults = Faults()
        await list_some(client, sim)
    assert trail(sim)[-2:] == [("auth.refresh", 200), ("list", 200)]


async def test_refused_credentials_are_not_ridden_out(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    clock = FakeClock()
    async with make_client(auth=jwt_auth(sim, clock=clock)) as client:
        await list_some(client, sim)
        # The login is revoked: renewal fails for good, though the token has time left.
        sim.faults = Faults(
            error_rate=1.0, error_status=401, operations={"auth.refresh", "auth.exchange"}
        )
        clock.now += 250.0
        with pytest.raises(AuthenticationError):
            await list_some(client, sim)
    assert trail(sim)[-1] == ("auth.exchange", 401)


async def test_a_refused_exchange_raises_authentication_error(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.exchange"})
    async with make_client(auth=jwt_auth(sim)) as client:
        with pytest.raises(AuthenticationError) as caught:
            await list_some(client, sim)
    # The RingCentral token is granted anew once, in case it was the stale part.
    assert trail(sim) == [
        ("auth.jwt", 200),
        ("auth.exchange", 401),
        ("auth.jwt", 200),
        ("auth.exchange", 401),
    ]
    assert caught.value.operation == "auth.exchange"


async def test_wrong_client_credentials_raise_authentication_error(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret="not-the-secret",
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    async with make_client(auth=auth) as client:
        with pytest.raises(AuthenticationError) as caught:
            await list_some(client, sim)
    assert caught.value.status == 401
    assert trail(sim) == [("auth.jwt", 401)]
    bad_jwt = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt="not.the.jwt",
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    async with make_client(auth=bad_jwt) as client:
        with pytest.raises(AuthenticationError) as caught:
            await list_some(client, sim)
    assert caught.value.status == 400  # OAuth's invalid_grant, still an auth failure
    assert caught.value.error_code == "invalid_grant"


async def test_a_caller_cancelled_during_renewal_leaves_it_to_the_others(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    async with make_client(auth=jwt_auth(sim)) as client:
        await list_some(client, sim)
        sim.faults = Faults(latency=0.3, operations={"auth.refresh"})
        sim.expire_token(last_bearer(sim))
        first = asyncio.create_task(list_some(client, sim))
        second = asyncio.create_task(list_some(client, sim))
        await wait_until(lambda: waiting_for_login(client) == 2)
        await wait_for_arrival(sim, "auth.refresh")
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await second
    operations = [op for op, _ in trail(sim)]
    assert operations.count("auth.refresh") == 1
    assert trail(sim)[-1] == ("list", 200)


async def test_closing_the_client_stops_a_renewal_in_flight(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    client = make_client(auth=jwt_auth(sim))
    await list_some(client, sim)
    sim.faults = Faults(latency=5.0, operations={"auth.refresh"})
    sim.expire_token(last_bearer(sim))
    waiting = asyncio.create_task(list_some(client, sim))
    await wait_for_arrival(sim, "auth.refresh")
    started = asyncio.get_running_loop().time()
    await client.aclose()
    assert asyncio.get_running_loop().time() - started < 1.0
    with pytest.raises(ClientClosedError):  # not a CancelledError: nobody cancelled it
        await waiting
    assert not waiting.cancelled()
    assert client_tasks() == []


async def test_closing_one_client_leaves_a_shared_auth_to_the_other(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auth = jwt_auth(sim)
    sim.faults = Faults(latency=0.3, operations={"auth.exchange"})
    first, second = make_client(auth=auth), make_client(auth=auth)
    async with second:
        waiting = asyncio.create_task(list_some(second, sim))
        await wait_for_arrival(sim, "auth.exchange")  # the second client's login is in flight
        await first.aclose()
        await waiting  # not cancelled: the first client does not own the credentials
        await list_some(second, sim)
    assert [op for op, _ in trail(sim)] == ["auth.jwt", "auth.exchange", "list", "list"]
    assert client_tasks() == []


async def test_a_renewal_over_a_closed_clients_session_is_taken_over(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auth = jwt_auth(sim)
    sim.faults = Faults(latency=0.3, operations={"auth.exchange"})
    first, second = make_client(auth=auth), make_client(auth=auth)
    async with second:
        mine = asyncio.create_task(list_some(first, sim))  # starts the login, over its session
        await wait_for_arrival(sim, "auth.exchange")
        theirs = asyncio.create_task(list_some(second, sim))  # joins that login
        await wait_until(lambda: waiting_for_login(second) == 2)
        await first.aclose()
        with pytest.raises(ClientClosedError):
            await mine
        await theirs  # logged in again over its own, open session
    assert trail(sim)[-1] == ("list", 200)
    assert not mine.cancelled()
    assert client_tasks() == []


async def test_closing_the_auth_fails_its_waiters_with_client_closed_error(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auth = jwt_auth(sim)
    sim.faults = Faults(latency=5.0, operations={"auth.jwt"})
    async with make_client(auth=auth) as client:
        waiting = [asyncio.create_task(list_some(client, sim)) for _ in range(3)]
        await wait_until(lambda: waiting_for_login(client) == 3)
        await wait_for_arrival(sim, "auth.jwt")
        await auth.aclose()
        for task in waiting:
            with pytest.raises(ClientClosedError, match="credentials were closed"):
                await task
    assert client_tasks() == []


async def test_a_client_made_from_the_environment_closes_its_login(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(latency=5.0, operations={"auth.jwt"})
    env = {
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_RC_CLIENT_ID": sim.rc_client_id,
        "ACTIVECALLS_RC_CLIENT_SECRET": sim.rc_client_secret,
        "ACTIVECALLS_RC_JWT": sim.rc_jwt,
        "ACTIVECALLS_RC_SERVER": sim.root_url,
        "ACTIVECALLS_AUTH_URL": sim.root_url,
    }
    client = ActiveCallsClient.from_env(env, rate_limit=None)
    waiting = asyncio.create_task(list_some(client, sim))
    await wait_for_arrival(sim, "auth.jwt")
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await waiting
    assert client_tasks() == []


async def test_a_renewal_nobody_waits_for_any_more_stops(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    auth = jwt_auth(sim)  # never closed: it must not leave work behind
    sim.faults = Faults(latency=5.0, operations={"auth.jwt"})
    async with make_client(auth=auth) as client:
        lone = asyncio.create_task(list_some(client, sim))
        await wait_for_arrival(sim, "auth.jwt")
        lone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lone
        for _ in range(5):  # the renewal's own cancellation takes a turn or two of the loop
            await asyncio.sleep(0)
        assert client_tasks() == []
        sim.faults = Faults()
        await list_some(client, sim)  # and the next request logs in afresh
    assert trail(sim)[-1] == ("list", 200)


@pytest.mark.parametrize("auth", ["bearer", "api-token"])
async def test_fixed_tokens(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory, auth: str
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    credentials = BearerToken(sim.token) if auth == "bearer" else ApiToken(sim.api_token)
    async with make_client(auth=credentials) as client:
        await list_some(client, sim)
    header = "Authorization" if auth == "bearer" else "X-Auth-Token"
    assert header in sim.requests[-1].headers
    assert trail(sim) == [("list", 200)]


async def test_from_env_logs_in_with_a_jwt(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    env = {
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_RC_CLIENT_ID": sim.rc_client_id,
        "ACTIVECALLS_RC_CLIENT_SECRET": sim.rc_client_secret,
        "ACTIVECALLS_RC_JWT": sim.rc_jwt,
        "ACTIVECALLS_RC_SERVER": sim.root_url,
        "ACTIVECALLS_AUTH_URL": sim.root_url,
    }
    async with ActiveCallsClient.from_env(env, rate_limit=None) as client:
        await list_some(client, sim)
    assert [op for op, _ in trail(sim)] == ["auth.jwt", "auth.exchange", "list"]


async def test_from_env_exchanges_a_ringcentral_token(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    env = {
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_RC_ACCESS_TOKEN": await grant_rc_token(sim),
        "ACTIVECALLS_AUTH_URL": sim.root_url,
    }
    async with ActiveCallsClient.from_env(env, rate_limit=None) as client:
        await list_some(client, sim)
    assert [op for op, _ in trail(sim)] == ["auth.exchange", "list"]


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"rc_access_token": ""}, "rc_access_token"),
        ({"rc_access_token": 42}, "rc_access_token"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ({"refresh_margin": 300.0}, "refresh_margin"),
        ({"refresh_margin": -1}, "refresh_margin"),
        ({"timeout": -1}, "timeout"),
        ({"exchange_limit": 5}, "exchange_limit"),
        ({"auth_url": "ftp://example.com"}, "auth_url"),
        ({"auth_url": "https://user:pw@example.com"}, "auth_url"),
        ({"auth_url": "https://example.com/?x=1"}, "auth_url"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], parameter: str) -> None:
    settings = {"rc_access_token": "rc-token", **options}
    with pytest.raises(ValidationError) as caught:
        RingCentralAuth(**settings)
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"client_id": "a:b"}, "client_id"),
        ({"client_secret": " "}, "client_secret"),
        ({"jwt": "two\nlines"}, "jwt"),
        ({"rc_server": "http://platform.example.com"}, "rc_server"),
    ],
)
def test_bad_jwt_options_are_refused(options: dict[str, Any], parameter: str) -> None:
    settings = {"client_id": "id", "client_secret": "secret", "jwt": "a.b.c", **options}
    with pytest.raises(ValidationError) as caught:
        RingCentralAuth.from_jwt(**settings)
    assert caught.value.parameter == parameter


async def test_a_callable_returning_junk_is_refused(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory

    async def broken() -> str:
        return ""

    async with make_client(auth=RingCentralAuth(broken, auth_url=sim.root_url)) as client:
        with pytest.raises(ValidationError) as caught:
            await list_some(client, sim)
    assert caught.value.parameter == "rc_access_token"
    assert sim.requests == []


async def test_a_custom_auth_logs_in_through_the_sender_it_is_given(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    rc_token = await grant_rc_token(sim)
    exchange_url = f"{sim.root_url}/api/auth/login/rc/accesstoken"

    class ExchangeOnce(Auth):
        """Needs no HTTP library: the client sends its login form."""

        def __init__(self, rc_token: str) -> None:
            self.rc_token = rc_token
            self.logins = 0

        async def headers(self, send: LoginSender) -> Mapping[str, str]:
            form = {"rcAccessToken": self.rc_token, "rcTokenType": "Bearer"}
            answer = await send(
                LoginRequest("auth.exchange", exchange_url, form, secrets=(self.rc_token,))
            )
            self.logins += 1
            return {"Authorization": f"Bearer {answer['accessToken']}"}

    custom = ExchangeOnce(rc_token)
    async with make_client(auth=custom) as client:
        await list_some(client, sim)
    assert custom.logins == 1
    assert trail(sim) == [("auth.exchange", 200), ("list", 200)]

    refused = ExchangeOnce("not-a-ringcentral-token")
    async with make_client(auth=refused) as client:
        with pytest.raises(AuthenticationError) as caught:
            await list_some(client, sim)
    assert caught.value.operation == "auth.exchange"
    assert "not-a-ringcentral-token" not in str(caught.value)


async def test_a_token_source_object_says_how_to_get_the_ringcentral_token(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    rc_token = await grant_rc_token(sim)

    class Rotating(TokenSource):
        label = "rotating"

        def __init__(self) -> None:
            self.tokens = ["stale-ringcentral-token", rc_token]
            self.refusals = 0

        async def token(self, send: LoginSender) -> str:
            return self.tokens[0]

        def rejected(self) -> bool:
            self.refusals += 1
            self.tokens.pop(0)
            return True

    source = Rotating()
    auth = RingCentralAuth(source, auth_url=sim.root_url)
    assert repr(auth).startswith("RingCentralAuth(rotating,")
    async with make_client(auth=auth) as client:
        await list_some(client, sim)
    assert source.refusals == 1
    assert trail(sim) == [("auth.exchange", 401), ("auth.exchange", 200), ("list", 200)]


def test_a_plain_function_is_refused_at_construction_as_not_an_async_callable() -> None:
    def sync_token() -> str:
        return "rc-token"

    with pytest.raises(ValidationError, match="async callable") as caught:
        RingCentralAuth(sync_token)  # type: ignore[arg-type]
    assert caught.value.parameter == "rc_access_token"
    with pytest.raises(ValidationError, match="async callable"):
        RingCentralAuth(lambda: "rc-token")  # type: ignore[arg-type,return-value]


def test_an_object_with_an_async_call_is_an_async_callable() -> None:
    class Vault:
        async def __call__(self) -> str:
            return "rc-token"

    assert repr(RingCentralAuth(Vault())).startswith("RingCentralAuth(rc_access_token,")


@pytest.mark.parametrize("kind", [BearerToken, ApiToken])
@pytest.mark.parametrize("token", ["tok\x00-123456789", "tok-123456789\x00", "tok\x7f-12345678"])
def test_a_token_with_nul_or_control_characters_is_refused(kind: type[Auth], token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        kind(token)  # type: ignore[call-arg]
    assert caught.value.parameter == "token"
