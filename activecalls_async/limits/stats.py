"""What a client has spent of its budget: counters the transport keeps, read as snapshots.

The transport calls ``record_attempt()`` once for every attempt it sent (answered or
not) and ``record_retry()`` once for every attempt it decided to repeat. Reading a
counter is cheap and returns a snapshot: a mapping read later does not change, and
none can be written to.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

from .priority import Priority
from .ratelimit import Limiter

__all__ = ["ClientStats"]


class ClientStats:
    """Counts of one client's requests, answers, retries and waits (see the module docstring).

    ``limiter`` is the client's rate limiter, read for ``in_window`` when it has one.
    """

    __slots__ = (
        "_by_operation",
        "_by_status",
        "_limiter",
        "_limiter_waits",
        "_requests",
        "_retries",
        "_waited",
    )

    def __init__(self, limiter: Limiter | None = None) -> None:
        self._limiter = limiter
        self._requests = 0
        self._retries = 0
        self._by_operation: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._waited = dict.fromkeys(Priority, 0.0)
        #: When each request now waiting for the rate limiter began to wait, oldest first.
        self._limiter_waits: dict[object, float] = {}

    def __repr__(self) -> str:
        return (
            f"ClientStats(requests={self._requests}, rate_limited={self.rate_limited}, "
            f"retries={self._retries}, in_window={self.in_window})"
        )

    def record_attempt(
        self, operation: str, status: int | None, priority: Priority, waited: float
    ) -> None:
        """Count one attempt sent: its answer's ``status`` (None: no answer), and the
        seconds it ``waited`` for the rate limiter and a concurrency slot."""
        self._requests += 1
        self._by_operation[operation] += 1
        if status is not None:
            self._by_status[status] += 1
        self._waited[priority] += waited

    def record_retry(self) -> None:
        """Count one attempt that is about to be repeated."""
        self._retries += 1

    def limiter_wait_started(self) -> object:
        """Note a request starting to wait for the rate limiter; pass the token to
        ``limiter_wait_ended``."""
        token = object()
        self._limiter_waits[token] = time.monotonic()
        return token

    def limiter_wait_ended(self, token: object) -> None:
        """Note that the request behind ``token`` stopped waiting for the rate limiter."""
        self._limiter_waits.pop(token, None)

    @property
    def waiting_for_limiter(self) -> float | None:
        """Seconds the longest wait for the rate limiter in progress has lasted (None: no
        request is waiting)."""
        since = next(iter(self._limiter_waits.values()), None)
        return None if since is None else time.monotonic() - since

    @property
    def requests(self) -> int:
        """Attempts sent, answered or not."""
        return self._requests

    @property
    def by_operation(self) -> Mapping[str, int]:
        """Attempts sent, by operation name (``list``, ``hangupCall``, ...)."""
        return MappingProxyType(dict(self._by_operation))

    @property
    def by_status(self) -> Mapping[int, int]:
        """Answers received, by HTTP status."""
        return MappingProxyType(dict(self._by_status))

    @property
    def rate_limited(self) -> int:
        """Answers of 429 Too Many Requests."""
        return self._by_status.get(429, 0)

    @property
    def retries(self) -> int:
        """Attempts that were repeated."""
        return self._retries

    @property
    def waited(self) -> Mapping[Priority, float]:
        """Seconds spent waiting for the rate limiter and a concurrency slot, by priority."""
        return MappingProxyType(dict(self._waited))

    @property
    def limit(self) -> tuple[int, float] | None:
        """The rate limit as ``(requests, per)``; None with no limiter, or one that does not
        say."""
        requests = getattr(self._limiter, "requests", None)
        per = getattr(self._limiter, "per", None)
        if not isinstance(requests, int) or not isinstance(per, (int, float)):
            return None
        return requests, float(per)

    @property
    def in_window(self) -> int | None:
        """Requests in the rate limiter's current window; None when it does not say."""
        count = getattr(self._limiter, "in_window", None)
        return count if isinstance(count, int) and not isinstance(count, bool) else None
