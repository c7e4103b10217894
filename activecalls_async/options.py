"""Per-call options, decided once: ``timeout=``, ``retry=`` and ``priority=``.

Every method that sends requests takes them. ``DEFAULT`` (their default) means the
client's own setting, and for ``priority`` the operation's own: ``ACTION`` for call
control, ``READ`` for one-off reads, ``BULK`` for walks and fan-outs, ``WATCH`` for
watches. They are checked once, where the public method is called, and resolved into
one ``CallOptions`` that every request of that call carries (each page of a walk, each
retry): a bad option raises ``ValidationError`` before anything is sent.

``timeout`` bounds each attempt: seconds for the whole attempt (connecting, sending,
reading the answer), ``None`` for no limit, or a pair ``Timeout(total=..., connect=...)``
with ``aiohttp.ClientTimeout``'s meaning (``connect``: getting a connection, a free one
from the pool included; ``total``: the whole attempt). An ``aiohttp.ClientTimeout`` is
taken as it is. A retry gets the whole timeout again.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

import aiohttp
import attrs

from . import _validators as check
from .errors import ValidationError
from .limits.priority import Priority
from .retry import RetryPolicy

__all__ = [
    "DEFAULT",
    "CallOptions",
    "ClientDefaults",
    "Default",
    "PriorityOption",
    "RetryOption",
    "Timeout",
    "TimeoutOption",
]


class Default(enum.Enum):
    """The type of ``DEFAULT``, for annotating wrappers that pass per-call options on."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the client's setting": distinct from ``None``, which means "none at all".
DEFAULT: Final = Default.DEFAULT


def _limit(instance: object, attribute: attrs.Attribute[float | None], value: object) -> None:
    check.optional_seconds(f"timeout.{attribute.name}", value)


@attrs.frozen
class Timeout:
    """Seconds for a whole attempt (``total``) and for getting a connection (``connect``);
    ``None`` for no limit on either."""

    total: float | None = attrs.field(default=None, validator=_limit)
    connect: float | None = attrs.field(default=None, validator=_limit, kw_only=True)


#: A ``timeout=``: seconds per attempt, a ``Timeout`` pair, an ``aiohttp.ClientTimeout``,
#: ``None`` for no limit, or (per call) ``DEFAULT`` for the client's.
TimeoutOption: TypeAlias = "float | Timeout | aiohttp.ClientTimeout | Default | None"
#: A per-call ``retry=``: a ``RetryPolicy``, ``None`` for one attempt, or ``DEFAULT``.
RetryOption: TypeAlias = "RetryPolicy | Default | None"
#: A per-call ``priority=``: a ``Priority``, or ``DEFAULT`` for the operation's own.
PriorityOption: TypeAlias = "Priority | Default"


@attrs.frozen
class CallOptions:
    """One call's options, resolved: the attempt's timeout as aiohttp takes it, the retry
    policy (``None``: one attempt) and the priority."""

    timeout: aiohttp.ClientTimeout
    retry: RetryPolicy | None
    priority: Priority


def client_timeout(value: object, name: str = "timeout") -> aiohttp.ClientTimeout:
    """``value`` (seconds, ``None``, a ``Timeout`` or an ``aiohttp.ClientTimeout``) as the
    ``aiohttp.ClientTimeout`` of one attempt; raise ``ValidationError`` for anything else."""
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, Timeout):
        return aiohttp.ClientTimeout(total=value.total, connect=value.connect)
    if value is None or check.finite_number(value) is not None:
        return aiohttp.ClientTimeout(total=check.optional_seconds(name, value))
    raise ValidationError(
        name,
        "expected seconds, None, a Timeout(total=, connect=) or an aiohttp.ClientTimeout; "
        f"got {type(value).__name__}",
    )


def check_retry(value: object) -> RetryPolicy | None:
    """``value`` if it is a ``RetryPolicy`` or ``None``; else ``ValidationError``."""
    if value is not None and not isinstance(value, RetryPolicy):
        raise ValidationError("retry", "expected a RetryPolicy or None")
    return value


@attrs.frozen
class ClientDefaults:
    """A client's own ``timeout`` and ``retry``, which ``DEFAULT`` stands for."""

    timeout: aiohttp.ClientTimeout
    retry: RetryPolicy | None
    _plain: dict[Priority, CallOptions] = attrs.field(init=False, factory=dict, eq=False)

    @classmethod
    def of(cls, *, timeout: object, retry: object) -> ClientDefaults:
        """The client's defaults, checked."""
        return cls(client_timeout(timeout), check_retry(retry))

    def resolve(
        self,
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption,
        *,
        default_priority: Priority,
    ) -> CallOptions:
        """Check one call's options and fill in the defaults (the one place that does)."""
        if timeout is DEFAULT and retry is DEFAULT and priority is DEFAULT:
            # The common case, kept ready: every request of every call shares it.
            plain = self._plain.get(default_priority)
            if plain is None:
                plain = self._plain[default_priority] = CallOptions(
                    self.timeout, self.retry, default_priority
                )
            return plain
        if priority is DEFAULT:
            priority = default_priority
        elif not isinstance(priority, Priority):
            raise ValidationError("priority", "expected a Priority (ACTION, READ, WATCH, BULK)")
        return CallOptions(
            self.timeout if timeout is DEFAULT else client_timeout(timeout),
            self.retry if retry is DEFAULT else check_retry(retry),
            priority,
        )
