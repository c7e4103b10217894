"""Priorities through the transport, the statistics it records and the lines it logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from activecalls_async import ActiveCallsClient, Priority, ValidationError
from activecalls_async._endpoints import ENDPOINTS
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import ACCOUNT, FAST, LoopClock, serve, wait_until


class RecordingLimiter:
    """A Limiter that lets everything through and records each priority it was asked for;
    given a clock, it holds each request ``delay`` seconds of that clock."""

    def __init__(self, delay: float = 0.0, clock: LoopClock | None = None) -> None:
        self.delay = delay
        self.clock = clock
        self.asked: list[Priority] = []
        self.released = 0

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        self.asked.append(priority)
        if self.clock is not None:
            self.clock.jump(self.delay)
        await asyncio.sleep(0)

    async def release(self) -> None:
        self.released += 1


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 60, "seed": 9, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    return {"retry": FAST, "rate_limit": None}


def test_call_control_acts_and_everything_else_reads_by_default() -> None:
    for endpoint in ENDPOINTS.values():
        expected = Priority.ACTION if endpoint.method == "POST" else Priority.READ
        assert endpoint.priority is expected, endpoint.operation


async def test_each_kind_of_request_asks_with_its_priority(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    limiter = RecordingLimiter()
    async with make_client(rate_limit=limiter, page_size=50) as client:
        calls = await client.list_active_calls("ACCOUNT", sim.account_id)
        assert limiter.asked[-1] is Priority.READ
        await client.toggle_call_recording(calls[0].uii, record=False)
        assert limiter.asked[-1] is Priority.ACTION
        async for _ in client.iter_active_calls("ACCOUNT", sim.account_id):
            pass
        assert limiter.asked[-1] is Priority.BULK
        async with client.watch_active_calls("ACCOUNT", sim.account_id, interval=0.01) as watch:
            await anext(aiter(watch))
        assert limiter.asked[-1] is Priority.WATCH
        await client.list_active_calls("ACCOUNT", sim.account_id, priority=Priority.BULK)
        assert limiter.asked[-1] is Priority.BULK
        async for _ in client.iter_active_calls("ACCOUNT", sim.account_id, priority=Priority.READ):
            pass
        assert limiter.asked[-1] is Priority.READ
    assert limiter.released == len(limiter.asked)


@pytest.mark.parametrize("priority", [3, "ACTION", None])
async def test_a_priority_must_be_a_priority(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, priority: Any
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    with pytest.raises(ValidationError) as caught:
        await client.list_active_calls("ACCOUNT", sim.account_id, priority=priority)
    with pytest.raises(ValidationError):
        client.iter_active_calls("ACCOUNT", sim.account_id, priority=priority)
    assert caught.value.parameter == "priority"
    assert sim.requests == []


async def test_an_action_overtakes_queued_bulk_reads_and_bulk_still_gets_through() -> None:
    served: list[str] = []

    arrived: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        arrived.append(request.path)
        await asyncio.sleep(0.05)
        served.append(request.path.rsplit("/", 1)[-1])
        if request.method == "POST":
            return web.Response(text="true")
        return web.json_response([])

    async with (
        serve(handle) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="tok-123456789",
            base_url=root,
            max_concurrency=1,
            rate_limit=None,
        ) as client,
    ):
        bulk = [
            asyncio.create_task(client.list_active_calls("ACD", 55, priority=Priority.BULK))
            for _ in range(5)
        ]
        await wait_until(lambda: len(arrived) == 1)  # the first is served, four wait for the slot
        await client.hangup_call("1234-abc")
        assert served[:2] == ["list", "hangupCall"]
        await asyncio.gather(*bulk)
    assert served == ["list", "hangupCall", "list", "list", "list", "list"]


async def test_stats_count_what_the_server_saw(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    sim.faults = Faults(error_rate=0.3, error_status=503, operations={"list"}, seed=4)
    async with make_client(page_size=7) as client:
        calls = [c async for c in client.iter_active_calls("ACCOUNT", sim.account_id)]
        sim.faults = Faults()
        await client.hangup_call(calls[0].uii)
        with pytest.raises(Exception):  # noqa: B017, PT011 - a 404 of any kind
            await client.hangup_call(calls[0].uii)
        stats = client.stats
    server = [(r.operation, r.status) for r in sim.requests]
    assert stats.requests == len(server)
    assert dict(stats.by_operation) == {
        "list": sum(1 for op, _ in server if op == "list"),
        "hangupCall": 2,
    }
    by_status: dict[int, int] = {}
    for _, status in server:
        by_status[status] = by_status.get(status, 0) + 1
    assert dict(stats.by_status) == by_status
    assert stats.retries == by_status.get(503, 0)
    assert stats.retries > 0
    assert stats.waited[Priority.BULK] >= 0.0


@pytest.mark.activecalls_client(retry=None)
async def test_429s_are_counted_as_rate_limited(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(error_rate=1.0, error_status=429, operations={"list"})
    with pytest.raises(Exception):  # noqa: B017, PT011 - RateLimitError
        await client.list_active_calls("ACCOUNT", sim.account_id)
    assert (client.stats.requests, client.stats.rate_limited) == (1, 1)


async def test_a_long_wait_for_the_limiter_is_logged_at_info(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    caplog.set_level(logging.INFO, logger="activecalls_async")
    limiter = RecordingLimiter(delay=1.05, clock=LoopClock(monkeypatch))
    async with make_client(rate_limit=limiter) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id, priority=Priority.WATCH)
        assert client.stats.waited[Priority.WATCH] >= 1.0
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("list: waited 1.")
    assert "for the rate limit (priority WATCH)" in line


async def test_each_attempt_is_one_debug_line_without_secrets(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    caplog.set_level(logging.DEBUG, logger="activecalls_async")
    async with make_client() as client:
        await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=5)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"list {sim.base_url}/api/v1/admin/accounts/")
    assert "-> 200 in " in line
    assert "(attempt 1, waited 0.000s for the limiter, 0.000s for a slot, priority READ)" in line
    assert sim.token not in caplog.text


class BulkHeldBack:
    """A Limiter that holds BULK back until told, and lets every other priority through."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = 0

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        if priority is Priority.BULK:
            self.waiting += 1
            await self.open.wait()
            self.waiting -= 1

    async def release(self) -> None:
        pass


async def test_bulk_waiting_for_the_limiter_holds_no_slot_an_action_needs(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    limiter = BulkHeldBack()
    async with make_client(rate_limit=limiter, max_concurrency=2) as client:
        calls = await client.list_active_calls("ACCOUNT", sim.account_id)
        bulk = [
            asyncio.create_task(
                client.list_active_calls("ACCOUNT", sim.account_id, priority=Priority.BULK)
            )
            for _ in range(6)
        ]
        await wait_until(lambda: limiter.waiting == 6)
        # Let through by the limiter, the action finds a free slot at once.
        await asyncio.wait_for(client.toggle_call_recording(calls[0].uii, record=False), 1.0)
        limiter.open.set()
        await asyncio.gather(*bulk)
    assert [r.operation for r in sim.requests].count("list") == 7
