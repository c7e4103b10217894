"""What each request says about itself: Accept on reads, no Content-Type without a body."""

from __future__ import annotations

from typing import Any

from activecalls_async import ActiveCallsClient, Product
from activecalls_async._wire.http import USER_AGENT
from activecalls_async.testing import Simulator


def _headers(sim: Simulator, operation: str) -> dict[str, str]:
    record = next(r for r in sim.requests if r.operation == operation)
    return {name.lower(): value for name, value in record.headers.items()}


async def test_reads_ask_for_json_and_send_no_content_type(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    await activecalls_client.list_active_calls(Product.ACCOUNT, activecalls_simulator.account_id)
    headers = _headers(activecalls_simulator, "list")
    assert headers["accept"] == "application/json"
    assert "content-type" not in headers
    assert headers["user-agent"] == USER_AGENT


async def test_a_post_without_a_body_describes_no_body(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    uii = next(c.uii for c in activecalls_simulator.calls() if c.agent_first_name)
    await activecalls_client.toggle_call_recording(uii, record=False)
    headers = _headers(activecalls_simulator, "toggleCallRecording")
    assert "content-type" not in headers
    assert headers["accept"].startswith("text/plain")


async def test_a_json_body_is_described_as_json(
    activecalls_client: ActiveCallsClient, activecalls_simulator: Simulator
) -> None:
    payload: dict[str, Any] = {"firstName": "Ada"}
    await activecalls_client.request("POST", "users", json=payload)
    headers = _headers(activecalls_simulator, "users.create")
    assert headers["content-type"] == "application/json"
