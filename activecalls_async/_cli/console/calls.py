"""What the console says about the calls: a call's state, the orders rows take, the
filter, and the lines above the table (pure: the plain ``top`` says the same)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from ...models import ActiveCall
from ...stats import ClientStats
from ..output import talk_seconds, wait_seconds

__all__ = [
    "SORTS",
    "Budget",
    "budget_line",
    "heading",
    "matches",
    "next_sort",
    "queues_line",
    "sort_key",
    "state_of",
]

#: The orders of the rows, in the order ``o`` cycles through them.
SORTS = ("wait", "talk", "queue", "agent", "state")


@attrs.frozen
class Budget:
    """The client's rate limit and how much of its window is in use (``client.stats``)."""

    stats: ClientStats
    requests: int
    per: float

    def used(self) -> int:
        """Requests counted in the limiter's current window, those in flight included."""
        return self.stats.in_window or 0


def state_of(call: ActiveCall) -> str:
    """``QUEUED`` while the call waits for an agent, else its ``callState``."""
    if call.dequeue_time is None:
        return "QUEUED"
    return call.call_state or ""


def sort_key(sort: str, now: datetime) -> Callable[[ActiveCall], Any]:
    """The key that puts calls in ``sort`` order: ``wait`` (the calls still waiting
    first, the longest wait first), ``talk`` (the longest talk first), or by ``queue``,
    ``agent`` or ``state`` name; the uii settles ties, so the order is stable."""
    if sort == "talk":
        return lambda c: (-(talk_seconds(c, now) or -1.0), c.uii)
    if sort == "queue":
        return lambda c: (c.destination_name or "", -(wait_seconds(c, now) or 0.0), c.uii)
    if sort == "agent":
        return lambda c: (c.agent_name or "~", c.uii)
    if sort == "state":
        return lambda c: (state_of(c), -(wait_seconds(c, now) or 0.0), c.uii)
    return lambda c: (c.dequeue_time is not None, -(wait_seconds(c, now) or 0.0), c.uii)


def next_sort(sort: str) -> str:
    """The order after ``sort`` in :data:`SORTS` (round again after the last)."""
    index = SORTS.index(sort) if sort in SORTS else -1
    return SORTS[(index + 1) % len(SORTS)]


def matches(call: ActiveCall, text: str) -> bool:
    """Whether the call passes the filter ``text``: every word of it is in the call's queue,
    agent, state or ANI (any case; an ANI's punctuation ignored), or starts its uii."""
    for word in text.lower().split():
        digits = "".join(ch for ch in word if ch.isdigit())
        ani = "".join(ch for ch in call.ani or "" if ch.isdigit())
        if not (
            call.uii.lower().startswith(word)
            or word in (call.destination_name or "").lower()
            or word in (call.agent_name or "").lower()
            or word in state_of(call).lower()
            or word in (call.ani or "").lower()
            or (bool(digits) and digits == word.lstrip("+") and digits in ani)
        ):
            return False
    return True


def heading(
    label: str, calls: Sequence[ActiveCall], refreshed: datetime | None, *, simulated: bool
) -> str:
    """``ACCOUNT:12440001: 30 calls, 4 queued at 12:00:05 UTC`` (``SIMULATED`` first on a
    simulator)."""
    queued = sum(1 for c in calls if c.dequeue_time is None)
    when = f"{refreshed:%H:%M:%S} UTC" if refreshed else "loading"
    sim = "SIMULATED " if simulated else ""
    return f"{sim}{label}: {len(calls):,} calls, {queued:,} queued at {when}"


def budget_line(budget: Budget, interval: float, *, shared_with: int | None = None) -> str:
    """The request budget in use, how often the view refreshes, and how many other
    processes share it (a fleet's shared watch)."""
    shared = "" if shared_with is None else f" | shared with {shared_with}"
    spent = (
        f"budget {budget.used()}/{budget.requests} requests per {budget.per:g}s"
        if budget.requests
        else "no rate limit"
    )
    return f"{spent} | every {interval:g}s{shared}"


def queues_line(calls: Iterable[ActiveCall]) -> str:
    """The calls per queue, the queues with calls waiting first."""
    counts: collections.Counter[str] = collections.Counter()
    waiting: collections.Counter[str] = collections.Counter()
    for call in calls:
        name = call.destination_name or "?"
        counts[name] += 1
        if call.dequeue_time is None:
            waiting[name] += 1
    parts = [
        f"{name} {count}" + (f" ({waiting[name]} waiting)" if waiting[name] else "")
        for name, count in sorted(counts.items(), key=lambda kv: (-waiting[kv[0]], -kv[1]))
    ]
    return "queues: " + (" · ".join(parts) if parts else "none")
