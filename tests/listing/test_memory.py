"""A walk over 50,000 calls (a hundred pages) holds a few pages of calls, whatever the total
(tracemalloc)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Sequence

from activecalls_async import ActiveCall
from activecalls_async.pagination import CallWalk, PageWalk, WalkShape

TOTAL = 50_000
PAGE_SIZE = 500


def fresh_call(number: int) -> ActiveCall:
    """A call with its own strings, as decoding a response makes (kept light: tracemalloc
    makes every allocation slow)."""
    return ActiveCall(
        uii=f"{number:030d}",
        ani=f"650{number:07d}",
        agent_first_name=f"Agent{number}",
        cnam=f"CALLER {number}",
    )


class GeneratedListing:
    """A listing of ``total`` calls, each built afresh when its page is asked for (as a
    decoded response would be), so that holding calls costs memory that tracemalloc sees."""

    def __init__(self, total: int) -> None:
        self.total = total

    async def fetch(self, page: int, max_rows: int) -> Sequence[ActiveCall]:
        start = page * max_rows
        return [fresh_call(n) for n in range(start, min(start + max_rows, self.total))]


def peak_of(build: Callable[[], object]) -> int:
    """The traced peak, in bytes, of building something and keeping it."""
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del kept
    return peak


async def test_a_walk_holds_only_a_few_pages_of_calls() -> None:
    prefetch = 4
    # What a walk must keep anyway: one uii string per call, in a set.
    seen_set = peak_of(lambda: {f"{n:030d}" for n in range(TOTAL)})
    one_page = peak_of(lambda: [fresh_call(n) for n in range(PAGE_SIZE)])
    bound = seen_set + one_page * (prefetch + 3)
    # The bound is tight enough to catch a walk that keeps the calls it has yielded.
    assert one_page // PAGE_SIZE * TOTAL > 2 * bound

    walk = CallWalk(
        PageWalk(GeneratedListing(TOTAL).fetch, WalkShape(page_size=PAGE_SIZE, prefetch=prefetch))
    )
    count = 0
    gc.collect()
    tracemalloc.start()
    try:
        async with walk:
            async for _call in walk:
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == TOTAL
    assert peak < bound, f"peak {peak / 1e6:.1f} MB; bound {bound / 1e6:.1f} MB"
