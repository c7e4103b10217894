"""``stop_task``: a task cancelled and awaited ends, however it treats its cancellation,
and the caller's own cancellation is never swallowed (virtual time: no real waits)."""

from __future__ import annotations

import asyncio

import pytest

from activecalls_async._aio import stop_task
from tests.support import virtual


def test_a_task_that_catches_its_cancellation_is_cancelled_again_until_it_ends() -> None:
    async def main() -> tuple[int, float]:
        caught = 0

        async def stubborn() -> None:
            nonlocal caught
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    caught += 1
                    if caught == 3:
                        raise
                    # A library turning a cancellation into an error it retries.

        task = asyncio.ensure_future(stubborn())
        await asyncio.sleep(0)
        started = asyncio.get_running_loop().time()
        await stop_task(task, patience=1.0)
        assert task.cancelled()
        return caught, asyncio.get_running_loop().time() - started

    caught, took = virtual(main)
    assert caught == 3
    assert took == pytest.approx(2.0)  # two more cancellations, one patience apart


def test_a_task_that_fails_as_it_stops_has_its_error_read_not_raised() -> None:
    async def main() -> asyncio.Future[None]:
        async def failing() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                raise RuntimeError("cleanup failed")

        task = asyncio.ensure_future(failing())
        await asyncio.sleep(0)
        await stop_task(task)
        return task

    task = virtual(main)
    assert isinstance(task.exception(), RuntimeError)


def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    async def main() -> bool:
        async def slow_to_stop() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(10)  # a long clean-up
                raise

        inner = asyncio.ensure_future(slow_to_stop())
        await asyncio.sleep(0)
        outer = asyncio.ensure_future(stop_task(inner))
        await asyncio.sleep(1)
        outer.cancel()  # the caller gives up while the task still cleans up
        with pytest.raises(asyncio.CancelledError):
            await outer
        await asyncio.wait({inner})
        return inner.cancelled()

    assert virtual(main)


def test_a_finished_task_is_left_as_it_is() -> None:
    async def main() -> int:
        async def done() -> int:
            return 7

        task = asyncio.ensure_future(done())
        await task
        await stop_task(task)
        return task.result()

    assert virtual(main) == 7
