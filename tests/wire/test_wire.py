"""Pure request building and decoding: exact URLs for every operation, no event loop."""

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from activecalls_async import (
    Account,
    ActionRejectedError,
    Product,
    ResponseDecodeError,
    SessionType,
    ValidationError,
)
from activecalls_async._endpoints import (
    ACCOUNTS,
    ENDPOINTS,
    HANGUP_CALL,
    PING_CALL,
    ResponseKind,
    RetryClass,
    Scope,
)
from activecalls_async._wire.response import decode_response, parse_retry_after
from tests.support import admin_root, api_prefix, build, build_raw, decode

ROOT = "https://ringcx.ringcentral.com/voice/api/v1/admin/"
PREFIX = ROOT + "accounts/12440001/activeCalls/"


def url_of(operation: str, **args: object) -> str:
    return build(ENDPOINTS[operation], PREFIX, args).url


@pytest.mark.parametrize("base", ["https://h.example/voice", "https://h.example/voice/"])
def test_base_url_joins_with_or_without_trailing_slash(base: str) -> None:
    assert api_prefix(base, "12440001") == (
        "https://h.example/voice/api/v1/admin/accounts/12440001/activeCalls/"
    )


def test_legacy_host_without_voice_prefix() -> None:
    assert api_prefix("https://portal.vacd.biz", 7) == (
        "https://portal.vacd.biz/api/v1/admin/accounts/7/activeCalls/"
    )


def test_list_documented_example() -> None:
    url = url_of("list", product=Product.ACCOUNT, product_id=12440001)
    assert url == PREFIX + "list?product=ACCOUNT&productId=12440001"


def test_list_every_parameter_in_order() -> None:
    url = url_of("list", product="acd", product_id="55", external_id="ext 1+2", page=3, max_rows=50)
    assert url == PREFIX + "list?product=ACD&productId=55&externalId=ext%201%2B2&page=3&maxRows=50"


def test_create_manual_agent_call_documented_example() -> None:
    url = url_of(
        "createManualAgentCall",
        username="some.name@abc.com",
        destination="6501234567",
        ring_duration=5,
        caller_id="1234567890",
    )
    assert url == PREFIX + (
        "createManualAgentCall?username=some.name%40abc.com&destination=6501234567"
        "&ringDuration=5&callerId=1234567890"
    )


def test_add_session_sends_plus_as_percent_2b() -> None:
    url = url_of(
        "addSessionToCall",
        uii="2026112800001",
        destination="+15554150123",
        session_type=SessionType.MONITOR,
    )
    assert (
        url
        == PREFIX + "2026112800001/addSessionToCall?destination=%2B15554150123&sessionType=MONITOR"
    )
    # What a server decodes: the plus survives.
    assert dict(parse_qsl(urlsplit(url).query)) == {
        "destination": "+15554150123",
        "sessionType": "MONITOR",
    }


def test_disposition_with_callback_time_from_datetime() -> None:
    url = url_of(
        "dispositionCall",
        uii="U1",
        disposition="SALE",
        callback=True,
        callback_at=datetime(2026, 12, 1, 15, 30, 5),
        notes="call back at 3:30 & confirm",
    )
    assert url == PREFIX + (
        "U1/dispositionCall?disposition=SALE&callback=true&callBackDTS=20261201153005"
        "&notes=call%20back%20at%203%3A30%20%26%20confirm"
    )


def test_disposition_keeps_wall_clock_time_of_an_aware_datetime() -> None:
    when = datetime(2026, 12, 1, 15, 30, tzinfo=timezone.utc)
    assert "callBackDTS=20261201153000" in url_of(
        "dispositionCall", uii="U1", disposition="SALE", callback=True, callback_at=when
    )


def test_disposition_without_callback_sends_false() -> None:
    assert url_of("dispositionCall", uii="U1", disposition="NO ANSWER", callback=False) == (
        PREFIX + "U1/dispositionCall?disposition=NO%20ANSWER&callback=false"
    )


def test_hangup_call_has_no_query() -> None:
    assert url_of("hangupCall", uii="U1") == PREFIX + "U1/hangupCall"


def test_hangup_session() -> None:
    assert url_of("hangupSession", uii="U1", phone="+15554150123") == (
        PREFIX + "U1/hangupSession?phone=%2B15554150123"
    )


