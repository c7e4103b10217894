"""The endpoint registry and the seam between client methods and descriptors."""

from __future__ import annotations

import inspect

import pytest

from activecalls_async import ActiveCallsClient
from activecalls_async import _endpoints as endpoints
from activecalls_async._endpoints import ENDPOINTS, Endpoint, ResponseKind, RetryClass, Scope

#: Each client method that sends one operation, and the descriptor it sends.
METHODS: dict[str, Endpoint] = {
    "list_active_calls": endpoints.LIST,
    "create_manual_agent_call": endpoints.CREATE_MANUAL_AGENT_CALL,
    "add_session_to_call": endpoints.ADD_SESSION_TO_CALL,
    "disposition_call": endpoints.DISPOSITION_CALL,
    "hangup_call": endpoints.HANGUP_CALL,
    "hangup_session": endpoints.HANGUP_SESSION,
    "toggle_call_recording": endpoints.TOGGLE_CALL_RECORDING,
    "check_queue_status": endpoints.CHECK_QUEUE_STATUS,
    "check_queue_threshold": endpoints.CHECK_QUEUE_THRESHOLD,
    "ping_call": endpoints.PING_CALL,
    "set_call_hold": endpoints.TOGGLE_CALL_HOLD,
    "requeue_call": endpoints.REQUEUE_CALL,
    "hangup_session_by_id": endpoints.HANGUP_SESSION_BY_ID,
    "list_accounts": endpoints.ACCOUNTS,
}
PER_CALL_OPTIONS = {"self", "timeout", "retry", "priority"}


def test_the_registry_has_thirteen_call_operations_and_accounts() -> None:
    active_calls = {n for n, e in ENDPOINTS.items() if e.scope is Scope.ACTIVE_CALLS}
    assert active_calls == {
        "list",
        "createManualAgentCall",
        "addSessionToCall",
        "dispositionCall",
        "hangupCall",
        "hangupSession",
        "toggleCallRecording",
        "checkQueueStatus",
        "checkQueueThreshold",
        "pingCall",
        "toggleCallHold",
        "requeueCall",
        "hangupSessionById",
    }
    assert {n for n, e in ENDPOINTS.items() if e.scope is Scope.ADMIN} == {"accounts"}


def test_every_descriptor_is_a_module_constant() -> None:
    constants = {
        value.operation for value in vars(endpoints).values() if isinstance(value, Endpoint)
    }
    assert constants == set(ENDPOINTS)


def test_methods_responses_and_retry_classes() -> None:
    reads = {n for n, e in ENDPOINTS.items() if e.method == "GET"}
    assert reads == {"list", "checkQueueStatus", "checkQueueThreshold", "accounts"}
    assert {n for n, e in ENDPOINTS.items() if e.response is ResponseKind.ACTION} == {
        n for n, e in ENDPOINTS.items() if e.method == "POST"
    }
    at_most_once = {n for n, e in ENDPOINTS.items() if e.retry is RetryClass.AT_MOST_ONCE}
    assert at_most_once == {
        "createManualAgentCall",
        "addSessionToCall",
        "dispositionCall",
        "hangupCall",
        "hangupSession",
        "requeueCall",
        "hangupSessionById",
    }


def test_every_operation_has_a_client_method() -> None:
    assert {e.operation for e in METHODS.values()} == set(ENDPOINTS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_takes_exactly_its_descriptors_arguments(name: str) -> None:
    parameters = inspect.signature(getattr(ActiveCallsClient, name)).parameters
    assert set(parameters) - PER_CALL_OPTIONS == METHODS[name].arguments
    # The per-call options are keyword-only and default to the client's settings.
    for option in ("timeout", "retry"):
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY
    # Required on the wire means required in Python, except where the method derives
    # the value (disposition's callback follows callback_at; list's paging is the walk's).
    derived = {"callback"}
    for param in METHODS[name].params:
        python = parameters[param.name]
        if param.required and param.name not in derived:
            assert python.default is inspect.Parameter.empty, param.name
