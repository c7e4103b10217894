"""Pure response decoding: documented bodies, nulls, extras, epoch ms and malformed bodies."""

import json
from datetime import datetime, timezone

import pytest

from activecalls_async import (
    ActionRejectedError,
    ActiveCall,
    QueueCheck,
    ResponseDecodeError,
)
from activecalls_async._endpoints import ENDPOINTS
from tests.support import build, decode

PREFIX = "https://h.example/voice/api/v1/admin/accounts/1/activeCalls/"
LIST = build(ENDPOINTS["list"], PREFIX, {"product": "ACCOUNT", "product_id": 1})
HANGUP = build(ENDPOINTS["hangupCall"], PREFIX, {"uii": "U1"})
CHECK = build(
    ENDPOINTS["checkQueueStatus"], PREFIX, {"destination_number": "8661234567", "max_queued": 5}
)

DOCUMENTED_CALL = {
    "uii": "202005081440470130000000000123",
    "accountId": "12440001",
    "ani": "6501234567",
    "dnis": "8661234567",
    "dnisE164": "+18661234567",
    "enqueueTime": "2020-05-08T14:40:47.000+0000",
    "dequeueTime": "2020-05-08T14:41:02.500+0000",
    "callState": "ACTIVE",
    "archive": False,
    "agentFirstName": "Ada",
    "agentLastName": "Lovelace",
    "destinationName": "Support",
    "externalId": "crm-42",
    "cnam": "WIRELESS CALLER",
}


def decode_calls(body: object) -> list[ActiveCall]:
    result: list[ActiveCall] = decode(LIST, 200, json.dumps(body).encode())
    return result


def test_documented_call_decodes_every_field() -> None:
    (call,) = decode_calls([DOCUMENTED_CALL])
    assert call == ActiveCall(
        uii="202005081440470130000000000123",
        account_id="12440001",
        ani="6501234567",
        dnis="8661234567",
        dnis_e164="+18661234567",
        enqueue_time=datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc),
        dequeue_time=datetime(2020, 5, 8, 14, 41, 2, 500000, tzinfo=timezone.utc),
        call_state="ACTIVE",
        archive=False,
        agent_first_name="Ada",
        agent_last_name="Lovelace",
        destination_name="Support",
        external_id="crm-42",
        cnam="WIRELESS CALLER",
    )
    assert call.enqueue_time is not None
    assert call.enqueue_time.utcoffset() is not None
    assert call.agent_name == "Ada Lovelace"
    assert call.extra == {}


def test_nulls_stay_none_while_queued() -> None:
    queued = {**DOCUMENTED_CALL, "dequeueTime": None, "agentFirstName": None, "agentLastName": None}
    (call,) = decode_calls([queued])
    assert call.dequeue_time is None
    assert call.agent_first_name is None
    assert call.agent_name is None


def test_missing_optional_fields_are_none() -> None:
    (call,) = decode_calls([{"uii": "U1"}])
    assert call == ActiveCall(uii="U1")


def test_unknown_fields_are_kept_not_fatal() -> None:
    (call,) = decode_calls([{**DOCUMENTED_CALL, "queueName": "VIP", "skills": [1, 2]}])
    assert call.extra == {"queueName": "VIP", "skills": [1, 2]}
    assert call.uii == DOCUMENTED_CALL["uii"]


def test_epoch_milliseconds_and_spec_datetime_objects() -> None:
    (a, b) = decode_calls(
        [
            {"uii": "A", "enqueueTime": 1588948847000, "dequeueTime": 1588948862500},
            {"uii": "B", "enqueueTime": {"millis": 1588948847000, "zone": {"id": "UTC"}}},
        ]
    )
    assert a.enqueue_time == datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc)
    assert a.dequeue_time == datetime(2020, 5, 8, 14, 41, 2, 500000, tzinfo=timezone.utc)
    assert b.enqueue_time == a.enqueue_time


def test_other_offsets_and_open_call_states() -> None:
    (call,) = decode_calls(
        [{"uii": "A", "enqueueTime": "2020-05-08T09:40:47.000-0500", "callState": "HOLD"}]
    )
    assert call.enqueue_time == datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc)
    assert call.call_state == "HOLD"


def test_numeric_account_id_becomes_text() -> None:
    (call,) = decode_calls([{"uii": "A", "accountId": 12440001}])
    assert call.account_id == "12440001"


