"""The page walker's rules, against an in-memory listing that misbehaves on demand."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from activecalls_async import ActiveCall, ServerError, ValidationError
from activecalls_async._paging import PagingMemo
from activecalls_async.pagination import ActiveCallPage, CallWalk, PageWalk, WalkShape
from tests.support import FakeListing, assert_no_tasks_left, make_call, make_calls, wait_until


async def uiis(walk: CallWalk) -> list[str]:
    async with walk:
        return [call.uii async for call in walk]


def calls_of(
    listing: FakeListing,
    *,
    memo: PagingMemo | None = None,
    label: str = "listing",
    **shape: Any,
) -> CallWalk:
    return CallWalk(PageWalk(listing.fetch, WalkShape(**shape), memo=memo, label=label))


@pytest.mark.parametrize(
    ("total", "expected_requests"),
    [
        (0, [(0, 100)]),
        (300, [(0, 100), (1, 100), (2, 100), (3, 100)]),
        (250, [(0, 100), (1, 100), (2, 100)]),
        (100, [(0, 100), (1, 100)]),
    ],
)
async def test_walks_every_page_and_stops_at_a_short_or_empty_page(
    total: int, expected_requests: list[tuple[int, int]]
) -> None:
    listing = FakeListing(make_calls(total))
    assert await uiis(calls_of(listing, page_size=100)) == [c.uii for c in listing.calls]
    assert listing.requests == expected_requests


@pytest.mark.parametrize("offset_by_request", [False, True])
@pytest.mark.parametrize("total", [237, 240, 39, 41])
async def test_a_silent_cap_loses_no_call(offset_by_request: bool, total: int) -> None:
    # The server sends at most 40 rows whatever maxRows says; page 0 looks like the end.
    listing = FakeListing(make_calls(total), cap=40, offset_by_request=offset_by_request)
    got = await uiis(calls_of(listing, page_size=100, prefetch=3))
    assert got == [c.uii for c in listing.calls]
    assert listing.requests[:2] == [(0, 100), (1, min(40, total))]
    # A full page 1 is a cap only once page 0, asked again at 100, still brings 40.
    later = listing.requests[2:]
    assert later.count((0, 100)) == (1 if total >= 80 else 0)
    assert all(request[1] == min(40, total) for request in later if request != (0, 100))


async def test_a_short_page_zero_is_probed_whatever_the_server_sent_before() -> None:
    memo = PagingMemo()
    big = FakeListing(make_calls(2500))
    assert len(await uiis(calls_of(big, page_size=1000, memo=memo, label="big"))) == 2500
    small = FakeListing(make_calls(30))
    assert len(await uiis(calls_of(small, page_size=1000, memo=memo, label="small"))) == 30
    # Page 0 alone proves nothing, however large the pages sent before: only the probe,
    # this walk's own answer, does.
    assert small.requests == [(0, 1000), (1, 30)]


@pytest.mark.parametrize("offset_by_request", [False, True])
async def test_a_cap_that_appears_later_loses_no_call(offset_by_request: bool) -> None:
    # A 2,500-call walk, then the server starts capping at 500 (a configuration change):
    # the next walk must still read all 2,500, not take 500 for the whole listing.
    memo = PagingMemo()
    calls = make_calls(2500)
    before = FakeListing(calls)
    assert len(await uiis(calls_of(before, page_size=1000, memo=memo))) == 2500
    after = FakeListing(calls, cap=500, offset_by_request=offset_by_request)
    walk = calls_of(after, page_size=1000, memo=memo)
    assert await uiis(walk) == [c.uii for c in calls]
    assert walk.pages.complete


async def test_a_cap_on_one_listing_hides_no_call_after_a_big_listing_elsewhere() -> None:
    memo = PagingMemo()
    big = FakeListing(make_calls(5000))
    await uiis(calls_of(big, page_size=1000, memo=memo, label="ACCOUNT 1"))
    queue = FakeListing(make_calls(800, tag="q"), cap=300)
    walk = calls_of(queue, page_size=1000, memo=memo, label="ACD 55")
    assert await uiis(walk) == [c.uii for c in queue.calls]
    assert walk.pages.complete


async def test_a_cap_that_disappears_hides_no_call() -> None:
    memo = PagingMemo()
    calls = make_calls(700)
    capped = FakeListing(calls, cap=300)
    await uiis(calls_of(capped, page_size=1000, memo=memo))
    assert memo.cap == 300
    free = FakeListing(calls)
    assert await uiis(calls_of(free, page_size=1000, memo=memo)) == [c.uii for c in calls]
    assert memo.cap is None  # the first page larger than the cap dropped it


async def test_a_size_the_client_was_told_proves_the_end_in_one_request() -> None:
    memo = PagingMemo(server_max_rows=1000)
    small = FakeListing(make_calls(30))
    walk = calls_of(small, page_size=1000, memo=memo)
    assert len(await uiis(walk)) == 30
    assert small.requests == [(0, 1000)]
    assert walk.pages.read_at_once


async def test_a_proven_cap_spares_later_walks_the_check_but_not_the_full_page_zero() -> None:
    memo = PagingMemo()
    first = FakeListing(make_calls(130), cap=40)
    assert len(await uiis(calls_of(first, page_size=100, memo=memo, label="one"))) == 130
    assert first.requests == [(0, 100), (1, 40), (0, 100), (2, 40), (3, 40)]
    assert memo.cap == 40

    second = FakeListing(make_calls(90), cap=40)
    assert len(await uiis(calls_of(second, page_size=100, memo=memo, label="two"))) == 90
    # Page 0 at the caller's size first, so that a server sending more drops the cap.
    assert second.requests == [(0, 100), (1, 40), (2, 40)]


@pytest.mark.parametrize(
    ("total", "page_size", "expected"),
    [
        (2500, 1000, [(0, 1000), (1, 1000), (2, 1000)]),  # the short page 2 ends it
        (2000, 1000, [(0, 1000), (1, 1000), (2, 1000)]),  # the empty page 2 ends it
        (30, 1000, [(0, 1000), (1, 20)]),  # page 0 and its probe, at two thirds of 30
        (0, 1000, [(0, 1000)]),
    ],
)
async def test_a_listing_walked_again_asks_the_pages_it_expects_at_once(
    total: int, page_size: int, expected: list[tuple[int, int]]
) -> None:
    memo = PagingMemo()
    listing = FakeListing(make_calls(total), delay=0.01)
    await uiis(calls_of(listing, page_size=page_size, memo=memo, prefetch=8))
    listing.requests.clear()
    listing.max_in_flight = 0
    got = await uiis(calls_of(listing, page_size=page_size, memo=memo, prefetch=8))
    assert got == [c.uii for c in listing.calls]
    assert listing.requests == expected
    assert listing.max_in_flight == len(expected)  # one round trip


async def test_a_listing_that_changed_since_is_read_whole_and_remembered_anew() -> None:
    memo = PagingMemo()
    listing = FakeListing(make_calls(2500), delay=0.01)
    await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))
    del listing.calls[400:]  # it shrank to 400: pages 1 and 2 are no longer needed
    listing.requests.clear()
    assert len(await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))) == 400
    assert listing.requests[:3] == [(0, 1000), (1, 1000), (2, 1000)]  # sent at once
    assert listing.requests[3:] == [(1, 400)]  # then the probe page 0 now calls for
    listing.requests.clear()
    await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))
    assert listing.requests == [(0, 1000), (1, 267)]  # at once, two thirds of 400


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (30, [(0, 1000), (1, 20)]),  # as it was: the probe ahead proves the end
        (22, [(0, 1000), (1, 20)]),  # shrank, not below the probe: it still does
        (39, [(0, 1000), (1, 20)]),  # grew, short of twice the probe: it still does
        (19, [(0, 1000), (1, 20), (1, 19)]),  # shrank below it: the probe proper
        (45, [(0, 1000), (1, 20), (1, 45)]),  # grew past twice it: full, the probe proper
    ],
)
async def test_a_probe_sent_ahead_serves_when_the_listing_changed_by_up_to_a_third(
    now: int, expected: list[tuple[int, int]]
) -> None:
    memo = PagingMemo()
    listing = FakeListing(make_calls(30), delay=0.01)
    await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))
    listing.calls = make_calls(now)
    listing.requests.clear()
    got = await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))
    assert got == [c.uii for c in listing.calls]
    assert listing.requests == expected


async def test_under_pressure_a_known_listing_sends_at_most_one_request_past_its_end() -> None:
    memo = PagingMemo()
    listing = FakeListing(make_calls(2500), delay=0.01)
    await uiis(calls_of(listing, page_size=1000, memo=memo, prefetch=8))
    del listing.calls[400:]
    listing.requests.clear()
    # The budget has no slack: a window of two.
    walk = calls_of(listing, page_size=1000, memo=memo, prefetch=8, room=lambda: 0)
    assert len(await uiis(walk)) == 400
    assert listing.requests == [(0, 1000), (1, 1000), (1, 400)]


def test_a_cap_disproved_by_a_bigger_page_is_forgotten() -> None:
    memo = PagingMemo()
    memo.prove_cap(40)
    memo.saw_page(60)
    assert memo.cap is None


@pytest.mark.parametrize(("total", "prefetch"), [(250, 1), (250, 4), (30, 1)])
async def test_a_server_ignoring_page_stops_the_walk_with_one_warning(
    total: int, prefetch: int, caplog: pytest.LogCaptureFixture
) -> None:
    listing = FakeListing(make_calls(total), ignore_page=True)
    caplog.set_level(logging.INFO, logger="activecalls_async")
    # A walk that spins would never end: give it a deadline.
    got = await asyncio.wait_for(uiis(calls_of(listing, page_size=100, prefetch=prefetch)), 5)
    assert got == [c.uii for c in listing.calls[:100]]
    # Page 0, the pages in flight, and page 0 again to tell it from calls arriving.
    assert len(listing.requests) <= 2 + prefetch
    assert listing.requests[-1] == (0, 100)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ignore 'page'" in warnings[0].getMessage()
    await assert_no_tasks_left()


async def test_the_ignored_page_warning_is_given_once_per_memo(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memo = PagingMemo()
    for _ in range(3):
        listing = FakeListing(make_calls(250), ignore_page=True)
        await asyncio.wait_for(uiis(calls_of(listing, page_size=100, memo=memo)), 5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_calls_arriving_ahead_mid_walk_are_not_doubled(prefetch: int) -> None:
    original = make_calls(300)
    arrivals = iter(make_calls(1000, tag="9"))

    def arrive_at_the_front(page: int) -> None:
        # Seven calls sort ahead of everything before each page is read: rows shift
        # across every page boundary, so each page repeats the tail of the last one.
        for _ in range(7):
            listing.calls.insert(0, next(arrivals))

    listing = FakeListing(original, before_page=arrive_at_the_front)
    got = await uiis(calls_of(listing, page_size=50, prefetch=prefetch))
    assert len(got) == len(set(got))
    assert {c.uii for c in original} <= set(got)


async def test_calls_ending_mid_walk_are_never_doubled_and_the_next_walk_is_whole() -> None:
    listing = FakeListing(make_calls(300))
    ended: list[ActiveCall] = []

    def end_calls_already_read(page: int) -> None:
        if page == 2:  # ten calls of page 0 end: later rows move up by ten
            ended.extend(listing.calls[:10])
            del listing.calls[:10]

    listing.before_page = end_calls_already_read
    got = await uiis(calls_of(listing, page_size=100))
    assert len(got) == len(set(got))
    # What the docs promise: a call moved onto a page already read is missed by this
    # walk (here the ten that moved from page 2 to page 1), and no other is.
    live = [c.uii for c in listing.calls]
    missed = [uii for uii in live if uii not in set(got)]
    assert missed == live[190:200]
    listing.before_page = None
    assert await uiis(calls_of(listing, page_size=100)) == live


async def test_prefetch_keeps_pages_in_flight_and_yields_them_in_order() -> None:
    # Later pages answer first; the walk must still hand them out in page order.
    listing = FakeListing(make_calls(1000), delay=lambda page: 0.05 - page * 0.004)
    got = await uiis(calls_of(listing, page_size=100, prefetch=4))
    assert got == [c.uii for c in listing.calls]
    assert listing.max_in_flight == 4
    assert listing.requests[0] == (0, 100)


async def test_page_zero_is_asked_alone_before_prefetching() -> None:
    listing = FakeListing(make_calls(1000), delay=0.01)
    walk = PageWalk(listing.fetch, WalkShape(page_size=100, prefetch=4))
    async with walk:
        first = await walk.__anext__()
        assert first.number == 0
        assert listing.requests == [(0, 100)]
        assert [n for n, _ in listing.requests] == [0]
        await asyncio.sleep(0)
        assert [n for n, _ in listing.requests] == [0, 1, 2, 3, 4]


async def test_requests_past_the_end_are_cancelled_or_discarded() -> None:
    listing = FakeListing(make_calls(550), delay=lambda page: 0.01 if page <= 5 else 0.5)
    walk = calls_of(listing, page_size=100, prefetch=4)
    assert len([c async for c in walk]) == 550  # a plain loop: the walk closes itself
    assert listing.in_flight == 0  # pages 6.. were in flight when page 5 ended it
    assert listing.cancelled >= 1
    await assert_no_tasks_left(within=1)


async def test_pages_report_only_calls_new_to_the_walk() -> None:
    listing = FakeListing(make_calls(150))

    def arrive_before_page_one(page: int) -> None:
        if page == 1:
            listing.calls.insert(0, make_call(9999))

    listing.before_page = arrive_before_page_one
    walk = PageWalk(listing.fetch, WalkShape(page_size=100))
    async with walk:
        pages = [page async for page in walk]
    assert [p.number for p in pages] == [0, 1]
    assert [p.rows for p in pages] == [100, 51]
    assert len(pages[1].calls) == 50  # the repeated row is left out
    assert pages[1].max_rows == 100


@pytest.mark.parametrize(
    ("max_items", "prefetch", "requests"), [(0, 3, 0), (1, 3, 1), (150, 3, 2), (5000, 1, 11)]
)
async def test_max_items_stops_early_without_asking_for_pages_it_cannot_use(
    max_items: int, prefetch: int, requests: int
) -> None:
    listing = FakeListing(make_calls(1000))
    got = await uiis(calls_of(listing, page_size=100, prefetch=prefetch, max_items=max_items))
    assert got == [c.uii for c in listing.calls[:max_items]]
    assert len(listing.requests) == requests


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_breaking_out_of_a_plain_loop_cancels_the_requests_in_flight(
    prefetch: int,
) -> None:
    listing = FakeListing(make_calls(1000), delay=lambda page: 0 if page == 0 else 5.0)
    async for _call in calls_of(listing, page_size=100, prefetch=prefetch):
        await wait_until(lambda: listing.in_flight == prefetch)  # the next pages are in flight
        break
    await assert_no_tasks_left()
    assert listing.in_flight == 0
    assert listing.cancelled == prefetch


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_an_error_in_the_consumer_cancels_the_requests_in_flight(prefetch: int) -> None:
    listing = FakeListing(make_calls(1000), delay=lambda page: 0 if page == 0 else 5.0)

    async def consume() -> None:
        async for _call in calls_of(listing, page_size=100, prefetch=prefetch):
            await wait_until(lambda: listing.in_flight == prefetch)
            raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        await consume()
    await assert_no_tasks_left()
    assert listing.cancelled == prefetch


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_cancelling_the_consumer_cancels_the_requests_in_flight(prefetch: int) -> None:
    listing = FakeListing(make_calls(1000), delay=lambda page: 0 if page == 0 else 5.0)
    seen: list[str] = []

    async def consume() -> None:
        async for call in calls_of(listing, page_size=100, prefetch=prefetch):
            seen.append(call.uii)

    task = asyncio.create_task(consume())
    await wait_until(lambda: len(seen) >= 100 and listing.in_flight == prefetch)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The walk's own cleanup ran inside the cancelled task: nothing is left at all.
    assert listing.in_flight == 0
    assert listing.cancelled == prefetch
    await assert_no_tasks_left(within=1)


async def test_async_with_closes_deterministically() -> None:
    listing = FakeListing(make_calls(1000), delay=lambda page: 0 if page == 0 else 5.0)
    walk = calls_of(listing, page_size=100, prefetch=3)
    async with walk:
        async for _call in walk:
            await wait_until(lambda: listing.in_flight == 3)
            break
    assert listing.in_flight == 0
    assert listing.cancelled == 3
    assert [c async for c in walk] == []


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_a_failed_page_raises_after_the_pages_before_it(prefetch: int) -> None:
    error = ServerError("boom", status=500)
    listing = FakeListing(make_calls(1000), fail_page=2, fail_with=error, delay=0.01)
    got: list[str] = []

    async def consume() -> None:
        async for call in calls_of(listing, page_size=100, prefetch=prefetch):
            got.append(call.uii)

    with pytest.raises(ServerError):
        await consume()
    assert got == [c.uii for c in listing.calls[:200]]
    assert listing.in_flight == 0
    await assert_no_tasks_left(within=1)


async def test_a_walk_refuses_a_second_concurrent_consumer() -> None:
    listing = FakeListing(make_calls(300), delay=0.05)
    walk = calls_of(listing, page_size=100)
    async with walk:
        first = asyncio.ensure_future(walk.__anext__())
        await wait_until(lambda: listing.in_flight == 1)
        with pytest.raises(RuntimeError, match="already being iterated"):
            await walk.__anext__()
        await first


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("page_size", 0),
        ("page_size", True),
        ("page_size", 2.5),
        ("prefetch", 0),
        ("prefetch", None),
        ("max_items", -1),
        ("max_items", "5"),
    ],
)
def test_bad_options_are_refused_before_any_request(option: str, value: object) -> None:
    listing = FakeListing(make_calls(10))
    options: dict[str, object] = {"page_size": 10, option: value}
    with pytest.raises(ValidationError) as raised:
        PageWalk(listing.fetch, WalkShape(**options))  # type: ignore[arg-type]
    assert raised.value.parameter == option
    assert listing.requests == []


@pytest.mark.parametrize("prefetch", [1, 3])
@pytest.mark.parametrize("ending_per_page", [1, 5])
async def test_a_server_ignoring_page_while_calls_end_still_stops(
    prefetch: int, ending_per_page: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Each call ending moves one unseen row into the repeated page 0, so every "page"
    # brings something new: the walk must see page 0 again, not a fresh page.
    listing = FakeListing(make_calls(2000), ignore_page=True)

    def oldest_calls_end(page: int) -> None:
        if page > 0:
            del listing.calls[:ending_per_page]

    listing.before_page = oldest_calls_end
    walk = PageWalk(listing.fetch, WalkShape(page_size=20, prefetch=prefetch))
    async with walk:
        pages = await asyncio.wait_for(_all_pages(walk), 5)
    assert len(listing.requests) <= 2 + prefetch
    assert not walk.complete
    got = [call.uii for page in pages for call in page.calls]
    assert len(got) == len(set(got))
    # The rows that moved into page 0 are real calls: they are yielded, not dropped
    # (those of every request sent before the walk knew, at most).
    assert got == [c.uii for c in make_calls(len(got))]
    assert 20 + ending_per_page <= len(got) <= 20 + ending_per_page * (prefetch + 1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ignore 'page'" in warnings[0].getMessage()
    await assert_no_tasks_left()


async def test_a_repeated_page_zero_is_known_by_its_first_call() -> None:
    # Many calls sorting just after page 0's first call: fewer than half the rows are
    # repeats, but a genuine page 1 cannot start with page 0's first call.
    listing = FakeListing(make_calls(100), ignore_page=True)
    arrivals = iter(make_calls(1000, tag="9"))

    def arrive_after_the_first_call(page: int) -> None:
        if page > 0:
            for _ in range(15):
                listing.calls.insert(1, next(arrivals))

    listing.before_page = arrive_after_the_first_call
    walk = PageWalk(listing.fetch, WalkShape(page_size=20))
    async with walk:
        await asyncio.wait_for(_all_pages(walk), 5)
    # Page 1 opens with page 0's first call: page 0 again at 20 tells, and still does.
    assert listing.requests == [(0, 20), (1, 20), (0, 20)]
    assert not walk.complete


async def test_a_genuine_page_with_fewer_than_half_repeats_is_walked_on() -> None:
    original = make_calls(200)
    arrivals = iter(make_calls(1000, tag="9"))

    def nine_arrive_at_the_front(page: int) -> None:
        for _ in range(9):  # 9 of 20 rows of every page are repeats: still pages
            listing.calls.insert(0, next(arrivals))

    listing = FakeListing(original, before_page=nine_arrive_at_the_front)
    walk = PageWalk(listing.fetch, WalkShape(page_size=20))
    async with walk:
        pages = await _all_pages(walk)
    got = {call.uii for page in pages for call in page.calls}
    assert {c.uii for c in original} <= got
    assert walk.complete


async def _all_pages(walk: PageWalk) -> list[ActiveCallPage]:
    return [page async for page in walk]


@pytest.mark.parametrize(
    ("total", "options", "complete", "pages_read"),
    [
        (0, {}, True, 1),  # an empty page 0
        (5, {"memo": "told-10"}, True, 1),  # short of the size the client was told
        (5, {}, True, 2),  # a short page 0, checked for a cap by page 1
        (25, {}, True, 3),
        (20, {}, True, 3),  # full, full, empty
        (25, {"max_items": 12}, False, 2),  # stopped by max_items before the end
        (25, {"max_items": 25}, True, 3),  # max_items met on the last page
    ],
)
async def test_a_walk_says_whether_it_read_the_listing_to_its_end(
    total: int, options: dict[str, object], complete: bool, pages_read: int
) -> None:
    told = options.pop("memo", None) == "told-10"
    memo = PagingMemo(server_max_rows=10 if told else None)
    listing = FakeListing(make_calls(total))
    walk = PageWalk(listing.fetch, WalkShape(page_size=10, **options), memo=memo)  # type: ignore[arg-type]
    assert (walk.complete, walk.pages_read) == (False, 0)
    async with walk:
        await _all_pages(walk)
    assert (walk.complete, walk.pages_read) == (complete, pages_read)


async def test_a_walk_closed_or_failed_early_is_not_complete() -> None:
    listing = FakeListing(make_calls(50))
    walk = PageWalk(listing.fetch, WalkShape(page_size=10))
    async with walk:
        await walk.__anext__()
    assert not walk.complete

    failing = FakeListing(make_calls(50), fail_page=1, fail_with=ServerError("x", status=500))
    walk = PageWalk(failing.fetch, WalkShape(page_size=10))
    with pytest.raises(ServerError):
        await _all_pages(walk)
    assert not walk.complete


async def test_a_call_arriving_during_the_probe_teaches_no_cap() -> None:
    # Issue reproducer: ACD holds one call and another arrives when page 1 is asked.
    # That full page 1 once made every later walk of the client ask maxRows=1.
    memo = PagingMemo()
    acd = FakeListing(make_calls(1, tag="1"))
    arrivals = iter(make_calls(100, tag="2"))

    def one_arrives_at_the_probe(page: int) -> None:
        if len(acd.requests) == 2:
            acd.calls.append(next(arrivals))

    acd.before_page = one_arrives_at_the_probe
    assert len(await uiis(calls_of(acd, page_size=100, memo=memo, label="ACD 1"))) == 2
    assert acd.requests == [(0, 100), (1, 1), (0, 100), (1, 2)]
    assert memo.cap is None

    account = FakeListing(make_calls(300))
    walk = calls_of(account, page_size=100, memo=memo, label="ACCOUNT 1")
    assert len(await uiis(walk)) == 300
    assert account.requests == [(0, 100), (1, 100), (2, 100), (3, 100)]


async def test_a_cap_faked_by_a_call_coming_and_going_is_dropped_by_the_next_big_page() -> None:
    memo = PagingMemo()
    acd = FakeListing(make_calls(1, tag="1"))
    visitor = make_call(1, tag="2")

    def one_comes_and_goes(page: int) -> None:
        if len(acd.requests) == 2:  # the probe
            acd.calls.append(visitor)
        elif len(acd.requests) == 3:  # the check: the visitor has gone again
            acd.calls.remove(visitor)

    acd.before_page = one_comes_and_goes
    await uiis(calls_of(acd, page_size=100, memo=memo, label="ACD 1"))
    learnt = memo.cap
    assert learnt == 1  # no request could tell this from a real cap of one row
    account = FakeListing(make_calls(300))
    walk = calls_of(account, page_size=100, memo=memo, label="ACCOUNT 1")
    assert len(await uiis(walk)) == 300
    assert memo.cap is None
    assert account.requests == [(0, 100), (1, 100), (2, 100), (3, 100)]


async def test_a_walk_ends_with_a_call_arriving_for_every_request() -> None:
    # The worst case: a cap of one row faked by a call coming and going, then a burst,
    # then one arrival per request for ever. Paging one row at a time would never end;
    # the periodic check finds the larger pages the server sends.
    memo = PagingMemo()
    listing = FakeListing(make_calls(1, tag="1"))
    arrivals = iter(make_calls(10_000, tag="2"))
    visitor = make_call(0, tag="3")

    def traffic(page: int) -> None:
        asked = len(listing.requests)
        if asked == 2:
            listing.calls.append(visitor)
        elif asked == 3:
            listing.calls.remove(visitor)
            listing.calls.extend(next(arrivals) for _ in range(5))
        elif asked > 3:
            listing.calls.append(next(arrivals))

    listing.before_page = traffic
    walk = PageWalk(listing.fetch, WalkShape(page_size=100), memo=memo)
    async with walk:
        got = [
            call.uii for page in await asyncio.wait_for(_all_pages(walk), 5) for call in page.calls
        ]
    assert walk.complete
    assert len(got) == len(set(got))
    most = max(len(listing.calls), 1)
    smallest = min(max_rows for _, max_rows in listing.requests)
    pages = most // smallest
    assert len(listing.requests) <= pages + 2 + (pages + 1) // 64  # the documented bound
    assert memo.cap is None


@pytest.mark.parametrize("mode", ["break", "cancel"])
async def test_leaving_during_the_cap_check_cancels_it(mode: str) -> None:
    listing = FakeListing(make_calls(300), cap=40)
    page_zero_asked = 0

    def slow_check(page: int) -> float:
        nonlocal page_zero_asked
        if page == 0:
            page_zero_asked += 1
            return 5.0 if page_zero_asked == 2 else 0.0  # page 0 asked again: the check
        return 0.0

    listing.delay = slow_check
    seen: list[str] = []

    async def consume() -> None:
        async for call in calls_of(listing, page_size=100):
            seen.append(call.uii)
            if len(seen) == 80 and mode == "break":
                await wait_until(lambda: listing.in_flight == 1)
                break

    task = asyncio.create_task(consume())
    if mode == "cancel":
        await wait_until(lambda: len(seen) == 80 and listing.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await task
    assert listing.requests == [(0, 100), (1, 40), (0, 100)]
    assert listing.in_flight == 0
    assert listing.cancelled == 1
    await assert_no_tasks_left()


async def test_a_check_that_finds_no_cap_goes_on_at_the_larger_size_without_losing_a_call() -> None:
    # Page 0 brings 30 of 100 rows, 200 calls arrive (page 1 at 30 rows comes back full),
    # then page 0 asked again brings 100: no cap; the walk goes on at 100 rows a page.
    listing = FakeListing(make_calls(30))
    arrivals = iter(make_calls(1000, tag="9"))

    def burst(page: int) -> None:
        if len(listing.requests) == 2:
            listing.calls.extend(next(arrivals) for _ in range(200))

    listing.before_page = burst
    memo = PagingMemo()
    got = await uiis(calls_of(listing, page_size=100, memo=memo))
    assert got == [c.uii for c in listing.calls]
    assert listing.requests == [(0, 100), (1, 30), (0, 100), (1, 100), (2, 100)]
    assert memo.cap is None
