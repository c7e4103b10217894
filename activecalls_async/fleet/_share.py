"""What one member of a fleet counts, so that it can keep to its share of the limit alone.

``RedisRateLimit`` keeps one ``Ledger``: the member's own requests (in flight, and those
that ended inside the window) and the fleet's window as it last saw it in a reply from
Redis. While it cannot rely on Redis's count (cut off, refused, just rejoined, or after
Redis lost the window), ``Ledger.wait`` says how long until its share has room. Times
are this host's ``time.monotonic()``; the rules are the limiter's module docstring.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ..limits.ratelimit import RateLimit
from ..limits.window import WindowSettings

__all__ = ["Guard", "Ledger"]


class Guard(NamedTuple):
    """For one window after rejoining, or after Redis lost the window: the member keeps
    to ``share``, counting ``fleet`` (end times) as the fleet's requests too."""

    until: float
    share: float
    fleet: tuple[float, ...]


class Ledger:
    """One member's own requests and the fleet's window as it last saw it."""

    def __init__(self, settings: WindowSettings) -> None:
        self.settings = settings
        # Own requests in flight, oldest first: their tickets, and the local limiter of
        # those granted while cut off; and the tickets and end times of finished ones.
        self.inflight: deque[tuple[str, RateLimit | None]] = deque()
        self.ended: deque[tuple[str, float]] = deque()
        #: Own requests on their way to a grant while guarded, counted as taken.
        self.reserved = 0
        # The fleet's window as last seen: end times, how many were in flight, and when.
        self.fleet_ends: list[float] = []
        self.fleet_inflight = 0
        self.seen_at: float | None = None

    def remember(self, received: float, inflight: int, ages: Sequence[Any]) -> None:
        """Take the fleet's window from a reply: in flight, and the ages (ms) of its ends."""
        self.fleet_ends = [received - int(age) / 1000 for age in ages]
        self.fleet_inflight = inflight
        self.seen_at = received

    def in_window(self, now: float) -> int:
        """The fleet's requests counting at ``now``, as last seen."""
        return self._live(self.fleet_ends, now) + self.fleet_inflight

    def estimate(self, now: float) -> list[float]:
        """The fleet's window as last seen, with the requests that were in flight and the
        slots other members may have taken since (those that freed meanwhile, plus the
        limit's pace over that time) counted as ending at ``now``."""
        window = self.settings.window
        live = [e for e in self.fleet_ends if e + window > now]
        if self.seen_at is None:
            return live
        seen = self.seen_at
        freed = sum(1 for e in self.fleet_ends if seen < e + window <= now)
        pace = math.ceil(self.settings.requests / window * (now - seen))
        room = self.settings.requests - len(live) - self.fleet_inflight
        unseen = max(0, min(room, freed + pace))
        return [*live, *[now] * (self.fleet_inflight + unseen)]

    def cut_off(self, now: float) -> None:
        """From now on the fleet's window is the estimate at ``now``, and no longer seen."""
        self.fleet_ends = self.estimate(now)
        self.fleet_inflight = 0
        self.seen_at = None

    def own(self, now: float) -> int:
        """Own requests counting at ``now``: in flight, ended inside the window, reserved."""
        self._forget_old(now)
        return len(self.inflight) + len(self.ended) + self.reserved

    def recent(self, now: float) -> Iterator[tuple[str, int]]:
        """Own finished requests still inside the window: (ticket, ms since they ended)."""
        self._forget_old(now)
        for ticket, ended in self.ended:
            yield ticket, max(0, math.ceil((now - ended) * 1000))

    def wait(self, now: float, share: float, guard: Guard | None) -> float:
        """Seconds until one more own request fits this member's share (0: it fits now).

        It fits while its own requests stay under ``share`` of the limit, and so do
        they plus the fleet's requests (its window as last seen, or the guard's),
        weighed by ``share``.
        """
        fleet_ends: Sequence[float] = self.fleet_ends
        if guard is not None:
            share, fleet_ends = min(share, guard.share), guard.fleet
        requests = self.settings.requests
        own = self.own(now)
        fleet = self._live(fleet_ends, now)
        if own < max(1, math.floor(share * requests)) and own + share * fleet < share * requests:
            return 0.0
        window = self.settings.window
        ends = [end for _, end in self.ended] + list(fleet_ends)
        later = [e + window for e in ends if e + window > now]
        if guard is not None:
            later.append(guard.until)
        # Nothing leaves the window before a request in flight ends: ask again soon.
        return min(later) - now + 0.001 if later else math.inf

    def _live(self, ends: Sequence[float], now: float) -> int:
        window = self.settings.window
        return sum(1 for end in ends if end + window > now)

    def _forget_old(self, now: float) -> None:
        window = self.settings.window
        while self.ended and self.ended[0][1] + window <= now:
            self.ended.popleft()