def test_empty_list() -> None:
    assert decode_calls([]) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "invalid JSON"),
        (b"<html>oops</html>", "invalid JSON"),
        (b'[{"uii": "A"', "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b'{"uii": "A"}', "JSON array"),
        (b"null", "JSON array"),
        (b"[1]", "body[0]"),
        (b'[{"ani": "1"}]', "uii"),
        (b'[{"uii": "A"}, {"uii": ["x"]}]', "body[1]"),
        (b'[{"uii": "A", "archive": "false"}]', "archive"),
        (b'[{"uii": "A", "enqueueTime": "yesterday"}]', "enqueue_time"),
        (b'[{"uii": "A", "enqueueTime": 1e30}]', "enqueue_time"),
        (b'[{"uii": "A", "enqueueTime": true}]', "enqueue_time"),
    ],
)
def test_malformed_list_bodies_raise_response_decode_error(body: bytes, says: str) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode(LIST, 200, body)
    error = info.value
    assert says in str(error)
    assert error.operation == "list"
    assert error.method == "GET"
    assert error.url == LIST.url
    assert len(error.body_excerpt) <= 501


@pytest.mark.parametrize("body", [b"true", b"TRUE\n", b' "true" '])
def test_action_true_returns_none(body: bytes) -> None:
    assert decode(HANGUP, 200, body) is None


def test_action_false_raises_action_rejected() -> None:
    with pytest.raises(ActionRejectedError) as info:
        decode(HANGUP, 200, b"false")
    assert info.value.uii == "U1"
    assert info.value.operation == "hangupCall"
    assert "declined" in str(info.value)


@pytest.mark.parametrize("body", [b"", b"yes", b"1", b'{"status": true}'])
def test_action_other_bodies_raise_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError, match="true or false"):
        decode(HANGUP, 200, body)


def test_queue_check_documented_body() -> None:
    check = decode(CHECK, 200, b'{"status": false, "reason": "3 calls in queue"}')
    assert check == QueueCheck(status=False, reason="3 calls in queue")
    assert not check
    assert decode(CHECK, 200, b'{"status": true}') == QueueCheck(True, None)


@pytest.mark.parametrize(
    "body", [b"[]", b'{"reason": "x"}', b'{"status": "true"}', b'{"status": true, "reason": 5.5}']
)
def test_queue_check_malformed(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError):
        decode(CHECK, 200, body)


def test_decode_error_excerpt_is_bounded() -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode(LIST, 200, b"x" * 10_000)
    assert 0 < len(info.value.body_excerpt) <= 501


def test_extra_fields_count_for_equality_but_calls_stay_hashable() -> None:
    a, b = decode_calls([{"uii": "A", "queueName": "VIP"}, {"uii": "A", "queueName": "Gold"}])
    assert a != b
    assert hash(a) == hash(b)
    assert len({a, b}) == 2


MAY_8 = datetime(2020, 5, 8, 14, 40, 47, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2020-05-08T14:40:47.000+0000", MAY_8),
        ("2020-05-08T14:40:47+0000", MAY_8),
        ("2020-05-08T14:40:47Z", MAY_8),
        ("2020-05-08T14:40:47.123Z", MAY_8.replace(microsecond=123000)),
        ("2020-05-08T14:40:47.5+00:00", MAY_8.replace(microsecond=500000)),
        ("2020-05-08T20:10:47.1234+0530", MAY_8.replace(microsecond=123400)),
        ("2020-05-08T14:40:47.1234567Z", MAY_8.replace(microsecond=123457)),
        ("2020-05-08T14:40:47", MAY_8),
        (1588948847000, MAY_8),
        (1588948847123.0, MAY_8.replace(microsecond=123000)),
    ],
)
@pytest.mark.parametrize("extra", [{}, {"queueName": "VIP"}], ids=["documented", "with-extra"])
def test_every_time_format_decodes_on_this_python(
    sent: object, expected: datetime, extra: dict[str, str]
) -> None:
    # The "with-extra" pages take the reference path; the documented ones the fast path.
    (call,) = decode_calls([{**DOCUMENTED_CALL, **extra, "enqueueTime": sent}])
    assert call.enqueue_time == expected
    assert call.enqueue_time is not None
    assert call.enqueue_time.utcoffset() is not None
    assert call.extra == extra


@pytest.mark.parametrize(
    "bad",
    [
        "2020-05-08T25:40:47.000+0000",
        "2020-02-30T14:40:47Z",
        "2020-05-08T14:40:47.000+2400",
        "8 May 2020",
        "",
        True,
        [1588948847000],
        {"zone": "UTC"},
        -(10**20),
    ],
)
@pytest.mark.parametrize("extra", [{}, {"queueName": "VIP"}], ids=["documented", "with-extra"])
def test_one_bad_time_in_a_page_names_the_item_and_field(
    bad: object, extra: dict[str, str]
) -> None:
    page = [DOCUMENTED_CALL, {**DOCUMENTED_CALL, **extra, "dequeueTime": bad}, DOCUMENTED_CALL]
    with pytest.raises(ResponseDecodeError) as info:
        decode(LIST, 200, json.dumps(page).encode())
    assert "body[1].dequeue_time" in str(info.value)
    assert info.value.operation == "list"
