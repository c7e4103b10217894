"""Client-side request-rate limits, behind the small ``Limiter`` interface.

``RateLimit`` is the SDK's own limiter; its rules (the window as the server counts it,
priorities, aging, headroom and pacing) are written once, in its docstring.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .. import _validators as check
from .priority import Priority
from .waitline import WaitLine
from .window import WindowedLimit, WindowSettings

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


class RateLimit(WindowedLimit):
    """At most ``requests`` requests inside any window of ``per`` seconds, by priority.

    **The window, as the server counts it.** A request counts from the moment
    ``acquire()`` lets it go until ``release()`` reports its answer, and from then on as
    if it had started at the moment of its release, for ``per + margin`` seconds; at
    most ``requests`` are counted at once. The server sees a request at some moment
    between those two (never before it is let go, never after its answer), so any
    ``per`` seconds of the server's own clock hold at most ``requests`` of them: each
    request it saw in such a span was still counted when it saw the last one. Stamping
    a request when it is let go instead, as a plain sliding log does, lets connection
    set-up or a busy CPU push its arrival into the server's next window, where it meets
    a full window's worth more. The price is one round trip per request. ``margin``
    (0.05 s) covers clock jitter between client and server.

    **Order.** Waiting requests are served by priority with aging, by the SDK's one rule
    (``activecalls_async.limits.waitline``): highest ``Priority`` first, first come first
    served within a priority, and the first waiter of each priority rising one level for
    every ``age`` seconds (default ``per``) it has been first, up to ``ACTION``; so no
    priority starves, and a backlog of ``BULK`` never climbs over a later ``ACTION``.

    **Headroom and pacing.** A window that ``BULK`` filled at once would leave an
    ``ACTION`` waiting for the next window, so ``WATCH`` and ``BULK`` (by the level they
    have reached) spend it under two more rules; ``READ`` and ``ACTION`` may use every
    slot.

    - They may not fill the last ``reserve`` slots of the window (``reserve`` defaults
      to ``max(1, requests // 50)``: 2 of 120; none when ``requests`` is 1).
    - Once half the window is counted, each of their starts comes at least one *slot*
      (``per / requests``) after the previous one, and no sooner than spreads the room
      they have left evenly until the oldest request counted leaves the window. The
      window then frees up one slot at a time rather than in bursts, and a request of
      higher priority finds a free slot within about one slot.

    A waiter that is cancelled uses no slot, even when cancelled between being let go
    and resuming. One instance may be passed to several clients of one event loop to
    share an account's budget; clients in other processes need a shared ``Limiter``
    (for example one backed by Redis).
    """

    def __init__(
        self,
        requests: int,
        per: float = 60.0,
        *,
        margin: float = 0.05,
        reserve: int | None = None,
        age: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = WindowSettings.of(requests, per, margin=margin, reserve=reserve, age=age)
        self._clock = clock
        self._window = self.settings.window
        self._slot = self.settings.slot
        self._done: deque[float] = deque()  # release times still inside the window
        self._in_flight = 0
        self._line = WaitLine(self.age)
        self._low_last: float | None = None  # the latest WATCH/BULK start
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"RateLimit({self.requests}, per={self.per:g})"

    @property
    def in_window(self) -> int:
        """Requests counted in the window now: those in flight and those recently answered."""
        self._expire(self._clock())
        return self._in_flight + len(self._done)

    def spare(self, priority: Priority = Priority.BULK) -> int:
        """How many more requests of ``priority`` could start at once now, beyond those
        already waiting: the room left in the window, less the reserve for ``WATCH`` and
        ``BULK``, for which pacing also begins at half the window."""
        now = self._clock()
        self._expire(now)
        count = self._in_flight + len(self._done)
        limit = self.requests
        if priority <= Priority.WATCH:
            limit = min(limit - self.reserve, -(-self.requests // 2))
        return max(0, limit - count - len(self._line))

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Wait until a request of ``priority`` may start (rules: the class docstring)."""
        priority = check.enum_member("priority", priority, Priority)
        loop = asyncio.get_running_loop()
        waiter = self._line.join(priority, loop.create_future(), self._clock())
        self._dispatch()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                # Let go, then cancelled before it could start: the slot is handed back
                # unused, never stamped.
                self._in_flight -= 1
            elif waiter in self._line:  # a dispatch may have dropped it already
                self._line.leave(waiter, self._clock())
            self._dispatch()
            raise

    async def release(self) -> None:
        """Count a request that ``acquire()`` let go as started now (rules: the class docstring)."""
        if self._in_flight == 0:
            raise RuntimeError("RateLimit.release() called more often than acquire() returned")
        self._in_flight -= 1
        now = self._clock()
        # A clock that stepped back must not leave the log out of order.
        self._done.append(max(now, self._done[-1]) if self._done else now)
        self._dispatch()

    def _expire(self, now: float) -> None:
        done, window = self._done, self._window
        while done and done[0] + window <= now:
            done.popleft()

    def _delay(self, level: int, now: float) -> float | None:
        """Seconds until a request of ``level`` may start; None: only a release can help."""
        count = self._in_flight + len(self._done)
        low = level <= Priority.WATCH
        cap = self.requests - self.reserve if low else self.requests
        wait = 0.0
        if count >= cap:
            leaving = count - cap + 1  # how many must leave the window first
            if leaving > len(self._done):
                return None
            wait = self._done[leaving - 1] + self._window - now
        last = self._low_last
        if low and last is not None and 2 * count >= self.requests:
            due = last + self._slot
            room = cap - count
            if room > 0:
                # Spread the room left over the time until the oldest request leaves,
                # so that the window is not full long before it starts to empty.
                leaves = self._done[0] + self._window if self._done else last + self._window
                due = max(due, last + (leaves - last) / (room + 1))
            wait = max(wait, due - now)
        return wait

    def _dispatch(self) -> None:
        """Let go every waiter that may start now, best first; wake up when that changes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock()
        self._expire(now)
        line = self._line
        wake: float | None = None
        while (best := line.best(now)) is not None:
            if best.future.done():  # cancelled from outside acquire(): drop it
                line.leave(best, now)
                continue
            level = line.level(best, now)
            delay = self._delay(level, now)
            if delay is not None and delay > 0:
                wake = delay
            if delay is None or delay > 0:
                # Head of the line: whoever ranks below it has a lower or equal level,
                # so no more room and no earlier pacing turn, and must wait too.
                break
            line.leave(best, now)
            self._in_flight += 1
            if level <= Priority.WATCH:
                self._low_last = now
            best.future.set_result(None)
        # Aging can reorder the line or lift a waiter past the headroom rules.
        rise = line.next_rise(now)
        if rise is not None:
            wake = rise if wake is None else min(wake, rise)
        if wake is not None:
            loop = asyncio.get_running_loop()
            # Never zero: a rounding error must not spin the loop on a clock that stands still.
            self._timer = loop.call_later(max(wake, 1e-6), self._dispatch)
