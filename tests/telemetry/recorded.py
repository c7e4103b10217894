"""An OpenTelemetry SDK of a test's own, spans and metrics kept in memory, and the
helpers that read them back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from activecalls_async.telemetry import Telemetry


@attrs.frozen
class Point:
    """One data point of a metric: its attributes and what it holds."""

    attributes: Mapping[str, Any]
    #: A counter's or gauge's value; a histogram's count.
    value: float
    #: A histogram's sum (None for other instruments).
    total: float | None = None


@attrs.frozen
class Recorded:
    """What the test's SDK recorded."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @property
    def telemetry(self) -> Telemetry:
        return Telemetry(self.tracer_provider, self.meter_provider)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """The finished spans, in the order they ended (only those called ``name``)."""
        spans = self.exporter.get_finished_spans()
        return [span for span in spans if name is None or span.name == name]

    def metrics(self) -> dict[str, list[Point]]:
        """Every metric collected now, by name."""
        found: dict[str, list[Point]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = found.setdefault(metric.name, [])
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if isinstance(point, HistogramDataPoint):
                            points.append(Point(attributes, point.count, point.sum))
                        elif isinstance(point, NumberDataPoint):
                            points.append(Point(attributes, point.value))
        return found


def attributes_of(item: ReadableSpan | Event) -> dict[str, Any]:
    """A span's or an event's attributes, as a plain dict."""
    return dict(item.attributes or {})


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    """The spans whose parent is ``parent``."""
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def value_of(points: list[Point], where: Mapping[str, Any]) -> float:
    """The sum of the values of the points that carry every attribute of ``where``."""
    return sum(p.value for p in points if all(p.attributes.get(k) == v for k, v in where.items()))


def recording() -> Recorded:
    """Fresh providers that keep what they record in memory."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return Recorded(exporter, reader, tracer_provider, MeterProvider(metric_readers=[reader]))
