"""Slack: the requests the budget can spare now, which a walk may send ahead of need.

A walk may run ahead of the page it awaits only with requests the budget can spare (the
walk contract, ``activecalls_async.pagination``, states the rule): as many as it wants
without a rate limit, or while the limiter says more requests of its priority could
start at once; two (the page awaited and one more) as soon as requests wait.
"""

from __future__ import annotations

from collections.abc import Callable

from .priority import Priority
from .ratelimit import Limiter

__all__ = ["MAX_WINDOW", "PRESSED_WINDOW", "room", "spare"]

#: The window under pressure: the page awaited and one more, so that a walk sends at
#: most one request past the end of its listing.
PRESSED_WINDOW = 2
#: The window without a rate limit: large, since only the concurrency slots bound it.
MAX_WINDOW = 1 << 16


def spare(limiter: Limiter | None, priority: Priority) -> int | None:
    """How many more requests of ``priority`` ``limiter`` could let start at once now:
    None without a limiter (no limit), 0 for a limiter that does not say."""
    if limiter is None:
        return None
    says = getattr(limiter, "spare", None)
    if not callable(says):
        return 0
    count = says(priority)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0


def room(limiter: Limiter | None, priority: Priority) -> Callable[[], int | None] | None:
    """The budget's room for a walk's requests of ``priority``, asked each time it sends
    more (None: no limiter, no limit)."""
    if limiter is None:
        return None
    return lambda: spare(limiter, priority)
