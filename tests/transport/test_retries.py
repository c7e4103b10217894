"""Retries through the client, exactly, against a mocked server (aioresponses).

aioresponses replaces aiohttp's request machinery, so the transport cannot see how far
a mocked request got: every mocked failure counts as "may have been sent" unless it is
a connect failure. test_sent_boundary.py checks the same rules over real sockets.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses

from activecalls_async import (
    ActiveCallsClient,
    APIConnectionError,
    APITimeoutError,
    Auth,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from tests.support import ACCOUNT, FAST

EVERYTHING = re.compile(r".*")
Call = Callable[..., Awaitable[Any]]

READS: dict[str, tuple[str, Call, str]] = {
    "list": ("GET", lambda c, **kw: c.list_active_calls("ACCOUNT", ACCOUNT, **kw), "[]"),
    "checkQueueStatus": (
        "GET",
        lambda c, **kw: c.check_queue_status(destination_number="8661234567", max_queued=5, **kw),
        '{"status": true, "reason": "ok"}',
    ),
    "checkQueueThreshold": (
        "GET",
        lambda c, **kw: c.check_queue_threshold(destination_number="8661234567", **kw),
        '{"status": true, "reason": "ok"}',
    ),
    "toggleCallRecording": (
        "POST",
        lambda c, **kw: c.toggle_call_recording("UII1", record=False, **kw),
        "true",
    ),
}
ACTIONS: dict[str, Call] = {
    "createManualAgentCall": lambda c, **kw: c.create_manual_agent_call(
        username="agent@example.com",
        destination="6501234567",
        ring_duration=5,
        caller_id="1234567890",
        **kw,
    ),
    "addSessionToCall": lambda c, **kw: c.add_session_to_call(
        "UII1", destination="+15554150123", session_type="MONITOR", **kw
    ),
    "dispositionCall": lambda c, **kw: c.disposition_call("UII1", disposition="SALE", **kw),
    "hangupCall": lambda c, **kw: c.hangup_call("UII1", **kw),
    "hangupSession": lambda c, **kw: c.hangup_session("UII1", phone="+15554150123", **kw),
}


def connector_error() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("ringcx.ringcentral.com", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


# name -> what aioresponses is told to answer
TRANSIENT: dict[str, dict[str, Any]] = {
    "429": {"status": 429},
    "502": {"status": 502},
    "503": {"status": 503, "body": "Service Unavailable"},
    "504": {"status": 504},
    "dropped": {"exception": aiohttp.ServerDisconnectedError()},
    "reset": {"exception": aiohttp.ClientOSError(104, "Connection reset by peer")},
    "timeout": {"exception": asyncio.TimeoutError()},
    "refused": {"exception": connector_error()},
}
PERMANENT: dict[str, tuple[dict[str, Any], type[Exception]]] = {
    "400": ({"status": 400, "body": '{"generalMessage": "bad"}'}, BadRequestError),
    "401 invalid": ({"status": 401, "body": "Invalid token"}, AuthenticationError),
    "401 expired": ({"status": 401, "body": "Jwt is expired"}, AuthenticationError),
    "403": ({"status": 403, "body": '{"errorCode": "FORBIDDEN"}'}, PermissionDeniedError),
    "404": ({"status": 404}, NotFoundError),
    "500": ({"status": 500}, ServerError),
}


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[ActiveCallsClient]:
    async with ActiveCallsClient(
        account_id=ACCOUNT, auth="tok-1", retry=FAST, rate_limit=None
    ) as c:
        yield c


def sent(mocked: aioresponses) -> int:
    return sum(len(calls) for calls in mocked.requests.values())


def answer(mocked: aioresponses, method: str, **how: Any) -> None:
    mocked.add(EVERYTHING, method, **how)


@pytest.mark.parametrize("failure", TRANSIENT)
@pytest.mark.parametrize("operation", READS)
async def test_reads_and_harmless_actions_ride_out_transient_failures(
    client: ActiveCallsClient, mocked: aioresponses, operation: str, failure: str
) -> None:
    method, call, body = READS[operation]
    answer(mocked, method, **TRANSIENT[failure])
    answer(mocked, method, **TRANSIENT[failure])
    answer(mocked, method, status=200, body=body)
    await call(client)
    assert sent(mocked) == 3


@pytest.mark.parametrize("operation", ["list", "checkQueueStatus", "toggleCallRecording"])
async def test_a_garbled_success_body_of_a_harmless_operation_is_fetched_again(
    client: ActiveCallsClient, mocked: aioresponses, operation: str
) -> None:
    method, call, body = READS[operation]
    answer(mocked, method, status=200, body='[{"uii": ')
    answer(mocked, method, status=200, body=body)
    await call(client)
    assert sent(mocked) == 2


@pytest.mark.parametrize("failure", PERMANENT)
@pytest.mark.parametrize("operation", list(READS) + list(ACTIONS))
async def test_never_retried_on_errors_that_repeat(
    client: ActiveCallsClient, mocked: aioresponses, operation: str, failure: str
) -> None:
    method, call = (
        (READS[operation][0], READS[operation][1])
        if operation in READS
        else (
            "POST",
            ACTIONS[operation],
        )
    )
    how, error = PERMANENT[failure]
    answer(mocked, method, repeat=True, **how)
    with pytest.raises(error) as caught:
        await call(client)
    # A BearerToken cannot be renewed, so even "expired" gets no second request.
    assert sent(mocked) == 1
    assert caught.value.retries == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("operation", ACTIONS)
@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ({"status": 502}, ServerError),
        ({"status": 503}, ServerError),
        ({"status": 504}, ServerError),
        ({"exception": aiohttp.ServerDisconnectedError()}, APIConnectionError),
        ({"exception": aiohttp.ClientOSError(104, "reset")}, APIConnectionError),
        ({"exception": asyncio.TimeoutError()}, APITimeoutError),
        ({"status": 200, "body": "<html>maintenance</html>"}, ResponseDecodeError),
    ],
    ids=["502", "503", "504", "dropped", "reset", "timeout", "garbled-200"],
)
async def test_actions_that_could_act_twice_are_not_repeated_once_they_may_have_acted(
    client: ActiveCallsClient,
    mocked: aioresponses,
    operation: str,
    failure: dict[str, Any],
    error: type[Exception],
) -> None:
    answer(mocked, "POST", **failure)
    answer(mocked, "POST", status=200, body="true")
    with pytest.raises(error) as caught:
        await ACTIONS[operation](client)
    assert sent(mocked) == 1
    assert caught.value.retries == 0  # type: ignore[attr-defined]
    if isinstance(caught.value, APIConnectionError):
        assert caught.value.request_sent


@pytest.mark.parametrize("operation", ACTIONS)
@pytest.mark.parametrize(
    "failure",
    [{"status": 429, "headers": {"Retry-After": "0"}}, {"exception": connector_error()}],
    ids=["429", "refused"],
)
async def test_actions_are_repeated_when_the_server_cannot_have_acted(
    client: ActiveCallsClient, mocked: aioresponses, operation: str, failure: dict[str, Any]
) -> None:
    answer(mocked, "POST", **failure)
    answer(mocked, "POST", **failure)
    answer(mocked, "POST", status=200, body="true")
    await ACTIONS[operation](client)
    assert sent(mocked) == 3


async def test_every_retry_is_logged_and_the_error_counts_them(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="activecalls_async")
    answer(mocked, "GET", status=503, repeat=True)
    policy = RetryPolicy(max_attempts=4, initial_delay=0.001, max_delay=0.002)
    async with ActiveCallsClient(account_id=ACCOUNT, auth="tok-1", retry=policy) as client:
        with pytest.raises(ServerError) as caught:
            await client.list_active_calls("ACD", 55)
    assert sent(mocked) == 4
    assert caught.value.retries == 3
    assert "after 3 retries" in str(caught.value)
    ours = [r for r in caplog.records if r.name == "activecalls_async"]
    lines = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert len(lines) == 3
    for attempt, line in enumerate(lines, start=1):
        assert line.startswith(f"list: attempt {attempt} failed (HTTP 503)")
    # And at DEBUG, one line per attempt sent.
    attempts = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    assert len(attempts) == 4
    for attempt, line in enumerate(attempts, start=1):
        assert line.startswith("list https://ringcx.ringcentral.com/voice/api/v1/admin/")
        assert "-> 503 in " in line
        assert f"(attempt {attempt}, waited " in line
        assert line.endswith("priority READ)")


async def test_a_retried_connection_error_is_logged_with_its_cause(
    client: ActiveCallsClient, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    answer(mocked, "POST", exception=connector_error())
    answer(mocked, "POST", status=200, body="true")
    await ACTIONS["hangupCall"](client)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "activecalls_async"]
    assert "attempt 1 failed (ClientConnectorError, not sent)" in line


async def test_retry_none_turns_retries_off(mocked: aioresponses) -> None:
    answer(mocked, "GET", status=503, repeat=True)
    async with ActiveCallsClient(account_id=ACCOUNT, auth="tok-1", retry=None) as client:
        with pytest.raises(ServerError) as caught:
            await client.list_active_calls("ACD", 55)
        assert sent(mocked) == 1
        assert caught.value.retries == 0
        # ... and a per-call policy turns them back on for one call.
        with pytest.raises(ServerError):
            await client.list_active_calls(
                "ACD", 55, retry=RetryPolicy(max_attempts=3, initial_delay=0.001)
            )
        assert sent(mocked) == 4


async def test_a_per_call_policy_overrides_the_clients(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    answer(mocked, "GET", status=503, repeat=True)
    with pytest.raises(ServerError):
        await client.list_active_calls("ACD", 55, retry=None)
    assert sent(mocked) == 1
    with pytest.raises(ServerError) as caught:
        await client.list_active_calls(
            "ACD", 55, retry=RetryPolicy(max_attempts=2, initial_delay=0.001)
        )
    assert sent(mocked) == 3
    assert caught.value.retries == 1
    with pytest.raises(ServerError):
        await client.list_active_calls("ACD", 55)  # the client's FAST: 8 attempts
    assert sent(mocked) == 11


def retry_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    found = []
    for record in caplog.records:
        match = re.search(r"retrying in ([\d.]+)s", record.getMessage())
        if record.name == "activecalls_async" and match:
            found.append(float(match.group(1)))
    return found


async def test_retry_after_in_seconds_is_honoured(
    client: ActiveCallsClient, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    answer(mocked, "POST", status=429, headers={"Retry-After": "1"})
    answer(mocked, "POST", status=200, body="true")
    started = time.monotonic()
    await ACTIONS["addSessionToCall"](client)
    assert time.monotonic() - started >= 0.95  # FAST alone would wait 10 ms at most
    assert retry_waits(caplog) == [1.0]


async def test_retry_after_as_an_http_date_is_honoured(
    client: ActiveCallsClient, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="activecalls_async")
    answer(
        mocked, "GET", status=503, headers={"Retry-After": formatdate(time.time() + 3, usegmt=True)}
    )
    answer(mocked, "GET", status=200, body="[]")
    await client.list_active_calls("ACD", 55)
    (wait,) = retry_waits(caplog)
    # The date drops the fraction of a second, so the wait is between 2 and 3 s (less
    # whatever time passed before it was read); FAST alone waits 10 ms at most.
    assert 1.0 < wait <= 3.0


@pytest.mark.parametrize(("status", "error"), [(429, RateLimitError), (503, ServerError)])
async def test_a_retry_after_beyond_the_cap_raises_at_once(
    mocked: aioresponses, status: int, error: type[Exception]
) -> None:
    answer(mocked, "GET", status=status, headers={"Retry-After": "120"}, repeat=True)
    policy = RetryPolicy(max_attempts=5, initial_delay=0.001, max_retry_after=60.0)
    async with ActiveCallsClient(account_id=ACCOUNT, auth="tok-1", retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(error) as caught:
            await client.list_active_calls("ACD", 55)
    assert time.monotonic() - started < 1.0
    assert sent(mocked) == 1
    assert caught.value.retry_after == 120.0  # type: ignore[attr-defined]


class RenewableToken(Auth):
    """A bearer token that renews itself when asked, counting renewals."""

    def __init__(self) -> None:
        self.generation = 1
        self.renewals = 0

    async def headers(self, session: aiohttp.ClientSession) -> Mapping[str, str]:
        return {"Authorization": f"Bearer gen-{self.generation}"}

    async def refresh(self, session: aiohttp.ClientSession, rejected: Mapping[str, str]) -> bool:
        self.renewals += 1
        self.generation += 1
        return True


def bearers(mocked: aioresponses) -> list[str]:
    return [
        call.kwargs["headers"]["Authorization"]
        for calls in mocked.requests.values()
        for call in calls
    ]


@pytest.mark.parametrize("retry", [FAST, None], ids=["retry", "no-retry"])
@pytest.mark.parametrize("operation", ["list", "createManualAgentCall"])
async def test_an_expired_token_is_renewed_once_and_the_request_repeated(
    mocked: aioresponses, operation: str, retry: RetryPolicy | None
) -> None:
    method, call = (
        ("GET", READS["list"][1])
        if operation == "list"
        else (
            "POST",
            ACTIONS[operation],
        )
    )
    auth = RenewableToken()
    answer(mocked, method, status=401, body="Jwt is expired")
    answer(mocked, method, status=200, body="[]" if method == "GET" else "true")
    async with ActiveCallsClient(account_id=ACCOUNT, auth=auth, retry=retry) as client:
        await call(client)
    assert auth.renewals == 1
    assert bearers(mocked) == ["Bearer gen-1", "Bearer gen-2"]


async def test_a_token_expired_again_after_renewal_is_not_renewed_forever(
    mocked: aioresponses,
) -> None:
    auth = RenewableToken()
    answer(mocked, "GET", status=401, body="Jwt is expired", repeat=True)
    async with ActiveCallsClient(account_id=ACCOUNT, auth=auth, retry=FAST) as client:
        with pytest.raises(AuthenticationError):
            await client.list_active_calls("ACD", 55)
    assert auth.renewals == 1
    assert sent(mocked) == 2


async def test_a_401_that_is_not_expiry_renews_nothing(mocked: aioresponses) -> None:
    auth = RenewableToken()
    answer(mocked, "GET", status=401, body="Invalid token", repeat=True)
    async with ActiveCallsClient(account_id=ACCOUNT, auth=auth, retry=FAST) as client:
        with pytest.raises(AuthenticationError):
            await client.list_active_calls("ACD", 55)
    assert auth.renewals == 0
    assert sent(mocked) == 1


class FlakyLogin(Auth):
    """Credentials whose first fetch fails the way a login service restart does."""

    def __init__(self, failure: Exception) -> None:
        self.failure: Exception | None = failure

    async def headers(self, session: aiohttp.ClientSession) -> Mapping[str, str]:
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure
        return {"Authorization": "Bearer fine"}


@pytest.mark.parametrize(
    "failure",
    [
        ServerError("login down", status=503, operation="auth.exchange"),
        APIConnectionError("reset", operation="auth.refresh", request_sent=True),
    ],
    ids=["503", "dropped"],
)
async def test_a_failure_while_logging_in_is_retried_even_for_actions(
    mocked: aioresponses, failure: Exception
) -> None:
    # The action itself was never sent, so repeating it cannot make the server act twice.
    answer(mocked, "POST", status=200, body="true")
    auth = FlakyLogin(failure)
    async with ActiveCallsClient(account_id=ACCOUNT, auth=auth, retry=FAST) as client:
        await ACTIONS["createManualAgentCall"](client)
    assert sent(mocked) == 1


async def test_a_refused_login_is_not_retried(mocked: aioresponses) -> None:
    refused = AuthenticationError("Invalid client", status=401, operation="auth.jwt")
    auth = FlakyLogin(refused)
    async with ActiveCallsClient(account_id=ACCOUNT, auth=auth, retry=FAST) as client:
        with pytest.raises(AuthenticationError):
            await client.list_active_calls("ACD", 55)
    assert sent(mocked) == 0
