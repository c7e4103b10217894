"""The preroute checks: queue status by oldest wait or free agents, and queue threshold."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from activecalls_async.testing import Simulator

from .bare_http import api_url, fetch

QUEUE_DNIS = "8661234567"  # routes to ACD queue 55 in every seed


@pytest.fixture
async def empty() -> AsyncIterator[Simulator]:
    """A simulator with no calls in flight, so queue depths are what a test adds."""
    async with Simulator(calls=0, rate_limit=None) as simulator:
        yield simulator


async def check(
    http: aiohttp.ClientSession, sim: Simulator, operation: str, **params: str
) -> tuple[int, Any]:
    status, body, headers = await fetch(
        http,
        "GET",
        api_url(sim, f"/prerouteChecks/{operation}"),
        token=sim.token,
        params=params,
    )
    if status == 200:
        assert headers["Content-Type"].startswith("application/json")
    return status, json.loads(body)


def wait_calls(sim: Simulator, ages: list[float]) -> None:
    """Queue calls on queue 55 that have waited these many seconds."""
    for age in ages:
        sim.add_call(product="ACD", product_id=55, enqueue_time=sim.state.now_ms - int(age * 1000))


async def test_queue_status_by_oldest_wait(empty: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await check(
        http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="60"
    )
    assert status == 200
    assert body["status"] is True
    assert isinstance(body["reason"], str)
    wait_calls(empty, [90, 30])
    status, body = await check(
        http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="60"
    )
    assert body["status"] is False
    assert "2 calls" in body["reason"]
    assert "90s" in body["reason"]
    status, body = await check(
        http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="120"
    )
    assert body["status"] is True


async def test_queue_status_without_max_wait_asks_for_free_agents(
    empty: Simulator, http: aiohttp.ClientSession
) -> None:
    members = empty.state.queue_members[55]
    assert any(agent.available for agent in members)
    _, body = await check(http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="0")
    assert body["status"] is True
    for agent in members:
        agent.ready = False
    _, body = await check(http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="-1")
    assert body == {"status": False, "reason": "0 agents available in queue Sales Queue"}


async def test_queue_threshold_defaults_to_ten(
    empty: Simulator, http: aiohttp.ClientSession
) -> None:
    wait_calls(empty, [5.0] * 9)
    _, body = await check(http, empty, "checkQueueThreshold", destination_number=QUEUE_DNIS)
    assert body["status"] is True
    wait_calls(empty, [1.0])
    _, body = await check(http, empty, "checkQueueThreshold", destination_number=QUEUE_DNIS)
    assert body["status"] is False
    assert "10 calls" in body["reason"]
    _, body = await check(
        http,
        empty,
        "checkQueueThreshold",
        destination_number=QUEUE_DNIS,
        maxCallsQueued="11",
        phoneNumbersI18nEnabled="true",
    )
    assert body["status"] is True


async def test_answered_calls_leave_the_queue(
    empty: Simulator, http: aiohttp.ClientSession
) -> None:
    wait_calls(empty, [100.0])
    _, body = await check(http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="60")
    assert body["status"] is False
    empty.traffic.answer_waiting()  # an agent takes it: it rings them, still waiting
    _, body = await check(http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="60")
    assert body["status"] is False
    empty.advance(empty.traffic.ring_seconds * 1.5)  # the longest a call rings
    _, body = await check(http, empty, "checkQueueStatus", destination_number=QUEUE_DNIS, maxq="60")
    assert body["status"] is True


async def test_destination_number_may_be_e164(sim: Simulator, http: aiohttp.ClientSession) -> None:
    plain = await check(http, sim, "checkQueueThreshold", destination_number=QUEUE_DNIS)
    e164 = await check(http, sim, "checkQueueThreshold", destination_number="+1" + QUEUE_DNIS)
    assert plain == e164
    assert plain[0] == 200


@pytest.mark.parametrize("operation", ["checkQueueStatus", "checkQueueThreshold"])
async def test_unknown_or_unqueued_numbers_are_404(
    sim: Simulator, http: aiohttp.ClientSession, operation: str
) -> None:
    ivr_number = sim.state.ivrs[0].dnis[0]
    for number in ("8009999999", ivr_number):
        status, body = await check(http, sim, operation, destination_number=number, maxq="5")
        assert status == 404
        assert number in body["details"]
        assert body["validationErrors"] == []


@pytest.mark.parametrize(
    ("operation", "params", "attributes"),
    [
        ("checkQueueStatus", {"destination_number": QUEUE_DNIS}, ["maxq"]),
        ("checkQueueStatus", {"maxq": "5"}, ["destination_number"]),
        ("checkQueueStatus", {"destination_number": QUEUE_DNIS, "maxq": "x"}, ["maxq"]),
        ("checkQueueThreshold", {"destination_number": " 18661234567"}, ["destination_number"]),
        (
            "checkQueueThreshold",
            {"destination_number": QUEUE_DNIS, "maxCallsQueued": "ten"},
            ["maxCallsQueued"],
        ),
        (
            "checkQueueThreshold",
            {"destination_number": QUEUE_DNIS, "phoneNumbersI18nEnabled": "yes"},
            ["phoneNumbersI18nEnabled"],
        ),
    ],
)
async def test_queue_check_validation(
    sim: Simulator,
    http: aiohttp.ClientSession,
    operation: str,
    params: dict[str, str],
    attributes: list[str],
) -> None:
    status, body = await check(http, sim, operation, **params)
    assert status == 400
    assert [error["attributeName"] for error in body["validationErrors"]] == attributes
