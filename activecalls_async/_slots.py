"""A client's concurrency slots, handed to waiting requests by priority, with aging.

``PrioritySlots(size)`` lets at most ``size`` requests hold a slot. When a slot frees,
the waiter with the highest *rank* gets it, first come, first served among equal ranks.
A waiter's rank is its priority plus one level for every ``aging`` seconds it has
waited (``BULK`` waiting ``3 * aging`` seconds ranks with a fresh ``ACTION`` and, having
come first, goes first). Rank is not capped, so a lower priority can be overtaken but
never starved: after ``(ACTION - priority + 1) * aging`` seconds a waiter outranks every
newcomer, and only waiters that came before it can still go first.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from .priority import Priority

__all__ = ["PrioritySlots"]


class _Waiter:
    __slots__ = ("arrival", "future", "priority", "since")

    def __init__(
        self, priority: Priority, arrival: int, since: float, future: asyncio.Future[None]
    ) -> None:
        self.priority = priority
        self.arrival = arrival
        self.since = since
        self.future = future


class PrioritySlots:
    """At most ``size`` holders; waiters served by rank (see the module docstring)."""

    def __init__(
        self, size: int, *, aging: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.aging = aging
        self._clock = clock
        self._held = 0
        self._waiters: list[_Waiter] = []
        self._arrivals = itertools.count()

    @property
    def held(self) -> int:
        """Slots held now."""
        return self._held

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return len(self._waiters)

    async def acquire(self, priority: Priority) -> None:
        """Wait for a slot; a waiter cancelled before it got one takes none."""
        if not self._waiters and self._held < self.size:
            self._held += 1
            return
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._arrivals), self._clock(), future)
        self._waiters.append(waiter)
        self._hand_out()
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # granted, but its request will not use it
            else:
                self._waiters.remove(waiter)
                self._hand_out()  # it may have been the one blocking others' turn
            raise

    def release(self) -> None:
        """Give back a slot."""
        self._held -= 1
        self._hand_out()

    def _hand_out(self) -> None:
        """Grant free slots to the best-ranked waiters."""
        now = self._clock()
        while self._waiters and self._held < self.size:
            best = max(self._waiters, key=lambda w: (self._rank(w, now), -w.arrival))
            self._waiters.remove(best)
            self._held += 1
            best.future.set_result(None)

    def _rank(self, waiter: _Waiter, now: float) -> float:
        if self.aging <= 0:
            return float(waiter.priority)
        return float(waiter.priority + int((now - waiter.since) // self.aging))
