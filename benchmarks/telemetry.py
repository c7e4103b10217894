"""What telemetry costs a request: ``list_active_calls`` with telemetry off, on without an
OpenTelemetry SDK, and on with an SDK recording every span and metric; and, as the
least an instrumentation could cost, telemetry off with one span and the same three
measurements made by hand around each call.

A one-row page, so that the request path, not the decoding, is what is measured. Every
contender asks the same simulator (its own process) the same number of times in a
row, in rotating blocks; CPU time counts every thread of the process, so the SDK's
exporting thread is included. Needs ``opentelemetry-sdk`` (``benchmarks/requirements.txt``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from activecalls_async import ActiveCallsClient, RateLimit
from activecalls_async.telemetry import Telemetry

from ._results import Check, Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "telemetry"
TITLE = "Telemetry's cost per request: off, on without an SDK, on with an SDK recording"

OFF = "telemetry=None"
NO_SDK = "telemetry on, no OpenTelemetry SDK installed (the API's no-op providers)"
RECORDING = "telemetry on, an SDK recording every span and metric (batched, no-op export)"
BY_HAND = "telemetry=None, one span and three measurements made by hand around each call"

#: Blocks per repetition, each contender taking its turn in each.
ROUNDS = 10
#: The most a request may cost (CPU, medians): without an SDK, against telemetry off;
#: recording, against the same span and measurements made by hand, since the
#: OpenTelemetry SDK's own work (a span and three measurements a request) dominates.
TARGETS = {NO_SDK: (OFF, 1.05), RECORDING: (BY_HAND, 1.10)}

Request = Callable[[], Awaitable[object]]


def _recording_telemetry() -> tuple[Telemetry, Callable[[], None]]:
    """Providers that record everything and export nowhere; and how to shut them down
    (each call makes new ones)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return Telemetry(tracer_provider, meter_provider), shutdown


def _client(server: ServerInfo, telemetry: Telemetry | None) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=server.account_id,
        auth=server.token,
        base_url=server.base_url,
        # A limit that never binds: the limiter's bookkeeping, and its wait recorded.
        rate_limit=RateLimit(10**9, per=60.0),
        telemetry=telemetry,
    )


def _request(client: ActiveCallsClient, account: int) -> Request:
    async def request() -> object:
        return await client.list_active_calls("ACCOUNT", account, page=0, max_rows=1)

    return request


def _by_hand(client: ActiveCallsClient, account: int, telemetry: Telemetry) -> Request:
    """A call wrapped in what the recorder records, written as plainly as it can be."""
    from opentelemetry.trace import SpanKind
    from opentelemetry.util.types import Attributes

    assert telemetry.tracer_provider is not None
    assert telemetry.meter_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("by-hand")
    meter = telemetry.meter_provider.get_meter("by-hand")
    requests = meter.create_counter("requests")
    duration = meter.create_histogram("duration", "s")
    waits = meter.create_histogram("waits", "s")
    url = f"{client.base_url}/api/v1/admin/accounts/{account}/activeCalls/list?page=0"
    start: Attributes = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": 8080,
        "url.full": url,
        "activecalls.operation": "list",
        "activecalls.priority": "READ",
    }
    measured: Attributes = {
        "activecalls.operation": "list",
        "http.request.method": "GET",
        "activecalls.priority": "READ",
        "http.response.status_code": 200,
    }

    async def request() -> object:
        with tracer.start_as_current_span("list", kind=SpanKind.CLIENT, attributes=start) as span:
            began = time.perf_counter()
            result = await client.list_active_calls("ACCOUNT", account, page=0, max_rows=1)
            requests.add(1, measured)
            duration.record(time.perf_counter() - began, measured)
            waits.record(0.0, {"activecalls.priority": "READ"})
            span.set_attributes(
                {
                    "activecalls.attempts": 1,
                    "activecalls.limiter.wait": 0.0,
                    "activecalls.slot.wait": 0.0,
                    "http.response.status_code": 200,
                }
            )
        return result

    return request


async def _time(request: Request, count: int) -> float:
    """CPU seconds spent on ``count`` requests in a row."""
    cpu = time.process_time()
    for _ in range(count):
        await request()
    return time.process_time() - cpu


async def _measure(server: ServerInfo, *, count: int, repeat: int) -> dict[str, list[float]]:
    """Per contender, the CPU microseconds per request of each repetition."""
    account = int(server.account_id)
    recording, shutdown = _recording_telemetry()
    by_hand, shutdown_by_hand = _recording_telemetry()
    try:
        async with (
            _client(server, None) as off,
            # The global providers, never set in this process: OpenTelemetry's no-ops.
            _client(server, Telemetry()) as no_sdk,
            _client(server, recording) as recorded,
            _client(server, None) as wrapped,
        ):
            contenders = {
                OFF: _request(off, account),
                NO_SDK: _request(no_sdk, account),
                RECORDING: _request(recorded, account),
                BY_HAND: _by_hand(wrapped, account, by_hand),
            }
            for request in contenders.values():
                await _time(request, 50)  # warm up connections and caches
            results: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            block = max(1, count // ROUNDS)
            for _ in range(repeat):
                cpu = dict.fromkeys(names, 0.0)
                for turn in range(ROUNDS):
                    for name in names[turn % len(names) :] + names[: turn % len(names)]:
                        cpu[name] += await _time(contenders[name], block)
                for name in names:
                    results[name].append(cpu[name] / (block * ROUNDS) * 1e6)
    finally:
        shutdown()
        shutdown_by_hand()
    return results


def run(config: Config) -> ScenarioResult:
    """Measure telemetry's CPU per request, off and on."""
    count = 150 if config.quick else 600
    repeat = config.repetitions(full=7, quick=3)
    result = ScenarioResult(NAME, TITLE, {"requests_per_repetition": count, "repetitions": repeat})
    with SimulatorProcess(calls=2000) as process:
        data = asyncio.run(_measure(process.server, count=count, repeat=repeat))
    base = data[OFF]
    for name, values in data.items():
        is_base = name == OFF
        result.rows.append(
            Row(
                name,
                "CPU per request",
                "µs",
                Stat.of(values),
                None if is_base else paired_ratio(values, base),
                None if is_base else OFF,
            )
        )
    for name, (against, limit) in TARGETS.items():
        ratio = paired_ratio(data[name], data[against]).median
        result.checks.append(Check(f"{name}: CPU ≤ {limit:.2f}x {against}", ratio, "<=", limit))
    median = {name: Stat.of(values).median for name, values in data.items()}
    result.notes.append(
        f"Per request, telemetry on costs {median[NO_SDK] - median[OFF]:.1f} µs of CPU "
        f"without an SDK and {median[RECORDING] - median[OFF]:.1f} µs with one recording "
        f"every span and metric ({median[BY_HAND] - median[OFF]:.1f} µs for the same "
        f"made by hand), over {median[OFF]:.0f} µs with it off. Off, the request path "
        "makes one method call (its recorder answers None) and awaits one more coroutine."
    )
    return result
