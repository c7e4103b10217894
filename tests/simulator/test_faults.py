"""Injected faults: latency, errors, throttling, drops (before/after the effect), bad bodies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from activecalls_async.testing import Faults, Simulator

from .bare_http import act, answered_uii, api_url, basic_auth, bearer, fetch, list_calls


@pytest.fixture
async def faulty() -> AsyncIterator[Simulator]:
    """A simulator whose faults each test sets."""
    async with Simulator(calls=60, seed=2, rate_limit=None) as simulator:
        yield simulator


def documented_list(body: str) -> bool:
    try:
        rows = json.loads(body)
    except ValueError:
        return False
    return isinstance(rows, list) and all(
        isinstance(row, dict)
        and isinstance(row.get("uii"), str)
        and isinstance(row.get("archive"), bool)
        and isinstance(row.get("enqueueTime"), str)
        for row in rows
    )


def documented_check(body: str) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and isinstance(data.get("status"), bool)
        and isinstance(data.get("reason"), str)
    )


async def test_latency_delays_every_answer(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=5, latency=0.1) as sim:
        assert sim.faults.latency == 0.1
        started = time.monotonic()
        await list_calls(http, sim, product="ACCOUNT")
        assert time.monotonic() - started >= 0.1
        (recorded,) = sim.requests
        assert recorded.finished - recorded.started >= 0.1
        assert recorded.fault is None


async def test_a_client_that_gives_up_does_not_stop_the_action(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(calls=20, latency=0.2) as sim:
        uii = answered_uii(sim)
        with pytest.raises(asyncio.TimeoutError):
            async with http.post(
                api_url(sim, f"/{uii}/hangupCall"),
                headers=bearer(sim.token),
                timeout=aiohttp.ClientTimeout(total=0.05),
            ):
                pass
        assert sim.effects == []
        await asyncio.sleep(0.3)
        # As on a real server, the request was processed after the client stopped waiting.
        assert sim.effect_count("hangupCall", uii) == 1
        assert sim.requests[0].status == 200


async def test_stop_cancels_requests_in_flight(http: aiohttp.ClientSession) -> None:
    sim = Simulator(calls=20, latency=30.0)
    await sim.start()
    uii = answered_uii(sim)
    pending = asyncio.create_task(act(http, sim, uii, "hangupCall"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await sim.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert sim.effects == []
    assert [(r.operation, r.status) for r in sim.requests] == [("hangupCall", 0)]


async def test_error_fault_answers_before_any_effect(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(error_rate=1.0, error_status=500)
    uii = answered_uii(faulty)
    status, body = await act(http, faulty, uii, "hangupCall")
    assert status == 500
    assert json.loads(body)["generalMessage"] == "Server Error"
    assert faulty.wire_call(uii) is not None
    assert faulty.effects == []
    assert (faulty.requests[-1].status, faulty.requests[-1].fault) == (500, "error")
    faulty.faults.error_rate = 0.0  # faults are mutable between requests
    assert await act(http, faulty, uii, "hangupCall") == (200, "true")


async def test_throttle_fault_is_a_429_with_a_short_retry_after(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(throttle_rate=1.0)
    uii = answered_uii(faulty)
    status, _, headers = await fetch(
        http,
        "POST",
        api_url(faulty, f"/{uii}/toggleCallRecording"),
        token=faulty.token,
        params={"record": "false"},
    )
    assert (status, headers["Retry-After"]) == (429, "0")
    faulty.faults.throttle_retry_after = 2
    status, _, headers = await fetch(
        http, "GET", api_url(faulty, "/list"), token=faulty.token, params={"product": "ACD"}
    )
    assert (status, headers["Retry-After"]) == (429, "2")
    assert faulty.effects == []
    assert [r.fault for r in faulty.requests] == ["throttle", "throttle"]


async def test_drop_closes_the_connection_before_the_effect(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(drop_rate=1.0)
    uii = answered_uii(faulty)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await act(http, faulty, uii, "hangupCall")
    assert faulty.wire_call(uii) is not None
    assert faulty.effects == []
    (recorded,) = faulty.requests
    assert (recorded.status, recorded.fault, recorded.uii) == (0, "drop", uii)
    # The connection is gone, not the server: the next request works.
    faulty.faults.drop_rate = 0.0
    assert await act(http, faulty, uii, "hangupCall") == (200, "true")


async def test_dropped_get_is_retried_once_by_aiohttp_itself(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(drop_rate=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await list_calls(http, faulty, product="ACCOUNT")
    # aiohttp repeats an idempotent request once after a disconnect (RFC 9112 9.3.1).
    assert [(r.operation, r.fault) for r in faulty.requests] == [("list", "drop")] * 2


async def test_drop_after_effect_loses_the_answer_not_the_action(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(drop_after_effect_rate=1.0)
    uii = answered_uii(faulty)
    for _ in range(2):  # a client that retries a non-idempotent action acts twice
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await act(
                http,
                faulty,
                uii,
                "addSessionToCall",
                destination="6505550100",
                sessionType="MONITOR",
            )
    assert faulty.effect_count("addSessionToCall", uii) == 2
    assert [r.fault for r in faulty.requests] == ["drop_after_effect"] * 2
    assert {r.status for r in faulty.requests} == {0}


async def malformed_bodies(
    http: aiohttp.ClientSession, sim: Simulator, method: str, url: str, params: dict[str, str]
) -> list[tuple[int, str, str]]:
    seen = []
    for _ in range(25):
        async with http.request(method, url, params=params, headers=bearer(sim.token)) as resp:
            seen.append((resp.status, resp.content_type, await resp.text()))
    return seen


async def test_malformed_list_bodies_break_the_documented_shape(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(malformed_rate=1.0, seed=4)
    for params in ({"product": "ACCOUNT"}, {"product": "AGENT"}):  # full and empty listings
        answers = await malformed_bodies(http, faulty, "GET", api_url(faulty, "/list"), params)
        assert {status for status, _, _ in answers} == {200}
        assert not any(documented_list(body) for _, _, body in answers)
        assert "text/html" in {content_type for _, content_type, _ in answers}
    assert {r.fault for r in faulty.requests} == {"malformed"}


async def test_malformed_action_and_check_bodies(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(malformed_rate=1.0, seed=9)
    uii = answered_uii(faulty)
    actions = await malformed_bodies(
        http, faulty, "POST", api_url(faulty, f"/{uii}/toggleCallRecording"), {"record": "true"}
    )
    assert all(status == 200 and body not in ("true", "false") for status, _, body in actions)
    # The action itself went through: only the answer was mangled.
    assert faulty.effect_count("toggleCallRecording", uii) == 25
    checks = await malformed_bodies(
        http,
        faulty,
        "GET",
        api_url(faulty, "/prerouteChecks/checkQueueThreshold"),
        {"destination_number": "8661234567"},
    )
    assert not any(documented_check(body) for _, _, body in checks)


async def test_malformed_only_replaces_successes(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(malformed_rate=1.0)
    status, body, _ = await fetch(
        http, "GET", api_url(faulty, "/list"), token=faulty.token, params={"product": "X"}
    )
    assert status == 400
    assert json.loads(body)["validationErrors"]


async def test_max_rows_cap_and_ignore_page(faulty: Simulator, http: aiohttp.ClientSession) -> None:
    every = [call["uii"] for call in faulty.wire_calls()]
    faulty.faults = Faults(max_rows_cap=10)
    rows = await list_calls(http, faulty, product="ACCOUNT", page=1, maxRows=25)
    assert [row["uii"] for row in rows] == every[10:20]
    rows = await list_calls(http, faulty, product="ACCOUNT")
    assert [row["uii"] for row in rows] == every[:10]
    faulty.faults = Faults(ignore_page=True)
    rows = await list_calls(http, faulty, product="ACCOUNT", page=3, maxRows=7)
    assert [row["uii"] for row in rows] == every[:7]
    faulty.faults = Faults(ignore_page=True, operations=frozenset({"hangupCall"}))
    rows = await list_calls(http, faulty, product="ACCOUNT", page=3, maxRows=7)
    assert [row["uii"] for row in rows] == every[21:28]


async def test_operations_scope_the_faults(faulty: Simulator, http: aiohttp.ClientSession) -> None:
    faulty.faults = Faults(error_rate=1.0, operations={"hangupCall"})
    uii = answered_uii(faulty)
    assert await list_calls(http, faulty, product="ACCOUNT")
    assert await act(http, faulty, uii, "toggleCallRecording", record="true") == (200, "true")
    assert (await act(http, faulty, uii, "hangupCall"))[0] == 503


async def login_statuses(http: aiohttp.ClientSession, sim: Simulator) -> list[int]:
    statuses = []
    async with http.post(
        f"{sim.root_url}/restapi/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": sim.rc_jwt},
        headers=basic_auth(sim.rc_client_id, sim.rc_client_secret),
    ) as response:
        statuses.append(response.status)
        rc_token = (await response.json())["access_token"] if response.status == 200 else "x"
    async with http.post(
        f"{sim.root_url}/api/auth/login/rc/accesstoken?includeRefresh=true",
        data={"rcAccessToken": rc_token, "rcTokenType": "Bearer"},
    ) as response:
        statuses.append(response.status)
    return statuses


async def test_login_endpoints_fault_only_when_named(
    faulty: Simulator, http: aiohttp.ClientSession
) -> None:
    faulty.faults = Faults(error_rate=1.0)
    assert await login_statuses(http, faulty) == [200, 200]
    faulty.faults = Faults(error_rate=1.0, operations={"auth.exchange"})
    assert await login_statuses(http, faulty) == [200, 503]


async def statuses(http: aiohttp.ClientSession, sim: Simulator, count: int) -> list[Any]:
    answers = []
    for _ in range(count):
        status, _, _ = await fetch(
            http, "GET", api_url(sim, "/list"), token=sim.token, params={"product": "AGENT"}
        )
        answers.append(status)
    return answers


async def test_fault_draws_are_seeded(faulty: Simulator, http: aiohttp.ClientSession) -> None:
    faulty.faults = Faults(error_rate=0.3, throttle_rate=0.3, seed=21)
    first = await statuses(http, faulty, 30)
    assert {200, 429, 503} == set(first)
    faulty.faults.seed = 21  # reseeding replays the same faults
    assert await statuses(http, faulty, 30) == first
    faulty.faults = Faults(error_rate=0.3, throttle_rate=0.3, seed=22)
    assert await statuses(http, faulty, 30) != first


def test_fault_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="error_status"):
        Faults(error_status=200)
    faults = Faults()
    with pytest.raises(ValueError, match="drop_rate"):
        faults.drop_rate = -0.1
    with pytest.raises(ValueError, match="max_rows_cap"):
        Faults(max_rows_cap=0)
    assert Faults(operations=["list"]).operations == frozenset({"list"})
