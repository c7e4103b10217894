"""``watch_active_calls``: snapshot diffs as events, failed polls, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator

import attrs
import pytest

from activecalls_async import (
    ActiveCallsClient,
    CallEvent,
    CallEventType,
    ClientClosedError,
    ValidationError,
)
from activecalls_async.testing import Faults, Simulator
from activecalls_async.watch import CallWatch, diff_snapshots

from .helpers import assert_no_tasks_left, client_for, make_call, wait_until

STARTED, CHANGED, ENDED = CallEventType.STARTED, CallEventType.CHANGED, CallEventType.ENDED
INTERVAL = 0.02


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=60, seed=3, rate_limit=None) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ActiveCallsClient]:
    async with client_for(sim, retry=None) as active_calls:
        yield active_calls


async def take(watch: CallWatch, count: int) -> list[CallEvent]:
    return [await asyncio.wait_for(watch.__anext__(), 5) for _ in range(count)]


def test_diff_snapshots() -> None:
    a, b, c = make_call(1), make_call(2), make_call(3)
    b2 = attrs.evolve(b, call_state="HOLD")
    events = diff_snapshots({a.uii: a, b.uii: b}, {b.uii: b2, c.uii: c})
    assert events == [
        CallEvent(CHANGED, b2, b),
        CallEvent(STARTED, c),
        CallEvent(ENDED, a),
    ]
    assert diff_snapshots({a.uii: a}, {a.uii: a}) == []


async def test_first_snapshot_then_arrivals_changes_and_departures(
    sim: Simulator, client: ActiveCallsClient
) -> None:
    product, product_id = "ACD", sim.targets()[1][1]
    assert sim.targets()[1][0] == "ACD"
    rows = sim.calls(product, product_id)
    async with client.watch_active_calls(
        product, product_id, interval=INTERVAL, page_size=7
    ) as watch:
        first = await take(watch, len(rows))
        assert [(e.type, e.call.uii) for e in first] == [(STARTED, r["uii"]) for r in rows]

        new = sim.add_call(product=product, product_id=product_id)
        (arrival,) = await take(watch, 1)
        assert (arrival.type, arrival.call.uii, arrival.previous) == (STARTED, new, None)

        changed_uii = rows[0]["uii"]
        sim.update_call(changed_uii, call_state="HOLD")
        (change,) = await take(watch, 1)
        assert (change.type, change.call.uii) == (CHANGED, changed_uii)
        assert change.call.call_state == "HOLD"
        assert change.previous is not None
        assert change.previous.call_state == rows[0]["callState"]

        sim.end_call(new)
        (departure,) = await take(watch, 1)
        assert (departure.type, departure.call.uii) == (ENDED, new)
    polls = [r for r in sim.requests if r.operation == "list"]
    gaps = [b.started - a.started for a, b in itertools.pairwise(polls) if b.param("page") == "0"]
    assert all(gap >= INTERVAL * 0.9 for gap in gaps)


async def test_a_failed_poll_is_logged_and_retried_without_false_endings(
    sim: Simulator, client: ActiveCallsClient, caplog: pytest.LogCaptureFixture
) -> None:
    product, product_id = sim.targets()[1]
    rows = sim.calls(product, product_id)
    watch = client.watch_active_calls(product, product_id, interval=INTERVAL)
    async with watch:
        await take(watch, len(rows))
        sim.faults = Faults(error_rate=1.0, error_status=503)
        ended = rows[-1]["uii"]
        sim.end_call(ended)
        next_event = asyncio.ensure_future(watch.__anext__())
        await wait_until(lambda: sum(r.status == 503 for r in sim.requests) >= 3)
        assert not next_event.done()  # failures produce no events, and no end
        sim.faults = Faults()
        event = await asyncio.wait_for(next_event, 5)
        assert (event.type, event.call.uii) == (ENDED, ended)
    failures = [r for r in caplog.records if "poll failed" in r.getMessage()]
    assert len(failures) >= 3
    assert all(r.levelno == logging.WARNING for r in failures)


async def test_cancelling_the_consumer_stops_the_watch_cleanly(
    sim: Simulator, client: ActiveCallsClient
) -> None:
    sim.faults = Faults(latency=0.05)
    events: list[CallEvent] = []

    async def consume() -> None:
        async for event in client.watch_active_calls(
            "ACCOUNT", sim.account_id, interval=0.01, page_size=10, prefetch=3
        ):
            events.append(event)

    task = asyncio.create_task(consume())
    await wait_until(lambda: bool(events))
    await asyncio.sleep(0.1)  # a later poll's pages are in flight now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_tasks_left()
    sim.faults = Faults()
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)


async def test_a_closed_client_ends_the_watch(sim: Simulator) -> None:
    client = client_for(sim)
    watch = client.watch_active_calls("ACCOUNT", sim.account_id, interval=INTERVAL)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await watch.__anext__()
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf"), True, "5"])
async def test_a_bad_interval_is_refused_before_any_request(
    sim: Simulator, client: ActiveCallsClient, interval: object
) -> None:
    with pytest.raises(ValidationError) as raised:
        client.watch_active_calls("ACCOUNT", sim.account_id, interval=interval)  # type: ignore[arg-type]
    assert raised.value.parameter == "interval"
    assert sim.requests == []
