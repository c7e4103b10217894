"""Traces and metrics through OpenTelemetry (the optional ``otel`` extra).

With ``opentelemetry-api`` installed (``pip install 'activecalls-async[otel]'``) every
client reports to OpenTelemetry's global tracer and meter providers, as instrumentation
libraries do, under the instrumentation scope ``activecalls_async`` and the package's
version; ``telemetry=Telemetry(tracer_provider=..., meter_provider=...)`` sends one
client's elsewhere. Nothing is recorded until the application installs an OpenTelemetry
SDK, and without the extra nothing of OpenTelemetry is imported at all.

**Switching it off.** ``ActiveCallsClient(telemetry=None)`` turns it off for one client;
the environment variable ``ACTIVECALLS_TELEMETRY=off`` (or ``0``, ``false``, ``no``)
turns it off for every client made while it is set, whatever their ``telemetry=``.
Off, a request pays for one method call, and OpenTelemetry is never imported.

**Spans.**

* ``activecalls <operation>`` (kind ``CLIENT``): one per call that sends a request
  (each page of a walk is one), covering its retries and a token renewal; the operation
  is the wire name (``list``, ``addSessionToCall``, ``accounts``), ``request`` for
  ``client.request``. Attributes, after the HTTP client semantic conventions:
  ``http.request.method``, ``server.address``, ``server.port``, ``url.full`` (every
  credential replaced by ``***``: the credentials sent, and query values such as
  ``token=`` or ``access_token=``; set just after the span starts, or at its end
  while the credentials are not yet known, so a sampler does not see it),
  ``http.response.status_code`` (of the last answer), ``http.request.resend_count``
  (when repeated), ``error.type`` (the status as text for an error answer, else the
  error's qualified class name, such as
  ``activecalls_async.errors.APITimeoutError``); and ``activecalls.operation``,
  ``activecalls.priority`` (``ACTION``, ``READ``, ``WATCH``, ``BULK``),
  ``activecalls.attempts`` (attempts made, the first included), and
  ``activecalls.limiter.wait`` and ``activecalls.slot.wait`` (seconds waited for the
  rate limiter and then for a concurrency slot, over all attempts). A call that raised
  has the status ``ERROR`` and the exception recorded; a caller that was cancelled (a
  walk dropping a page it asked ahead) is marked ``activecalls.cancelled``, not an
  error. Events: ``activecalls.retry`` for each retry (``activecalls.attempt``, the
  number that failed; ``http.response.status_code`` when it was answered;
  ``error.type``; ``activecalls.retry.delay`` in seconds) and
  ``activecalls.token_renewal`` for each login request sent to renew the credentials
  (``activecalls.operation``: ``auth.refresh``, ``auth.exchange`` or ``auth.jwt``;
  ``activecalls.login.duration`` in seconds; ``error.type`` when it failed), on the
  span of the call that set the renewal off. The span is current while the call runs:
  with ``opentelemetry-instrumentation-aiohttp-client`` active, the span it makes for
  each attempt on the wire (and for a renewal's login requests) is its child.
* ``activecalls walk`` (kind ``INTERNAL``): one per walk (``iter_active_calls``,
  ``iter_active_call_pages``, each poll of ``watch_active_calls``), from its first
  page asked for until it ends or is closed, parent of its requests:
  ``activecalls.listing`` (``ACD 55``), ``activecalls.pages`` (answers taken in),
  ``activecalls.requests`` (requests sent, those asked ahead and not needed included)
  and ``activecalls.complete``.
* ``activecalls fan-out`` (kind ``INTERNAL``): one per ``iter_active_calls_many`` and
  per poll of ``watch_active_calls_many``, parent of its walks:
  ``activecalls.targets``, ``activecalls.pages`` and ``activecalls.requests`` (summed
  over its walks) and ``activecalls.failed_targets``. A walk or a fan-out left without
  ``aclose()`` (a plain ``async for`` left early) ends its span when it is
  garbage-collected.

**Metrics** (a request here is one attempt on the wire):

* ``activecalls.client.requests`` (counter, ``{request}``) and
  ``activecalls.client.request.duration`` (histogram, ``s``, time on the wire), by
  ``activecalls.operation``, ``http.request.method``, ``activecalls.priority``,
  ``http.response.status_code`` (when answered) and ``error.type`` (an error status, or
  the failure's class when unanswered).
* ``activecalls.client.limiter.wait`` (histogram, ``s``): each request's wait for the
  rate limiter, by ``activecalls.priority``.
* ``activecalls.client.rate_limited`` (counter, ``{response}``): 429 answers, by
  ``activecalls.operation``.
* ``activecalls.client.retries`` (counter, ``{retry}``): by ``activecalls.operation``
  and ``error.type``.
* ``activecalls.client.window.requests`` (observable gauge, ``{request}``): requests in
  each rate limiter's window, by ``activecalls.limiter`` (the limiter's repr, such as
  ``RateLimit(120, per=60)``).
* ``activecalls.client.token.renewals`` (counter, ``{request}``): login requests sent
  to renew credentials, by ``activecalls.operation`` and ``error.type`` (when failed).

The window gauge reads each client's rate limiter (``RateLimit.in_window``, or a
fleet's ``RedisRateLimit``) on its own event loop, since an exporter collects from
another thread; limiters with the same repr are summed. ``ClientStats`` counts the same
requests for a program that reads them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import ValidationError
from ..limits.ratelimit import Limiter
from ._base import OFF, Recorder

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["Telemetry"]


def _provider(kind: str, method: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not callable(getattr(value, method, None)):
            raise ValidationError(attribute.name, f"expected an OpenTelemetry {kind} or None")

    return check


@attrs.frozen
class Telemetry:
    """Where a client's traces and metrics go (see the module docstring).

    ``tracer_provider`` and ``meter_provider`` are OpenTelemetry providers; ``None``, the
    default, means OpenTelemetry's global ones. ``ActiveCallsClient(telemetry=None)``
    turns telemetry off.
    """

    tracer_provider: TracerProvider | None = attrs.field(
        default=None, validator=_provider("TracerProvider", "get_tracer")
    )
    meter_provider: MeterProvider | None = attrs.field(
        default=None, validator=_provider("MeterProvider", "get_meter")
    )


#: Makes the OpenTelemetry recorder, once imported; None when OpenTelemetry is missing.
_make: Callable[[Any, Any, Limiter | None], Recorder] | None = None
_looked_up = False


def recorder_for(telemetry: Telemetry | None, limiter: Limiter | None) -> Recorder:
    """What a client with ``telemetry`` and ``limiter`` reports to: the silent recorder
    when telemetry is off or OpenTelemetry is not installed."""
    global _make, _looked_up
    if telemetry is None:
        return OFF
    if not _looked_up:
        try:
            from ._otel import OpenTelemetryRecorder
        except ModuleNotFoundError as exc:
            # Only a missing OpenTelemetry means "not installed"; any other error is a bug.
            if not (exc.name or "").startswith("opentelemetry"):
                raise
        else:
            _make = OpenTelemetryRecorder
        _looked_up = True
    if _make is None:
        return OFF
    return _make(telemetry.tracer_provider, telemetry.meter_provider, limiter)
