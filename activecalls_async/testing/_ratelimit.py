"""A sliding-window request limiter (pure: the caller passes the time)."""

from __future__ import annotations

import collections
import math


class SlidingWindow:
    """Admits at most ``limit`` requests within any ``window`` seconds; None admits all."""

    def __init__(self, limit: int | None, window: float) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"rate limit must be at least 1, got {limit!r}")
        if window <= 0:
            raise ValueError(f"rate window must be positive, got {window!r}")
        self.limit = limit
        self.window = window
        self._admitted: collections.deque[float] = collections.deque()

    def acquire(self, now: float) -> int | None:
        """Admit a request at ``now``; else return the whole seconds until a slot frees."""
        if self.limit is None:
            return None
        admitted = self._admitted
        while admitted and admitted[0] <= now - self.window:
            admitted.popleft()
        if len(admitted) < self.limit:
            admitted.append(now)
            return None
        return max(1, math.ceil(admitted[0] + self.window - now))

    def reset(self) -> None:
        """Forget every admitted request."""
        self._admitted.clear()
