"""The four newer call controls and 201 answers end to end, retry classes included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from activecalls_async import (
    ActionRejectedError,
    ActiveCallsClient,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import wait_for_arrival

SUPERVISOR = "+15554150123"
FAST_RETRIES = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 120, "seed": 11, "live": False, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    return {"retry": None}


def answered(sim: Simulator) -> str:
    """The uii of a call an agent is on."""
    return str(next(c["uii"] for c in sim.wire_calls() if c["agentFirstName"]))


def sent(sim: Simulator, operation: str) -> int:
    return sum(1 for r in sim.requests if r.operation == operation)


async def test_ping_is_sent_and_recorded(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    await activecalls_client.ping_call(uii)
    (request,) = [r for r in sim.requests if r.operation == "pingCall"]
    assert (request.method, request.raw_query) == ("POST", "")
    assert sim.effect_count("pingCall", uii) == 1


async def test_hold_is_seen_in_the_listing(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    await activecalls_client.set_call_hold(uii, hold=True)
    calls = await activecalls_client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1000)
    assert {c.uii: c.call_state for c in calls}[uii] == "HOLD"
    await activecalls_client.set_call_hold(uii, hold=False)
    assert [r.raw_query for r in sim.requests if r.operation == "toggleCallHold"] == [
        "state=ON",
        "state=OFF",
    ]
    assert sim.call(uii) is not None
    assert sim.wire_call(uii)["callState"] == "ACTIVE"  # type: ignore[index]


async def test_a_queued_call_cannot_be_held(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    queued = next(
        c["uii"] for c in activecalls_simulator.wire_calls() if c["callState"] == "QUEUED"
    )
    with pytest.raises(ActionRejectedError) as info:
        await activecalls_client.set_call_hold(queued, hold=True)
    assert info.value.operation == "toggleCallHold"
    assert info.value.server_message is None  # the service's bare "false" says nothing
    activecalls_simulator.answer_declines(
        '{"result": false, "message": "The call is waiting in queue"}',
        content_type="application/json",
    )
    with pytest.raises(ActionRejectedError) as info:
        await activecalls_client.set_call_hold(queued, hold=True)
    assert info.value.server_message == "The call is waiting in queue"
    assert "declined by the server: The call is waiting in queue" in str(info.value)


async def test_requeue_moves_the_call_to_the_gate(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    gate = sim.state.queues[-1].product_id
    await activecalls_client.requeue_call(uii, gate_id=gate)
    listing = await activecalls_client.list_active_calls("ACD", gate, max_rows=1000)
    moved = next(c for c in listing if c.uii == uii)
    assert (moved.call_state, moved.agent_name, moved.dequeue_time) == ("QUEUED", None, None)
    with pytest.raises(BadRequestError) as info:
        await activecalls_client.requeue_call(uii, gate_id=999_999)
    assert [f.attribute for f in info.value.field_errors] == ["gateId"]


async def test_hangup_session_by_an_id_known_from_elsewhere(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    await activecalls_client.add_session_to_call(
        uii, destination=SUPERVISOR, session_type="MONITOR"
    )
    # The API answers addSessionToCall with true only: the id comes from elsewhere.
    (session_id,) = sim.session_ids(uii).values()
    await activecalls_client.hangup_session_by_id(uii, session_id=session_id)
    assert sim.session_ids(uii) == {}
    with pytest.raises(ActionRejectedError):
        await activecalls_client.hangup_session_by_id(uii, session_id=session_id)
    assert sim.effect_count("hangupSessionById", uii) == 1


async def test_the_new_controls_on_an_ended_call_are_not_found(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    uii = answered(activecalls_simulator)
    activecalls_simulator.end_call(uii)
    with pytest.raises(NotFoundError):
        await activecalls_client.ping_call(uii)


# -- retry classes ------------------------------------------------------------------------

Action = Callable[[ActiveCallsClient, str], Awaitable[None]]


async def _ping(client: ActiveCallsClient, uii: str) -> None:
    await client.ping_call(uii)


async def _hold(client: ActiveCallsClient, uii: str) -> None:
    await client.set_call_hold(uii, hold=True)


async def _requeue(client: ActiveCallsClient, uii: str) -> None:
    await client.requeue_call(uii, gate_id=55)


async def _by_id(client: ActiveCallsClient, uii: str) -> None:
    await client.hangup_session_by_id(uii, session_id="1")


# (operation, how to call it, whether a repeat is harmless)
CONTROLS = [
    pytest.param("pingCall", _ping, True, id="ping_call"),
    pytest.param("toggleCallHold", _hold, True, id="set_call_hold"),
    pytest.param("requeueCall", _requeue, False, id="requeue_call"),
    pytest.param("hangupSessionById", _by_id, False, id="hangup_session_by_id"),
]


@pytest.mark.parametrize(("operation", "action", "idempotent"), CONTROLS)
@pytest.mark.activecalls_client(retry=FAST_RETRIES)
async def test_a_5xx_is_repeated_only_when_a_repeat_is_harmless(
    activecalls_client: ActiveCallsClient,
    activecalls_simulator: Simulator,
    operation: str,
    action: Action,
    idempotent: bool,
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    sim.faults = Faults(error_rate=1.0, error_status=503, operations={operation})
    with pytest.raises(ServerError) as info:
        await action(activecalls_client, uii)
    expected = FAST_RETRIES.max_attempts if idempotent else 1
    assert sent(sim, operation) == expected
    assert info.value.retries == expected - 1


@pytest.mark.parametrize(("operation", "action", "idempotent"), CONTROLS)
@pytest.mark.activecalls_client(retry=FAST_RETRIES, timeout=0.2)
async def test_a_timeout_after_sending_is_repeated_only_when_harmless(
    activecalls_client: ActiveCallsClient,
    activecalls_simulator: Simulator,
    operation: str,
    action: Action,
    idempotent: bool,
) -> None:
    sim = activecalls_simulator
    uii = answered(sim)
    # The answer comes long after the timeout (a real one: aiohttp's, on the loop's clock);
    # the request itself is sent at once.
    sim.faults = Faults(latency=3.0, operations={operation})
    with pytest.raises(APITimeoutError) as info:
        await action(activecalls_client, uii)
    assert info.value.request_sent
    assert sent(sim, operation) == (FAST_RETRIES.max_attempts if idempotent else 1)


# -- 201 Created ---------------------------------------------------------------------------


async def _recording(client: ActiveCallsClient, uii: str) -> None:
    await client.toggle_call_recording(uii, record=False)


async def _hangup(client: ActiveCallsClient, uii: str) -> None:
    await client.hangup_call(uii)


async def _session(client: ActiveCallsClient, uii: str) -> None:
    await client.add_session_to_call(uii, destination=SUPERVISOR, session_type="MONITOR")


CREATED = [
    *CONTROLS[:3],
    pytest.param("toggleCallRecording", _recording, True, id="toggle_call_recording"),
    pytest.param("addSessionToCall", _session, False, id="add_session_to_call"),
    pytest.param("hangupCall", _hangup, False, id="hangup_call"),
]


@pytest.mark.parametrize("body", ["", "true"])
@pytest.mark.parametrize(("operation", "action", "idempotent"), CREATED)
@pytest.mark.activecalls_client(retry=FAST_RETRIES)
async def test_201_created_is_done_with_one_request(
    activecalls_client: ActiveCallsClient,
    activecalls_simulator: Simulator,
    operation: str,
    action: Action,
    idempotent: bool,
    body: str,
) -> None:
    sim = activecalls_simulator
    sim.answer_actions(201, body=body)
    uii = answered(sim)
    await action(activecalls_client, uii)
    assert [r.status for r in sim.requests if r.operation == operation] == [201]
    assert sim.effect_count(operation) == 1


async def test_cancelling_a_sent_control_leaves_no_task_behind(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    sim.faults = Faults(latency=5.0, operations={"requeueCall"})
    async with activecalls_client_factory(retry=FAST_RETRIES) as client:
        task = asyncio.create_task(client.requeue_call(answered(sim), gate_id=55))
        await wait_for_arrival(sim, "requeueCall")  # it waits out the latency there
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sent(sim, "requeueCall") == 1
