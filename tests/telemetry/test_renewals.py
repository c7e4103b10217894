"""Token renewals: an event on the span of the call that set each one off, and a count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activecalls_async import ActiveCallsClient, RingCentralAuth
from activecalls_async.testing import Faults, Simulator
from tests.support import FAST
from tests.telemetry.recorded import Recorded, attributes_of


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=5, seed=2, rate_limit=None) as simulator:
        yield simulator


def jwt_client(sim: Simulator, otel: Recorded) -> ActiveCallsClient:
    auth = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    return ActiveCallsClient(
        account_id=sim.account_id,
        auth=auth,
        base_url=sim.base_url,
        retry=FAST,
        telemetry=otel.telemetry,
    )


def renewals(otel: Recorded, index: int) -> list[dict[str, object]]:
    """The renewal events of the ``index``-th call's span."""
    span = otel.spans("activecalls list")[index]
    return [
        attributes_of(event) for event in span.events if event.name == "activecalls.token_renewal"
    ]


def bearer_of_last_list(sim: Simulator) -> str:
    header = [r for r in sim.requests if r.operation == "list"][-1].headers["Authorization"]
    return header.removeprefix("Bearer ")


async def test_the_first_login_and_a_renewal_after_a_401_are_events(
    sim: Simulator, otel: Recorded
) -> None:
    async with jwt_client(sim, otel) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
        sim.expire_token(bearer_of_last_list(sim))
        await client.list_active_calls("ACCOUNT", sim.account_id)
    first, second = renewals(otel, 0), renewals(otel, 1)
    assert [event["activecalls.operation"] for event in first] == ["auth.jwt", "auth.exchange"]
    assert [event["activecalls.operation"] for event in second] == ["auth.refresh"]
    for event in (*first, *second):
        duration = event.pop("activecalls.login.duration")
        assert isinstance(duration, float)
        assert duration >= 0
        assert "error.type" not in event
    # The repeat after renewing is no retry: one attempt, answered 200.
    attributes = dict(otel.spans("activecalls list")[1].attributes or {})
    assert attributes["activecalls.attempts"] == 1
    assert attributes["http.response.status_code"] == 200
    counted = otel.metrics()["activecalls.client.token.renewals"]
    assert sorted((sorted(p.attributes.items()), p.value) for p in counted) == [
        ([("activecalls.operation", "auth.exchange")], 1),
        ([("activecalls.operation", "auth.jwt")], 1),
        ([("activecalls.operation", "auth.refresh")], 1),
    ]


async def test_a_refused_refresh_is_an_event_with_its_error(sim: Simulator, otel: Recorded) -> None:
    async with jwt_client(sim, otel) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
        sim.faults = Faults(error_rate=1.0, error_status=401, operations={"auth.refresh"})
        sim.expire_token(bearer_of_last_list(sim))
        await client.list_active_calls("ACCOUNT", sim.account_id)
    second = renewals(otel, 1)
    assert [(e["activecalls.operation"], e.get("error.type")) for e in second] == [
        ("auth.refresh", "401"),
        ("auth.exchange", None),
    ]
    counted = otel.metrics()["activecalls.client.token.renewals"]
    refused = [p for p in counted if p.attributes.get("error.type") == "401"]
    assert [(p.attributes["activecalls.operation"], p.value) for p in refused] == [
        ("auth.refresh", 1)
    ]


async def test_one_renewal_shared_by_many_calls_is_one_event(
    sim: Simulator, otel: Recorded
) -> None:
    async with jwt_client(sim, otel) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
        sim.expire_token(bearer_of_last_list(sim))
        await asyncio.gather(
            *(client.list_active_calls("ACCOUNT", sim.account_id) for _ in range(5))
        )
    assert sum(1 for r in sim.requests if r.operation == "auth.refresh") == 1
    events = [
        event
        for span in otel.spans("activecalls list")[1:]
        for event in span.events
        if event.name == "activecalls.token_renewal"
    ]
    assert len(events) == 1
