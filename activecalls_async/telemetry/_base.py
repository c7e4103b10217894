"""What the request path and the walks report to, and its silent form.

``Recorder`` is both the interface and the implementation a client has when telemetry is
off or OpenTelemetry is not installed: each hook returns ``None`` (or does nothing), so
that what telemetry costs a request when off is one method call. The OpenTelemetry
implementation (``_otel``) overrides every method.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from .._wire.request import Request

__all__ = ["OFF", "AttemptRecord", "Recorder", "RequestTrace", "ScopeTrace"]

_T = TypeVar("_T")


class AttemptRecord(Protocol):
    """What a request trace reads of one attempt (the transport's ``Attempt``)."""

    @property
    def secrets(self) -> frozenset[str]:
        """The credential values it carried."""

    @property
    def waited_limiter(self) -> float:
        """Seconds it waited for the rate limiter."""

    @property
    def waited_slot(self) -> float:
        """Seconds it then waited for a concurrency slot."""

    @property
    def status(self) -> int | None:
        """Its answer's HTTP status (None: no answer)."""

    @property
    def took(self) -> float:
        """Seconds it spent on the wire."""

    @property
    def failure(self) -> type[BaseException] | None:
        """The class of what ended it without an answer (None: answered)."""


class RequestTrace(Protocol):
    """One call's span and the metrics of its attempts; its span is current inside ``with``."""

    def __enter__(self) -> RequestTrace:
        """Make the span current."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the span with the call's outcome."""

    def attempted(self, attempt: AttemptRecord) -> None:
        """Count one attempt sent, once its answer (or its failure) is in."""

    def retrying(self, number: int, error: BaseException, delay: float) -> None:
        """Note that attempt ``number`` failed with ``error`` and is repeated in ``delay`` s."""


class ScopeTrace(Protocol):
    """The span of a walk or a fan-out: the parent of the requests it sends."""

    def spawn(self, work: Awaitable[_T]) -> asyncio.Future[_T]:
        """Run ``work`` as a task whose current span is this one."""

    def failed(self, error: BaseException) -> None:
        """Mark the span as ended by ``error`` (cancellation and the end are not errors)."""

    def end(self, attributes: Mapping[str, int | bool]) -> None:
        """Set the final counts and end the span (a second call does nothing)."""


class Recorder:
    """Reports nothing: what a client has when telemetry is off or not installed."""

    __slots__ = ()

    def request(
        self, request: Request, known: tuple[Mapping[str, str], frozenset[str]] | None
    ) -> RequestTrace | None:
        """The trace of one call, ``known`` the credentials last sent (None: untraced)."""
        return None

    def login(self, operation: str) -> AbstractContextManager[None]:
        """A context around one login request sent to renew credentials."""
        return contextlib.nullcontext()

    def walk(self, label: str) -> ScopeTrace | None:
        """The span of a walk over the listing ``label``, started now (None: untraced)."""
        return None

    def fan_out(self, targets: int) -> ScopeTrace | None:
        """The span of a fan-out over ``targets`` listings, started now (None: untraced)."""
        return None


#: The silent recorder.
OFF = Recorder()
