"""The decoder against anything a server could send: a model, or a typed SDK error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from activecalls_async import (
    Account,
    ActionRejectedError,
    ActiveCall,
    APIStatusError,
    QueueCheck,
    ResponseDecodeError,
)
from activecalls_async._endpoints import ENDPOINTS, ResponseKind
from activecalls_async._wire.request import Request
from tests.support import decode, error_for

REQUESTS = {
    name: Request(endpoint, endpoint.method, f"https://ringcx.example/{name}", "UII1")
    for name, endpoint in ENDPOINTS.items()
}
DEEP = b"[" * 100_000 + b"]" * 100_000

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
any_value = json_values | st.sampled_from(
    ["2020-05-08T14:40:47.000+0000", "2020-05-08T14:40:47", 1588948847000, 10**30, "ACTIVE"]
)
CALL_KEYS = [
    "uii", "accountId", "ani", "dnis", "dnisE164", "enqueueTime", "dequeueTime", "callState",
    "archive", "agentFirstName", "agentLastName", "destinationName", "externalId", "cnam",
]  # fmt: skip
near_calls = st.fixed_dictionaries(
    {"uii": st.text(min_size=1) | st.integers()},
    optional=dict.fromkeys(CALL_KEYS[1:], any_value) | {"surprise": json_values},
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.lists(near_calls, max_size=4).map(lambda v: json.dumps(v).encode())
    | st.sampled_from([b"true", b"false", b'"true"', b" TRUE\n", b"", b"null"])
)


def check_outcome(name: str, body: bytes) -> Any:
    request = REQUESTS[name]
    kind = request.endpoint.response
    try:
        result = decode(request, 200, body)
    except (ResponseDecodeError, ActionRejectedError) as exc:
        error: ResponseDecodeError | ActionRejectedError | None = exc
    else:
        error = None
    if error is not None:
        assert error.operation == name
        assert isinstance(error, ResponseDecodeError) or kind is ResponseKind.ACTION
        return None
    if kind is ResponseKind.CALL_LIST:
        assert isinstance(result, list)
        assert all(isinstance(call, ActiveCall) for call in result)
    elif kind is ResponseKind.QUEUE_CHECK:
        assert isinstance(result, QueueCheck)
    elif kind is ResponseKind.ACCOUNT_LIST:
        assert isinstance(result, list)
        assert all(isinstance(account, Account) for account in result)
    else:
        assert result is None
    return result


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(REQUESTS)), body=bodies)
@example(name="list", body=DEEP)
@example(name="checkQueueStatus", body=DEEP)
@example(name="list", body=b'[{"uii": "1", "enqueueTime": 1e400}]')
@example(name="list", body=b'[{"uii": "1", "enqueueTime": NaN}]')
@example(name="list", body=b"\xff\xfe[]")
def test_any_body_decodes_to_a_model_or_a_decode_error(name: str, body: bytes) -> None:
    check_outcome(name, body)


@given(calls=st.lists(near_calls, max_size=4))
def test_plausible_call_lists_decode_or_fail_cleanly(calls: list[dict[str, Any]]) -> None:
    check_outcome("list", json.dumps(calls).encode())


@given(uii=st.text(min_size=1), extra=json_values)
def test_a_well_formed_call_always_decodes(uii: str, extra: Any) -> None:
    body = json.dumps([{"uii": uii, "enqueueTime": "2020-05-08T14:40:47.000+0000", "x": extra}])
    (call,) = check_outcome("list", body.encode())
    assert call.uii == uii


@settings(max_examples=200)
@given(status=st.sampled_from([400, 401, 403, 404, 429, 500, 502, 503]), body=bodies)
@example(status=500, body=DEEP)
def test_any_error_body_maps_to_a_status_error(status: int, body: bytes) -> None:
    error = error_for(REQUESTS["list"], status, body, {"Retry-After": "x"})
    assert isinstance(error, APIStatusError)
    assert error.status == status
    assert str(error)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_documented_success_bodies_decode(name: str) -> None:
    # decode_response directly, not check_outcome: that one accepts a decode error.
    kind = REQUESTS[name].endpoint.response
    if kind is ResponseKind.CALL_LIST:
        body = b'[{"uii": "202005081440470100000000001", "callState": "ACTIVE"}]'
        (call,) = decode(REQUESTS[name], 200, body)
        assert isinstance(call, ActiveCall)
        assert (call.uii, call.call_state) == ("202005081440470100000000001", "ACTIVE")
    elif kind is ResponseKind.QUEUE_CHECK:
        body = b'{"status": true, "reason": "ok"}'
        assert decode(REQUESTS[name], 200, body) == QueueCheck(True, "ok")
    elif kind is ResponseKind.ACCOUNT_LIST:
        body = b'[{"accountId": "1", "accountName": "A", "mainAccountId": "2"}]'
        assert decode(REQUESTS[name], 200, body) == [
            Account(account_id="1", account_name="A", main_account_id="2")
        ]
    else:
        assert decode(REQUESTS[name], 200, b"true") is None
