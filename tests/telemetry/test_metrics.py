"""The metrics a client records: requests by operation and status, their durations, the
waits for the rate limiter by priority, 429s, retries, and the window's count."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from activecalls_async import (
    ActiveCallsClient,
    APIConnectionError,
    NotFoundError,
    Priority,
    RateLimit,
)
from activecalls_async.testing import Simulator
from tests.support import ACCOUNT, FAST, serve
from tests.telemetry.recorded import Point, Recorded, recording, value_of

WINDOW = "activecalls.client.window.requests"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=12, seed=9, rate_limit=None) as simulator:
        yield simulator


def client_of(sim: Simulator, otel: Recorded, **options: object) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=sim.account_id,
        auth=sim.token,
        base_url=sim.base_url,
        telemetry=otel.telemetry,
        **options,  # type: ignore[arg-type]
    )


async def test_requests_by_operation_and_status_and_limiter_waits_by_priority(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel, page_size=5) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)  # READ
        await client.ping_call(sim.add_call(product="ACD", product_id=55))  # ACTION
        pages = client.iter_active_call_pages("ACCOUNT", sim.account_id, prefetch=1)
        assert [page async for page in pages]  # BULK
        ended = sim.add_call(product="ACD", product_id=55)
        sim.end_call(ended)
        with pytest.raises(NotFoundError):
            await client.hangup_call(ended)  # ACTION
    metrics = otel.metrics()
    requests = metrics["activecalls.client.requests"]
    sent = sim.requests.total
    assert sum(p.value for p in requests) == sent
    assert value_of(requests, {"activecalls.operation": "pingCall"}) == 1
    assert (
        value_of(
            requests,
            {
                "activecalls.operation": "list",
                "http.request.method": "GET",
                "http.response.status_code": 200,
            },
        )
        == sent - 2
    )
    assert (
        value_of(
            requests,
            {
                "activecalls.operation": "hangupCall",
                "http.response.status_code": 404,
                "error.type": "404",
            },
        )
        == 1
    )
    durations = metrics["activecalls.client.request.duration"]
    assert sum(p.value for p in durations) == sent
    assert all(p.total is not None and p.total > 0 for p in durations)
    waits = metrics["activecalls.client.limiter.wait"]
    assert {p.attributes["activecalls.priority"]: p.value for p in waits} == {
        "READ": 1,
        "ACTION": 2,
        "BULK": sent - 3,
    }


async def test_a_429_is_counted_as_rate_limited_and_its_retry_as_a_retry(otel: Recorded) -> None:
    answers = [
        web.Response(status=429, headers={"Retry-After": "0"}),
        web.Response(status=503),
        web.json_response([]),
    ]

    async def handler(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    async with (
        serve(handler) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="a-bearer-token",
            base_url=root,
            retry=FAST,
            telemetry=otel.telemetry,
        ) as client,
    ):
        await client.list_active_calls("ACD", 55)
    metrics = otel.metrics()
    requests = metrics["activecalls.client.requests"]
    assert {p.attributes.get("http.response.status_code"): p.value for p in requests} == {
        429: 1,
        503: 1,
        200: 1,
    }
    (limited,) = metrics["activecalls.client.rate_limited"]
    assert (limited.attributes, limited.value) == ({"activecalls.operation": "list"}, 1)
    retries = metrics["activecalls.client.retries"]
    assert {p.attributes["error.type"]: p.value for p in retries} == {"429": 1, "503": 1}


async def test_an_unanswered_request_is_counted_by_its_failure(otel: Recorded) -> None:
    async def unused(request: web.Request) -> web.StreamResponse:
        raise AssertionError("unreachable")  # pragma: no cover

    async with serve(unused) as root:
        pass  # the port is free again: connecting is refused
    async with ActiveCallsClient(
        account_id=ACCOUNT,
        auth="a-bearer-token",
        base_url=root,
        retry=None,
        telemetry=otel.telemetry,
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.list_active_calls("ACD", 55)
    (point,) = otel.metrics()["activecalls.client.requests"]
    assert "http.response.status_code" not in point.attributes
    assert point.attributes["error.type"] == "activecalls_async.errors.APIConnectionError"


async def test_the_window_gauge_reads_the_limiter_on_its_loop_from_any_thread(
    sim: Simulator, otel: Recorded
) -> None:
    limiter = RateLimit(120, per=60)
    async with client_of(sim, otel, rate_limit=limiter) as client:
        for _ in range(3):
            await client.list_active_calls("ACCOUNT", sim.account_id)
        here = otel.metrics()[WINDOW]
        # An exporter collects from a thread of its own while the loop runs.
        elsewhere = (await asyncio.to_thread(otel.metrics))[WINDOW]
        assert client.stats.in_window == 3
    for points in (here, elsewhere):
        assert [(p.attributes, p.value) for p in points] == [
            ({"activecalls.limiter": "RateLimit(120, per=60)"}, 3)
        ]


async def test_a_shared_limiter_is_counted_once_and_separate_ones_add_up(
    sim: Simulator, otel: Recorded
) -> None:
    shared = RateLimit(100, per=60)
    async with (
        client_of(sim, otel, rate_limit=shared) as first,
        client_of(sim, otel, rate_limit=shared) as second,
        client_of(sim, otel, rate_limit=RateLimit(120, per=60)) as third,
        client_of(sim, otel, rate_limit=RateLimit(120, per=60)) as fourth,
        client_of(sim, otel, rate_limit=None) as unlimited,
    ):
        for client in (first, second, third, fourth, fourth, unlimited):
            await client.list_active_calls("ACCOUNT", sim.account_id)
        points = otel.metrics()[WINDOW]
    assert {p.attributes["activecalls.limiter"]: p.value for p in points} == {
        "RateLimit(100, per=60)": 2,
        "RateLimit(120, per=60)": 3,
    }


async def test_the_window_gauge_skips_a_loop_that_does_not_answer(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
        collected: list[dict[str, list[Point]]] = []
        collector = threading.Thread(target=lambda: collected.append(otel.metrics()))
        collector.start()
        time.sleep(1.0)  # noqa: ASYNC251 - the loop, blocked, cannot answer the collector
        collector.join(timeout=5)
        assert not collector.is_alive()
        assert collected[0].get(WINDOW, []) == []
        assert otel.metrics()[WINDOW][0].value == 1  # answered again once the loop runs


def test_the_window_is_read_after_the_loop_has_ended() -> None:
    """Exporters flush at shutdown, when the client's loop may be gone."""
    otel = recording()

    async def main() -> None:
        async with (
            Simulator(calls=3, rate_limit=None) as simulator,
            ActiveCallsClient(
                account_id=simulator.account_id,
                auth=simulator.token,
                base_url=simulator.base_url,
                telemetry=otel.telemetry,
            ) as client,
        ):
            await client.list_active_calls("ACCOUNT", simulator.account_id)
            await client.list_active_calls("ACCOUNT", simulator.account_id)

    asyncio.run(main())
    assert otel.metrics()[WINDOW][0].value == 2
    otel.meter_provider.shutdown()
    otel.tracer_provider.shutdown()


