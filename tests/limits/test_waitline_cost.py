"""The wait line's cost per operation does not grow with the number of waiters."""

from __future__ import annotations

import asyncio

import pytest

from activecalls_async import Priority
from activecalls_async.limits.waitline import WaitLine


class _CountingLine(WaitLine):
    """A wait line that counts how many waiters its rule looks at."""

    looked = 0

    def level(self, waiter: object, now: float) -> int:  # type: ignore[override]
        type(self).looked += 1
        return super().level(waiter, now)  # type: ignore[arg-type]


@pytest.mark.parametrize("waiters", [2_000, 10_000])
async def test_join_leave_and_serve_look_at_a_bounded_number_of_waiters(waiters: int) -> None:
    loop = asyncio.get_running_loop()
    line = _CountingLine(age=1.0)
    _CountingLine.looked = 0
    joined = [line.join(Priority(n % 4), loop.create_future(), n / 1000) for n in range(waiters)]
    for waiter in joined[::3]:  # a third of them give up
        line.leave(waiter, 20.0)
    served = 0
    while (best := line.best(30.0)) is not None:
        line.leave(best, 30.0)
        line.next_rise(30.0)
        served += 1
    assert served == waiters - len(joined[::3])
    assert len(line) == 0
    # Four firsts per look, whatever the length of the line (a scan would be n per look).
    assert _CountingLine.looked <= 8 * waiters


async def test_the_order_and_aging_rules_hold_with_waiters_leaving_from_the_middle() -> None:
    loop = asyncio.get_running_loop()
    line = WaitLine(age=1.0)
    bulk = [line.join(Priority.BULK, loop.create_future(), 0.0) for _ in range(3)]
    read = line.join(Priority.READ, loop.create_future(), 1.5)
    line.leave(bulk[1], 0.5)  # not first: the first keeps aging from 0
    assert line.level(bulk[0], 1.0) == Priority.WATCH
    assert line.best(1.0) is read
    assert line.best(2.0) is bulk[0]  # READ reached, and it came first
    line.leave(bulk[0], 2.0)
    assert bulk[2].since == 2.0  # the next still queued becomes first, from now
    assert bulk[1] not in line
    assert list(line) == [bulk[2], read] or list(line) == [read, bulk[2]]
    assert len(line) == 2
