"""The one priority rule the limiter and the slots share, on a clock the test sets."""

from __future__ import annotations

import asyncio

from activecalls_async.limits.waitline import WaitLine
from activecalls_async.priority import Priority


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


async def test_highest_priority_first_and_first_come_first_served_within_one() -> None:
    line = WaitLine(age=10.0)
    bulk1 = line.join(Priority.BULK, _future(), 0.0)
    bulk2 = line.join(Priority.BULK, _future(), 0.0)
    action = line.join(Priority.ACTION, _future(), 0.0)
    order = []
    while (best := line.best(1.0)) is not None:
        order.append(best)
        line.leave(best, 1.0)
    assert order == [action, bulk1, bulk2]


async def test_only_the_first_waiter_of_a_priority_ages_and_never_past_action() -> None:
    line = WaitLine(age=1.0)
    first = line.join(Priority.BULK, _future(), 0.0)
    second = line.join(Priority.BULK, _future(), 0.0)
    assert line.level(first, 2.5) == Priority.READ
    assert line.level(second, 2.5) == Priority.BULK  # not first: it does not age
    assert line.level(first, 100.0) == Priority.ACTION
    line.leave(first, 50.0)
    assert line.level(second, 50.5) == Priority.BULK  # first from 50 s on, aging from there
    assert line.level(second, 51.0) == Priority.WATCH


async def test_an_aged_waiter_goes_before_a_later_action_and_says_when_it_next_rises() -> None:
    line = WaitLine(age=1.0)
    bulk = line.join(Priority.BULK, _future(), 0.0)
    assert line.next_rise(0.25) == 0.75
    action = line.join(Priority.ACTION, _future(), 3.0)
    assert line.best(2.9) is action  # BULK has reached READ only
    assert line.best(3.0) is bulk  # ACTION level, and it came first
    assert line.next_rise(3.0) is None  # the only waiter that ages has reached ACTION
    assert action.since == 3.0


async def test_no_aging_when_age_is_zero() -> None:
    line = WaitLine(age=0.0)
    bulk = line.join(Priority.BULK, _future(), 0.0)
    assert line.level(bulk, 1e9) == Priority.BULK
    assert line.next_rise(5.0) is None
