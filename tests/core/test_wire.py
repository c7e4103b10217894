"""Pure request building: exact URLs for every operation, no event loop, no network."""

from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from activecalls_async import Product, SessionType, ValidationError
from activecalls_async._endpoints import ENDPOINTS, ResponseKind, RetryClass
from activecalls_async._wire import api_prefix, build_request, parse_retry_after

PREFIX = "https://ringcx.ringcentral.com/voice/api/v1/admin/accounts/12440001/activeCalls/"


def build(operation: str, **args: object) -> str:
    return build_request(ENDPOINTS[operation], PREFIX, args).url


def test_registry_has_exactly_the_nine_operations() -> None:
    assert sorted(ENDPOINTS) == sorted(
        [
            "list",
            "createManualAgentCall",
            "addSessionToCall",
            "dispositionCall",
            "hangupCall",
            "hangupSession",
            "toggleCallRecording",
            "checkQueueStatus",
            "checkQueueThreshold",
        ]
    )
    reads = {name for name, e in ENDPOINTS.items() if e.method == "GET"}
    assert reads == {"list", "checkQueueStatus", "checkQueueThreshold"}
    assert ENDPOINTS["list"].response is ResponseKind.CALL_LIST
    assert ENDPOINTS["checkQueueThreshold"].response is ResponseKind.QUEUE_CHECK
    at_most_once = {n for n, e in ENDPOINTS.items() if e.retry is RetryClass.AT_MOST_ONCE}
    assert {"createManualAgentCall", "addSessionToCall", "dispositionCall"} <= at_most_once
    assert "toggleCallRecording" not in at_most_once


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
    url = build("list", product=Product.ACCOUNT, product_id=12440001)
    assert url == PREFIX + "list?product=ACCOUNT&productId=12440001"


def test_list_every_parameter_in_order() -> None:
    url = build("list", product="acd", product_id="55", external_id="ext 1+2", page=3, max_rows=50)
    assert url == PREFIX + "list?product=ACD&productId=55&externalId=ext%201%2B2&page=3&maxRows=50"


def test_create_manual_agent_call_documented_example() -> None:
    url = build(
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
    url = build(
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
    url = build(
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
    assert "callBackDTS=20261201153000" in build(
        "dispositionCall", uii="U1", disposition="SALE", callback=True, callback_at=when
    )


def test_disposition_without_callback_sends_false() -> None:
    assert build("dispositionCall", uii="U1", disposition="NO ANSWER", callback=False) == (
        PREFIX + "U1/dispositionCall?disposition=NO%20ANSWER&callback=false"
    )


def test_hangup_call_has_no_query() -> None:
    assert build("hangupCall", uii="U1") == PREFIX + "U1/hangupCall"


def test_hangup_session() -> None:
    assert build("hangupSession", uii="U1", phone="+15554150123") == (
        PREFIX + "U1/hangupSession?phone=%2B15554150123"
    )


@pytest.mark.parametrize(("record", "wire"), [(True, "true"), (False, "false")])
def test_toggle_recording_booleans(record: bool, wire: str) -> None:
    assert build("toggleCallRecording", uii="U1", record=record) == (
        PREFIX + f"U1/toggleCallRecording?record={wire}"
    )


def test_queue_checks() -> None:
    assert build("checkQueueStatus", destination_number="8661234567", max_queued=5) == (
        PREFIX + "prerouteChecks/checkQueueStatus?destination_number=8661234567&maxq=5"
    )
    assert build(
        "checkQueueThreshold",
        destination_number="+18661234567",
        max_calls_queued=0,
        i18n_numbers=True,
    ) == PREFIX + (
        "prerouteChecks/checkQueueThreshold?destination_number=%2B18661234567"
        "&maxCallsQueued=0&phoneNumbersI18nEnabled=true"
    )


def test_a_uii_is_always_exactly_one_path_segment() -> None:
    url = build("hangupCall", uii="abc-DEF_1.2:3")
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
        build("hangupCall", uii=uii)
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
