"""``bounded``: a Redis call cut off by its timeout or a cancellation has ended (its
connection released) before the caller goes on, so closing the client right after leaves
no socket behind."""

from __future__ import annotations

import asyncio
import gc

import pytest

from activecalls_async.fleet._redis import aioredis, bounded
from tests.support import silent_tcp


class Call:
    """A call that takes ``cleanup`` seconds to let go once cut off, as a connection does."""

    def __init__(self, *, cleanup: float = 0.01, answer_when_cut: bool = False) -> None:
        self.cleanup, self.answer_when_cut = cleanup, answer_when_cut
        self.started, self.ended = asyncio.Event(), False

    async def __call__(self) -> str:
        self.started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.sleep(self.cleanup))
            self.ended = True
            if self.answer_when_cut:
                return "answered as it was cut off"
            raise
        return "answered"


async def test_a_call_cut_off_by_its_timeout_has_ended_when_the_timeout_is_raised() -> None:
    call = Call()
    with pytest.raises(asyncio.TimeoutError):
        await bounded(call(), 0.01)
    assert call.ended


async def test_a_call_whose_caller_is_cancelled_has_ended_when_the_cancellation_goes_on() -> None:
    call = Call()
    caller = asyncio.ensure_future(bounded(call(), 60))
    await call.started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert call.ended


async def test_an_answer_that_comes_as_the_call_is_cut_off_is_returned() -> None:
    # A write that went through is reported, not taken for a timeout.
    call = Call(answer_when_cut=True)
    assert await bounded(call(), 0.01) == "answered as it was cut off"


async def test_a_call_that_answers_in_time_is_returned() -> None:
    async def quick() -> int:
        return 7

    assert await bounded(quick(), 1.0) == 7


async def test_closing_the_client_after_a_timeout_leaves_no_connection_behind() -> None:
    # A server that accepts and never answers: the client's handshake hangs.
    async with silent_tcp() as (port, _):
        for _ in range(5):
            redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=30)
            with pytest.raises(asyncio.TimeoutError):
                await bounded(redis.ping(), 0.05)
            await redis.aclose()
            del redis
            # An unclosed connection would warn here (and the warning fails the test).
            gc.collect()
