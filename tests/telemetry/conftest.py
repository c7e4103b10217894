"""Each test gets tracer and meter providers of its own, passed to the client as
``telemetry=``: nothing touches OpenTelemetry's global providers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.telemetry.recorded import Recorded, recording


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    monkeypatch.delenv("ACTIVECALLS_TELEMETRY", raising=False)
    recorded = recording()
    yield recorded
    recorded.tracer_provider.shutdown()
    recorded.meter_provider.shutdown()
