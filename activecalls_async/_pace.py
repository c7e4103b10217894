"""A watch's pace: polls ``interval`` seconds apart, stretched so that the watch keeps
within its share of the client's rate limit (the rule is ``activecalls_async.watch``'s,
under "The budget")."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Sequence

from . import _validators as check
from .errors import ValidationError
from .limits.ratelimit import Limiter

__all__ = ["BudgetShare", "WatchPace"]

logger = logging.getLogger("activecalls_async")

#: How many polls' costs predict the next one's (it is taken to cost the most of them).
COSTS_KEPT = 3


def _budget_share(value: object) -> float:
    share = check.finite_number(value)
    if share is None or not 0 < share <= 1:
        raise ValidationError(
            "budget_share",
            f"expected the share of the rate limit a watch may use, above 0 and at most 1 "
            f"(0.5 is half); got {value!r}",
        )
    return share


class BudgetShare:
    """The part of a rate limit a watch may use, and how often polls may come within it."""

    def __init__(self, budget_share: float, limiter: Limiter | None) -> None:
        self.fraction = _budget_share(budget_share)
        self.limiter = limiter
        requests = check.finite_number(getattr(limiter, "requests", None))
        per = check.finite_number(getattr(limiter, "per", None))
        rate = check.finite_number(getattr(limiter, "rate", None))
        # The limiter's own widening of its window (a RateLimit's ``margin``), for the
        # same reason: jitter must not squeeze one poll too many into the server's window.
        margin = max(0.0, check.finite_number(getattr(limiter, "margin", None)) or 0.0)
        #: The requests the watch may start in any window, and that window in seconds.
        self.window = (
            (self.fraction * requests, per + margin) if requests and per and per > 0 else None
        )
        #: The requests a second the watch may use, when the limiter tells only its rate.
        self.rate = self.fraction * rate if rate and rate > 0 else None

    def earliest_start(
        self, recent: Sequence[tuple[float, int]], requests: int, last_start: float
    ) -> float:
        """The earliest moment a poll costing ``requests`` may start within the share, given
        when the last one started and the ``recent`` polls (when each ended, what it cost;
        oldest first): polls evenly spaced at ``shortest_interval``, and never so soon that
        a window of the limiter would hold more than the share of their requests."""
        earliest = last_start + self.shortest_interval(requests)
        if self.window is None or not 0 < requests <= self.window[0]:
            return earliest  # no window to keep to, or a poll spread over several
        allowed, per = self.window
        # A poll that ended ``per`` seconds before the next one starts shares no window
        # with it: the oldest drop out until the rest and the next one fit.
        counted = sum(cost for _, cost in recent)
        for ended, cost in recent:
            if counted + requests <= allowed:
                break
            counted -= cost
            earliest = max(earliest, ended + per)
        return earliest

    def shortest_interval(self, requests: int) -> float:
        """The shortest interval at which polls costing ``requests`` stay within the share."""
        if requests <= 0:
            return 0.0
        if self.window is not None and self.window[0] > 0:
            allowed, per = self.window
            # Polls ``per / n`` apart put at most n of them in any window of ``per``
            # seconds, as the limiter counts; a poll that alone needs more than one
            # window's share is spread to that share on average.
            polls = math.floor(allowed / requests)
            return per / polls if polls else requests * per / allowed
        if self.rate is not None:
            return requests / self.rate
        return 0.0


class WatchPace:
    """When the next poll may start: ``interval`` after the last one began, later when the
    watch's share of the rate limit needs it (the rule: ``activecalls_async.watch``)."""

    def __init__(self, interval: float, budget_share: float, limiter: Limiter | None) -> None:
        self.interval = check.seconds("interval", interval)
        self.share = BudgetShare(budget_share, limiter)
        #: How the warning about a stretched interval names the watch.
        self.label = "watch"
        #: The interval planned until the next poll, stretched when polls cost too much.
        self.planned = self.interval
        self._started: float | None = None
        self._next: float | None = None
        self._warned = False
        #: The polls that may still share a window with the next one: when each ended,
        #: and what it cost.
        self._recent: deque[tuple[float, int]] = deque()
        #: What the last polls cost: the next one is taken to cost as much as the dearest.
        self._costs: deque[int] = deque(maxlen=COSTS_KEPT)

    async def wait(self) -> float | None:
        """Sleep until the next poll is due; return the seconds since the last one began."""
        loop = asyncio.get_running_loop()
        if self._next is not None:
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        now = loop.time()
        since = None if self._started is None else now - self._started
        self._started = now
        self._next = now + self.planned
        return since

    def spent(self, requests: int) -> None:
        """Take in what the poll begun last cost, and plan the next one to fit the budget."""
        now = asyncio.get_running_loop().time()
        recent = self._recent
        if requests > 0:
            recent.append((now, requests))
        horizon = self.share.window[1] if self.share.window is not None else 0.0
        while recent and recent[0][0] <= now - horizon:
            recent.popleft()  # it cannot share a window with a poll starting from now on
        self._costs.append(requests)
        cost = max(self._costs)
        started = now if self._started is None else self._started
        fit = self.share.earliest_start(recent, cost, started)
        planned = max(self.interval, fit - started)
        if planned > self.interval and not self._warned:
            self._warned = True
            logger.warning(
                "%s: a poll costs %d requests, more than %g%% of %r allows every %gs; "
                "polling every %.3gs instead",
                self.label,
                cost,
                self.share.fraction * 100,
                self.share.limiter,
                self.interval,
                planned,
            )
        self.planned = planned
        if self._started is not None:
            self._next = self._started + planned
