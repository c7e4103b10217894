"""When a failed request is tried again, and how long to wait first."""

from __future__ import annotations

import random
import ssl
from collections.abc import Generator

import aiohttp
import attrs
from attrs import validators as av

from ._endpoints import RetryClass
from .errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ResponseDecodeError,
)

__all__ = ["RetryPolicy"]

_TLS_ERRORS = (ssl.SSLError, aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring ``Retry-After``.

    ``max_attempts`` counts every attempt, the first included. Reads and idempotent
    actions are retried on connection errors, timeouts, malformed bodies and
    ``retry_statuses``; actions whose repeat could act twice only on a 429 or when
    the connection failed before the request was sent. A ``Retry-After`` longer than
    ``max_retry_after`` is not waited for: the error is raised at once.
    """

    max_attempts: int = attrs.field(default=4, validator=[av.instance_of(int), av.ge(1)])
    initial_delay: float = attrs.field(default=0.5, validator=av.ge(0.0))
    max_delay: float = attrs.field(default=8.0, validator=av.ge(0.0))
    multiplier: float = attrs.field(default=2.0, validator=av.ge(1.0))
    max_retry_after: float = attrs.field(default=60.0, validator=av.ge(0.0))
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def should_retry(self, exc: BaseException, retry_class: RetryClass) -> bool:
        """Whether ``exc`` from a request of ``retry_class`` may be tried again."""
        idempotent = retry_class is RetryClass.IDEMPOTENT
        if isinstance(exc, RateLimitError):
            # The server refused before acting, so any operation may be repeated.
            return 429 in self.retry_statuses and (
                exc.retry_after is None or exc.retry_after <= self.max_retry_after
            )
        if isinstance(exc, APIStatusError):
            return idempotent and exc.status in self.retry_statuses
        if isinstance(exc, APIConnectionError):
            if isinstance(exc.__cause__, _TLS_ERRORS):
                return False  # a certificate problem does not go away by waiting
            return idempotent or not exc.request_sent
        if isinstance(exc, ResponseDecodeError):
            return idempotent
        return False

    def delays(self) -> Generator[float, BaseException | None, None]:
        """Backoff wait generator: it is sent each failure and yields the next wait."""
        attempt = 0
        exc = yield 0.0  # primed by backoff before the first failure
        while True:
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                delay = float(retry_after)
            else:
                ceiling = min(self.max_delay, self.initial_delay * self.multiplier**attempt)
                delay = random.uniform(0.0, ceiling)
            attempt += 1
            exc = yield delay
