"""The newer operations against a mocked server (aioresponses): exact method, path, query,
headers and results; 201 answers; accounts; the escape hatch; huge and unsendable input."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from activecalls_async import (
    Account,
    ActionRejectedError,
    ActiveCallsClient,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Target,
    ValidationError,
)

BASE = "https://ringcx.ringcentral.com/voice"
ADMIN = f"{BASE}/api/v1/admin/"
API = f"{ADMIN}accounts/12440001/activeCalls/"
EVERYTHING = re.compile(r".*")
TOKEN = "tok-SECRET-123"
RETRIES = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[ActiveCallsClient]:
    async with ActiveCallsClient(account_id="12440001", auth=TOKEN, retry=RETRIES) as c:
        yield c


def requests(mocked: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    return [(m, url, call.kwargs) for (m, url), calls in mocked.requests.items() for call in calls]


def only_request(mocked: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    (sent,) = requests(mocked)
    return sent


async def test_ping_call(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(API + "U1/pingCall", body="true")
    await client.ping_call("U1")
    method, url, kwargs = only_request(mocked)
    assert (method, str(url)) == ("POST", API + "U1/pingCall")
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs["data"] is None


@pytest.mark.parametrize(("hold", "state"), [(True, "ON"), (False, "OFF")])
async def test_set_call_hold(
    client: ActiveCallsClient, mocked: aioresponses, hold: bool, state: str
) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.set_call_hold("U1", hold=hold)
    method, url, _ = only_request(mocked)
    assert method == "POST"
    assert url.path == "/voice/api/v1/admin/accounts/12440001/activeCalls/U1/toggleCallHold"
    assert dict(url.query) == {"state": state}


async def test_requeue_call(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.requeue_call("U1", gate_id=55)
    _, url, _ = only_request(mocked)
    assert url.path.endswith("/activeCalls/U1/requeueCall")
    assert dict(url.query) == {"gateId": "55"}


async def test_hangup_session_by_id(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.post(EVERYTHING, body="true")
    await client.hangup_session_by_id("U1", session_id="S-9")
    _, url, _ = only_request(mocked)
    assert url.path.endswith("/activeCalls/U1/hangupSessionById")
    assert dict(url.query) == {"sessionId": "S-9"}


async def test_a_declined_control_is_rejected_not_retried(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.post(EVERYTHING, body="false", repeat=True)
    with pytest.raises(ActionRejectedError) as info:
        await client.set_call_hold("U1", hold=True)
    assert info.value.uii == "U1"
    assert len(requests(mocked)) == 1


@pytest.mark.parametrize("body", ["", "true", '{"id": 7}', "Created"])
async def test_201_is_done_with_one_request(
    client: ActiveCallsClient, mocked: aioresponses, body: str
) -> None:
    mocked.post(EVERYTHING, status=201, body=body, repeat=True)
    assert await client.hangup_call("U1") is None  # type: ignore[func-returns-value]
    assert len(requests(mocked)) == 1


async def test_a_200_that_is_neither_true_nor_false_is_a_decode_error(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.post(EVERYTHING, body="", repeat=True)
    with pytest.raises(ResponseDecodeError):
        await client.requeue_call("U1", gate_id=55)
    assert len(requests(mocked)) == 1  # at most once: the server did act


# -- accounts and discovery --------------------------------------------------------------------


async def test_list_accounts(client: ActiveCallsClient, mocked: aioresponses) -> None:
    mocked.get(
        ADMIN + "accounts",
        payload=[{"accountId": "12440001", "accountName": "A", "mainAccountId": "1244", "x": 1}],
    )
    assert await client.list_accounts() == [
        Account(account_id="12440001", account_name="A", main_account_id="1244", extra={"x": 1})
    ]
    method, url, kwargs = only_request(mocked)
    assert (method, str(url)) == ("GET", ADMIN + "accounts")
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"


async def test_discovered_account_goes_into_every_path(mocked: aioresponses) -> None:
    mocked.get(ADMIN + "accounts", payload=[{"accountId": 777}])
    mocked.post(EVERYTHING, body="true", repeat=True)
    async with ActiveCallsClient(auth=TOKEN) as client:
        await client.ping_call("U1")
        await client.ping_call("U2")
    urls = [str(url) for _, url, _ in requests(mocked)]
    assert urls == [
        ADMIN + "accounts",
        ADMIN + "accounts/777/activeCalls/U1/pingCall",
        ADMIN + "accounts/777/activeCalls/U2/pingCall",
    ]


async def test_an_account_id_that_could_escape_is_refused(mocked: aioresponses) -> None:
    mocked.get(ADMIN + "accounts", payload=[{"accountId": "../1"}])
    async with ActiveCallsClient(auth=TOKEN) as client:
        with pytest.raises(ValidationError, match="account_id"):
            await client.ping_call("U1")
    assert len(requests(mocked)) == 1


# -- the escape hatch --------------------------------------------------------------------------


async def test_request_sends_query_and_json(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.put(EVERYTHING, payload={"ok": True})
    answer = await client.request(
        "put", "accounts/12440001/users/5", params={"notify": True}, json={"role": "SUPERVISOR"}
    )
    assert answer == {"ok": True}
    method, url, kwargs = only_request(mocked)
    assert method == "PUT"
    assert url.path == "/voice/api/v1/admin/accounts/12440001/users/5"
    assert dict(url.query) == {"notify": "true"}
    assert json.loads(kwargs["data"]) == {"role": "SUPERVISOR"}
    assert kwargs["headers"]["Content-Type"] == "application/json"


async def test_request_returns_text_when_not_json(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.get(EVERYTHING, body="plain answer", content_type="text/plain")
    assert await client.request("GET", "status") == "plain answer"


async def test_request_get_is_retried_and_delete_is_not(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.get(EVERYTHING, status=503, repeat=True)
    mocked.delete(EVERYTHING, status=503, repeat=True)
    with pytest.raises(ServerError):
        await client.request("GET", "users")
    with pytest.raises(ServerError):
        await client.request("DELETE", "users/5")
    methods = [method for method, _, _ in requests(mocked)]
    assert methods.count("GET") == RETRIES.max_attempts
    assert methods.count("DELETE") == 1


async def test_request_refuses_escaping_paths_with_nothing_sent(
    client: ActiveCallsClient, mocked: aioresponses
) -> None:
    mocked.get(EVERYTHING, payload=[], repeat=True)
    with pytest.raises(ValidationError):
        await client.request("GET", "../../x")
    assert requests(mocked) == []


# -- input beyond what can be sent ---------------------------------------------------------------

HUGE = 10**5000


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("list_active_calls", ("ACD", HUGE), {}),
        ("list_active_calls", ("ACD", 55), {"page": HUGE}),
        ("list_active_calls", ("ACD", 55), {"max_rows": HUGE}),
        ("list_active_calls", (), {"external_id": "\ud800"}),
        ("hangup_call", (HUGE,), {}),
        ("requeue_call", ("U1",), {"gate_id": HUGE}),
        (
            "create_manual_agent_call",
            (),
            {
                "username": "a@b.com",
                "destination": "6501234567",
                "ring_duration": HUGE,
                "caller_id": "1234567890",
            },
        ),
        (
            "create_manual_agent_call",
            (),
            {
                "username": "a\ud800@b.com",
                "destination": "6501234567",
                "ring_duration": 5,
                "caller_id": "1234567890",
            },
        ),
        ("disposition_call", ("U1",), {"disposition": "\ud800"}),
        ("disposition_call", ("U1",), {"disposition": "SALE", "notes": "\udfff"}),
        ("disposition_call", ("U1",), {"disposition": "SALE", "callback_at": datetime(999, 1, 1)}),
        ("check_queue_status", (), {"destination_number": "8661234567", "max_queued": HUGE}),
        (
            "check_queue_threshold",
            (),
            {"destination_number": "8661234567", "max_calls_queued": HUGE},
        ),
    ],
)
async def test_unsendable_input_is_a_validation_error_with_nothing_sent(
    client: ActiveCallsClient,
    mocked: aioresponses,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    mocked.get(EVERYTHING, payload=[], repeat=True)
    mocked.post(EVERYTHING, body="true", repeat=True)
    with pytest.raises(ValidationError):
        await getattr(client, method)(*args, **kwargs)
    assert requests(mocked) == []


def test_huge_ids_are_refused_in_targets_and_constructors() -> None:
    with pytest.raises(ValidationError):
        Target("ACD", HUGE)
    with pytest.raises(ValidationError):
        ActiveCallsClient(account_id=HUGE, auth=TOKEN)
    with pytest.raises(ValidationError):
        ActiveCallsClient(account_id="1", auth=TOKEN, page_size=HUGE)


async def test_huge_ids_in_a_fan_out_are_refused_up_front(client: ActiveCallsClient) -> None:
    with pytest.raises(ValidationError):
        client.iter_active_calls_many([("ACD", HUGE)])