@pytest.mark.parametrize(("record", "wire"), [(True, "true"), (False, "false")])
def test_toggle_recording_booleans(record: bool, wire: str) -> None:
    assert url_of("toggleCallRecording", uii="U1", record=record) == (
        PREFIX + f"U1/toggleCallRecording?record={wire}"
    )


def test_queue_checks() -> None:
    assert url_of("checkQueueStatus", destination_number="8661234567", max_queued=5) == (
        PREFIX + "prerouteChecks/checkQueueStatus?destination_number=8661234567&maxq=5"
    )
    assert url_of(
        "checkQueueThreshold",
        destination_number="+18661234567",
        max_calls_queued=0,
        i18n_numbers=True,
    ) == PREFIX + (
        "prerouteChecks/checkQueueThreshold?destination_number=%2B18661234567"
        "&maxCallsQueued=0&phoneNumbersI18nEnabled=true"
    )


def test_a_uii_is_always_exactly_one_path_segment() -> None:
    url = url_of("hangupCall", uii="abc-DEF_1.2:3")
    assert urlsplit(url).path.endswith("/activeCalls/abc-DEF_1.2:3/hangupCall")


@pytest.mark.parametrize(
    "uii",
    [
        "",
        " ",
        "../list",
        "a/b",
        "a?b",
        "a#b",
        "..",
        ".",
        "a b",
        "a\tb",
        "a%2Fb",
        "x" * 200,
        None,
        1.5,
        ["1"],
    ],
)
def test_a_uii_that_could_escape_its_segment_is_refused(uii: object) -> None:
    with pytest.raises(ValidationError) as info:
        url_of("hangupCall", uii=uii)
    assert info.value.parameter == "uii"


@pytest.mark.parametrize("account", ["", "../1", "1/2", "1?x", "a b", None])
def test_an_account_id_that_could_escape_its_segment_is_refused(account: object) -> None:
    with pytest.raises(ValidationError, match="account_id"):
        api_prefix("https://h.example", account)


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("ftp://h.example", "http"),
        ("h.example", "http"),
        ("https://h.example/voice?x=1", "query"),
        ("http://h.example/voice", "clear text"),
        (42, "URL"),
    ],
)
def test_bad_base_urls(base: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        api_prefix(base, "1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("https://bob:pw-SECRET@h.example/voice", "credentials"),
        ("https://bob@h.example/voice", "credentials"),
        ("https://h.example/voice?", "query"),  # even empty: paths would land in the query
        ("https://h.example/voice#", "fragment"),
        ("https://h.example/voice#top", "fragment"),
        ("https://h.example/vo ice", "whitespace"),
        ("https://h.example/vo\tice", "whitespace"),
        ("https://h.example/voice\r\nX-Evil: 1", "whitespace"),
        ("https://h.example/v\x00", "control"),
        ("https://h.example/vöice", "non-ASCII"),
        ("https://h.example/vo%ice", "%XX"),
        ("https://h.example/voice%2", "%XX"),
        ("https://h.example:port/voice", "port"),
        ("https://[::1/voice", "host"),
        ("file:///etc/passwd", "http"),
        ("javascript:alert(1)", "http"),
        ("", "http"),
        ("http://127.attacker.example/voice", "clear text"),  # a name, not loopback
        ("http://localhost.attacker.example/voice", "clear text"),
    ],
)
def test_base_urls_that_cannot_take_a_path_or_leak_are_refused(base: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        api_prefix(base, "1")
    assert caught.value.parameter == "base_url"
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.2:8080/voice",
        "http://[::1]:8080/voice",
        "http://LOCALHOST/voice",
        "https://h.example/vo%20ice/",
        "https://h.example:8443",
        "  https://h.example/voice  ",
    ],
)
def test_good_base_urls_are_kept(base: str) -> None:
    root = base.strip().rstrip("/")
    assert api_prefix(base, "1") == f"{root}/api/v1/admin/accounts/1/activeCalls/"


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "[::1]:9"])
def test_plain_http_is_fine_on_loopback(host: str) -> None:
    assert api_prefix(f"http://{host}", "1").startswith(f"http://{host}/api/v1/")


