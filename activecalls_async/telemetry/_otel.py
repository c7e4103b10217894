"""The OpenTelemetry recorder: what ``activecalls_async.telemetry`` describes.

Imported only for a client with telemetry on, and only where ``opentelemetry-api`` is
installed; everything it records goes through the OpenTelemetry API, so nothing is
kept unless the application installs an SDK.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
import time
import weakref
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, MeterProvider, Observation
from opentelemetry.trace import Span, SpanKind, StatusCode, TracerProvider

from .._endpoints import ResponseKind
from .._redact import MIN_SECRET_CHARS, mask, redact, redact_url
from .._version import __version__
from .._wire.request import Request
from ..errors import APIStatusError
from ..limits.ratelimit import Limiter
from ._base import AttemptRecord, Recorder

__all__ = ["SCOPE", "OpenTelemetryRecorder", "error_type"]

#: The instrumentation scope's name.
SCOPE: Final = "activecalls_async"

#: Seconds: the semantic conventions' advice for HTTP request durations.
_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
)
#: Seconds: a wait for the rate limiter may last up to a whole window (a minute).
_WAIT_BUCKETS: Final = (0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120)
#: How long a metrics collection waits for an event loop to read its limiter's window.
_READ_TIMEOUT: Final = 0.5

#: The operation ``client.request`` calls are reported as (their path is no name).
_RAW_OPERATION: Final = "request"
_RAW_KINDS: Final = (ResponseKind.ANY, ResponseKind.RAW)

_T = TypeVar("_T")


def error_type(error: BaseException) -> str:
    """``error.type`` for ``error``: an error status as text, else the error's class."""
    if isinstance(error, APIStatusError):
        return str(error.status)
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


@lru_cache(maxsize=1024)
def _redacted(url: str) -> str:
    # Walks and watches ask the same pages again and again: each URL is redacted once.
    return redact_url(url)


@lru_cache(maxsize=8)
def _heads(secrets: frozenset[str]) -> tuple[str, ...]:
    """The start of each secret: ``mask`` finds nothing in a text holding none of them."""
    return tuple({secret[:MIN_SECRET_CHARS].lower() for secret in secrets})


def _safe_url(url: str, secrets: frozenset[str]) -> str:
    """``url`` for ``url.full``: token-like values and the credentials sent masked."""
    safe = _redacted(url)
    if secrets:
        lowered = safe.lower()
        if any(head in lowered for head in _heads(secrets)):
            return mask(safe, secrets)
    return safe


