"""Accounts, account-id discovery, the client.request escape hatch and callback time zones,
end to end against the simulator."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activecalls_async import (
    Account,
    ActiveCallsClient,
    AuthenticationError,
    ClientClosedError,
    NotFoundError,
    Priority,
    RateLimit,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from activecalls_async._wire.response import RawResponse
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import wait_for_arrival

FAST_RETRIES = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 50, "seed": 3, "live": False, "rate_limit": None}


def unlocated(sim: Simulator, **options: Any) -> ActiveCallsClient:
    """A client that was not told its account id."""
    return ActiveCallsClient(auth=sim.token, base_url=sim.base_url, **options)


def sent(sim: Simulator, operation: str) -> int:
    return sum(1 for r in sim.requests if r.operation == operation)


class CountingLimiter:
    """A RateLimit that counts the request starts it let through."""

    def __init__(self) -> None:
        self.inner = RateLimit(1000, per=1.0)
        self.acquired = 0

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        await self.inner.acquire(priority)
        self.acquired += 1

    async def release(self) -> None:
        await self.inner.release()


# -- accounts --------------------------------------------------------------------------------


async def test_list_accounts(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    (account,) = await activecalls_client.list_accounts()
    assert isinstance(account, Account)
    assert account.account_id == sim.account_id
    assert account.account_name == sim.accounts[0]["accountName"]
    assert account.main_account_id == sim.accounts[0]["mainAccountId"]
    assert account.extra == {"enabled": True}
    (request,) = sim.requests
    assert request.path == "/voice/api/v1/admin/accounts"
    assert request.headers["Authorization"] == f"Bearer {sim.token}"


async def test_fifty_tasks_share_one_account_lookup(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        before = client.account_id
        assert before is None
        pages = await asyncio.gather(
            *(client.list_active_calls("ACCOUNT", max_rows=5) for _ in range(50))
        )
        assert all(len(page) == 5 for page in pages)
        assert client.account_id == sim.account_id
        await client.ping_call(pages[0][0].uii)
    assert sent(sim, "accounts") == 1
    assert sent(sim, "list") == 50


async def test_several_accounts_are_named_and_nothing_else_is_sent(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    sim.accounts.append({"accountId": "12440002", "accountName": "Second Site"})
    async with unlocated(sim) as client:
        results = await asyncio.gather(
            *(client.hangup_call("U1") for _ in range(5)), return_exceptions=True
        )
    assert all(isinstance(r, ValidationError) for r in results)
    message = str(results[0])
    assert sim.account_id in message
    assert "12440002 (Second Site)" in message
    assert [r.operation for r in sim.requests] == ["accounts"]


async def test_no_visible_account_is_a_clear_error(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    sim.accounts.clear()
    async with unlocated(sim) as client:
        with pytest.raises(ValidationError, match="no sub-account") as info:
            await client.list_active_calls("ACCOUNT")
    assert info.value.parameter == "account_id"
    assert sent(sim, "list") == 0


async def test_a_failed_lookup_is_tried_again_by_the_next_request(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(error_rate=1.0, operations={"accounts"})
    async with unlocated(sim, retry=None) as client:
        with pytest.raises(ServerError):
            await client.list_active_calls("ACCOUNT")
        sim.faults = Faults()
        assert await client.list_active_calls("ACCOUNT", max_rows=1)
    assert sent(sim, "accounts") == 2


async def test_bad_input_fails_before_the_lookup(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        with pytest.raises(ValidationError):
            await client.requeue_call("../x", gate_id=55)
        with pytest.raises(TypeError):
            await client.ping_call()  # type: ignore[call-arg]
    assert sim.requests == []


async def test_a_caller_cancelled_during_the_lookup_leaves_it_to_the_others(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(latency=0.2, operations={"accounts"})
    async with unlocated(sim) as client:
        first = asyncio.create_task(client.list_active_calls("ACCOUNT", max_rows=1))
        second = asyncio.create_task(client.list_active_calls("ACCOUNT", max_rows=1))
        await wait_for_arrival(sim, "accounts")
        first.cancel()
        assert len(await second) == 1
        with pytest.raises(asyncio.CancelledError):
            await first
    assert sent(sim, "accounts") == 1


async def test_closing_during_the_lookup_leaves_no_task(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(latency=5.0, operations={"accounts"})
    client = unlocated(sim)
    waiting = asyncio.create_task(client.list_active_calls("ACCOUNT"))
    await wait_for_arrival(sim, "accounts")
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await waiting
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "_discover" in repr(t.get_coro())]


async def test_resolve_account_id(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        assert await client.resolve_account_id() == sim.account_id
        assert await client.resolve_account_id() == sim.account_id
    assert sent(sim, "accounts") == 1


async def test_from_env_looks_the_account_up_when_asked(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    env = {"ACTIVECALLS_TOKEN": sim.token, "ACTIVECALLS_BASE_URL": sim.base_url}
    with pytest.raises(ValidationError, match="account_id=None"):
        ActiveCallsClient.from_env(env)
    async with ActiveCallsClient.from_env(env, account_id=None) as client:
        assert await client.resolve_account_id() == sim.account_id


# -- the escape hatch --------------------------------------------------------------------------


async def test_request_reaches_another_admin_endpoint_with_auth_and_rate_limit(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    limiter = CountingLimiter()
    async with unlocated(sim, rate_limit=limiter) as client:
        users = await client.request("GET", "users")
    assert users == sim.users
    (request,) = sim.requests
    assert request.path == "/voice/api/v1/admin/users"
    assert request.headers["Authorization"] == f"Bearer {sim.token}"
    assert "Content-Type" not in request.headers
    assert limiter.acquired == 1


async def test_request_refuses_an_escaping_path_with_nothing_sent(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        for path in ("../../x", "/api/v1/admin/users", "users?x=1", "a/../../b", "users#x"):
            with pytest.raises(ValidationError) as info:
                await client.request("GET", path)
            assert info.value.parameter == "path"
    assert sim.requests == []


async def test_request_posts_json_once_and_gets_json_back(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    async with unlocated(sim, retry=FAST_RETRIES) as client:
        created = await client.request("POST", "users", json={"userName": "c@example.com"})
    assert created["userName"] == "c@example.com"
    (request,) = sim.requests
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"userName": "c@example.com"}


async def test_request_retries_by_its_retry_class(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(error_rate=1.0, operations={"users", "users.create"})
    async with unlocated(sim, retry=FAST_RETRIES) as client:
        with pytest.raises(ServerError):
            await client.request("GET", "users")
        with pytest.raises(ServerError) as info:
            await client.request("POST", "users", json={"userName": "d"})
        assert info.value.retries == 0
        with pytest.raises(ServerError):
            await client.request("POST", "users", json={"userName": "d"}, retry_class="idempotent")
    assert sent(sim, "users") == 3
    assert sent(sim, "users.create") == 1 + 3
    assert [e for e in sim.effects if e.kind == "users.create"] == []


async def test_request_maps_errors_and_masks_the_token(activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        with pytest.raises(NotFoundError) as info:
            await client.request("GET", "accounts/1/nothing-here", params={"q": "x"})
    assert info.value.status == 404
    assert info.value.url.endswith("/api/v1/admin/accounts/1/nothing-here?q=x")
    async with ActiveCallsClient(auth="wrong-token-value", base_url=sim.base_url) as client:
        with pytest.raises(AuthenticationError) as denied:
            await client.request("GET", "users")
    assert "wrong-token-value" not in str(denied.value)


async def test_request_raw_gives_the_status_headers_and_body(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    async with unlocated(sim) as client:
        raw = await client.request("GET", "users", raw=True)
        created = await client.request("POST", "users", json={"userName": "e@x.com"}, raw=True)
        with pytest.raises(NotFoundError):  # an error status raises, raw or not
            await client.request("GET", "accounts/1/nothing-here", raw=True)
    assert isinstance(raw, RawResponse)
    assert raw.status == 200
    assert raw.headers["Content-Type"].startswith("application/json")
    assert raw.json() == sim.users[:-1]  # the user created after it is not in it
    assert json.loads(raw.text) == raw.json()
    assert created.status in (200, 201)
    assert created.json()["userName"] == "e@x.com"
    assert "bytes" in repr(raw)
    assert sim.token not in repr(raw)


# -- callback times -----------------------------------------------------------------------------


def dts(sim: Simulator, uii: str) -> str | None:
    return sim.state.dispositions[uii].callback_at


def answered(sim: Simulator) -> list[str]:
    return [str(c["uii"]) for c in sim.wire_calls() if c["agentFirstName"]]


@pytest.mark.activecalls_client(account_timezone="America/New_York")
async def test_an_aware_callback_time_is_sent_in_the_account_time_zone(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    uii = answered(sim)[0]
    when = datetime(2026, 12, 1, 20, 30, tzinfo=timezone.utc)
    assert client.account_timezone == ZoneInfo("America/New_York")
    await client.disposition_call(uii, disposition="SALE", callback_at=when)
    assert dts(sim, uii) == "20261201153000"
    assert sim.state.dispositions[uii].callback is True


async def test_without_a_time_zone_the_wall_clock_is_sent_with_one_warning(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = activecalls_simulator
    first, second, third = answered(sim)[:3]
    aware = datetime(2026, 12, 1, 15, 30, tzinfo=timezone(timedelta(hours=2)))
    with caplog.at_level(logging.WARNING, logger="activecalls_async"):
        async with activecalls_client_factory() as client:
            await client.disposition_call(first, disposition="SALE", callback_at=aware)
            await client.disposition_call(second, disposition="SALE", callback_at=aware)
            naive = datetime(2026, 12, 2, 9, 0)
            await client.disposition_call(third, disposition="SALE", callback_at=naive)
    assert dts(sim, first) == dts(sim, second) == "20261201153000"
    assert dts(sim, third) == "20261202090000"
    warnings = [r for r in caplog.records if "account_timezone" in r.getMessage()]
    assert len(warnings) == 1


async def test_callback_false_with_a_time_is_still_refused(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    with pytest.raises(ValidationError) as info:
        await activecalls_client.disposition_call(
            "U1", disposition="SALE", callback=False, callback_at=datetime(2026, 12, 1)
        )
    assert info.value.parameter == "callback_at"
    assert activecalls_simulator.requests == []


@pytest.mark.parametrize("zone", ["Not/AZone", "", 5])
def test_a_bad_account_time_zone_is_refused(zone: object) -> None:
    with pytest.raises(ValidationError) as info:
        ActiveCallsClient(account_id="1", auth="t", account_timezone=zone)  # type: ignore[arg-type]
    assert info.value.parameter == "account_timezone"
