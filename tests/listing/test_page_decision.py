"""The walker's pure decisions: what was asked, what came back, what next; no event loop."""

from __future__ import annotations

import pytest

from activecalls_async.pagination import (
    Answer,
    Ask,
    Asked,
    Decision,
    PagingMemo,
    Step,
    decide,
)

B = 100  # the caller's page size in these tables


def first(rows: int, *, floor: int = 0, cap: int | None = None) -> Decision:
    return decide(Asked(Ask.FIRST, 0, B), Answer(rows, rows), page_size=B, floor=floor, cap=cap)


@pytest.mark.parametrize(
    ("rows", "floor", "cap", "expected"),
    [
        (0, 0, None, Decision(Step.END)),  # an empty listing
        (100, 0, None, Decision(Step.CONTINUE, 100, 1)),  # full: the size is settled
        (130, 0, None, Decision(Step.CONTINUE, 100, 1)),  # more than asked: still full
        (30, 0, None, Decision(Step.PROBE, 30, 1)),  # short: 30 may be a cap
        (30, 30, None, Decision(Step.PROBE, 30, 1)),  # a page of 30 before: still may be
        (30, 31, None, Decision(Step.END)),  # the server sent 31 before: 30 is the end
        (40, 40, 40, Decision(Step.CONTINUE, 40, 1)),  # the proven cap: no probe, no check
        (30, 40, 40, Decision(Step.END)),  # fewer than the cap: the end
        (50, 40, 40, Decision(Step.PROBE, 50, 1)),  # more than the cap: it was not one
    ],
)
def test_page_zero(rows: int, floor: int, cap: int | None, expected: Decision) -> None:
    assert first(rows, floor=floor, cap=cap) == expected


def test_page_zero_below_the_callers_size_and_the_floor_is_the_end() -> None:
    # page_size 10 below a floor of 1000: 5 rows of 10 asked can only be the end.
    asked = Asked(Ask.FIRST, 0, 10)
    assert decide(asked, Answer(5, 5), page_size=10, floor=1000, cap=None) == Decision(Step.END)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(0, 0), Decision(Step.END)),
        (Answer(29, 29), Decision(Step.END)),  # short at a size the server has sent
        (Answer(30, 30), Decision(Step.CHECK, 30, 2)),  # full: a cap, or calls arriving
        (Answer(30, 0), Decision(Step.PAGE_IGNORED)),  # nothing new: page 0 again
        (Answer(30, 29, starts_like_page_zero=True), Decision(Step.PAGE_IGNORED)),
        (Answer(30, 15), Decision(Step.PAGE_IGNORED)),  # half the rows seen
        (Answer(30, 16), Decision(Step.CHECK, 30, 2)),
    ],
)
def test_the_probe(answer: Answer, expected: Decision) -> None:
    asked = Asked(Ask.PROBE, 1, 30)
    assert decide(asked, answer, page_size=B, floor=30, cap=None) == expected


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
        # ... or, when pages 0 and 1 reached further, at a size aligned on them.
        (45, Decision(Step.CONTINUE, 30, 2)),
    ],
)
def test_the_check_after_a_full_probe(rows: int, expected: Decision) -> None:
    asked = Asked(Ask.CHECK, 0, B, size=30, resume=2)
    assert decide(asked, Answer(rows, 0), page_size=B, floor=30, cap=None) == expected


@pytest.mark.parametrize(
    ("size", "resume", "rows", "expected"),
    [
        (5, 64, 5, Decision(Step.CAP_PROVEN, 5, 64)),
        (5, 64, 12, Decision(Step.CONTINUE, 10, 32)),  # twice the size, same offset 320
        (5, 64, 100, Decision(Step.CONTINUE, 80, 4)),  # 16 times, still offset 320
        (1, 64, 100, Decision(Step.CONTINUE, 100, 1)),  # page 0 alone reaches past row 64
        (5, 128, 3, Decision(Step.END)),
    ],
)
def test_the_periodic_check_resizes_without_skipping_a_row(
    size: int, resume: int, rows: int, expected: Decision
) -> None:
    asked = Asked(Ask.CHECK, 0, B, size=size, resume=resume)
    decision = decide(asked, Answer(rows, 0), page_size=B, floor=size, cap=size)
    assert decision == expected
    if decision.step is Step.CONTINUE:
        # The next page starts exactly where the rows read so far end, or where page 0 does.
        assert decision.page * decision.size in (resume * size, min(rows, B))
        assert decision.size <= min(rows, B)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(40, 40), Decision(Step.CONTINUE, 40, 4)),
        (Answer(40, 39), Decision(Step.CONTINUE, 40, 4)),  # one arrival ahead: a repeat
        (Answer(39, 39), Decision(Step.END)),
        (Answer(0, 0), Decision(Step.END)),
        (Answer(40, 20), Decision(Step.PAGE_IGNORED)),
        (Answer(40, 40, starts_like_page_zero=True), Decision(Step.PAGE_IGNORED)),
        (Answer(20, 0), Decision(Step.END)),  # short: no spinning to fear
    ],
)
def test_a_page_past_the_probe(answer: Answer, expected: Decision) -> None:
    asked = Asked(Ask.NEXT, 3, 40)
    assert decide(asked, answer, page_size=B, floor=40, cap=40) == expected


def test_a_decision_knows_whether_the_listing_was_read_to_its_end() -> None:
    assert Decision(Step.END).complete
    assert not Decision(Step.PAGE_IGNORED).complete
    assert not Decision(Step.CONTINUE, 10, 1).complete


def test_the_memo_floor_starts_at_what_the_client_was_told() -> None:
    assert PagingMemo(server_max_rows=500).floor == 500
    assert PagingMemo().floor == 0
    memo = PagingMemo()
    memo.saw_page(1000, 1200)  # more rows than asked count as the size asked
    assert memo.floor == 1000


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_a_bad_server_max_rows_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="server_max_rows"):
        PagingMemo(server_max_rows=value)  # type: ignore[arg-type]
