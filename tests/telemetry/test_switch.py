"""Telemetry off: by ``telemetry=None``, by ``ACTIVECALLS_TELEMETRY``, or because
OpenTelemetry is not installed, in which case none of it is imported."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activecalls_async import ActiveCallsClient, ValidationError
from activecalls_async.telemetry import Telemetry
from activecalls_async.testing import Simulator
from tests.telemetry.recorded import Recorded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=5, seed=4, rate_limit=None) as simulator:
        yield simulator


async def some_traffic(sim: Simulator, telemetry: Telemetry | None) -> None:
    async with ActiveCallsClient(
        account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, telemetry=telemetry
    ) as client:
        await client.list_active_calls("ACCOUNT", sim.account_id)
        async for _ in client.iter_active_calls("ACD", 55):
            pass


async def test_telemetry_none_records_nothing(sim: Simulator, otel: Recorded) -> None:
    await some_traffic(sim, None)
    assert otel.spans() == []
    assert otel.metrics() == {}


@pytest.mark.parametrize("value", ["off", "OFF", " 0 ", "false", "No"])
async def test_the_environment_switches_it_off_whatever_the_client_says(
    sim: Simulator, otel: Recorded, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TELEMETRY", value)
    await some_traffic(sim, otel.telemetry)
    assert otel.spans() == []
    assert otel.metrics() == {}


@pytest.mark.parametrize("value", ["on", "1", "TRUE", ""])
async def test_the_environment_may_say_on(
    sim: Simulator, otel: Recorded, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TELEMETRY", value)
    await some_traffic(sim, otel.telemetry)
    assert otel.spans("activecalls list")


async def test_an_unknown_switch_value_is_reported_once_and_leaves_it_on(
    sim: Simulator,
    otel: Recorded,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TELEMETRY", "disabled-please")
    with caplog.at_level(logging.WARNING, logger="activecalls_async"):
        await some_traffic(sim, otel.telemetry)
        await some_traffic(sim, otel.telemetry)
    warnings = [r.getMessage() for r in caplog.records if "ACTIVECALLS_TELEMETRY" in r.message]
    assert warnings == [
        "ACTIVECALLS_TELEMETRY='disabled-please' is neither on nor off; telemetry stays on"
    ]
    assert otel.spans("activecalls list")


def test_the_switch_is_named_where_every_variable_is() -> None:
    from activecalls_async._environ import Env

    assert Env.TELEMETRY == "ACTIVECALLS_TELEMETRY"


@pytest.mark.parametrize("value", [True, False, "off", object()])
def test_a_telemetry_that_is_not_one_is_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="telemetry"):
        ActiveCallsClient(account_id="1", auth="a-bearer-token", telemetry=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["tracer_provider", "meter_provider"])
def test_a_provider_that_is_not_one_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Telemetry(**{field: object()})  # type: ignore[arg-type]


def run(script: str, **env: str) -> str:
    """Run ``script`` in a fresh interpreter; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


#: Talks to a simulator through a client: one request, one walk, one fan-out.
TRAFFIC = """
import asyncio, sys
from activecalls_async import ActiveCallsClient
from activecalls_async.testing import Simulator

async def main() -> None:
    async with Simulator(calls=5, rate_limit=None) as sim:
        async with ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url
        ) as client:
            await client.list_active_calls("ACCOUNT", sim.account_id)
            [c async for c in client.iter_active_calls("ACD", 55)]
            [c async for c in client.iter_active_calls_many([("ACD", 55), ("DNIS", 1)])]

asyncio.run(main())
print(sorted({m.split(".")[0] for m in sys.modules if m.startswith("opentelemetry")}))
"""

#: Makes OpenTelemetry look not installed: its import fails as a missing package's does.
WITHOUT_OPENTELEMETRY = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def test_without_opentelemetry_nothing_of_it_is_imported_and_all_works() -> None:
    assert run(WITHOUT_OPENTELEMETRY + TRAFFIC) == "[]"


def test_the_blocker_hides_the_installed_opentelemetry() -> None:
    probe = """
try:
    import opentelemetry.trace
    print("present")
except ModuleNotFoundError as exc:
    print("missing", exc.name)
"""
    assert run(WITHOUT_OPENTELEMETRY + probe) == "missing opentelemetry"
    assert run(probe) == "present"


def test_importing_the_sdk_imports_no_opentelemetry_even_when_installed() -> None:
    script = """
    import sys
    import activecalls_async, activecalls_async.testing, activecalls_async.telemetry
    from activecalls_async import ActiveCallsClient
    ActiveCallsClient(account_id="1", auth="a-bearer-token", telemetry=None)
    print([m for m in sys.modules if m.startswith("opentelemetry")])
    """
    assert run(script) == "[]"


def test_switched_off_by_the_environment_nothing_of_it_is_imported() -> None:
    assert run(TRAFFIC, ACTIVECALLS_TELEMETRY="off") == "[]"
    # and on, the same traffic does import it: the check above can fail
    assert run(TRAFFIC) == "['opentelemetry']"


def test_by_default_the_global_providers_are_used_even_when_set_later() -> None:
    script = """
    import asyncio
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from activecalls_async import ActiveCallsClient
    from activecalls_async.testing import Simulator

    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()

    async def main() -> None:
        async with Simulator(calls=3, rate_limit=None) as sim:
            async with ActiveCallsClient(
                account_id=sim.account_id, auth=sim.token, base_url=sim.base_url
            ) as client:
                await client.list_active_calls("ACCOUNT", sim.account_id)  # no SDK yet
                tracer_provider = TracerProvider()
                tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(tracer_provider)
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                await client.ping_call(sim.add_call(product="ACD", product_id=55))

    asyncio.run(main())
    print([(s.name, s.instrumentation_scope.name) for s in exporter.get_finished_spans()])
    data = reader.get_metrics_data()
    print(sorted(m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics))
    """
    spans, names = run(script).splitlines()
    assert spans == "[('activecalls pingCall', 'activecalls_async')]"
    assert names == str(
        [
            "activecalls.client.limiter.wait",
            "activecalls.client.request.duration",
            "activecalls.client.requests",
            "activecalls.client.window.requests",
        ]
    )