def test_plain_http_elsewhere_needs_the_explicit_opt_in() -> None:
    assert api_prefix("http://h.example", "1", allow_insecure_http=True).startswith("http://")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Sat, 28 Nov 2026 00:00:30 GMT", 30.0),
        ("Sat, 28 Nov 2026 00:00:00 GMT", 0.0),
    ],
)
def test_retry_after_in_seconds_or_http_date(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 11, 28, 0, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(header, now=now) == seconds


# -- the four newer call controls ---------------------------------------------------------


def test_ping_call_has_no_query() -> None:
    assert url_of("pingCall", uii="U1") == PREFIX + "U1/pingCall"


@pytest.mark.parametrize(("hold", "state"), [(True, "ON"), (False, "OFF")])
def test_hold_sends_on_or_off(hold: bool, state: str) -> None:
    assert url_of("toggleCallHold", uii="U1", hold=hold) == (
        PREFIX + f"U1/toggleCallHold?state={state}"
    )


@pytest.mark.parametrize("hold", ["ON", 1, None])
def test_hold_takes_a_real_bool(hold: object) -> None:
    with pytest.raises(ValidationError) as info:
        url_of("toggleCallHold", uii="U1", hold=hold)
    assert info.value.parameter == "hold"


@pytest.mark.parametrize("gate", [77, "77"])
def test_requeue_sends_the_gate_id(gate: object) -> None:
    assert url_of("requeueCall", uii="U1", gate_id=gate) == PREFIX + "U1/requeueCall?gateId=77"


@pytest.mark.parametrize("gate", [-1, "7a", None, True, 2**63])
def test_requeue_refuses_a_gate_that_is_not_an_id(gate: object) -> None:
    with pytest.raises(ValidationError) as info:
        url_of("requeueCall", uii="U1", gate_id=gate)
    assert info.value.parameter == "gate_id"


@pytest.mark.parametrize(("session", "wire"), [("S-1 2", "S-1%202"), (42, "42")])
def test_hangup_session_by_id(session: object, wire: str) -> None:
    assert url_of("hangupSessionById", uii="U1", session_id=session) == (
        PREFIX + f"U1/hangupSessionById?sessionId={wire}"
    )


def test_accounts_is_under_the_admin_root() -> None:
    assert ACCOUNTS.scope is Scope.ADMIN
    assert build(ACCOUNTS, ROOT, {}).url == ROOT + "accounts"
    assert admin_root("https://ringcx.ringcentral.com/voice/") == ROOT


# -- the strict descriptor seam --------------------------------------------------------------


def test_an_undeclared_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="note"):
        url_of("dispositionCall", uii="U1", disposition="SALE", callback=False, note="lost")


def test_a_uii_is_only_declared_where_the_path_has_one() -> None:
    with pytest.raises(TypeError, match="uii"):
        url_of("checkQueueStatus", uii="U1", destination_number="8661234567", max_queued=1)


# -- rules revisited against the spec ----------------------------------------------------------


def test_list_with_neither_product_nor_external_id_is_sent() -> None:
    assert url_of("list", page=0, max_rows=10) == PREFIX + "list?page=0&maxRows=10"


def test_ring_duration_has_no_invented_ceiling() -> None:
    url = url_of(
        "createManualAgentCall",
        username="a@b.com",
        destination="6501234567",
        ring_duration=3600,
        caller_id="1234567890",
    )
    assert "ringDuration=3600" in url


# -- input that used to escape ValidationError ------------------------------------------------

HUGE = 10**5000
MANUAL = {"username": "a@b.com", "destination": "6501234567", "caller_id": "1234567890"}


