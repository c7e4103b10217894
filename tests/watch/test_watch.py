"""``watch_active_calls``: snapshot diffs as events, failed polls, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import statistics
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activecalls_async import (
    ActiveCallsClient,
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CallEvent,
    CallEventType,
    ClientClosedError,
    NotFoundError,
    PermissionDeniedError,
    Priority,
    RateLimit,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    ValidationError,
)
from activecalls_async._pace import BudgetShare
from activecalls_async._paging import PagingMemo
from activecalls_async.pagination import PageWalk, WalkShape
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from activecalls_async.watch import CallWatch, diff_snapshots
from tests.support import (
    FakeListing,
    assert_no_tasks_left,
    call_watch,
    list_requests,
    make_call,
    make_calls,
    serving,
    wait_until,
)

STARTED, CHANGED, ENDED = CallEventType.STARTED, CallEventType.CHANGED, CallEventType.ENDED
INTERVAL = 0.02


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 60, "seed": 3, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    # No rate limit: these polls come faster than any budget allows (see the budget tests).
    return {"retry": None, "rate_limit": None}


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
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    product, product_id = "ACD", sim.targets()[1][1]
    assert sim.targets()[1][0] == "ACD"
    rows = sim.wire_calls(product, product_id)
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
    starts = [r.started for r in polls if r.param("page") == "0"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The median, not every gap: a poll slowed past the interval by a loaded machine is
    # rightly followed by the next at once, while polling in a tight loop moves the median.
    assert statistics.median(gaps) >= INTERVAL * 0.9


async def test_a_failed_poll_is_logged_and_retried_without_false_endings(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    product, product_id = sim.targets()[1]
    rows = sim.wire_calls(product, product_id)
    watch = client.watch_active_calls(product, product_id, interval=INTERVAL)
    async with watch:
        await take(watch, len(rows))
        sim.faults = Faults(error_rate=1.0, error_status=503)
        ended = rows[-1]["uii"]
        sim.end_call(ended)
        next_event = asyncio.ensure_future(watch.__anext__())
        await wait_until(lambda: len(failures_logged(caplog)) >= 3)
        assert not next_event.done()  # failures produce no events, and no end
        sim.faults = Faults()
        event = await asyncio.wait_for(next_event, 5)
        assert (event.type, event.call.uii) == (ENDED, ended)
    failures = failures_logged(caplog)
    assert len(failures) >= 3
    assert all(r.levelno == logging.WARNING for r in failures)


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "poll failed" in r.getMessage()]


async def test_cancelling_the_consumer_stops_the_watch_cleanly(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(latency=0.05)
    events: list[CallEvent] = []

    async def consume() -> None:
        async for event in client.watch_active_calls(
            "ACCOUNT", sim.account_id, interval=0.01, page_size=10, prefetch=3
        ):
            events.append(event)

    task = asyncio.create_task(consume())
    await wait_until(lambda: bool(events))
    await wait_until(lambda: serving(sim) > 0)  # a later poll's pages are in flight now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_tasks_left()
    sim.faults = Faults()
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)


async def test_a_closed_client_ends_the_watch(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    client = make_client()
    watch = client.watch_active_calls("ACCOUNT", sim.account_id, interval=INTERVAL)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await watch.__anext__()
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf"), True, "5"])
async def test_a_bad_interval_is_refused_before_any_request(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, interval: object
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    with pytest.raises(ValidationError) as raised:
        client.watch_active_calls("ACCOUNT", sim.account_id, interval=interval)  # type: ignore[arg-type]
    assert raised.value.parameter == "interval"
    assert sim.requests == []


# -- which missing calls have ended ------------------------------------------------------


def polls_started(listing: FakeListing) -> int:
    return listing.walks


def walks_of(
    listing: FakeListing, *, page_size: int = 10, memo: PagingMemo | None = None
) -> Callable[[], PageWalk]:
    """Opens a walk of ``listing`` for each poll, counting the polls."""
    shared = PagingMemo() if memo is None else memo

    def open_walk() -> PageWalk:
        listing.walks += 1
        return PageWalk(listing.fetch, WalkShape(page_size=page_size), memo=shared)

    return open_walk


def watch_listing(
    listing: FakeListing, *, page_size: int = 10, memo: PagingMemo | None = None
) -> CallWatch:
    return call_watch(walks_of(listing, page_size=page_size, memo=memo), interval=0.001)


async def events_by_poll(
    watch: CallWatch, listing: FakeListing, polls: int
) -> list[tuple[int, CallEvent]]:
    """Every event of the first ``polls`` polls, with the poll that produced it.

    A watch polls only once the events of the last poll are taken, so once poll
    ``polls + 1`` has started, every event of the polls before it has been taken.
    """
    got: list[tuple[int, CallEvent]] = []

    async def consume() -> None:
        async for event in watch:
            got.append((polls_started(listing), event))

    task = asyncio.create_task(consume())
    try:
        await wait_until(lambda: polls_started(listing) > polls)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return got


def summary(events: list[tuple[int, CallEvent]]) -> list[tuple[int, CallEventType, str]]:
    return [(poll, event.type, event.call.uii) for poll, event in events]


async def test_a_call_missed_by_one_walk_of_several_pages_is_not_ended() -> None:
    calls = make_calls(30)
    listing = FakeListing(calls)
    changed = attrs.evolve(calls[20], call_state="HOLD")

    def churn(page: int) -> None:
        poll = polls_started(listing)
        if poll == 2 and page == 2:
            # calls[0] ends while the walk reads page 2: calls[20] moves up onto page 1,
            # already read, so this walk misses it although it is still in flight.
            listing.calls.remove(calls[0])
        if poll == 3 and page == 0:
            listing.calls[listing.calls.index(calls[20])] = changed

    listing.before_page = churn
    got = await events_by_poll(watch_listing(listing), listing, 4)
    assert summary(got[:30]) == [(1, STARTED, call.uii) for call in calls]
    # calls[20]: missed by poll 2 only, so never ended nor started again; its change
    # since poll 1 is reported. calls[0] (read by poll 2 before it ended): missed by
    # polls 3 and 4, so ended at poll 4, one poll late.
    assert summary(got[30:]) == [(3, CHANGED, calls[20].uii), (4, ENDED, calls[0].uii)]
    assert got[30][1].previous == calls[20]
    assert got[31][1].call == calls[0]


async def test_a_call_missing_from_a_listing_read_in_one_page_ends_at_once() -> None:
    memo = PagingMemo(server_max_rows=10)  # the server sends pages of 10: 5 rows are the end
    calls = make_calls(5)
    listing = FakeListing(calls)

    def end_one(page: int) -> None:
        if polls_started(listing) == 2:
            listing.calls.remove(calls[2])

    listing.before_page = end_one
    got = await events_by_poll(watch_listing(listing, memo=memo), listing, 3)
    assert summary(got) == [
        *[(1, STARTED, call.uii) for call in calls],
        (2, ENDED, calls[2].uii),
    ]
    assert set(listing.requests) == {(0, 10)}  # one page per poll


async def test_a_walk_stopped_early_ends_no_call() -> None:
    # The server ignores ``page``: each walk reads page 0 and stops, short of the end.
    calls = make_calls(30)
    listing = FakeListing(calls, ignore_page=True)

    def end_one(page: int) -> None:
        if polls_started(listing) == 2 and calls[0] in listing.calls:
            listing.calls.remove(calls[0])

    listing.before_page = end_one
    got = await events_by_poll(watch_listing(listing), listing, 4)
    assert summary(got) == [
        *[(1, STARTED, call.uii) for call in calls[:10]],
        (2, STARTED, calls[10].uii),
    ]


async def test_a_walk_stopped_early_neither_confirms_nor_clears_a_miss() -> None:
    calls = make_calls(30)
    listing = FakeListing(calls)

    def churn(page: int) -> None:
        poll = polls_started(listing)
        if poll == 2 and page == 0:
            listing.calls.remove(calls[25])  # ends: missed by poll 2
        if poll == 2 and page == 2:
            listing.calls.remove(calls[5])  # ends after poll 2 read it; calls[20] moves
            # up onto page 1, already read: poll 2 misses it too
        listing.ignore_page = poll == 3  # poll 3 reads page 0 twice and stops early

    listing.before_page = churn
    got = await events_by_poll(watch_listing(listing), listing, 5)
    assert summary(got[:30]) == [(1, STARTED, call.uii) for call in calls]
    # Poll 3 misses everything past page 0 but proves nothing. calls[25]: missed by the
    # whole polls 2 and 4, ended at poll 4; calls[5]: missed by polls 4 and 5; calls[20]
    # was never gone.
    assert summary(got[30:]) == [(4, ENDED, calls[25].uii), (5, ENDED, calls[5].uii)]


@pytest.mark.activecalls_simulator(
    calls=300, seed=5, live=True, arrival_rate=40, mean_call_seconds=8, latency=0.005
)
async def test_under_churn_no_call_in_flight_is_ended_or_started_twice(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    ended: set[str] = set()
    false_ends: list[str] = []
    restarted: list[str] = []

    async def consume() -> None:
        async with client.watch_active_calls(
            "ACCOUNT", sim.account_id, interval=0.05, page_size=25
        ) as watch:
            async for event in watch:
                uii = event.call.uii
                if event.type is ENDED:
                    ended.add(uii)
                    if sim.wire_call(uii) is not None:
                        false_ends.append(uii)
                elif event.type is STARTED and uii in ended:
                    restarted.append(uii)

    # Real time: live traffic ends and starts calls while multi-page walks are on the
    # wire. asyncio.TimeoutError: on Python 3.10 it is not the builtin TimeoutError.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(consume(), 2.0)
    assert len(ended) > 20  # calls really ended during multi-page walks
    assert false_ends == []
    assert restarted == []


# -- failures that heal, and failures that do not ---------------------------------------

PERMANENT: list[ActiveCallsError] = [
    AuthenticationError("Invalid token", status=401),
    # The transport renews a token that can be renewed; one still expired here cannot.
    AuthenticationError("Jwt is expired", status=401),
    PermissionDeniedError("Forbidden", status=403),
    BadRequestError("Bad Request", status=400),
    NotFoundError("Not Found", status=404),
    APIStatusError("redirected", status=302),
    ValidationError("product_id", "expected a numeric id"),
]
TRANSIENT: list[ActiveCallsError] = [
    ServerError("Service Unavailable", status=503),
    RateLimitError("Too Many Requests", status=429),
    APIConnectionError("connection reset"),
    APITimeoutError("timed out"),
    ResponseDecodeError("not a list"),
]


def _name(error: object) -> str:
    return f"{type(error).__name__}-{error}"


@pytest.mark.parametrize("error", PERMANENT, ids=_name)
async def test_a_failure_waiting_cannot_heal_ends_the_watch(error: ActiveCallsError) -> None:
    listing = FakeListing(make_calls(5), fail_page=0, fail_with=error)
    watch = watch_listing(listing)
    with pytest.raises(type(error)) as raised:
        await asyncio.wait_for(watch.__anext__(), 5)
    assert raised.value is error
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()
    assert len(listing.requests) == 1


@pytest.mark.parametrize("error", TRANSIENT, ids=_name)
async def test_a_failure_that_may_heal_is_logged_and_polled_again(
    error: ActiveCallsError, caplog: pytest.LogCaptureFixture
) -> None:
    listing = FakeListing(make_calls(5), fail_page=0, fail_with=error)
    async with watch_listing(listing) as watch:
        next_event = asyncio.ensure_future(watch.__anext__())
        await wait_until(lambda: len(listing.requests) >= 3)
        assert not next_event.done()
        listing.fail_page = None
        event = await asyncio.wait_for(next_event, 5)
        assert event.type is STARTED
    failures = [r for r in caplog.records if "poll failed" in r.getMessage()]
    assert len(failures) >= 2


@pytest.mark.parametrize("problem", ["bad token", "other account"])
async def test_rejected_credentials_end_the_watch_at_once(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory, problem: str
) -> None:
    sim = activecalls_simulator
    options: dict[str, object] = (
        {"auth": "not-a-valid-token"} if problem == "bad token" else {"account_id": "999"}
    )
    expected = AuthenticationError if problem == "bad token" else PermissionDeniedError
    async with activecalls_client_factory(**options) as client:
        watch = client.watch_active_calls("ACCOUNT", sim.account_id, interval=INTERVAL)
        with pytest.raises(expected):
            await asyncio.wait_for(watch.__anext__(), 5)
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()
    assert len(sim.requests) == 1


# -- the budget, arguments and iteration ------------------------------------------------


async def test_a_watch_over_its_share_of_the_limit_polls_less_often(
    activecalls_simulator: Simulator,
    activecalls_client_factory: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, make_client = activecalls_simulator, activecalls_client_factory
    limit = RateLimit(10, per=0.25)  # 40 requests a second: a watch may use 20
    async with make_client(rate_limit=limit) as client:
        watch = client.watch_active_calls("ACD", 55, interval=0.01, page_size=3)
        async with watch:
            await take(watch, len(sim.state.listing("ACD", 55)))  # 8 calls: pages of 3, 3, 2
            for _ in range(3):
                sim.add_call(product="ACD", product_id=55)
                await take(watch, 1)
    starts = [r.started for r in sim.requests if r.operation == "list" and r.param("page") == "0"]
    assert len(list_requests(sim)) >= 3 * len(starts)  # three pages or more a poll
    # A watch may start 5 requests in any 0.25 s (0.3 s with the limiter's margin): one
    # poll of 3 or 4 requests per window.
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert statistics.median(gaps) >= (limit.per + limit.margin) * 0.95
    stretched = [r for r in caplog.records if "polling every" in r.getMessage()]
    assert len(stretched) == 1
    assert stretched[0].levelno == logging.WARNING
    assert "ACD 55: a poll costs" in stretched[0].getMessage()


def steady_spacing(share: BudgetShare, cost: int, polls: int = 40) -> float:
    """The spacing of instant polls of ``cost`` requests, once the pace has settled."""
    starts, recent = [0.0], [(0.0, cost)]
    for _ in range(polls):
        start = share.earliest_start(recent, cost, starts[-1])
        starts.append(start)
        recent.append((start, cost))
    return starts[-1] - starts[-2]


@pytest.mark.parametrize(
    ("limiter", "share", "requests", "spacing"),
    [
        (RateLimit(120, per=60.0, margin=0), 0.5, 7, 7.5),  # 8 polls of 7 a minute: 56
        (RateLimit(120, per=60.0, margin=0), 0.5, 1, 1.0),
        (RateLimit(120, per=60.0, margin=0), 1.0, 7, 60 / 17),
        (RateLimit(120, per=60.0, margin=0), 0.5, 90, 90.0),  # more than a minute's share
        (RateLimit(120, per=60.0), 0.5, 7, 60.05 / 8),  # the limiter's margin too
        (RateLimit(10, per=0.25, margin=0), 0.5, 7, 0.35),
        (RateLimit(10, per=1.0), 0.5, 0, 0.0),
        (None, 0.5, 7, 0.0),
    ],
)
def test_polls_settle_to_the_spacing_the_share_allows(
    limiter: RateLimit | None, share: float, requests: int, spacing: float
) -> None:
    assert steady_spacing(BudgetShare(share, limiter), requests) == pytest.approx(spacing)


def test_a_limiter_telling_only_its_rate_is_shared_on_average() -> None:
    class Paced:
        rate = 4.0

        async def acquire(self, priority: Priority = Priority.READ) -> None:
            pass

        async def release(self) -> None:
            pass

    assert BudgetShare(0.5, Paced()).earliest_start([], 3, 10.0) == pytest.approx(11.5)


def test_a_poll_waits_for_the_polls_it_would_share_a_window_with() -> None:
    share = BudgetShare(0.5, RateLimit(20, per=10.0, margin=0))  # 10 in any 10 s
    # Polls ended at 1 s (4 requests), 3 s (3) and 4 s (2), the last one begun at 4 s. A
    # poll of 3 waits for the first to leave the window (11 s), past its even spacing
    # (10/3 s); one of 1 fits: its even spacing (1 s) is all; one of 6 would fit once two
    # have left (13 s), but evenly spaced it comes 10 s after the last (14 s).
    recent = [(1.0, 4), (3.0, 3), (4.0, 2)]
    assert share.earliest_start(recent, 3, 4.0) == pytest.approx(11.0)
    assert share.earliest_start(recent, 1, 4.0) == pytest.approx(5.0)
    assert share.earliest_start(recent, 6, 4.0) == pytest.approx(14.0)


@settings(max_examples=300, deadline=None)
@given(
    polls=st.lists(st.tuples(st.integers(0, 12), st.floats(0.0, 4.0)), min_size=1, max_size=40),
    interval=st.floats(0.1, 10.0),
)
def test_no_window_holds_more_than_the_share_when_polls_cost_no_more_than_foreseen(
    polls: list[tuple[int, float]], interval: float
) -> None:
    # The pace takes the next poll to cost the most of the last three; here each poll
    # costs that or less, its requests starting anywhere from its start to its end.
    share = BudgetShare(0.5, RateLimit(24, per=10.0, margin=0))
    allowed, per = share.window or (0, 0.0)
    recent: list[tuple[float, int]] = []
    costs: list[int] = []
    times: list[float] = []
    begun = 0.0
    for wanted, duration in polls:
        foreseen = max(costs[-3:], default=int(allowed))
        spent = min(wanted, foreseen)
        start = (
            max(begun + interval, share.earliest_start(recent, foreseen, begun)) if costs else 0.0
        )
        ended = start + duration
        times += [start] * (spent // 2) + [ended] * (spent - spent // 2)
        recent.append((ended, spent))
        costs.append(spent)
        begun = start
    times.sort()
    for first in times:
        assert sum(1 for t in times if first <= t < first + per) <= allowed


async def test_polls_within_the_share_are_not_stretched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listing = FakeListing(make_calls(30))  # four requests a poll: pages of 10 and an empty one
    watch = call_watch(
        lambda: PageWalk(listing.fetch, WalkShape(page_size=10)),
        interval=0.05,
        budget_share=1.0,
        limiter=RateLimit(1000, per=1.0),
    )
    async with watch:
        await take(watch, 30)
        listing.calls.append(make_call(99))
        await take(watch, 1)
    assert not [r for r in caplog.records if "polling every" in r.getMessage()]


@pytest.mark.parametrize("limiter", [None, "unmetered"])
async def test_a_limiter_that_does_not_tell_its_rate_never_stretches(
    limiter: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    class Unmetered:
        async def acquire(self, priority: Priority = Priority.READ) -> None:
            pass

        async def release(self) -> None:
            pass

    listing = FakeListing(make_calls(30))
    watch = call_watch(
        walks_of(listing),
        interval=0.001,
        budget_share=0.01,
        limiter=None if limiter is None else Unmetered(),
    )
    got = await events_by_poll(watch, listing, 5)
    assert len(got) == 30
    assert not [r for r in caplog.records if "polling every" in r.getMessage()]


@pytest.mark.parametrize("share", [0, -0.5, 1.01, float("nan"), float("inf"), True, "0.5", None])
async def test_a_bad_budget_share_is_refused_before_any_request(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, share: object
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    with pytest.raises(ValidationError) as raised:
        client.watch_active_calls("ACD", 55, budget_share=share)  # type: ignore[arg-type]
    assert raised.value.parameter == "budget_share"
    assert "at most 1" in str(raised.value)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("parameter", "options"),
    [
        ("product", {"product": "NOPE"}),
        ("product_id", {"product_id": "5x"}),
        ("page_size", {"page_size": 0}),
        ("prefetch", {"prefetch": 0}),
        ("timeout", {"timeout": -1}),
    ],
)
async def test_bad_listing_arguments_are_refused_when_the_watch_is_made(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    parameter: str,
    options: dict[str, Any],
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    arguments = {"product": "ACD", "product_id": 55, **options}
    with pytest.raises(ValidationError) as raised:
        client.watch_active_calls(**arguments)
    assert raised.value.parameter == parameter
    assert sim.requests == []


async def test_making_and_closing_a_watch_sends_nothing(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    watch = client.watch_active_calls("ACD", 55, interval=7)
    assert repr(watch) == "<CallWatch ACD 55 every 7s 0 calls>"
    assert (watch.interval, watch.budget_share) == (7, 0.5)
    await watch.aclose()
    assert [event async for event in watch] == []
    assert sim.requests == []
    await assert_no_tasks_left()


async def test_a_watch_is_iterated_by_one_task_at_a_time(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(latency=0.05)
    async with client.watch_active_calls("ACD", 55, interval=INTERVAL) as watch:
        first = asyncio.ensure_future(watch.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already being iterated"):
            await watch.__anext__()
        assert (await asyncio.wait_for(first, 5)).type is STARTED


# -- taking stock first --------------------------------------------------------------------


async def test_initial_events_false_takes_stock_without_starting_every_call() -> None:
    calls = make_calls(5)
    listing = FakeListing(calls)
    late = make_call(99)

    def arrive(page: int) -> None:
        if polls_started(listing) == 2 and late not in listing.calls:
            listing.calls.append(late)

    listing.before_page = arrive
    watch = call_watch(walks_of(listing), interval=0.001, initial_events=False)
    got = await events_by_poll(watch, listing, 2)
    # The first poll only takes stock: the first event is the call that came after it.
    assert summary(got) == [(2, STARTED, late.uii)]


async def test_initial_events_false_on_the_client_watches(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    product, product_id = sim.targets()[1]
    watch = client.watch_active_calls(product, product_id, interval=INTERVAL, initial_events=False)
    async with watch:
        next_event = asyncio.ensure_future(watch.__anext__())
        # The first poll takes stock: page 0 and the probe proving it whole, answered.
        await wait_until(lambda: [r.status for r in sim.requests] == [200, 200])
        arrival = sim.add_call(product=product, product_id=product_id)
        event = await asyncio.wait_for(next_event, 5)
    assert (event.type, event.call.uii) == (STARTED, arrival)
    many = client.watch_active_calls_many([(product, product_id)], initial_events=False)
    async with many:
        first = await asyncio.wait_for(many.__anext__(), 5)
    assert first.events == ()
    assert first.calls
