"""Documented errors: 401 (missing, unknown, expired), 403, 404 routes, 429 and its window."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from activecalls_async.testing import Simulator

from .bare_http import answered_uii, api_url, fetch

ERRORS_KEYS = {
    "generalMessage",
    "details",
    "developerMessage",
    "requestUri",
    "timestamp",
    "validationErrors",
}


async def get_list(
    http: aiohttp.ClientSession, sim: Simulator, token: str | None, **headers: str
) -> tuple[int, str, dict[str, str]]:
    status, body, sent = await fetch(
        http,
        "GET",
        api_url(sim, "/list"),
        token=token,
        params={"product": "ACCOUNT"},
        headers=headers,
    )
    return status, body, dict(sent)


async def test_missing_token_is_401(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body, headers = await get_list(http, sim, None)
    assert status == 401
    assert headers["Content-Type"].startswith("text/plain")
    assert body == "Full authentication is required to access this resource"
    assert headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "xyz"])
async def test_unknown_token_is_401(
    sim: Simulator, http: aiohttp.ClientSession, header: str
) -> None:
    status, body, _ = await get_list(http, sim, None, Authorization=header)
    assert (status, body) == (401, "Invalid token")


async def test_expired_token_is_401_jwt_is_expired(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token()
    assert (await get_list(http, sim, token))[0] == 200
    sim.expire_token(token)
    status, body, headers = await get_list(http, sim, token)
    assert (status, body) == (401, "Jwt is expired")
    assert headers["Content-Type"].startswith("text/plain")
    # The permanent token is unaffected.
    assert (await get_list(http, sim, sim.token))[0] == 200


async def test_tokens_expire_after_their_lifetime(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.issue_token(lifetime=0.05)
    assert (await get_list(http, sim, token))[0] == 200
    await asyncio.sleep(0.1)
    assert (await get_list(http, sim, token))[:2] == (401, "Jwt is expired")


async def test_default_lifetime_comes_from_the_simulator(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=5, token_lifetime=0.05) as sim:
        token = sim.issue_token()
        assert (await get_list(http, sim, token))[0] == 200
        await asyncio.sleep(0.1)
        assert (await get_list(http, sim, token))[:2] == (401, "Jwt is expired")


async def test_legacy_api_token_header(sim: Simulator, http: aiohttp.ClientSession) -> None:
    for legacy in (False, True):
        status, _, _ = await fetch(
            http,
            "GET",
            api_url(sim, "/list", legacy=legacy),
            token=None,
            params={"product": "ACCOUNT"},
            headers={"X-Auth-Token": sim.api_token},
        )
        assert status == 200
    assert (await get_list(http, sim, None, **{"X-Auth-Token": "wrong"}))[:2] == (
        401,
        "Invalid token",
    )


async def test_other_account_is_403_with_its_body(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    for method, suffix, params in [
        ("GET", "/list", {"product": "ACCOUNT"}),
        ("POST", f"/{uii}/hangupCall", {}),
    ]:
        status, body, headers = await fetch(
            http, method, api_url(sim, suffix, account="99999"), token=sim.token, params=params
        )
        assert status == 403
        assert headers["Content-Type"].startswith("application/json")
        problem = json.loads(body)
        assert set(problem) == {"errorCode", "generalMessage", "details", "requestUri", "timestamp"}
        assert problem["requestUri"].startswith("/voice/api/v1/admin/accounts/99999/")
    assert sim.wire_call(uii) is not None
    assert sim.effects == []


async def test_bad_request_body_has_the_errors_shape(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(
        http,
        "GET",
        api_url(sim, "/list"),
        token=sim.token,
        params={"product": "ACD", "productId": "fifty-five"},
    )
    assert status == 400
    problem = json.loads(body)
    assert set(problem) == ERRORS_KEYS
    assert problem["requestUri"] == "/voice/api/v1/admin/accounts/12440001/activeCalls/list"
    assert isinstance(problem["timestamp"], int)
    assert problem["validationErrors"] == [
        {
            "attributeName": "productId",
            "message": "productId must be a 64-bit integer",
            "value": "fifty-five",
        }
    ]


async def test_unknown_routes_and_methods(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await fetch(http, "GET", api_url(sim, "/nothing/here/at/all"), token=None)
    assert status == 404
    assert set(json.loads(body)) == ERRORS_KEYS
    status, _, headers = await fetch(http, "GET", api_url(sim, "/123/hangupCall"), token=None)
    assert status == 405
    assert headers["Allow"] == "POST"
    assert [request.operation for request in sim.requests] == ["unknown", "unknown"]


async def test_rate_limit_answers_429_with_retry_after(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=3, rate_limit=3, rate_window=0.5) as sim:
        statuses = [(await get_list(http, sim, sim.token))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        status, body, headers = await get_list(http, sim, sim.token)
        assert status == 429
        assert headers["Retry-After"] == "1"  # ceil of the < 0.5 s until a slot frees
        assert set(json.loads(body)) == ERRORS_KEYS
        # A refused request takes no slot: once the window passes, three more get through.
        await asyncio.sleep(0.55)
        statuses = [(await get_list(http, sim, sim.token))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        sim.reset_counters()
        assert sim.requests == []
        assert (await get_list(http, sim, sim.token))[0] == 200


async def test_rate_limit_window_slides(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=3, rate_limit=2, rate_window=0.4) as sim:
        assert (await get_list(http, sim, sim.token))[0] == 200
        await asyncio.sleep(0.25)
        assert (await get_list(http, sim, sim.token))[0] == 200
        assert (await get_list(http, sim, sim.token))[0] == 429
        await asyncio.sleep(0.2)  # the first request has left the window, the second has not
        assert (await get_list(http, sim, sim.token))[0] == 200
        assert (await get_list(http, sim, sim.token))[0] == 429


async def test_rate_limit_counts_every_operation_and_retry_after_is_whole_seconds(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(calls=3, rate_limit=2, rate_window=60.0) as sim:
        uii = answered_uii(sim)
        assert (await get_list(http, sim, None))[0] == 401  # admitted, then refused: counts
        status, _, _ = await fetch(
            http,
            "POST",
            api_url(sim, f"/{uii}/toggleCallRecording"),
            token=sim.token,
            params={"record": "true"},
        )
        assert status == 200
        status, _, headers = await get_list(http, sim, sim.token)
        assert status == 429
        assert 59 <= int(headers["Retry-After"]) <= 60
