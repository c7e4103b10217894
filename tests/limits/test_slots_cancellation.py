"""Concurrency slots under every interleaving of acquire, cancel and release: no slot is
ever lost or counted twice, and no caller sees an exception that is not its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from activecalls_async import Priority
from activecalls_async.limits.slots import PrioritySlots


async def test_a_release_in_the_same_turn_as_a_cancel_hands_the_slot_on() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(Priority.READ)
    cancelled = asyncio.ensure_future(slots.acquire(Priority.READ))
    waiting = asyncio.ensure_future(slots.acquire(Priority.BULK))
    await asyncio.sleep(0)  # both are in the line now
    cancelled.cancel()  # its future is cancelled at once; its task runs later
    slots.release()  # the same loop turn: the slot must go to the other waiter
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(waiting, 1.0)
    assert slots.held == 1
    assert slots.waiting == 0
    slots.release()
    await asyncio.wait_for(slots.acquire(Priority.READ), 1.0)  # nothing lost: no hang


async def test_wait_for_timeouts_at_every_moment_never_leak_a_slot() -> None:
    slots = PrioritySlots(2)

    async def use() -> None:
        await slots.acquire(Priority.READ)
        try:
            # Real time on purpose: the timeouts below land at every moment of the
            # acquire, hold and release, as the loop's jitter scatters them.
            await asyncio.sleep(0.001)
        finally:
            slots.release()

    for round_ in range(300):
        calls = [asyncio.wait_for(use(), 0.001 * (1 + round_ % 10)) for _ in range(12)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(o is None or isinstance(o, asyncio.TimeoutError) for o in outcomes), outcomes
    assert slots.held == 0
    assert slots.waiting == 0
    await asyncio.wait_for(use(), 1.0)


class _Caller:
    """One task using a slot: waiting, holding, or done (with how it ended)."""

    def __init__(self, machine: SlotsMachine, priority: Priority) -> None:
        self.state = "waiting"
        self.released = asyncio.Event()
        self.outcome: Any = None
        self.task = machine.loop.create_task(self._run(machine.slots, priority))

    async def _run(self, slots: PrioritySlots, priority: Priority) -> None:
        try:
            await slots.acquire(priority)
        except BaseException as exc:
            self.state, self.outcome = "done", exc
            raise
        self.state = "holding"
        try:
            await self.released.wait()
        finally:
            if self.state == "holding":
                slots.release()
            self.state = "done"


class SlotsMachine(RuleBasedStateMachine):
    """Callers join, are cancelled and release in any order, with the loop run between
    any two of those steps or not at all (so several land in one loop turn)."""

    @initialize(size=st.integers(1, 3))
    def start(self, size: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.slots = PrioritySlots(size, aging=0.0)
        self.callers: list[_Caller] = []

    def teardown(self) -> None:
        loop = getattr(self, "loop", None)
        if loop is None:
            return
        for caller in self.callers:
            caller.task.cancel()
        if self.callers:
            tasks = [c.task for c in self.callers]
            loop.run_until_complete(asyncio.wait(tasks))
        loop.close()

    def _run_loop(self, turns: int) -> None:
        for _ in range(turns):
            self.loop.run_until_complete(asyncio.sleep(0))

    @rule(priority=st.sampled_from(list(Priority)))
    def join(self, priority: Priority) -> None:
        self.callers.append(_Caller(self, priority))

    @precondition(lambda self: any(not c.task.done() for c in self.callers))
    @rule(pick=st.integers(0, 1000))
    def cancel(self, pick: int) -> None:
        live = [c for c in self.callers if not c.task.done()]
        live[pick % len(live)].task.cancel()

    @precondition(lambda self: any(c.state == "holding" for c in self.callers))
    @rule(pick=st.integers(0, 1000))
    def release(self, pick: int) -> None:
        holding = [c for c in self.callers if c.state == "holding"]
        holding[pick % len(holding)].released.set()

    @rule(turns=st.integers(1, 4))
    def run_loop(self, turns: int) -> None:
        self._run_loop(turns)

    @invariant()
    def nothing_lost_nor_counted_twice(self) -> None:
        if not hasattr(self, "loop"):
            return
        self._run_loop(3)  # let every callback of the steps so far run
        holding = sum(1 for c in self.callers if c.state == "holding")
        waiting = sum(1 for c in self.callers if c.state == "waiting")
        assert self.slots.held == holding
        assert holding <= self.slots.size
        assert self.slots.waiting == waiting
        # Work-conserving: nobody waits while a slot is free.
        assert waiting == 0 or holding == self.slots.size
        for caller in self.callers:
            if caller.task.done() and not caller.task.cancelled():
                assert caller.task.exception() is None, caller.task.exception()
            assert caller.outcome is None or isinstance(caller.outcome, asyncio.CancelledError)


SlotsMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_slots_under_any_interleaving = SlotsMachine.TestCase
