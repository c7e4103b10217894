"""The walker's pure decisions: what was asked, what came back, what next; no event loop."""

from __future__ import annotations

import pytest

from activecalls_async._paging import (
    REMEMBERED_LISTINGS,
    Answer,
    Decision,
    ListingSize,
    PageRequest,
    PagingMemo,
    Reason,
    Step,
    decide,
    predicted,
)

B = 100  # the caller's page size in these tables


def first(rows: int, *, declared: int = 0, cap: int | None = None) -> Decision:
    request = PageRequest(Reason.FIRST, 0, B)
    return decide(request, Answer(rows, rows), page_size=B, declared=declared, cap=cap)


@pytest.mark.parametrize(
    ("rows", "declared", "cap", "expected"),
    [
        (0, 0, None, Decision(Step.END)),  # an empty listing
        (100, 0, None, Decision(Step.CONTINUE, 100, 1)),  # full: the size is settled
        (130, 0, None, Decision(Step.CONTINUE, 100, 1)),  # more than asked: still full
        (30, 0, None, Decision(Step.PROBE, 30, 1)),  # short: 30 may be a cap
        (30, 31, None, Decision(Step.END)),  # the client was told 31 or more: the end
        (30, 30, None, Decision(Step.PROBE, 30, 1)),  # told 30: 30 may be that cap
        (40, 0, 40, Decision(Step.CONTINUE, 40, 1)),  # the proven cap: no probe, no check
        (30, 0, 40, Decision(Step.PROBE, 30, 1)),  # below the cap: proof comes from the probe
        (50, 0, 40, Decision(Step.PROBE, 50, 1)),  # more than the cap: it was not one
    ],
)
def test_page_zero(rows: int, declared: int, cap: int | None, expected: Decision) -> None:
    assert first(rows, declared=declared, cap=cap) == expected


def test_a_short_page_zero_is_never_the_end_on_what_earlier_answers_showed() -> None:
    # Larger pages sent before (on this listing or another) prove nothing now: a cap may
    # have appeared. Only the probe, this walk's own answer, proves the end.
    assert first(5) == Decision(Step.PROBE, 5, 1)
    memo = PagingMemo()
    memo.saw_page(1000)
    assert not hasattr(memo, "floor")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(0, 0), Decision(Step.END)),
        (Answer(29, 29), Decision(Step.END)),  # short at a size page 0 showed: the end
        (Answer(30, 30), Decision(Step.CHECK, 30, 2)),  # full: a cap, or calls arriving
        # Page 0 again, or calls arriving: the check asks page 0 anyway, and tells.
        (Answer(30, 0, suspect=True), Decision(Step.CHECK, 30, 2)),
    ],
)
def test_the_probe(answer: Answer, expected: Decision) -> None:
    request = PageRequest(Reason.PROBE, 1, 30)
    assert decide(request, answer, page_size=B, declared=0, cap=None) == expected


@pytest.mark.parametrize(
    ("verifies", "answer", "expected"),
    [
        # After a suspect probe: page 0 starting inside the probe's rows is the same head.
        (True, Answer(30, 0, echoes=True), Decision(Step.PAGE_IGNORED)),
        (True, Answer(30, 1, echoes=False), Decision(Step.CAP_PROVEN, 30, 2)),
        # After a probe of fresh rows the check tests only the cap.
        (False, Answer(30, 0, echoes=True), Decision(Step.CAP_PROVEN, 30, 2)),
    ],
)
def test_a_check_after_a_suspect_probe_also_tells_an_ignored_page(
    verifies: bool, answer: Answer, expected: Decision
) -> None:
    request = PageRequest(Reason.CHECK, 0, B, size=30, resume=2, verifies=verifies)
    assert decide(request, answer, page_size=B, declared=0, cap=None) == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (30, Decision(Step.CAP_PROVEN, 30, 2)),  # page 0 asked again still brings 30
        (29, Decision(Step.END)),  # the listing shrank: page 0 now holds all of it
        (0, Decision(Step.END)),
        # More than 30: no cap. From right after the rows page 0 just brought...
        (60, Decision(Step.CONTINUE, 60, 1)),
        (75, Decision(Step.CONTINUE, 75, 1)),
        (100, Decision(Step.CONTINUE, 100, 1)),
        # ... or, when pages 0 and 1 reached further, at the larger size from the page
        # holding the first row not read (offset 45: rows 45 to 59 come again).
        (45, Decision(Step.CONTINUE, 45, 1)),
    ],
)
def test_the_check_after_a_full_probe(rows: int, expected: Decision) -> None:
    request = PageRequest(Reason.CHECK, 0, B, size=30, resume=2)
    assert decide(request, Answer(rows, 0), page_size=B, declared=0, cap=None) == expected


