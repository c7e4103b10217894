"""When a failed request is tried again, and how long to wait first."""

from __future__ import annotations

import contextlib
import itertools
import ssl
from collections.abc import Callable, Generator, Iterable, Iterator

import aiohttp
import attrs
import backoff

from . import _validators as check
from ._endpoints import RetryClass
from .errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    ResponseDecodeError,
    ValidationError,
)

__all__ = ["RetryPolicy"]

_TLS_ERRORS = (ssl.SSLError, aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError)


def _attempts(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    check.count(attribute.name, value, minimum=1)


def _at_least(minimum: float) -> Callable[[object, attrs.Attribute[float], object], None]:
    def seconds_check(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
        check.seconds(attribute.name, value, minimum=minimum, inclusive=True)

    return seconds_check


def _statuses(value: Iterable[int]) -> frozenset[int]:
    try:
        statuses = frozenset(value)
    except TypeError:
        raise ValidationError("retry_statuses", f"expected HTTP statuses; got {value!r}") from None
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValidationError("retry_statuses", f"expected HTTP statuses; got {status!r}")
    return statuses


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring ``Retry-After``.

    ``max_attempts`` counts every attempt, the first included. Reads and idempotent
    actions are retried on connection errors, timeouts, malformed bodies and
    ``retry_statuses``; actions whose repeat could act twice only on a 429 or when
    the connection failed before the request was sent. The wait before retry *n*
    (from 0) is uniform in ``[0, min(max_delay, initial_delay * multiplier**n)]``,
    unless the server sent ``Retry-After``: that is waited for exactly, and one
    longer than ``max_retry_after`` is not waited for: the error is raised at once.
    Options are checked when the policy is made: a bad one raises ``ValidationError``
    naming it (bools and non-finite numbers included).
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    initial_delay: float = attrs.field(default=0.5, validator=_at_least(0.0))
    max_delay: float = attrs.field(default=8.0, validator=_at_least(0.0))
    multiplier: float = attrs.field(default=2.0, validator=_at_least(1.0))
    max_retry_after: float = attrs.field(default=60.0, validator=_at_least(0.0))
    retry_statuses: frozenset[int] = attrs.field(
        default=frozenset({429, 502, 503, 504}), converter=_statuses
    )

    def should_retry(self, exc: BaseException, retry_class: RetryClass) -> bool:
        """Whether ``exc`` from a request of ``retry_class`` may be tried again."""
        idempotent = retry_class is RetryClass.IDEMPOTENT
        if isinstance(exc, APIStatusError):
            if exc.status not in self.retry_statuses:
                return False
            if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
                return False  # the server asked for a longer pause than the caller accepts
            # A 429 is a refusal before acting, so any operation may be repeated.
            return idempotent or isinstance(exc, RateLimitError)
        if isinstance(exc, APIConnectionError):
            if isinstance(exc.__cause__, _TLS_ERRORS):
                return False  # a certificate problem does not go away by waiting
            return idempotent or not exc.request_sent
        if isinstance(exc, ResponseDecodeError):
            # A 2xx with a garbled body: the server did act, so only a harmless repeat.
            return idempotent
        return False

    def delays(self) -> Generator[float, BaseException | None, None]:
        """The waits before each retry: prime it with ``next()``, then send it each failure.

        The ceilings come from ``backoff``'s exponential generator and each wait is drawn
        under its ceiling with ``backoff``'s full jitter; ``Retry-After`` replaces the draw.
        """
        ceilings = self._ceilings()
        exc = yield 0.0
        while True:
            ceiling = next(ceilings)
            retry_after = getattr(exc, "retry_after", None)
            delay = float(retry_after) if retry_after is not None else backoff.full_jitter(ceiling)
            exc = yield delay

    def _ceilings(self) -> Iterator[float]:
        """``initial_delay * multiplier**n``, capped at ``max_delay``."""
        if self.initial_delay == 0.0 or self.max_delay == 0.0:
            # Growth from zero stays zero (and backoff would raise its exponent forever).
            yield from itertools.repeat(0.0)
        growth = backoff.expo(
            base=self.multiplier, factor=self.initial_delay, max_value=self.max_delay
        )
        next(growth)  # backoff primes its generators before the first failure
        # The exponent can outgrow a float only long after the growth passed the cap.
        with contextlib.suppress(OverflowError):
            yield from growth
        yield from itertools.repeat(self.max_delay)
