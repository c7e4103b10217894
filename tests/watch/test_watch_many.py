"""``watch_active_calls_many``: one snapshot per poll of many listings, within a budget."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs
import pytest

from activecalls_async import (
    ActiveCallsClient,
    CallEventType,
    ClientClosedError,
    PermissionDeniedError,
    Priority,
    RateLimit,
    ServerError,
    Snapshot,
    SnapshotWatch,
    Target,
    ValidationError,
)
from activecalls_async._paging import PagingMemo
from activecalls_async.pagination import PageWalk, WalkShape
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import (
    FakeListing,
    assert_no_tasks_left,
    make_call,
    make_calls,
    snapshot_watch,
    wait_until,
)

STARTED, CHANGED, ENDED = CallEventType.STARTED, CallEventType.CHANGED, CallEventType.ENDED
INTERVAL = 0.02

#: Simulator(calls=60, seed=3): every call of DNIS 8661234567 is also in ACD queue 55.
QUEUE = Target("ACD", 55)
QUEUE_DNIS = Target("DNIS", 8661234567)
OTHERS = [Target("ACD", 57), Target("OUTBOUND", 101), Target("CLOUD_PROFILE", 301)]
PAGE = 20  # more than any of these listings holds, less than the account's 60 calls


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 60, "seed": 3, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    # No rate limit: these polls come faster than any budget allows (see the budget
    # tests). The server is known to send pages of ``PAGE``: a shorter first page is a
    # whole listing, read in one answer.
    return {"retry": None, "rate_limit": None, "server_max_rows": PAGE}


def list_requests(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.operation == "list")


def in_order(sim: Simulator, target: Target) -> list[str]:
    """The uiis the simulator lists under ``target`` now, in listing order."""
    product_id = None if target.product_id is None else int(target.product_id)
    return [call.uii for call in sim.state.listing(target.product.value, product_id)]


def uiis(sim: Simulator, *targets: Target) -> set[str]:
    """The uiis the simulator lists under any of ``targets`` now."""
    return {uii for target in targets for uii in in_order(sim, target)}


async def next_snapshot(watch: SnapshotWatch) -> Snapshot:
    return await asyncio.wait_for(watch.__anext__(), 5)


def summary(snapshot: Snapshot) -> list[tuple[CallEventType, str]]:
    return [(event.type, event.call.uii) for event in snapshot.events]


# -- against the simulator -------------------------------------------------------------


async def test_snapshots_follow_calls_starting_changing_and_ending(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    targets = [QUEUE, QUEUE_DNIS, *OTHERS]
    async with client.watch_active_calls_many(
        [(t.product, t.product_id) for t in targets], interval=INTERVAL, page_size=PAGE
    ) as watch:
        first = await next_snapshot(watch)
        in_flight = uiis(sim, *targets)
        assert set(first.calls) == in_flight
        # The DNIS lists only calls of queue 55: each is one call, with both sources.
        shared = uiis(sim, QUEUE_DNIS)
        assert shared
        assert shared <= uiis(sim, QUEUE)
        assert len(first.events) == len(in_flight)
        assert {event.type for event in first.events} == {STARTED}
        assert {event.call.uii for event in first.events} == in_flight
        assert all(set(first.sources[uii]) == {QUEUE, QUEUE_DNIS} for uii in shared)
        assert first.sources[next(iter(uiis(sim, OTHERS[0])))] == (OTHERS[0],)
        assert first.errors == {}
        assert isinstance(first.calls, MappingProxyType)
        assert first.taken_at.tzinfo is not None

        arrival = sim.add_call(product="ACD", product_id=57)
        changed = sorted(shared)[0]
        sim.update_call(changed, call_state="HOLD")
        departure = sorted(uiis(sim, OTHERS[1]))[0]
        assert sim.end_call(departure)
        second = await next_snapshot(watch)
        # Every listing fits in one page the server is known to send: a call missing
        # from it has ended at once.
        assert sorted(summary(second)) == sorted(
            [(STARTED, arrival), (CHANGED, changed), (ENDED, departure)]
        )
        assert [e.type for e in second.events][-1] is ENDED  # endings come last
        (change,) = [e for e in second.events if e.type is CHANGED]
        assert change.call.call_state == "HOLD"
        assert change.previous is not None
        assert change.previous.call_state != "HOLD"
        assert set(second.calls) == uiis(sim, *targets)
        assert second.requests == len(targets)  # one request per listing

        # Ending a call listed by two targets ends it once.
        assert sim.end_call(changed)
        third = await next_snapshot(watch)
        assert summary(third) == [(ENDED, changed)]
        assert changed not in third.calls
        quiet = await next_snapshot(watch)
        assert quiet.events == ()
        assert quiet.interval >= INTERVAL * 0.9


async def test_a_call_missing_from_a_listing_of_several_pages_ends_one_poll_late(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    async with client.watch_active_calls_many(
        [QUEUE, OTHERS[0]], interval=INTERVAL, page_size=3
    ) as watch:
        await next_snapshot(watch)
        gone = in_order(sim, QUEUE)[0]  # 8 calls: three pages of 3
        assert sim.end_call(gone)
        missed_once = await next_snapshot(watch)
        assert missed_once.events == ()
        assert gone in missed_once.calls  # believed in flight until a second miss
        confirmed = await next_snapshot(watch)
        assert summary(confirmed) == [(ENDED, gone)]
        assert gone not in confirmed.calls


async def test_requests_per_poll_are_the_servers_own_count(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    targets = [QUEUE, QUEUE_DNIS, *OTHERS, Target("ACCOUNT", sim.account_id)]
    async with client.watch_active_calls_many(targets, interval=INTERVAL, page_size=PAGE) as watch:
        counted = 0
        costs = []
        for _ in range(4):
            snapshot = await next_snapshot(watch)
            counted += snapshot.requests
            costs.append(snapshot.requests)
            # Polls do not overlap: everything the server saw so far belongs to them.
            assert list_requests(sim) == counted
            sim.add_call(product="ACD", product_id=55)
    # The account (60 calls and more) takes several pages; each of the other
    # listings takes at least one.
    assert all(cost >= len(targets) + 3 for cost in costs)


async def test_a_failing_listing_keeps_its_calls_and_the_watch_going(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    async with client.watch_active_calls_many(
        [QUEUE, *OTHERS], interval=INTERVAL, page_size=PAGE
    ) as watch:
        first = await next_snapshot(watch)
        sim.faults = Faults(error_rate=1.0, error_status=503)
        gone = sorted(uiis(sim, QUEUE))[0]
        assert sim.end_call(gone)
        failed = await next_snapshot(watch)
        assert set(failed.errors) == {QUEUE, *OTHERS}
        assert all(isinstance(e, ServerError) for e in failed.errors.values())
        assert failed.events == ()
        assert failed.calls == first.calls  # nothing proved gone
        assert failed.requests == 1 + len(OTHERS)
        sim.faults = Faults()
        healed = await next_snapshot(watch)
        assert summary(healed) == [(ENDED, gone)]
        assert healed.errors == {}
    warnings = [r for r in caplog.records if "listings failed" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


async def test_rejected_credentials_end_the_watch_at_once(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    async with activecalls_client_factory(account_id="999") as client:
        watch = client.watch_active_calls_many([QUEUE, *OTHERS], interval=INTERVAL)
        with pytest.raises(PermissionDeniedError):
            await next_snapshot(watch)
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()
    assert len(sim.requests) == 1 + len(OTHERS)  # one poll, never a second


async def test_a_closed_client_ends_the_watch(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    client = activecalls_client_factory(server_max_rows=None)
    watch = client.watch_active_calls_many([QUEUE], interval=INTERVAL)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await watch.__anext__()
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()
    assert sim.requests == []


# -- the budget ------------------------------------------------------------------------

MANY = [QUEUE, QUEUE_DNIS, *OTHERS, Target("ACD", 58), Target("DNIS", 8889718503)]


async def test_a_watch_over_its_share_of_the_limit_stretches_its_interval(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    # 20 requests a second: a watch may use 10. Half-second windows: the server's view of
    # the polls' spacing below tolerates the jitter of a loaded machine (5% of a poll's gap).
    limit = RateLimit(10, per=0.5)
    async with (
        make_client(rate_limit=limit) as client,
        client.watch_active_calls_many(MANY, interval=INTERVAL, page_size=PAGE) as watch,
    ):
        snapshots = [await next_snapshot(watch) for _ in range(4)]
    # 7 requests a poll, more than the 5 the watch may start in any window of 0.5 s
    # (0.55 s with the limiter's margin): spread to 5 per 0.55 s, one poll every 0.77 s.
    allowed = len(MANY) * (limit.per + limit.margin) / (0.5 * limit.requests)
    assert [s.requests for s in snapshots] == [len(MANY)] * 4
    for snapshot in snapshots[1:]:
        assert allowed * 0.95 <= snapshot.interval < allowed + 1.0
    stretched = [r for r in caplog.records if "polling every" in r.getMessage()]
    assert len(stretched) == 1
    assert stretched[0].levelno == logging.WARNING
    assert f"a poll costs {len(MANY)} requests" in stretched[0].getMessage()
    # The server saw the polls spread as the budget says: on average one allowed gap apart,
    # and no two bunched (each gap may lose to a loaded machine what the next one gains).
    polls = [r.started for r in sim.requests if r.operation == "list"][-4 * len(MANY) :]
    starts = polls[:: len(MANY)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert sum(gaps) / len(gaps) >= allowed * 0.95
    assert min(gaps) >= allowed * 0.8


async def test_a_watch_within_its_share_keeps_its_interval(
    activecalls_client_factory: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    limit = RateLimit(1000, per=1.0)
    async with (
        activecalls_client_factory(rate_limit=limit) as client,
        client.watch_active_calls_many(
            MANY, interval=0.05, budget_share=0.2, page_size=PAGE
        ) as watch,
    ):
        snapshots = [await next_snapshot(watch) for _ in range(3)]
    assert all(s.interval < 0.05 + 0.5 for s in snapshots)
    assert not [r for r in caplog.records if "polling every" in r.getMessage()]


class Unmetered:
    """A limiter that says nothing of its rate."""

    def __init__(self) -> None:
        self.acquired: list[Priority] = []

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        self.acquired.append(priority)

    async def release(self) -> None:
        pass


async def test_a_limiter_without_a_rate_never_stretches(
    activecalls_client_factory: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = Unmetered()
    async with (
        activecalls_client_factory(rate_limit=limiter, server_max_rows=None) as client,
        client.watch_active_calls_many(MANY, interval=0.01) as watch,
    ):
        snapshots = [await next_snapshot(watch) for _ in range(3)]
    assert len(limiter.acquired) == sum(s.requests for s in snapshots)
    assert not [r for r in caplog.records if "polling every" in r.getMessage()]


# -- closing ---------------------------------------------------------------------------


async def test_cancelling_the_consumer_cancels_the_poll_in_flight(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    snapshots: list[Snapshot] = []

    async def consume() -> None:
        async for snapshot in client.watch_active_calls_many(MANY, interval=0.01):
            snapshots.append(snapshot)
            sim.faults = Faults(latency=0.2)  # the next poll's requests stay in flight

    task = asyncio.create_task(consume())
    await wait_until(lambda: bool(snapshots))
    await wait_until(lambda: any(r.status == 0 for r in sim.requests))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_tasks_left()
    sim.faults = Faults()
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)


async def test_leaving_async_with_closes_the_watch(activecalls_client: ActiveCallsClient) -> None:
    client = activecalls_client
    async with client.watch_active_calls_many(MANY, interval=INTERVAL) as watch:
        async for _ in watch:
            break
    await assert_no_tasks_left()
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()


async def test_a_watch_closed_before_its_first_poll_sends_nothing(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    watch = client.watch_active_calls_many(MANY, interval=INTERVAL)
    await watch.aclose()
    assert [s async for s in watch] == []
    assert sim.requests == []


async def test_aclose_from_another_task_stops_after_the_poll_in_flight(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(latency=0.05)
    watch = client.watch_active_calls_many(MANY, interval=INTERVAL)
    poll = asyncio.ensure_future(watch.__anext__())
    await wait_until(lambda: bool(sim.requests))
    await watch.aclose()
    assert isinstance(await asyncio.wait_for(poll, 5), Snapshot)
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()
    await assert_no_tasks_left()


async def test_one_task_at_a_time(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(latency=0.05)
    async with client.watch_active_calls_many(MANY, interval=INTERVAL) as watch:
        first = asyncio.ensure_future(watch.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already being iterated"):
            await watch.__anext__()
        assert isinstance(await asyncio.wait_for(first, 5), Snapshot)


# -- bad input -------------------------------------------------------------------------

BAD: list[tuple[str, dict[str, Any]]] = [
    ("targets", {"targets": []}),
    ("targets", {"targets": "ACD"}),
    ("targets", {"targets": [("ACD",)]}),
    ("targets", {"targets": 55}),
    ("product", {"targets": [("NOPE", 55)]}),
    ("product_id", {"targets": [("ACD", "5x")]}),
    ("interval", {"interval": 0}),
    ("interval", {"interval": float("nan")}),
    ("budget_share", {"budget_share": 0}),
    ("budget_share", {"budget_share": -0.5}),
    ("budget_share", {"budget_share": 1.5}),
    ("budget_share", {"budget_share": float("nan")}),
    ("budget_share", {"budget_share": True}),
    ("budget_share", {"budget_share": "0.5"}),
    ("budget_share", {"budget_share": None}),
    ("page_size", {"page_size": 0}),
    ("concurrency", {"concurrency": 0}),
    ("timeout", {"timeout": -1}),
    ("retry", {"retry": 3}),
]


@pytest.mark.parametrize(("parameter", "options"), BAD, ids=[f"{p}-{o}" for p, o in BAD])
async def test_bad_input_is_refused_before_any_request(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    parameter: str,
    options: dict[str, Any],
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    arguments = {"targets": [QUEUE], **options}
    with pytest.raises(ValidationError) as raised:
        client.watch_active_calls_many(**arguments)
    assert raised.value.parameter == parameter
    assert parameter in str(raised.value)
    assert sim.requests == []


async def test_duplicate_targets_are_watched_once(activecalls_client: ActiveCallsClient) -> None:
    client = activecalls_client
    watch = client.watch_active_calls_many([QUEUE, ("ACD", "55"), ("acd", 55)])
    assert watch.targets == (QUEUE,)
    assert "1 listings" in repr(watch)
    await watch.aclose()


# -- which missing calls have ended, listing by listing ----------------------------------


def watch_fakes(
    listings: dict[Target, FakeListing], *, page_size: int = 10, known_page: int = 0
) -> SnapshotWatch:
    # Pages the server is known to send whole: a listing shorter is read in one answer.
    memo = PagingMemo(server_max_rows=known_page or None)

    def open_walk(target: Target) -> PageWalk:
        return PageWalk(
            listings[target].fetch, WalkShape(page_size=page_size), memo=memo, label=str(target)
        )

    return snapshot_watch(open_walk, list(listings), interval=0.001, concurrency=2)


A, B, C = Target("ACD", 1), Target("ACD", 2), Target("DNIS", 3)


async def polls(watch: SnapshotWatch, count: int) -> list[Snapshot]:
    return [await next_snapshot(watch) for _ in range(count)]


def requests_of(*listings: FakeListing) -> int:
    return sum(len(listing.requests) for listing in listings)


async def test_a_call_moving_between_watched_listings_never_ends() -> None:
    calls = make_calls(6)
    a, b = FakeListing(calls[:3]), FakeListing(calls[3:])
    async with watch_fakes({A: a, B: b}, known_page=10) as watch:
        first = await next_snapshot(watch)
        assert list(first.calls) == [call.uii for call in calls]  # grouped by target
        moved = attrs.evolve(calls[0], destination_name="Queue 2")
        a.calls.remove(calls[0])
        b.calls.append(moved)
        second = await next_snapshot(watch)
        assert summary(second) == [(CHANGED, moved.uii)]
        assert second.sources[moved.uii] == (B,)


async def test_a_shared_call_ends_when_every_listing_holding_it_proves_it() -> None:
    calls = make_calls(25)
    shared = calls[0]
    # A reads in one page; C takes three pages of 10 (a miss there needs confirming).
    a, c = FakeListing([shared, *calls[1:4]]), FakeListing([shared, *calls[4:25]])
    async with watch_fakes({A: a, C: c}, known_page=10) as watch:
        first = await next_snapshot(watch)
        assert set(first.sources[shared.uii]) == {A, C}
        a.calls.remove(shared)
        c.calls.remove(shared)
        second = await next_snapshot(watch)
        assert second.events == ()  # A proves it, C has missed it once
        assert shared.uii in second.calls
        third = await next_snapshot(watch)
        assert summary(third) == [(ENDED, shared.uii)]
        assert third.events[0].call == shared


async def test_a_failed_listing_neither_ends_nor_confirms(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = make_calls(8)
    a, b = FakeListing(calls[:4]), FakeListing(calls[4:])
    async with watch_fakes({A: a, B: b}, known_page=10) as watch:
        await next_snapshot(watch)
        a.calls.remove(calls[0])
        b.calls.remove(calls[4])
        a.fail_page, a.fail_with = 0, ServerError("Service Unavailable", status=503)
        before = requests_of(a, b)
        failed = await next_snapshot(watch)
        assert summary(failed) == [(ENDED, calls[4].uii)]  # B read whole; A proved nothing
        assert calls[0].uii in failed.calls
        assert list(failed.errors) == [A]
        assert failed.requests == requests_of(a, b) - before == 2
        a.fail_page = None
        healed = await next_snapshot(watch)
        assert summary(healed) == [(ENDED, calls[0].uii)]
    (warning,) = [r.getMessage() for r in caplog.records if "listings failed" in r.getMessage()]
    assert "ACD 1: HTTP 503" in warning


async def test_a_watch_continued_from_a_snapshot_follows_on_from_it() -> None:
    calls = make_calls(8)
    a, b = FakeListing(calls[:4]), FakeListing(calls[4:])
    async with watch_fakes({A: a, B: b}, known_page=10) as first_poller:
        last = await next_snapshot(first_poller)
    a.calls.remove(calls[0])
    added = make_call(99)
    b.calls.append(added)
    b.fail_page, b.fail_with = 0, ServerError("Service Unavailable", status=503)
    async with watch_fakes({A: a, B: b}, known_page=10) as next_poller:
        next_poller.continue_from(last)
        failed = await next_snapshot(next_poller)
        # Only what changed since ``last``: A's call ended; B's calls kept as last seen.
        assert summary(failed) == [(ENDED, calls[0].uii)]
        assert set(failed.calls) == {call.uii for call in calls[1:]}
        assert failed.sources[calls[5].uii] == (B,)
        b.fail_page = None
        healed = await next_snapshot(next_poller)
        assert summary(healed) == [(STARTED, added.uii)]


async def test_a_miss_awaiting_confirmation_waits_once_more_after_continue_from() -> None:
    calls = make_calls(25)
    c = FakeListing(calls)  # three pages of 10: a miss needs confirming
    async with watch_fakes({C: c}, known_page=10) as first_poller:
        await next_snapshot(first_poller)
        c.calls.remove(calls[3])
        missed_once = await next_snapshot(first_poller)
    assert missed_once.events == ()
    assert calls[3].uii in missed_once.calls
    async with watch_fakes({C: c}, known_page=10) as next_poller:
        next_poller.continue_from(missed_once)
        assert (await next_snapshot(next_poller)).events == ()  # a miss of its own first
        assert summary(await next_snapshot(next_poller)) == [(ENDED, calls[3].uii)]


async def test_a_listing_stopped_early_ends_none_of_its_calls() -> None:
    calls = make_calls(30)
    a = FakeListing(calls, ignore_page=True)  # the server ignores page: walks stop early
    async with watch_fakes({A: a}) as watch:
        first = await next_snapshot(watch)
        assert len(first.calls) == 10
        a.calls.remove(calls[0])
        second = await next_snapshot(watch)
        assert summary(second) == [(STARTED, calls[10].uii)]
        assert calls[0].uii in second.calls


async def test_a_failure_that_cannot_heal_ends_the_watch() -> None:
    error = PermissionDeniedError("Forbidden", status=403)
    a, b = FakeListing(make_calls(3)), FakeListing(make_calls(3, tag="b"))
    async with watch_fakes({A: a, B: b}, known_page=10) as watch:
        await next_snapshot(watch)
        b.fail_page, b.fail_with = 0, error
        with pytest.raises(PermissionDeniedError) as raised:
            await next_snapshot(watch)
        assert raised.value is error
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()


async def test_a_bug_in_a_listing_ends_the_watch() -> None:
    a = FakeListing(make_calls(3), fail_page=0, fail_with=KeyError("bug"))
    async with watch_fakes({A: a}) as watch:
        with pytest.raises(KeyError):
            await next_snapshot(watch)
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()


async def test_requests_count_every_page_asked_for() -> None:
    a, b = FakeListing(make_calls(25)), FakeListing(make_calls(4, tag="b"))
    async with watch_fakes({A: a, B: b}) as watch:
        counted = [s.requests for s in await polls(watch, 3)]
    # A: pages of 10, 10 and 5. B: 4 rows, then page 1 to prove them whole (every poll:
    # A's full pages say nothing of B's cap, which may have appeared since).
    assert sum(counted) == requests_of(a, b)
    assert counted == [5, 5, 5]


async def test_with_a_known_page_size_a_short_listing_costs_one_request() -> None:
    a, b = FakeListing(make_calls(25)), FakeListing(make_calls(4, tag="b"))
    async with watch_fakes({A: a, B: b}, known_page=10) as watch:
        counted = [s.requests for s in await polls(watch, 3)]
    assert sum(counted) == requests_of(a, b)
    assert counted == [4, 4, 4]


def test_snapshot_is_frozen_and_its_repr_is_short() -> None:
    calls = make_calls(2)
    snapshot = Snapshot(
        calls=MappingProxyType({call.uii: call for call in calls}),
        events=(),
        taken_at=datetime(2026, 1, 1, 12, 0, 5),
        requests=2,
        interval=5.0,
    )
    assert repr(snapshot) == "<Snapshot 12:00:05 2 calls, 0 events, 2 requests, interval 5s>"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snapshot.requests = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.calls["x"] = calls[0]  # type: ignore[index]
    assert snapshot.sources == {}
    assert snapshot.errors == {}