@pytest.mark.parametrize(
    ("operation", "args", "parameter"),
    [
        ("list", {"product": "ACD", "product_id": HUGE}, "product_id"),
        ("list", {"product": "ACD", "page": HUGE}, "page"),
        ("list", {"product": "ACD", "max_rows": HUGE}, "max_rows"),
        ("createManualAgentCall", {**MANUAL, "ring_duration": HUGE}, "ring_duration"),
        ("hangupCall", {"uii": HUGE}, "uii"),
        (
            "checkQueueStatus",
            {"destination_number": "8661234567", "max_queued": HUGE},
            "max_queued",
        ),
        (
            "checkQueueStatus",
            {"destination_number": "8661234567", "max_queued": -HUGE},
            "max_queued",
        ),
        ("requeueCall", {"uii": "U1", "gate_id": HUGE}, "gate_id"),
        ("hangupSessionById", {"uii": "U1", "session_id": HUGE}, "session_id"),
        (
            "createManualAgentCall",
            {**MANUAL, "username": "a\ud800@b.com", "ring_duration": 5},
            "username",
        ),
        (
            "dispositionCall",
            {"uii": "U1", "disposition": "S\ud800", "callback": False},
            "disposition",
        ),
        (
            "dispositionCall",
            {"uii": "U1", "disposition": "SALE", "callback": False, "notes": "\udfff"},
            "notes",
        ),
        ("list", {"external_id": "x\ud800"}, "external_id"),
        ("hangupSessionById", {"uii": "U1", "session_id": "\ud800"}, "session_id"),
        (
            "dispositionCall",
            {
                "uii": "U1",
                "disposition": "SALE",
                "callback": True,
                "callback_at": datetime(999, 1, 1),
            },
            "callback_at",
        ),
    ],
)
def test_input_beyond_the_wire_is_a_validation_error(
    operation: str, args: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(ValidationError) as info:
        url_of(operation, **args)
    assert info.value.parameter == parameter
    assert len(str(info.value)) < 300


def test_an_account_id_too_large_to_print_is_refused() -> None:
    with pytest.raises(ValidationError, match="account_id"):
        api_prefix("https://h.example", HUGE)


def test_a_four_digit_year_is_the_first_accepted() -> None:
    url = url_of(
        "dispositionCall",
        uii="U1",
        disposition="SALE",
        callback=True,
        callback_at=datetime(1000, 1, 1),
    )
    assert "callBackDTS=10000101000000" in url


# -- decoding actions: 201 Created is success --------------------------------------------------

PING = build(PING_CALL, PREFIX, {"uii": "U1"})
HANGUP = build(HANGUP_CALL, PREFIX, {"uii": "U1"})


@pytest.mark.parametrize("body", [b"", b"true", b"TRUE\n", b'"true"', b"{}", b"created", b"\xff"])
def test_201_is_done_whatever_the_body_short_of_false(body: bytes) -> None:
    assert decode(HANGUP, 201, body) is None
    assert decode(PING, 201, body) is None


def test_201_false_is_still_declined() -> None:
    with pytest.raises(ActionRejectedError):
        decode(HANGUP, 201, b"false")


@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("body", [b"false", b"FALSE\n", b' "false" ', b'{"result": false}'])
def test_a_bare_false_declines_with_no_words_of_the_server(status: int, body: bytes) -> None:
    with pytest.raises(ActionRejectedError) as info:
        decode(HANGUP, status, body)
    assert info.value.server_message is None
    assert str(info.value).startswith("hangupCall was declined by the server (it answered false)")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"false: Agent is not on the call", "Agent is not on the call"),
        (b"FALSE\nThe call is on hold\n", "The call is on hold"),
        (b'"false - no such session"', "no such session"),
        (b'{"result": false, "message": "No agent on the call"}', "No agent on the call"),
        (
            b'{"status": "false", "generalMessage": "Denied", "details": "archived"}',
            "Denied: archived",
        ),
        (b'{"success": false, "message": "Same", "details": "Same"}', "Same"),
    ],
)
def test_a_declined_action_keeps_the_servers_words(body: bytes, words: str) -> None:
    with pytest.raises(ActionRejectedError) as info:
        decode(HANGUP, 200, body)
    assert info.value.server_message == words
    assert str(info.value).startswith(f"hangupCall was declined by the server: {words} (POST ")
    assert info.value.uii == "U1"


def test_the_servers_words_are_one_bounded_line_with_no_credential() -> None:
    body = b"false: token s3cr3t-t0ken rejected\n" + b"x" * 2000
    with pytest.raises(ActionRejectedError) as info:
        decode_response(HANGUP, (200, {}, body), secrets=["s3cr3t-t0ken"])
    words = info.value.server_message or ""
    assert "s3cr3t-t0ken" not in str(info.value)
    assert words.startswith("token *** rejected x")
    assert "\n" not in words
    assert len(words) <= 301


@pytest.mark.parametrize("body", [b"falsehood", b"false_", b'{"result": true, "message": "ok"}'])
def test_words_that_only_start_like_false_are_no_decline(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError):
        decode(HANGUP, 200, body)


def test_200_with_an_empty_body_is_still_a_decode_error() -> None:
    with pytest.raises(ResponseDecodeError):
        decode(HANGUP, 200, b"")


# -- decoding accounts -------------------------------------------------------------------------

ACCOUNTS_REQUEST = build(ACCOUNTS, ROOT, {})