@pytest.mark.parametrize(
    ("size", "resume", "rows", "expected"),
    [
        (5, 64, 5, Decision(Step.CAP_PROVEN, 5, 64)),
        (5, 64, 12, Decision(Step.CONTINUE, 12, 26)),  # from offset 312: 8 rows again
        (5, 64, 100, Decision(Step.CONTINUE, 100, 3)),  # from offset 300: 20 rows again
        (5, 64, 10, Decision(Step.CONTINUE, 10, 32)),  # from offset 320 exactly
        (1, 65, 2, Decision(Step.CONTINUE, 2, 32)),  # an odd page: offset 64, 1 row again
        (1, 64, 100, Decision(Step.CONTINUE, 100, 1)),  # page 0 alone reaches past row 64
        (5, 128, 3, Decision(Step.END)),
    ],
)
def test_the_periodic_check_resizes_without_skipping_a_row(
    size: int, resume: int, rows: int, expected: Decision
) -> None:
    request = PageRequest(Reason.CHECK, 0, B, size=size, resume=resume)
    decision = decide(request, Answer(rows, 0), page_size=B, declared=0, cap=size)
    assert decision == expected
    if decision.step is Step.CONTINUE:
        # The largest size the server sent, from no further than the first row not read.
        assert decision.size == min(rows, B)
        read = max(resume * size, decision.size)
        assert read - decision.size < decision.page * decision.size <= read


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(40, 40), Decision(Step.CONTINUE, 40, 4)),
        (Answer(40, 39), Decision(Step.CONTINUE, 40, 4)),  # one arrival ahead: a repeat
        (Answer(39, 39), Decision(Step.END)),
        (Answer(0, 0), Decision(Step.END)),
        # Half the rows seen: page 0 is asked at this size before the walk goes on.
        (Answer(40, 20, suspect=True), Decision(Step.VERIFY, 40, 4)),
        (Answer(20, 0, suspect=True), Decision(Step.END)),  # short: no spinning to fear
    ],
)
def test_a_page_past_the_probe(answer: Answer, expected: Decision) -> None:
    request = PageRequest(Reason.NEXT, 3, 40)
    assert decide(request, answer, page_size=B, declared=0, cap=40) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # Page 0 now starts inside the suspect page: the server sends its head for any page.
        (Answer(40, 0, echoes=True), Decision(Step.PAGE_IGNORED)),
        # Page 0 now starts elsewhere (calls arrived ahead): ``page`` is honoured, go on.
        (Answer(40, 3, echoes=False), Decision(Step.CONTINUE, 40, 4)),
        (Answer(0, 0), Decision(Step.END)),  # the listing emptied meanwhile
    ],
)
def test_a_verify_tells_calls_arriving_from_an_ignored_page(
    answer: Answer, expected: Decision
) -> None:
    request = PageRequest(Reason.VERIFY, 0, 40, size=40, resume=4)
    assert decide(request, answer, page_size=B, declared=0, cap=None) == expected


def test_a_decision_knows_whether_the_listing_was_read_to_its_end() -> None:
    assert Decision(Step.END).complete
    assert not Decision(Step.PAGE_IGNORED).complete
    assert not Decision(Step.CONTINUE, 10, 1).complete


def test_the_memo_keeps_a_cap_until_a_larger_page_disproves_it() -> None:
    memo = PagingMemo(server_max_rows=500)
    assert memo.declared == 500
    assert PagingMemo().declared == 0
    memo.prove_cap(300)
    memo.saw_page(300)
    assert memo.cap == 300
    memo.saw_page(301)
    assert memo.cap is None


def test_the_memo_remembers_a_bounded_number_of_listings_least_recently_read_first_out() -> None:
    memo = PagingMemo()
    for n in range(REMEMBERED_LISTINGS + 10):
        memo.remember(f"ACD {n}", n, 100)
    assert memo.recall("ACD 0") is None
    assert memo.recall("ACD 9") is None
    assert memo.recall("ACD 10") == ListingSize(10, 100)
    memo.remember("ACD 10", 11, 100)  # read again: the most recent now
    for n in range(REMEMBERED_LISTINGS - 1):
        memo.remember(f"ACD new {n}", n, 100)
    assert memo.recall("ACD 10") == ListingSize(11, 100)
    assert memo.recall("ACD 11") is None


FIRST = PageRequest(Reason.FIRST, 0, B)


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        # A listing of 250 rows at 100: pages 1 and 2 (short: it proves the end).
        (ListingSize(250, 100), [(1, 100), (2, 100)]),
        # 200 rows: pages 1 and 2, the empty page 2 proving the end.
        (ListingSize(200, 100), [(1, 100), (2, 100)]),
        # One page of 30: the probe at two thirds of it, which proves the end of a page 0
        # of 20 to 39 rows.
        (ListingSize(30, 100), [(1, 20)]),
        (ListingSize(1, 100), [(1, 1)]),
        # An empty listing: page 0 alone.
        (ListingSize(0, 100), []),
        # A capped listing of 70 at 30: pages 1 and 2 at the cap.
        (ListingSize(70, 30), [(1, 30), (2, 30)]),
    ],
)
def test_a_known_listing_asks_the_pages_it_expects_at_once(
    known: ListingSize, expected: list[tuple[int, int]]
) -> None:
    ahead = [(r.page, r.max_rows) for r in predicted(FIRST, known)]
    assert ahead == expected


def test_no_probe_ahead_where_a_declared_size_proves_the_end() -> None:
    assert list(predicted(FIRST, ListingSize(30, 100), declared=100)) == []


def test_page_zero_of_an_unknown_listing_goes_alone() -> None:
    assert list(predicted(FIRST, None)) == []


def test_pages_at_the_settled_size_follow_each_other_without_end() -> None:
    ahead = predicted(PageRequest(Reason.NEXT, 4, 40), None)
    assert [(next(ahead).page, 40) for _ in range(3)] == [(5, 40), (6, 40), (7, 40)]


def test_nothing_is_sent_ahead_of_a_probe_or_a_check() -> None:
    assert list(predicted(PageRequest(Reason.PROBE, 1, 30), None)) == []
    check = PageRequest(Reason.CHECK, 0, B, size=30, resume=2)
    assert list(predicted(check, ListingSize(90, 30))) == []


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_a_bad_server_max_rows_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="server_max_rows"):
        PagingMemo(server_max_rows=value)  # type: ignore[arg-type]
