"""Every SDK operation end to end against the simulator: real HTTP on 127.0.0.1, real effects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from activecalls_async import (
    ActionRejectedError,
    ActiveCallsClient,
    ApiToken,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    Product,
    RateLimitError,
    RetryPolicy,
    SessionType,
)
from activecalls_async.testing import Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory

SUPERVISOR = "+15554150123"


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 120, "seed": 11, "live": False}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    return {"retry": None}


def any_call(sim: Simulator) -> dict[str, Any]:
    """A call an agent has answered (only those take sessions and dispositions)."""
    return next(c for c in sim.wire_calls() if c["agentFirstName"])


def sessions(sim: Simulator, uii: str) -> list[tuple[str, str]]:
    call = sim.state.get(uii)
    assert call is not None
    return [(s.phone, s.session_type) for s in (call.sessions or {}).values()]


def last_request(sim: Simulator) -> Any:
    return [r for r in sim.requests if r.operation != "unknown"][-1]


async def test_list_one_page_matches_the_server(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    page = await activecalls_client.list_active_calls(
        product=Product.ACCOUNT, product_id=int(sim.account_id), page=1, max_rows=25
    )
    expected = sim.wire_calls("ACCOUNT")[25:50]
    assert [c.uii for c in page] == [c["uii"] for c in expected]
    first = page[0]
    wire = expected[0]
    assert first.ani == wire["ani"]
    assert first.dnis_e164 == wire["dnisE164"]
    assert first.enqueue_time is not None
    assert first.enqueue_time.tzinfo is not None
    assert first.call_state == wire["callState"]
    request = last_request(sim)
    assert request.operation == "list"
    assert request.method == "GET"
    assert dict(request.query) == {
        "product": "ACCOUNT",
        "productId": sim.account_id,
        "page": "1",
        "maxRows": "25",
    }


@pytest.mark.parametrize(
    "product", ["ACD", "OUTBOUND", "VISUAL_IVR", "CLOUD_PROFILE", "TRAC_NUMBER", "DNIS"]
)
async def test_every_result_product_lists_its_calls(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator, product: str
) -> None:
    targets = [t for t in activecalls_simulator.targets() if t[0] == product]
    assert targets
    name, product_id = targets[0]
    page = await activecalls_client.list_active_calls(name, product_id, max_rows=1000)
    assert [c.uii for c in page] == [
        c["uii"] for c in activecalls_simulator.wire_calls(name, product_id)
    ]


async def test_products_without_calls_return_empty(
    activecalls_client: ActiveCallsClient,
) -> None:
    assert await activecalls_client.list_active_calls("TEAMS", 1) == []


async def test_external_id_filter(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    external = next(c["externalId"] for c in activecalls_simulator.wire_calls() if c["externalId"])
    page = await activecalls_client.list_active_calls(external_id=external, max_rows=1000)
    assert page
    assert {c.external_id for c in page} == {external}


async def test_legacy_prefix_without_voice(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    async with activecalls_client_factory(base_url=sim.legacy_base_url) as client:
        page = await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=5)
    assert len(page) == 5
    assert last_request(sim).path.startswith("/api/v1/admin/accounts/")


async def test_supervisor_session_lifecycle_with_plus_intact(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = any_call(sim)["uii"]
    await activecalls_client.add_session_to_call(
        uii, destination=SUPERVISOR, session_type=SessionType.MONITOR
    )
    request = last_request(sim)
    assert "destination=%2B15554150123" in request.raw_query
    assert dict(request.query)["destination"] == SUPERVISOR
    assert sessions(sim, uii) == [(SUPERVISOR, "MONITOR")]
    await activecalls_client.add_session_to_call(
        uii, destination=SUPERVISOR, session_type="BARGEIN"
    )
    assert sessions(sim, uii) == [(SUPERVISOR, "BARGEIN")]
    await activecalls_client.hangup_session(uii, phone=SUPERVISOR)
    assert sessions(sim, uii) == []
    with pytest.raises(ActionRejectedError):
        await activecalls_client.hangup_session(uii, phone=SUPERVISOR)
    assert sim.effect_count("addSessionToCall", uii) == 2
    assert sim.effect_count("hangupSession", uii) == 1


async def test_recording_pause_and_resume(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = any_call(sim)["uii"]
    call = sim.state.get(uii)
    assert call is not None
    await activecalls_client.toggle_call_recording(uii, record=False)
    assert call.recording is False
    await activecalls_client.toggle_call_recording(uii, record=True)
    assert call.recording is True
    assert "record=true" in last_request(sim).raw_query


async def test_disposition_with_callback_is_recorded(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = any_call(sim)["uii"]
    await activecalls_client.disposition_call(
        uii,
        disposition="SALE",
        callback=True,
        callback_at=datetime(2026, 12, 1, 15, 30),
        notes="wants the annual plan",
    )
    disposition = sim.state.dispositions[uii]
    assert disposition.disposition == "SALE"
    assert disposition.callback is True
    assert disposition.callback_at == "20261201153000"
    assert disposition.notes == "wants the annual plan"


async def test_hangup_ends_the_call_and_later_actions_get_not_found(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = any_call(sim)["uii"]
    await activecalls_client.hangup_call(uii)
    assert sim.wire_call(uii) is None
    assert uii not in {c["uii"] for c in sim.wire_calls()}
    with pytest.raises(NotFoundError) as info:
        await activecalls_client.toggle_call_recording(uii, record=False)
    assert info.value.status == 404
    assert info.value.operation == "toggleCallRecording"


async def test_manual_agent_call_for_available_and_unknown_agents(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    agent = next(a for a in sim.state.agents if a.online and a.available)
    before = len(sim.wire_calls())
    await activecalls_client.create_manual_agent_call(
        username=agent.username,
        destination="6501234567",
        ring_duration=5,
        caller_id="8661234567",
    )
    assert "%40" in last_request(sim).raw_query
    assert len(sim.wire_calls()) == before + 1
    with pytest.raises(ActionRejectedError):
        await activecalls_client.create_manual_agent_call(
            username="nobody@example.com",
            destination="6501234567",
            ring_duration=5,
            caller_id="8661234567",
        )
    assert sim.effect_count("createManualAgentCall") == 1


async def test_queue_checks(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    dnis = activecalls_simulator.state.dnis_numbers[0].number
    status = await activecalls_client.check_queue_status(
        destination_number=str(dnis), max_queued=3600
    )
    threshold = await activecalls_client.check_queue_threshold(
        destination_number=str(dnis), max_calls_queued=10_000
    )
    assert isinstance(status.status, bool)
    assert status.reason
    assert threshold.status is True


async def test_unknown_dnis_is_not_found(activecalls_client: ActiveCallsClient) -> None:
    with pytest.raises(NotFoundError):
        await activecalls_client.check_queue_threshold(destination_number="5550000000")


async def test_400_carries_the_spec_error_body(activecalls_client: ActiveCallsClient) -> None:
    # maxq is a 32-bit integer on the server; the SDK leaves the range to it.
    with pytest.raises(BadRequestError) as info:
        await activecalls_client.check_queue_status(
            destination_number="8661234567", max_queued=2**40
        )
    error = info.value
    assert error.status == 400
    assert error.message
    assert [f.attribute for f in error.field_errors] == ["maxq"]


async def test_401_unknown_token(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    async with activecalls_client_factory(auth="not-a-token") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_active_calls("ACCOUNT", sim.account_id)
    assert not info.value.token_expired
    assert "not-a-token" not in str(info.value)


async def test_401_expired_token_without_a_way_to_renew(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    token = sim.issue_token()
    sim.expire_token(token)
    async with activecalls_client_factory(auth=token) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.hangup_call(any_call(sim)["uii"])
    assert info.value.token_expired
    assert "Jwt is expired" in str(info.value)
    assert token not in str(info.value)


async def test_legacy_api_token(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    async with activecalls_client_factory(auth=ApiToken(sim.api_token)) as client:
        assert len(await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=3)) == 3


async def test_403_another_account(activecalls_client_factory: ClientFactory) -> None:
    async with activecalls_client_factory(account_id="99999999") as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.list_active_calls("ACCOUNT", 99999999)
    assert info.value.error_code
    assert info.value.message


@pytest.mark.activecalls_simulator(calls=10, rate_limit=3, rate_window=60.0)
@pytest.mark.activecalls_client(rate_limit=None)
async def test_429_over_the_server_limit_without_retries(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    for _ in range(3):
        await client.list_active_calls("ACCOUNT", sim.account_id)
    with pytest.raises(RateLimitError) as info:
        await client.list_active_calls("ACCOUNT", sim.account_id)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0


@pytest.mark.activecalls_simulator(calls=10, rate_limit=3, rate_window=0.5)
@pytest.mark.activecalls_client(
    rate_limit=None, retry=RetryPolicy(max_attempts=5, initial_delay=0.01)
)
async def test_client_rate_limit_avoids_429_and_retry_policy_is_per_call(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    for _ in range(6):
        await activecalls_client.list_active_calls("ACCOUNT", sim.account_id)
    statuses = [r.status for r in sim.requests]
    assert statuses.count(200) == 6
    assert 429 in statuses  # the server limited, the client waited and retried
