"""Every operation against a mocked server: exact method, path, query, headers and results.

aioresponses records the URL after decoding and re-sorting the query, so these tests
assert what the server decodes; the exact encoding on the wire (``%2B``, ``%40``) is
pinned in test_wire.py and end to end against the simulator.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from activecalls_async import (
    ActionRejectedError,
    ActiveCall,
    ActiveCallsClient,
    APIStatusError,
    ApiToken,
    Auth,
    BearerToken,
    ClientClosedError,
    NotFoundError,
    Product,
    QueueCheck,
    ResponseDecodeError,
    RetryPolicy,
    RingCentralAuth,
    SessionType,
    ValidationError,
    __version__,
)
from activecalls_async.auth import LoginSender

BASE = "https://ringcx.ringcentral.com/voice"
API = f"{BASE}/api/v1/admin/accounts/12440001/activeCalls/"
EVERYTHING = re.compile(r".*")
TOKEN = "tok-SECRET-123"


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[ActiveCallsClient]:
    async with ActiveCallsClient(account_id="12440001", auth=TOKEN, retry=None) as c:
        yield c


def only_request(mocked: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    assert len(mocked.requests) == 1
    ((method, url), calls) = next(iter(mocked.requests.items()))
    assert len(calls) == 1
    return method, url, calls[0].kwargs


async def test_list_active_calls_documented_example(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.get(EVERYTHING, payload=[{"uii": "U1", "enqueueTime": "2020-05-08T14:40:47.000+0000"}])
    calls = await client.list_active_calls(product=Product.ACCOUNT, product_id=12440001)
    assert calls == [ActiveCall(uii="U1", enqueue_time=calls[0].enqueue_time)]
    method, url, kwargs = only_request(mocked)
    assert method == "GET"
    assert url.path == "/voice/api/v1/admin/accounts/12440001/activeCalls/list"
    assert dict(url.query) == {
        "product": "ACCOUNT",
        "productId": "12440001",
        "page": "0",
        "maxRows": "1000",
    }
    headers = kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["User-Agent"].startswith(f"activecalls-async/{__version__} ")
    assert kwargs.get("data") is None
    assert "params" not in kwargs  # everything travels in the URL we built


async def test_list_by_external_id_with_page_and_size(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.get(EVERYTHING, payload=[])
    assert await client.list_active_calls(external_id="crm-42", page=2, max_rows=25) == []
    _, url, _ = only_request(mocked)
    assert dict(url.query) == {"externalId": "crm-42", "page": "2", "maxRows": "25"}


async def test_create_manual_agent_call_documented_example(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.post(EVERYTHING, body="true", content_type="text/plain")
    result = await client.create_manual_agent_call(
        username="some.name@abc.com",
        destination="6501234567",
        ring_duration=5,
        caller_id="1234567890",
    )
    assert result is None
    method, url, _ = only_request(mocked)
    assert method == "POST"
    assert url.path.endswith("/activeCalls/createManualAgentCall")
    assert dict(url.query) == {
        "username": "some.name@abc.com",
        "destination": "6501234567",
        "ringDuration": "5",
        "callerId": "1234567890",
    }


async def test_add_session_keeps_the_plus(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.add_session_to_call(
        "U1", destination="+15554150123", session_type=SessionType.MONITOR
    )
    method, url, _ = only_request(mocked)
    assert (method, url.path) == (
        "POST",
        "/voice/api/v1/admin/accounts/12440001/activeCalls/U1/addSessionToCall",
    )
    assert url.raw_query_string == "destination=%2B15554150123&sessionType=MONITOR"
    assert url.query["destination"] == "+15554150123"


async def test_disposition_with_callback(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.disposition_call(
        "U1",
        disposition="SALE",
        callback=True,
        callback_at=datetime(2026, 12, 1, 15, 30),
        notes="ring back",
    )
    _, url, _ = only_request(mocked)
    assert url.path.endswith("/U1/dispositionCall")
    assert dict(url.query) == {
        "disposition": "SALE",
        "callback": "true",
        "callBackDTS": "20261201153000",
        "notes": "ring back",
    }


async def test_hangup_call(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.hangup_call("U1")
    method, url, _ = only_request(mocked)
    assert (method, str(url)) == ("POST", API + "U1/hangupCall")


async def test_hangup_session(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.hangup_session("U1", phone="+15554150123")
    _, url, _ = only_request(mocked)
    assert str(url) == API + "U1/hangupSession?phone=%2B15554150123"


async def test_toggle_call_recording(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.toggle_call_recording("U1", record=False)
    _, url, _ = only_request(mocked)
    assert str(url) == API + "U1/toggleCallRecording?record=false"


async def test_check_queue_status(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.get(EVERYTHING, payload={"status": True, "reason": "ok"})
    check = await client.check_queue_status(destination_number="8661234567", max_queued=5)
    assert check == QueueCheck(True, "ok")
    method, url, _ = only_request(mocked)
    assert method == "GET"
    assert str(url) == API + "prerouteChecks/checkQueueStatus?destination_number=8661234567&maxq=5"


async def test_check_queue_threshold(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.get(EVERYTHING, payload={"status": False, "reason": "12 calls queued"})
    check = await client.check_queue_threshold(destination_number="8661234567")
    assert check == QueueCheck(False, "12 calls queued")
    _, url, _ = only_request(mocked)
    assert str(url) == API + "prerouteChecks/checkQueueThreshold?destination_number=8661234567"


async def test_action_answering_false_raises(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.post(EVERYTHING, body="false")
    with pytest.raises(ActionRejectedError, match="hangupSession"):
        await client.hangup_session("U1", phone="6501234567")


async def test_stale_uii_raises_not_found(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, status=404, payload={"generalMessage": "Call not found"})
    with pytest.raises(NotFoundError, match="Call not found"):
        await client.hangup_call("U1")


NO_WAIT = RetryPolicy(initial_delay=0, max_delay=0)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_neither_followed_nor_retried(
    mocked: aioresponses, status: int
) -> None:
    location = "https://bob:pw-SECRET@sso.example/login?session=sess-SECRET#frag"
    mocked.get(EVERYTHING, status=status, headers={"Location": location}, repeat=True)
    mocked.post(EVERYTHING, status=status, headers={"Location": location}, repeat=True)
    async with ActiveCallsClient(account_id=1, auth=TOKEN, retry=NO_WAIT) as client:
        with pytest.raises(APIStatusError) as listed:
            await client.list_active_calls("ACD", 5)
        with pytest.raises(APIStatusError) as hung_up:
            await client.hangup_call("U1")
    for caught in (listed, hung_up):
        error = caught.value
        assert type(error) is APIStatusError  # not a ResponseDecodeError, not a subclass
        assert error.status == status
        assert error.retries == 0
        assert "redirected to https://sso.example/login; not followed" in str(error)
        assert "SECRET" not in str(error) + repr(error) + error.body_excerpt
    assert sum(len(calls) for calls in mocked.requests.values()) == 2  # one each, no retry


async def test_a_redirect_without_location_is_still_an_error(mocked: aioresponses) -> None:
    mocked.get(EVERYTHING, status=304)
    async with ActiveCallsClient(account_id=1, auth=TOKEN, retry=None) as client:
        with pytest.raises(APIStatusError, match="HTTP 304: redirected to an unnamed location"):
            await client.list_active_calls("ACD", 5)


OPAQUE = "opaque-SECRET-token-123"  # nothing about it looks like a token


@pytest.mark.parametrize(
    ("auth", "status", "body"),
    [
        (OPAQUE, 401, f"Invalid token {OPAQUE}"),
        (OPAQUE, 401, f"Invalid token Bearer {OPAQUE}"),
        (OPAQUE, 403, f'{{"generalMessage": "no", "details": "token {OPAQUE} may not"}}'),
        (
            ApiToken(OPAQUE),
            400,
            f'{{"validationErrors": [{{"attributeName": "t", "message": "bad {OPAQUE}",'
            f' "value": "{OPAQUE}"}}], "errorCode": "{OPAQUE}"}}',
        ),
        (OPAQUE, 500, f"<html>the token was {OPAQUE}</html>"),
        (OPAQUE, 200, f"[not json {OPAQUE}"),  # a garbled success, echoing it
    ],
)
async def test_a_credential_echoed_by_the_server_never_reaches_the_error(
    mocked: aioresponses, auth: str | Auth, status: int, body: str
) -> None:
    mocked.get(EVERYTHING, status=status, body=body)
    async with ActiveCallsClient(account_id=1, auth=auth, retry=None) as client:
        with pytest.raises((APIStatusError, ResponseDecodeError)) as caught:
            await client.list_active_calls("ACD", 5)
    error = caught.value
    texts = [str(error), repr(error), error.message, error.body_excerpt]
    if isinstance(error, APIStatusError):
        texts += [str(error.details), str(error.error_code), repr(error.field_errors)]
    for text in texts:
        assert "SECRET" not in text
    assert "***" in error.body_excerpt


async def test_short_credentials_are_not_masked_in_ordinary_words(mocked: aioresponses) -> None:
    mocked.get(EVERYTHING, status=401, body="Invalid token for this account")
    async with ActiveCallsClient(account_id=1, auth="token", retry=None) as client:
        with pytest.raises(APIStatusError, match="Invalid token for this account"):
            await client.list_active_calls("ACD", 5)


async def test_api_token_goes_in_x_auth_token(mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    async with ActiveCallsClient(account_id=1, auth=ApiToken("legacy-SECRET")) as client:
        await client.hangup_call("U1")
    _, _, kwargs = only_request(mocked)
    assert kwargs["headers"]["X-Auth-Token"] == "legacy-SECRET"
    assert "Authorization" not in kwargs["headers"]


async def test_per_call_timeout_reaches_the_request(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.hangup_call("U1", timeout=2.5)
    _, _, kwargs = only_request(mocked)
    assert kwargs["timeout"].total == 2.5


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("list_active_calls", {"product": "QUEUE", "product_id": 1}, "product"),
    ("list_active_calls", {"product": 5, "product_id": 1}, "product"),
    ("list_active_calls", {"product": "ACD", "product_id": "55a"}, "product_id"),
    ("list_active_calls", {"product": "ACD", "product_id": -1}, "product_id"),
    ("list_active_calls", {"product": "ACD", "product_id": True}, "product_id"),
    ("list_active_calls", {"product_id": 5}, "product"),
    ("list_active_calls", {"product": "ACD", "product_id": 5, "page": -1}, "page"),
    ("list_active_calls", {"product": "ACD", "product_id": 5, "max_rows": 0}, "max_rows"),
    ("list_active_calls", {"external_id": "  "}, "external_id"),
    (
        "create_manual_agent_call",
        {
            "username": "",
            "destination": "6501234567",
            "ring_duration": 5,
            "caller_id": "1234567890",
        },
        "username",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a b",
            "destination": "6501234567",
            "ring_duration": 5,
            "caller_id": "1234567890",
        },
        "username",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a@b.com",
            "destination": "650-123-4567",
            "ring_duration": 5,
            "caller_id": "1234567890",
        },
        "destination",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a@b.com",
            "destination": "6501234567",
            "ring_duration": 0,
            "caller_id": "1234567890",
        },
        "ring_duration",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a@b.com",
            "destination": "6501234567",
            "ring_duration": 2**31,
            "caller_id": "1234567890",
        },
        "ring_duration",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a@b.com",
            "destination": "6501234567",
            "ring_duration": 5.5,
            "caller_id": "1234567890",
        },
        "ring_duration",
    ),
    (
        "create_manual_agent_call",
        {
            "username": "a@b.com",
            "destination": "6501234567",
            "ring_duration": 5,
            "caller_id": "caller",
        },
        "caller_id",
    ),
    (
        "add_session_to_call",
        {"uii": "U1", "destination": "", "session_type": "MONITOR"},
        "destination",
    ),
    (
        "add_session_to_call",
        {"uii": "U1", "destination": " 15554150123", "session_type": "MONITOR"},
        "destination",
    ),
    (
        "add_session_to_call",
        {"uii": "U1", "destination": "+", "session_type": "MONITOR"},
        "destination",
    ),
    (
        "add_session_to_call",
        {"uii": "U1", "destination": "+15554150123", "session_type": "LISTEN"},
        "session_type",
    ),
    (
        "add_session_to_call",
        {"uii": "../list", "destination": "+15554150123", "session_type": "MONITOR"},
        "uii",
    ),
    ("disposition_call", {"uii": "U1", "disposition": ""}, "disposition"),
    ("disposition_call", {"uii": "U1", "disposition": "SALE", "callback": True}, "callback_at"),
    ("disposition_call", {"uii": "U1", "disposition": "SALE", "callback": "yes"}, "callback"),
    (
        "disposition_call",
        {"uii": "U1", "disposition": "SALE", "callback": True, "callback_at": "tomorrow"},
        "callback_at",
    ),
    (
        "disposition_call",
        {"uii": "U1", "disposition": "SALE", "callback": True, "callback_at": "20261341000000"},
        "callback_at",
    ),
    (
        "disposition_call",
        {
            "uii": "U1",
            "disposition": "SALE",
            "callback": False,
            "callback_at": datetime(2026, 1, 1),
        },
        "callback_at",
    ),
    ("disposition_call", {"uii": "U1", "disposition": "SALE", "notes": "x" * 5000}, "notes"),
    ("hangup_call", {"uii": ""}, "uii"),
    ("hangup_call", {"uii": "a/b"}, "uii"),
    ("hangup_call", {"uii": "a?b"}, "uii"),
    ("hangup_call", {"uii": "a#b"}, "uii"),
    ("hangup_call", {"uii": "a b"}, "uii"),
    ("hangup_call", {"uii": ".."}, "uii"),
    ("hangup_session", {"uii": "U1", "phone": ""}, "phone"),
    ("toggle_call_recording", {"uii": "U1", "record": "false"}, "record"),
    ("toggle_call_recording", {"uii": "U1", "record": 0}, "record"),
    ("check_queue_status", {"destination_number": "abc", "max_queued": 5}, "destination_number"),
    ("check_queue_status", {"destination_number": "8661234567", "max_queued": "5"}, "max_queued"),
    (
        "check_queue_threshold",
        {"destination_number": "8661234567", "max_calls_queued": -1},
        "max_calls_queued",
    ),
    ("list_active_calls", {"product": "ACD", "product_id": 5, "timeout": -1}, "timeout"),
    ("list_active_calls", {"product": "ACD", "product_id": 5, "retry": 3}, "retry"),
]


@pytest.mark.parametrize(("method", "kwargs", "parameter"), BAD_INPUTS)
async def test_bad_input_is_refused_before_anything_is_sent(
    client: ActiveCallsClient,
    mocked: aioresponses,
    method: str,
    kwargs: dict[str, Any],
    parameter: str,
) -> None:
    mocked.get(EVERYTHING, payload=[], repeat=True)
    mocked.post(EVERYTHING, body="true", repeat=True)
    with pytest.raises(ValidationError) as info:
        await getattr(client, method)(**kwargs)
    assert info.value.parameter == parameter
    assert isinstance(info.value, ValueError)
    assert mocked.requests == {}


async def test_closed_client_refuses_work(mocked: aioresponses) -> None:
    client = ActiveCallsClient(account_id=1, auth=TOKEN)
    await client.aclose()
    await client.aclose()  # idempotent
    assert client.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.hangup_call("U1")
    assert mocked.requests == {}


async def test_borrowed_session_is_never_closed(mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    async with aiohttp.ClientSession() as session:
        async with ActiveCallsClient(account_id=1, auth=TOKEN, session=session) as client:
            await client.hangup_call("U1")
        assert not session.closed
        assert client.closed


async def test_owned_session_is_closed_on_exit(mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    async with ActiveCallsClient(account_id=1, auth=TOKEN) as client:
        await client.hangup_call("U1")
        session = client._transport.session
    assert session.closed


def test_reprs_never_show_a_secret() -> None:
    client = ActiveCallsClient(account_id=1, auth=TOKEN)
    assert TOKEN not in repr(client)
    assert "SECRET" not in repr(BearerToken(TOKEN))
    assert "SECRET" not in repr(ApiToken("legacy-SECRET"))
    assert "BearerToken" in repr(client)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"auth": 123}, "auth"),
        ({"auth": ""}, "token"),
        ({"auth": "a\nb"}, "token"),
        ({"auth": "tok-\x00-123456"}, "token"),
        ({"user_agent": "bot/1.0\r\nX-Injected: 1"}, "user_agent"),
        ({"user_agent": "bot/1.0\n"}, "user_agent"),
        ({"user_agent": "bot\x00"}, "user_agent"),
        ({"user_agent": b"bot/1.0"}, "user_agent"),
        ({"user_agent": 42}, "user_agent"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"page_size": 0}, "page_size"),
        ({"rate_limit": 120}, "rate_limit"),
        ({"retry": 3}, "retry"),
        ({"session": object()}, "session"),
        ({"base_url": "http://example.com"}, "base_url"),
        ({"account_id": "1/2"}, "account_id"),
    ],
)
def test_bad_client_options(options: dict[str, Any], parameter: str) -> None:
    kwargs: dict[str, Any] = {"account_id": 1, "auth": TOKEN, **options}
    with pytest.raises(ValidationError) as info:
        ActiveCallsClient(**kwargs)
    assert info.value.parameter == parameter


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0])
async def test_a_per_call_timeout_must_be_finite_and_positive(
    client: ActiveCallsClient, mocked: aioresponses, timeout: float
) -> None:
    with pytest.raises(ValidationError) as caught:
        await client.list_active_calls("ACD", 5, timeout=timeout)
    assert caught.value.parameter == "timeout"
    assert mocked.requests == {}


class ClosingSpy(Auth):
    """Credentials that count how often they were closed."""

    def __init__(self) -> None:
        self.closed = 0

    async def headers(self, send: LoginSender) -> dict[str, str]:
        return {"Authorization": "Bearer spy-token"}

    async def aclose(self) -> None:
        self.closed += 1


async def test_a_client_closes_only_the_credentials_it_made(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ClosingSpy()
    async with ActiveCallsClient(account_id=1, auth=spy):
        pass
    assert spy.closed == 0  # passed in: the caller's to close (it may be shared)
    env = {"ACTIVECALLS_ACCOUNT_ID": "1", "ACTIVECALLS_RC_ACCESS_TOKEN": "rc-token"}
    async with ActiveCallsClient.from_env(env, auth=spy):
        pass
    assert spy.closed == 0  # an override is the caller's too
    # Built from the environment: the client's own, closed with it.
    closed: list[object] = []

    async def record_close(self: RingCentralAuth) -> None:
        closed.append(self)

    monkeypatch.setattr(RingCentralAuth, "aclose", record_close)
    async with ActiveCallsClient.from_env(env) as from_env:
        made = from_env._transport.auth
        assert isinstance(made, RingCentralAuth)
    assert closed == [made]


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ActiveCallsClient(1, TOKEN)  # type: ignore[misc]


async def test_from_env(mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    env = {
        "ACTIVECALLS_ACCOUNT_ID": "777",
        "ACTIVECALLS_TOKEN": TOKEN,
        "ACTIVECALLS_BASE_URL": "https://portal.vacd.biz/",
        "ACTIVECALLS_TIMEOUT": "4",
    }
    async with ActiveCallsClient.from_env(env) as client:
        await client.hangup_call("U1")
    _method, url, kwargs = only_request(mocked)
    assert str(url) == "https://portal.vacd.biz/api/v1/admin/accounts/777/activeCalls/U1/hangupCall"
    assert kwargs["timeout"].total == 4.0


def test_from_env_legacy_token_and_overrides() -> None:
    client = ActiveCallsClient.from_env(
        {"ACTIVECALLS_ACCOUNT_ID": "1", "ACTIVECALLS_API_TOKEN": "legacy"}, page_size=7
    )
    assert isinstance(client._transport.auth, ApiToken)
    assert client.page_size == 7


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ACTIVECALLS_TOKEN": "t"}, "ACTIVECALLS_ACCOUNT_ID"),
        ({"ACTIVECALLS_ACCOUNT_ID": "1"}, "ACTIVECALLS_TOKEN"),
        (
            {"ACTIVECALLS_ACCOUNT_ID": "1", "ACTIVECALLS_TOKEN": "t", "ACTIVECALLS_TIMEOUT": "x"},
            "ACTIVECALLS_TIMEOUT",
        ),
    ],
)
def test_from_env_says_what_is_missing(env: dict[str, str], missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        ActiveCallsClient.from_env(env)
