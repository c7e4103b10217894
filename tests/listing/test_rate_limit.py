"""``RateLimit``: never more than N starts in any window, fair, shareable, replaceable."""

from __future__ import annotations

import asyncio
import time

import pytest

from activecalls_async import Limiter, RateLimit, ValidationError
from activecalls_async.priority import Priority
from activecalls_async.testing import Simulator

from .helpers import client_for


class Recorder:
    """A clock that remembers its readings: the last one is the latest grant's time."""

    def __init__(self) -> None:
        self.readings: list[float] = []

    def __call__(self) -> float:
        now = time.monotonic()
        self.readings.append(now)
        return now


async def grants(limit: RateLimit, clock: Recorder, tasks: int, each: int) -> list[float]:
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await limit.acquire()
            stamps.append(clock.readings[-1])
            await limit.release()

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return sorted(stamps)


async def test_never_more_than_the_limit_inside_any_window() -> None:
    clock = Recorder()
    limit = RateLimit(5, per=0.2, margin=0.0, clock=clock)
    stamps = await grants(limit, clock, tasks=3, each=7)
    assert len(stamps) == 21
    # Any window of 0.2 s holds at most 5 starts: the 6th after any start is 0.2 s later.
    assert all(later - earlier >= 0.2 for earlier, later in zip(stamps, stamps[5:], strict=False))
    # And the limiter is not slower than it must be: the burst goes at once.
    assert stamps[4] - stamps[0] < 0.05
    assert stamps[-1] - stamps[0] < 4 * 0.2 + 0.15


async def test_the_margin_widens_the_window() -> None:
    clock = Recorder()
    limit = RateLimit(2, per=0.1, margin=0.05, clock=clock)
    stamps = await grants(limit, clock, tasks=2, each=3)
    assert all(later - earlier >= 0.15 for earlier, later in zip(stamps, stamps[2:], strict=False))


async def test_waiters_are_served_first_come_first_served() -> None:
    limit = RateLimit(1, per=0.03, margin=0.0)
    order: list[str] = []

    async def greedy(name: str) -> None:
        for _ in range(3):
            await limit.acquire()
            order.append(name)
            await limit.release()

    await asyncio.gather(greedy("a"), greedy("b"), greedy("c"))
    # "a" takes the free slot and queues again at once; "b" and "c" arrived while it
    # waited, so they go before its third turn: nobody runs ahead of an earlier arrival.
    assert order == ["a", "a", "b", "c", "a", "b", "c", "b", "c"]


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    now = [0.0]
    limit = RateLimit(2, per=60.0, margin=0.0, clock=lambda: now[0])
    for _ in range(2):
        await limit.acquire()
        await limit.release()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(limit.acquire(), 0.02)  # the window is full
    now[0] = 60.0  # the first two starts leave the window
    await asyncio.wait_for(limit.acquire(), 0.02)
    await asyncio.wait_for(limit.acquire(), 0.02)  # the cancelled wait did not use one
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(limit.acquire(), 0.02)


async def test_one_limit_shared_by_two_clients_holds_for_both() -> None:
    async with Simulator(calls=50, seed=5, rate_limit=8, rate_window=0.5) as sim:
        shared = RateLimit(8, per=0.5)
        async with (
            client_for(sim, rate_limit=shared, retry=None) as one,
            client_for(sim, rate_limit=shared, retry=None) as two,
        ):
            await asyncio.gather(
                *(
                    client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)
                    for client in (one, two)
                    for _ in range(10)
                )
            )
        assert [r.status for r in sim.requests] == [200] * 20
        starts = sorted(r.started for r in sim.requests)
        assert all(
            later - earlier >= 0.5 for earlier, later in zip(starts, starts[8:], strict=False)
        )


async def test_any_limiter_can_replace_it_without_touching_the_transport() -> None:
    class CountingLimiter:
        def __init__(self) -> None:
            self.acquired = 0

        async def acquire(self, priority: Priority = Priority.READ) -> None:
            self.acquired += 1

        async def release(self) -> None:
            pass

    limiter = CountingLimiter()
    assert isinstance(limiter, Limiter)
    async with (
        Simulator(calls=30, seed=5, rate_limit=None) as sim,
        client_for(sim, rate_limit=limiter) as client,
    ):
        calls = [c async for c in client.iter_active_calls("ACCOUNT", sim.account_id, page_size=10)]
    assert len(calls) == 30
    assert limiter.acquired == len(sim.requests) == 4


def test_default_limit_and_repr() -> None:
    limit = RateLimit(120, per=60)
    assert repr(limit) == "RateLimit(120, per=60)"
    assert limit.rate == 2.0
    assert isinstance(limit, Limiter)


@pytest.mark.parametrize(
    ("args", "kwargs", "parameter"),
    [
        ((0,), {}, "requests"),
        ((True,), {}, "requests"),
        ((1.5,), {}, "requests"),
        ((10,), {"per": 0}, "per"),
        ((10,), {"per": -1.0}, "per"),
        ((10,), {"margin": -0.1}, "margin"),
    ],
)
def test_bad_limits_are_refused(
    args: tuple[object, ...], kwargs: dict[str, object], parameter: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        RateLimit(*args, **kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter
