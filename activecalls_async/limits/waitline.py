"""Requests waiting their turn, served by priority with aging: one rule for every queue.

The rule, for the rate limiter and for the concurrency slots alike: waiting requests
are served highest ``Priority`` first, first come first served within a priority. The
first waiter of each priority rises one level for every ``age`` seconds it has been
first, up to ``ACTION``, and then ranks by arrival among the requests of the level it
has reached. A request passed over by a steady stream of higher priorities therefore
waits at most about three ``age`` periods after it became first of its kind before only
earlier arrivals can pass it, so no priority starves; and since only the first waiter
ages, a backlog of ``BULK`` served at its own pace never climbs over a later ``ACTION``.

**Cost.** Only the first waiter of a priority can rank above its own priority, and it
ranks above every later waiter of that priority, so the next turn is always one of the
four firsts. Each priority is a first-in first-out line; a waiter that leaves early is
marked and skipped when it reaches the front. Joining, leaving and finding the next
turn therefore cost O(1) (amortised), however many requests wait: a ``gather`` of
thousands of requests never blocks the event loop on the line itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterator

from .priority import Priority

__all__ = ["WaitLine", "Waiter"]


class Waiter:
    """One request waiting for its turn; its future is set when the turn comes."""

    __slots__ = ("future", "priority", "queued", "seq", "since")

    def __init__(self, priority: Priority, seq: int, future: asyncio.Future[None]) -> None:
        self.priority = priority
        self.seq = seq
        self.future = future
        #: When it became the first waiter of its priority; None while it is not.
        self.since: float | None = None
        #: Whether it is still in its line (False once it left or was served).
        self.queued = True


class WaitLine:
    """The waiters of one queue, in the order the module docstring states."""

    def __init__(self, age: float) -> None:
        #: Seconds of being first of its priority that raise a waiter by one level.
        self.age = age
        # One first-in first-out line per priority; waiters that left stay until they
        # reach the front (``queued`` is False), so leaving never scans a line.
        self._lines: dict[Priority, deque[Waiter]] = {p: deque() for p in Priority}
        self._count = 0
        self._seq = itertools.count()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Waiter]:
        """The waiters still queued, by priority then arrival (a snapshot)."""
        return iter([w for line in self._lines.values() for w in line if w.queued])

    def __contains__(self, waiter: object) -> bool:
        return isinstance(waiter, Waiter) and waiter.queued

    def join(self, priority: Priority, future: asyncio.Future[None], now: float) -> Waiter:
        """Put a new waiter at the back of the line."""
        waiter = Waiter(priority, next(self._seq), future)
        line = self._lines[priority]
        line.append(waiter)
        self._count += 1
        if self._first(line) is waiter:
            waiter.since = now
        return waiter

    def leave(self, waiter: Waiter, now: float) -> None:
        """Take ``waiter`` out of the line; the next of its priority becomes first."""
        if not waiter.queued:
            return
        waiter.queued = False
        self._count -= 1
        if waiter.since is not None:
            successor = self._first(self._lines[waiter.priority])
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
        best: Waiter | None = None
        rank = (-1, 0)
        for line in self._lines.values():
            first = self._first(line)
            if first is not None and (candidate := (self.level(first, now), -first.seq)) > rank:
                best, rank = first, candidate
        return best

    def next_rise(self, now: float) -> float | None:
        """Seconds until aging next raises a waiter's level (None: it raises none)."""
        if self.age <= 0:
            return None
        due: float | None = None
        for line in self._lines.values():
            first = self._first(line)
            if first is None or first.since is None or self.level(first, now) >= Priority.ACTION:
                continue
            risen = (now - first.since) // self.age + 1
            wait = first.since + risen * self.age - now
            due = wait if due is None else min(due, wait)
        return due

    @staticmethod
    def _first(line: deque[Waiter]) -> Waiter | None:
        """The first waiter still queued in ``line``, dropping those that left."""
        while line and not line[0].queued:
            line.popleft()
        return line[0] if line else None
