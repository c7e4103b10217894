"""Small helpers for talking to the simulator with a bare aiohttp session."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from activecalls_async.testing import Simulator


def api_url(sim: Simulator, suffix: str = "", *, legacy: bool = False, account: str = "") -> str:
    """The URL of an Active Calls operation (``suffix`` starts with ``/``)."""
    base = sim.legacy_base_url if legacy else sim.base_url
    return f"{base}/api/v1/admin/accounts/{account or sim.account_id}/activeCalls{suffix}"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


async def fetch(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    token: str | None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Mapping[str, str]]:
    """Send one request; return (status, body text, response headers)."""
    sent = dict(headers or {})
    if token is not None:
        sent.update(bearer(token))
    async with http.request(method, url, params=params, headers=sent) as response:
        return response.status, await response.text(), response.headers


async def list_calls(
    http: aiohttp.ClientSession, sim: Simulator, **params: Any
) -> list[dict[str, Any]]:
    """GET list with these query parameters; asserts a 200 JSON array."""
    query = {key: str(value) for key, value in params.items()}
    async with http.get(api_url(sim, "/list"), params=query, headers=bearer(sim.token)) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        rows = await response.json()
    assert isinstance(rows, list)
    return rows


async def act(
    http: aiohttp.ClientSession,
    sim: Simulator,
    uii: str,
    action: str,
    **params: str,
) -> tuple[int, str]:
    """POST a call action; return (status, body)."""
    status, body, _ = await fetch(
        http, "POST", api_url(sim, f"/{uii}/{action}"), token=sim.token, params=params
    )
    return status, body


def answered_uii(sim: Simulator) -> str:
    """The uii of the first listed call that an agent is on."""
    return next(str(call["uii"]) for call in sim.wire_calls() if call["agentFirstName"] is not None)


def basic_auth(login: str, password: str) -> dict[str, str]:
    """An HTTP Basic ``Authorization`` header (aiohttp.BasicAuth is deprecated in 3.14)."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds: for the server's log, which has no event to await."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)
