"""Walks against a pure server model where calls start and end between any two requests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from activecalls_async import ActiveCall
from activecalls_async._paging import PagingMemo
from activecalls_async.pagination import CHECK_EVERY, PageWalk, WalkShape

#: A walk sending this many requests is taken not to end.
RUNAWAY = 5000

#: One change between two requests: a call starts (at a relative position) or ends.
Change = tuple[str, float]

changes = st.lists(
    st.lists(st.tuples(st.sampled_from(["start", "end"]), st.floats(0, 1)), max_size=3),
    max_size=40,
)


@attrs.define
class Server:
    """A listing server in memory: an optional silent cap, offsets by capped size or by
    the size asked, and a script of changes applied before each request is answered;
    once the script is spent, ``tail`` says where one call arrives per request (or none)."""

    calls: list[str]
    cap: int | None = None
    offset_by_request: bool = False
    script: list[list[Change]] = attrs.field(factory=list)
    tail: str = "quiet"
    requests: int = 0
    largest: int = 0
    snapshots: list[tuple[str, ...]] = attrs.field(factory=list)
    asked: list[int] = attrs.field(factory=list)
    _made: int = 0
    _objects: dict[str, ActiveCall] = attrs.field(factory=dict)

    def new_uii(self) -> str:
        self._made += 1
        return f"new{self._made:08d}"

    def _change(self) -> None:
        if self.requests < len(self.script):
            todo = self.script[self.requests]
        elif self.tail == "quiet":
            todo = []
        else:
            todo = [("start", {"end": 1.0, "front": 0.0, "middle": 0.5}[self.tail])]
        for kind, where in todo:
            if kind == "start":
                self.calls.insert(round(where * len(self.calls)), self.new_uii())
            elif self.calls:
                del self.calls[min(int(where * len(self.calls)), len(self.calls) - 1)]

    async def fetch(self, page: int, max_rows: int) -> Sequence[ActiveCall]:
        self._change()
        self.requests += 1
        if self.requests > RUNAWAY:
            raise AssertionError("the walk does not end")
        size = max_rows if self.cap is None else min(max_rows, self.cap)
        start = page * (max_rows if self.offset_by_request else size)
        rows = self.calls[start : start + size]
        self.largest = max(self.largest, len(rows))
        self.snapshots.append(tuple(self.calls))
        self.asked.append(max_rows)
        return [self._objects.setdefault(uii, ActiveCall(uii=uii)) for uii in rows]


@attrs.frozen
class Walked:
    uiis: list[str]
    complete: bool
    snapshots: list[tuple[str, ...]]
    asked: list[int]
    #: Answers the walk used (the rest were sent ahead and not needed).
    used: int
    #: How many requests the walk could send ahead and not need: its guesses past the end
    #: and when a page looked like page 0 again, and the pages the client expected from
    #: the listing's size at its last walk.
    ahead: int


async def walk_once(
    server: Server, memo: PagingMemo, page_size: int, prefetch: int, label: str = "listing"
) -> Walked:
    server.snapshots, server.asked = [], []
    known = memo.recall(label)
    planned = 0 if known is None else known.rows // max(1, min(known.size, page_size)) + 1
    shape = WalkShape(page_size=page_size, prefetch=prefetch)
    walk = PageWalk(server.fetch, shape, memo=memo, label=label)
    async with walk:
        uiis = [call.uii async for page in walk for call in page.calls]
    await asyncio.sleep(0)  # let requests cancelled past the end settle
    ahead = 2 * (prefetch - 1) + planned
    return Walked(uiis, walk.complete, server.snapshots, server.asked, walk.pages_read, ahead)


def shifted_up(uii: str, snapshots: list[tuple[str, ...]]) -> bool:
    """Whether a call ahead of ``uii`` ended during the walk (the documented row shift)."""
    for before, after in itertools.pairwise(snapshots):
        if uii in before:
            ahead = before[: before.index(uii)]
            if any(call not in after for call in ahead):
                return True
    return False


def check_walk(walked: Walked, prefetch: int) -> None:
    # No uii twice.
    assert len(walked.uiis) == len(set(walked.uiis))
    # The documented bound on the answers used: the pages, the probe or the last page,
    # the check, the verify, the periodic checks; calls arriving between two requests
    # (``a``) may make each re-read up to ``a`` rows. Requests sent ahead come on top.
    most = max(len(s) for s in walked.snapshots)
    arriving = max(
        (len(set(after) - set(before)) for before, after in itertools.pairwise(walked.snapshots)),
        default=0,
    )
    smallest = min(walked.asked)
    if arriving < smallest:
        pages = most // (smallest - arriving)
        bound = pages + 4 + 2 * ((pages + 1) // CHECK_EVERY)
        assert walked.used <= bound, (walked.used, bound, walked.asked)
    assert len(walked.asked) - walked.used <= walked.ahead, (walked.asked, walked.used)
    # Every call present for the whole walk is yielded, unless the row shift applies.
    if walked.complete:
        throughout = set(walked.snapshots[0]).intersection(*walked.snapshots[1:])
        missed = throughout - set(walked.uiis)
        assert all(shifted_up(uii, walked.snapshots) for uii in missed), missed
    # Nothing changed during the walk: it read the listing whole, in order.
    if len(set(walked.snapshots)) == 1:
        assert walked.complete
        assert walked.uiis == list(walked.snapshots[0])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.integers(0, 120),
    cap=st.none() | st.integers(2, 40),
    offset_by_request=st.booleans(),
    page_size=st.integers(2, 150),
    prefetch=st.integers(1, 3),
    script=changes,
    tail=st.sampled_from(["quiet", "end", "front", "middle"]),
)
# The case: page 0 holds one call and another arrives before each request.
@example(
    start=0, cap=None, offset_by_request=False, page_size=100, prefetch=1, script=[], tail="end"
)
# A cap of one row faked by a call coming and going, a burst, then one arrival per request.
@example(
    start=1,
    cap=None,
    offset_by_request=False,
    page_size=100,
    prefetch=1,
    script=[[], [("start", 1.0)], [("end", 1.0)], [("start", 1.0)] * 5],
    tail="end",
)
def test_walks_while_calls_start_and_end(
    start: int,
    cap: int | None,
    offset_by_request: bool,
    page_size: int,
    prefetch: int,
    script: list[list[Change]],
    tail: str,
) -> None:
    server = Server(
        [f"old{n:08d}" for n in range(start)],
        cap=cap,
        offset_by_request=offset_by_request,
        script=script,
        tail=tail,
    )
    memo = PagingMemo()

    async def walks() -> None:
        for _ in range(3):
            check_walk(await walk_once(server, memo, page_size, prefetch), prefetch)

    asyncio.run(walks())


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cap=st.integers(1, 40),
    extra=st.integers(1, 60),
    offset_by_request=st.booleans(),
    prefetch=st.integers(1, 3),
    script=changes,
    data=st.data(),
)
def test_against_a_real_cap_the_memo_ends_at_it(
    cap: int,
    extra: int,
    offset_by_request: bool,
    prefetch: int,
    script: list[list[Change]],
    data: st.DataObject,
) -> None:
    page_size = data.draw(st.integers(cap + 1, 200), label="page_size")
    server = Server(
        [f"old{n:08d}" for n in range(2 * cap + extra)],
        cap=cap,
        offset_by_request=offset_by_request,
        script=script,
    )
    memo = PagingMemo()

    async def walks() -> None:
        while server.requests < len(script):  # calls come and go: any belief may form
            check_walk(await walk_once(server, memo, page_size, prefetch), prefetch)
        server.calls.extend(server.new_uii() for _ in range(2 * cap + 1))  # room to show it
        quiet = await walk_once(server, memo, page_size, prefetch)
        check_walk(quiet, prefetch)
        assert memo.cap == cap

    asyncio.run(walks())


@pytest.mark.parametrize("start", [0, 1, 2])
@pytest.mark.parametrize("tail", ["end", "front", "middle"])
def test_one_arrival_per_request_for_ever_still_ends_every_walk(start: int, tail: str) -> None:
    # The worst case: an empty listing, then a call arriving before every request
    # (so page 0 holds one call and the probe for a cap comes back full), walk after walk.
    server = Server([f"old{n:08d}" for n in range(start)], tail=tail)
    memo = PagingMemo()

    async def walks() -> None:
        for _ in range(20):
            walked = await walk_once(server, memo, 100, 1)
            check_walk(walked, 1)
            # Page 0, the probe, the check, one more page (a page 0 of the size last
            # seen, and its probe, are asked at once).
            assert len(walked.asked) <= 4

    asyncio.run(walks())


caps = st.none() | st.integers(2, 40)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.tuples(st.integers(0, 120), st.integers(0, 120)),
    caps_per_walk=st.lists(st.tuples(caps, caps), min_size=2, max_size=5),
    offset_by_request=st.booleans(),
    page_size=st.integers(2, 150),
    prefetch=st.integers(1, 3),
    script=changes,
)
# The cases: a walk of 2,500 calls, then a cap of 500 appears; a big listing,
# then another listing capped at 300.
@example(
    sizes=(120, 80),
    caps_per_walk=[(None, None), (25, None), (None, 30)],
    offset_by_request=False,
    page_size=100,
    prefetch=1,
    script=[],
)
def test_caps_that_change_between_walks_and_differ_between_listings_hide_no_call(
    sizes: tuple[int, int],
    caps_per_walk: list[tuple[int | None, int | None]],
    offset_by_request: bool,
    page_size: int,
    prefetch: int,
    script: list[list[Change]],
) -> None:
    servers = [
        Server(
            [f"l{n}-{m:08d}" for m in range(size)],
            offset_by_request=offset_by_request,
            script=list(script),
        )
        for n, size in enumerate(sizes)
    ]
    memo = PagingMemo()  # one client: what it learns of one listing it may use for both

    async def walks() -> None:
        for caps_now in caps_per_walk:
            for n, (server, cap) in enumerate(zip(servers, caps_now, strict=True)):
                server.cap = cap  # a configuration change, or another node
                walked = await walk_once(server, memo, page_size, prefetch, f"ACD {n}")
                check_walk(walked, prefetch)

    asyncio.run(walks())