def test_accounts_decode_with_unknown_fields_kept() -> None:
    body = [
        {"accountId": "12440001", "accountName": "Main", "mainAccountId": "1244", "tz": "UTC"},
        {"accountId": 12440002},
    ]
    accounts = decode(ACCOUNTS_REQUEST, 200, json.dumps(body).encode())
    assert accounts == [
        Account(
            account_id="12440001",
            account_name="Main",
            main_account_id="1244",
            extra={"tz": "UTC"},
        ),
        Account(account_id="12440002"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[1]",
        b'[{"accountName": "x"}]',
        b'[{"accountId": true}]',
        b'[{"accountId": "1", "accountName": 5}]',
        b'[{"accountId": "1", "mainAccountId": []}]',
        b"not json",
    ],
)
def test_accounts_in_another_shape_are_a_decode_error(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode(ACCOUNTS_REQUEST, 200, body)
    assert info.value.operation == "accounts"


# -- the escape hatch --------------------------------------------------------------------------


def test_raw_get_is_idempotent_and_relative_to_the_admin_root() -> None:
    request = build_raw(
        "get", "accounts/12440001/users", ROOT, params={"q": "a+b", "n": [1, 2], "x": None}
    )
    assert request.method == "GET"
    assert request.url == ROOT + "accounts/12440001/users?q=a%2Bb&n=1&n=2"
    assert request.endpoint.retry is RetryClass.IDEMPOTENT
    assert request.endpoint.response is ResponseKind.ANY
    assert request.body is None


def test_raw_post_is_at_most_once_unless_declared() -> None:
    request = build_raw("POST", "users", ROOT, json_body={"name": "Ann", "on": True})
    assert request.endpoint.retry is RetryClass.AT_MOST_ONCE
    assert json.loads(request.body or b"") == {"name": "Ann", "on": True}
    declared = build_raw("PUT", "users/1", ROOT, retry_class="idempotent")
    assert declared.endpoint.retry is RetryClass.IDEMPOTENT


@pytest.mark.parametrize(
    ("method", "path", "extra", "parameter"),
    [
        ("GET", "../../x", {}, "path"),
        ("GET", "/accounts", {}, "path"),
        ("GET", "accounts/../x", {}, "path"),
        ("GET", "accounts//x", {}, "path"),
        ("GET", "accounts/", {}, "path"),
        ("GET", "users?admin=true", {}, "path"),
        ("GET", "users#x", {}, "path"),
        ("GET", "users%2F..", {}, "path"),
        ("GET", "https://evil.example/x", {}, "path"),
        ("GET", "", {}, "path"),
        ("TRACE", "users", {}, "method"),
        ("GET", "users", {"params": {"q": HUGE}}, "params['q']"),
        ("GET", "users", {"params": {"q": float("nan")}}, "params['q']"),
        ("GET", "users", {"params": {"q": "\ud800"}}, "params['q']"),
        ("GET", "users", {"params": {"": "x"}}, "params"),
        ("POST", "users", {"json_body": {"x": float("inf")}}, "json"),
        ("POST", "users", {"json_body": {"x": object()}}, "json"),
        ("GET", "users", {"retry_class": "twice"}, "retry_class"),
    ],
)
def test_raw_requests_that_could_escape_or_not_encode_are_refused(
    method: str, path: str, extra: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(ValidationError) as info:
        build_raw(method, path, ROOT, **extra)
    assert info.value.parameter == parameter


@pytest.mark.parametrize(
    ("body", "decoded"),
    [(b"", None), (b'{"a": [1]}', {"a": [1]}), (b"plain words", "plain words"), (b"7", 7)],
)
def test_raw_answers_are_json_or_text(body: bytes, decoded: object) -> None:
    request = build_raw("GET", "users", ROOT)
    assert decode(request, 200, body) == decoded


@settings(max_examples=400)
@given(
    path=st.text(
        alphabet=st.sampled_from(list("ab1./?#%:-_ \\@~\x00")) | st.characters(), max_size=24
    )
)
def test_no_accepted_path_leaves_the_admin_prefix(path: str) -> None:
    try:
        request = build_raw("GET", path, ROOT)
    except ValidationError as exc:
        refused: ValidationError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.parameter == "path"
        return
    url = URL(request.url, encoded=True)
    assert request.url == ROOT + path
    assert (url.scheme, url.host, url.query_string, url.fragment) == (
        "https",
        "ringcx.ringcentral.com",
        "",
        "",
    )
    # What a server resolves (dot segments removed) is still under the admin prefix.
    assert url.path.startswith("/voice/api/v1/admin/")
    assert ".." not in url.path.split("/")
