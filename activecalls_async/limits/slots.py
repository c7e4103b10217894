"""A client's concurrency slots, handed to waiting requests by priority, with aging.

``PrioritySlots(size)`` lets at most ``size`` requests hold a slot. When a slot frees,
the next waiter by the SDK's one priority rule (``activecalls_async.limits.waitline``)
gets it, with ``aging`` seconds (default 5) raising the first waiter of a priority by one
level.

A slot is counted as held exactly while a caller holds it: a waiter cancelled before its
turn takes none, even when the cancellation and a release come in the same loop turn
(the release then hands the slot to the next waiter), and a waiter granted a slot but
cancelled before it could resume gives it back at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .priority import Priority
from .waitline import WaitLine

__all__ = ["PrioritySlots"]


class PrioritySlots:
    """At most ``size`` holders; waiters served by priority (see the module docstring)."""

    def __init__(
        self, size: int, *, aging: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self._clock = clock
        self._held = 0
        self._line = WaitLine(aging)

    @property
    def aging(self) -> float:
        """Seconds of being first of its priority that raise a waiter by one level."""
        return self._line.age

    @property
    def held(self) -> int:
        """Slots held now."""
        return self._held

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._line)

    async def acquire(self, priority: Priority) -> None:
        """Wait for a slot; a waiter cancelled before it got one takes none."""
        if not self._line and self._held < self.size:
            self._held += 1
            return
        future = asyncio.get_running_loop().create_future()
        waiter = self._line.join(priority, future, self._clock())
        self._hand_out()
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # granted, but its request will not use it
            else:
                # Cancelled before its turn: it holds nothing. ``leave`` does nothing if a
                # hand-out already dropped it from the line.
                self._line.leave(waiter, self._clock())
                self._hand_out()  # it may have been the one blocking others' turn
            raise

    def release(self) -> None:
        """Give back a slot."""
        self._held -= 1
        if self._line:
            self._hand_out()

    def _hand_out(self) -> None:
        """Grant free slots to the waiters whose turn it is."""
        now = self._clock()
        line = self._line
        while self._held < self.size and (best := line.best(now)) is not None:
            line.leave(best, now)
            if best.future.done():
                # Cancelled in this loop turn, before its task could leave the line:
                # it takes no slot; the next waiter gets it.
                continue
            self._held += 1
            best.future.set_result(None)
