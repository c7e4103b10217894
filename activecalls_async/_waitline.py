"""Requests waiting their turn, served by priority with aging: one rule for every queue.

The rule, for the rate limiter and for the concurrency slots alike: waiting requests
are served highest ``Priority`` first, first come first served within a priority. The
first waiter of each priority rises one level for every ``age`` seconds it has been
first, up to ``ACTION``, and then ranks by arrival among the requests of the level it
has reached. A request passed over by a steady stream of higher priorities therefore
waits at most about three ``age`` periods after it became first of its kind before only
earlier arrivals can pass it, so no priority starves; and since only the first waiter
ages, a backlog of ``BULK`` served at its own pace never climbs over a later ``ACTION``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

from .priority import Priority

__all__ = ["WaitLine", "Waiter"]


class Waiter:
    """One request waiting for its turn; its future is set when the turn comes."""

    __slots__ = ("future", "priority", "seq", "since")

    def __init__(self, priority: Priority, seq: int, future: asyncio.Future[None]) -> None:
        self.priority = priority
        self.seq = seq
        self.future = future
        #: When it became the first waiter of its priority; None while it is not.
        self.since: float | None = None


class WaitLine:
    """The waiters of one queue, in the order the module docstring states."""

    def __init__(self, age: float) -> None:
        #: Seconds of being first of its priority that raise a waiter by one level.
        self.age = age
        self._waiters: list[Waiter] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._waiters)

    def __iter__(self) -> Iterator[Waiter]:
        return iter(tuple(self._waiters))

    def __contains__(self, waiter: object) -> bool:
        return waiter in self._waiters

    def join(self, priority: Priority, future: asyncio.Future[None], now: float) -> Waiter:
        """Put a new waiter at the back of the line."""
        waiter = Waiter(priority, next(self._seq), future)
        if not any(w.priority is priority for w in self._waiters):
            waiter.since = now
        self._waiters.append(waiter)
        return waiter

    def leave(self, waiter: Waiter, now: float) -> None:
        """Take ``waiter`` out of the line; the next of its priority becomes first."""
        self._waiters.remove(waiter)
        if waiter.since is not None:
            following = (w for w in self._waiters if w.priority is waiter.priority)
            successor = min(following, key=lambda w: w.seq, default=None)
            if successor is not None:
                successor.since = now

    def level(self, waiter: Waiter, now: float) -> int:
        """The waiter's priority after aging."""
        if waiter.since is None or self.age <= 0:
            return waiter.priority
        risen = int((now - waiter.since) // self.age)
        return min(Priority.ACTION, waiter.priority + max(0, risen))

    def best(self, now: float) -> Waiter | None:
        """The waiter whose turn comes next, or None when nobody waits."""
        if not self._waiters:
            return None
        return max(self._waiters, key=lambda w: (self.level(w, now), -w.seq))

    def next_rise(self, now: float) -> float | None:
        """Seconds until aging next raises a waiter's level (None: it raises none)."""
        due: float | None = None
        if self.age <= 0:
            return None
        for waiter in self._waiters:
            if waiter.since is not None and self.level(waiter, now) < Priority.ACTION:
                risen = (now - waiter.since) // self.age + 1
                wait = waiter.since + risen * self.age - now
                due = wait if due is None else min(due, wait)
        return due
