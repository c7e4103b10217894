"""Client-side request-rate limits, behind the small ``Limiter`` interface."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from . import _validators as v
from .priority import Priority

__all__ = ["Limiter", "RateLimit"]


@runtime_checkable
class Limiter(Protocol):
    """Something that decides when the next request may start.

    The transport awaits ``acquire(priority)`` before each attempt, never while holding
    a connection, and ``release()`` once that attempt's answer has arrived (or it
    failed or was cancelled): a request counts in the window until then, because the
    server may see it at any moment in between. A limiter shared across processes (for
    example one backed by Redis) implements the same two methods.
    """

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Return when one more request of ``priority`` may start."""

    async def release(self) -> None:
        """Record that one request this limiter let start has had its answer."""


class RateLimit:
    """At most ``requests`` request starts inside any window of ``per`` seconds.

    A sliding log of start times rather than a token bucket: a bucket whose burst
    equals the limit lets twice the limit through inside one window, which a strict
    server answers with 429s. Waiters are served first come, first served, and a
    waiter that is cancelled uses no slot. One instance may be passed to several
    clients of one event loop to share an account's budget; clients in other processes
    need a shared ``Limiter`` instead (for example one backed by Redis).
    ``margin`` widens the window slightly, so that network jitter cannot squeeze two
    windows' worth of requests into the server's view of one.
    """

    def __init__(
        self,
        requests: int,
        per: float = 60.0,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        v.count("requests", requests, minimum=1)
        self.requests = requests
        self.per = v.seconds("per", per)
        self.margin = v.seconds("margin", margin, inclusive=True)
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RateLimit({self.requests}, per={self.per:g})"

    @property
    def rate(self) -> float:
        """The limit in requests per second."""
        return self.requests / self.per

    async def release(self) -> None:
        """Record that one request this limiter let start has had its answer."""

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Wait, in arrival order, until a start keeps the window within the limit."""
        # Holding the lock while sleeping is what makes the limiter fair: later
        # arrivals queue behind the waiter instead of racing it for the next slot.
        async with self._lock:
            window = self.per + self.margin
            while True:
                now = self._clock()
                starts = self._starts
                while starts and starts[0] + window <= now:
                    starts.popleft()
                if len(starts) < self.requests:
                    starts.append(now)
                    return
                await asyncio.sleep(starts[0] + window - now)