async def test_every_client_of_one_meter_provider_shares_its_instruments(
    sim: Simulator, otel: Recorded
) -> None:
    clients = [client_of(sim, otel) for _ in range(3)]
    for client in clients:
        async with client:
            await client.list_active_calls("ACCOUNT", sim.account_id)
    metrics = otel.metrics()
    assert sum(p.value for p in metrics["activecalls.client.requests"]) == 3
    # Three limiters named alike, each with one request in its window: one series.
    assert [(p.attributes, p.value) for p in metrics[WINDOW]] == [
        ({"activecalls.limiter": "RateLimit(120, per=60)"}, 3)
    ]


async def test_requests_of_each_priority_wait_in_their_own_series(
    sim: Simulator, otel: Recorded
) -> None:
    async with client_of(sim, otel, rate_limit=RateLimit(2, per=0.2)) as client:
        await asyncio.gather(
            *(
                client.list_active_calls("ACCOUNT", sim.account_id, priority=priority)
                for priority in (Priority.BULK, Priority.WATCH, Priority.READ, Priority.ACTION)
            )
        )
    waits = {
        p.attributes["activecalls.priority"]: p
        for p in otel.metrics()["activecalls.client.limiter.wait"]
    }
    assert set(waits) == {"BULK", "WATCH", "READ", "ACTION"}
    assert all(point.value == 1 for point in waits.values())
    # Two start at once; the rest wait for the window to free a slot.
    assert sum(1 for point in waits.values() if (point.total or 0) > 0.05) >= 2