@lru_cache(maxsize=64)
def _origin(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _server(url: str) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of ``url`` (worked out once per origin)."""
    end = url.find("/", url.find("//") + 2)
    return _origin(url if end < 0 else url[:end])


def _histogram(meter: Meter, name: str, description: str, buckets: Sequence[float]) -> Histogram:
    try:
        return meter.create_histogram(
            name, "s", description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # an API older than 1.30 takes no advice: the SDK's buckets then
        return meter.create_histogram(name, "s", description)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _count(limiter: Limiter) -> int | None:
    count = getattr(limiter, "in_window", None)
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _in_window(limiter: Limiter, loop: asyncio.AbstractEventLoop) -> int | None:
    """``limiter.in_window``, read on ``loop`` when another thread asks.

    Exporters collect metrics from a thread of their own, while ``RateLimit.in_window``
    drops expired requests from the window as it counts: it must run on the loop that
    uses the limiter, never beside it. None when that loop does not answer in time.
    """
    if not loop.is_running() or _running_loop() is loop:
        return _count(limiter)
    answer: concurrent.futures.Future[int | None] = concurrent.futures.Future()

    def read() -> None:
        if answer.set_running_or_notify_cancel():
            try:
                answer.set_result(_count(limiter))
            except Exception as exc:
                answer.set_exception(exc)

    try:
        loop.call_soon_threadsafe(read)
        return answer.result(timeout=_READ_TIMEOUT)
    except Exception:  # the loop closed, is busy, or the limiter failed: no reading
        answer.cancel()
        return None


class _Instruments:
    """One meter's instruments, made once per meter provider: a second observable gauge
    of the same name would not be observed."""

    def __init__(self, meter: Meter) -> None:
        self.requests = meter.create_counter(
            "activecalls.client.requests", "{request}", "Requests sent, by operation and answer"
        )
        self.duration = _histogram(
            meter,
            "activecalls.client.request.duration",
            "Time on the wire of each request",
            _DURATION_BUCKETS,
        )
        self.limiter_wait = _histogram(
            meter,
            "activecalls.client.limiter.wait",
            "Time each request waited for the rate limiter, by priority",
            _WAIT_BUCKETS,
        )
        self.rate_limited = meter.create_counter(
            "activecalls.client.rate_limited", "{response}", "429 Too Many Requests answers"
        )
        self.retries = meter.create_counter(
            "activecalls.client.retries", "{retry}", "Requests repeated after a failure"
        )
        self.renewals = meter.create_counter(
            "activecalls.client.token.renewals",
            "{request}",
            "Login requests sent to renew credentials",
        )
        self._lock = threading.Lock()
        #: Each limiter observed, with the loop that uses it and the name it is shown by.
        self._windows: weakref.WeakKeyDictionary[Limiter, tuple[asyncio.AbstractEventLoop, str]]
        self._windows = weakref.WeakKeyDictionary()
        meter.create_observable_gauge(
            "activecalls.client.window.requests",
            [self._observe_windows],
            "{request}",
            "Requests in the rate limiter's window",
        )

    def watch_window(self, limiter: Limiter, loop: asyncio.AbstractEventLoop) -> None:
        """Observe ``limiter``'s window, read on ``loop``, for as long as it lives."""
        name = redact(repr(limiter))  # a limiter of the application's might show a URL
        with self._lock, contextlib.suppress(TypeError):  # not weakly referable: unobserved
            self._windows[limiter] = (loop, name)

    def _observe_windows(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            watched = list(self._windows.items())
        totals: dict[str, int] = {}
        for limiter, (loop, name) in watched:
            count = _in_window(limiter, loop)
            if count is not None:
                totals[name] = totals.get(name, 0) + count
        return [Observation(count, {"activecalls.limiter": name}) for name, count in totals.items()]


_instruments_lock = threading.Lock()
_global_instruments: _Instruments | None = None
_provider_instruments: weakref.WeakKeyDictionary[MeterProvider, _Instruments] = (
    weakref.WeakKeyDictionary()
)


def _instruments_for(provider: MeterProvider | None) -> _Instruments:
    """The instruments of ``provider`` (None: the global one), made on first use."""
    global _global_instruments
    with _instruments_lock:
        if provider is None:
            if _global_instruments is None:
                _global_instruments = _Instruments(metrics.get_meter(SCOPE, __version__))
            return _global_instruments
        found = _provider_instruments.get(provider)
        if found is None:
            found = _Instruments(provider.get_meter(SCOPE, __version__))
            with contextlib.suppress(TypeError):  # not weakly referable: made again next time
                _provider_instruments[provider] = found
        return found


class OpenTelemetryRecorder(Recorder):
    """Reports one client's requests, walks and renewals to OpenTelemetry."""

    __slots__ = ("instruments", "limiter", "tracer", "watching")

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        limiter: Limiter | None,
    ) -> None:
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        self.instruments = _instruments_for(meter_provider)
        self.limiter = limiter
        #: Whether the window gauge observes the limiter yet (it needs the client's loop).
        self.watching = limiter is None

    def request(
        self, request: Request, known: tuple[Mapping[str, str], frozenset[str]] | None
    ) -> _RequestTrace:
        if not self.watching and self.limiter is not None:
            self.watching = True
            self.instruments.watch_window(self.limiter, asyncio.get_running_loop())
        return _RequestTrace(self, request, None if known is None else known[1])

    @contextlib.contextmanager
    def login(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        attributes = {"activecalls.operation": operation}
        try:
            yield
        except BaseException as exc:
            attributes["error.type"] = error_type(exc)
            raise
        finally:
            # The SDK keeps the dict it is given as the series' attributes: never reused.
            self.instruments.renewals.add(1, dict(attributes))
            # The span current here is that of the call that set the renewal off.
            span = trace.get_current_span()
            if span.is_recording():
                duration = time.perf_counter() - started
                span.add_event(
                    "activecalls.token_renewal",
                    {**attributes, "activecalls.login.duration": duration},
                )

    def walk(self, label: str) -> _ScopeTrace:
        return _ScopeTrace(
            self.tracer.start_span("activecalls walk", attributes={"activecalls.listing": label})
        )

    def fan_out(self, targets: int) -> _ScopeTrace:
        return _ScopeTrace(
            self.tracer.start_span(
                "activecalls fan-out", attributes={"activecalls.targets": targets}
            )
        )


class _RequestTrace:
    """One call's span, current inside ``with``, and the metrics of its attempts."""

    __slots__ = (
        "_instruments",
        "_limited",
        "_method",
        "_operation",
        "_priority",
        "_secrets",
        "_sent_secrets",
        "_span",
        "_token",
        "_url",
        "attempts",
        "status",
        "waited_limiter",
        "waited_slot",
    )

    def __init__(
        self, recorder: OpenTelemetryRecorder, request: Request, secrets: frozenset[str] | None
    ) -> None:
        operation = _RAW_OPERATION if request.endpoint.response in _RAW_KINDS else request.operation
        self._instruments = recorder.instruments
        self._limited = recorder.limiter is not None
        self._operation = operation
        self._method = request.method
        self._priority = request.options.priority.name
        self._url = request.url
        #: The credentials masked in ``url.full`` at the start (None: none known yet, so
        #: no ``url.full`` until the end), and those sent since.
        self._secrets = self._sent_secrets = secrets
        self._token: contextvars.Token[Context] | None = None
        self.attempts = 1
        self.status: int | None = None
        self.waited_limiter = self.waited_slot = 0.0
        host, port = _server(request.url)
        # What a sampler may look at is known now (the semantic conventions ask for it),
        # but the URL: redacting it is the costliest part, so only a span kept gets it,
        # and only once the credentials it might hold are known.
        self._span: Span = recorder.tracer.start_span(
            f"activecalls {operation}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": host,
                "server.port": port,
                "activecalls.operation": operation,
                "activecalls.priority": self._priority,
            },
        )
        if secrets is not None and self._span.is_recording():
            self._span.set_attribute("url.full", _safe_url(request.url, secrets))

    def __enter__(self) -> _RequestTrace:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._end(exc)
        finally:
            if self._token is not None:
                otel_context.detach(self._token)

    def _end(self, error: BaseException | None) -> None:
        span = self._span
        if span.is_recording():
            attributes: dict[str, Any] = {
                "activecalls.attempts": self.attempts,
                "activecalls.limiter.wait": self.waited_limiter,
                "activecalls.slot.wait": self.waited_slot,
            }
            if self.attempts > 1:
                attributes["http.request.resend_count"] = self.attempts - 1
            if self.status is not None:
                attributes["http.response.status_code"] = self.status
            if self._secrets is None or self._sent_secrets is not self._secrets:
                # Credentials first known after the span began (a first login, a renewal).
                known = (self._secrets or frozenset()) | (self._sent_secrets or frozenset())
                attributes["url.full"] = _safe_url(self._url, known)
            if isinstance(error, asyncio.CancelledError):
                # Its caller stopped waiting: the request itself goes on to its answer.
                attributes["activecalls.cancelled"] = True
            elif error is not None:
                attributes["error.type"] = error_type(error)
                span.record_exception(error)
                span.set_status(StatusCode.ERROR)
            span.set_attributes(attributes)
        span.end()

    def attempted(self, attempt: AttemptRecord) -> None:
        status, failure = attempt.status, attempt.failure
        self.waited_limiter += attempt.waited_limiter
        self.waited_slot += attempt.waited_slot
        self._sent_secrets = attempt.secrets
        attributes: dict[str, str | int] = {
            "activecalls.operation": self._operation,
            "http.request.method": self._method,
            "activecalls.priority": self._priority,
        }
        if status is not None:
            self.status = status
            attributes["http.response.status_code"] = status
            if status >= 400:
                attributes["error.type"] = str(status)
        elif failure is not None:
            attributes["error.type"] = f"{failure.__module__}.{failure.__qualname__}"
        instruments = self._instruments
        instruments.requests.add(1, attributes)
        instruments.duration.record(attempt.took, attributes)
        if self._limited:
            instruments.limiter_wait.record(
                attempt.waited_limiter, {"activecalls.priority": self._priority}
            )
        if status == 429:
            instruments.rate_limited.add(1, {"activecalls.operation": self._operation})

    def retrying(self, number: int, error: BaseException, delay: float) -> None:
        self.attempts = number + 1
        kind = error_type(error)
        self._instruments.retries.add(
            1, {"activecalls.operation": self._operation, "error.type": kind}
        )
        if self._span.is_recording():
            event: dict[str, str | int | float] = {
                "activecalls.attempt": number,
                "error.type": kind,
                "activecalls.retry.delay": delay,
            }
            if isinstance(error, APIStatusError):
                event["http.response.status_code"] = error.status
            self._span.add_event("activecalls.retry", event)


class _ScopeTrace:
    """The span of a walk or a fan-out, and the context its requests start in."""

    __slots__ = ("_context", "_span")

    def __init__(self, span: Span) -> None:
        self._span = span
        # A context of its own in which this span is current: tasks started in it
        # (``spawn``) take a copy, so the requests they send are this span's children.
        self._context = contextvars.copy_context()
        self._context.run(otel_context.attach, trace.set_span_in_context(span))

    def spawn(self, work: Awaitable[_T]) -> asyncio.Future[_T]:
        return self._context.run(asyncio.ensure_future, work)

    def failed(self, error: BaseException) -> None:
        if isinstance(error, (StopAsyncIteration, asyncio.CancelledError, GeneratorExit)):
            return
        span = self._span
        if span.is_recording():
            span.set_attribute("error.type", error_type(error))
            span.record_exception(error)
            span.set_status(StatusCode.ERROR)

    def end(self, attributes: Mapping[str, int | bool]) -> None:
        span = self._span
        if span.is_recording():  # not yet ended
            span.set_attributes(attributes)
            span.end()
