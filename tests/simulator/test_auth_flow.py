"""Login: RingCentral JWT grant, RingCX token exchange (5/min), rotating refresh."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from activecalls_async.testing import Simulator

from .bare_http import api_url, basic_auth, bearer

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def post_form(
    http: aiohttp.ClientSession,
    url: str,
    form: dict[str, str],
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.post(url, data=form, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def jwt_grant(http: aiohttp.ClientSession, sim: Simulator) -> str:
    status, body = await post_form(
        http,
        f"{sim.root_url}/restapi/oauth/token",
        {"grant_type": JWT_GRANT, "assertion": sim.rc_jwt},
        headers=basic_auth(sim.rc_client_id, sim.rc_client_secret),
    )
    assert status == 200, body
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    return str(body["access_token"])


async def exchange(http: aiohttp.ClientSession, sim: Simulator, rc_token: str) -> tuple[int, Any]:
    return await post_form(
        http,
        f"{sim.root_url}/api/auth/login/rc/accesstoken?includeRefresh=true",
        {"rcAccessToken": rc_token, "rcTokenType": "Bearer"},
    )


async def refresh(http: aiohttp.ClientSession, sim: Simulator, token: str) -> tuple[int, Any]:
    return await post_form(http, f"{sim.root_url}/api/auth/token/refresh", {"refresh_token": token})


async def can_list(http: aiohttp.ClientSession, sim: Simulator, token: str) -> int:
    async with http.get(
        api_url(sim, "/list"), params={"product": "ACCOUNT"}, headers=bearer(token)
    ) as response:
        return response.status


async def test_jwt_exchange_refresh_flow(sim: Simulator, http: aiohttp.ClientSession) -> None:
    rc_token = await jwt_grant(http, sim)
    # A RingCentral token is not a RingCX one.
    assert await can_list(http, sim, rc_token) == 401
    status, login = await exchange(http, sim, rc_token)
    assert status == 200
    assert login["tokenType"] == "Bearer"
    assert login["accountId"] == sim.account_id
    assert isinstance(login["adminId"], int)
    (agent,) = login["agentDetails"]
    assert agent["username"].endswith("@example.com")
    assert await can_list(http, sim, login["accessToken"]) == 200

    status, rotated = await refresh(http, sim, login["refreshToken"])
    assert status == 200
    assert rotated["accessToken"] != login["accessToken"]
    assert rotated["refreshToken"] != login["refreshToken"]
    assert await can_list(http, sim, rotated["accessToken"]) == 200
    # Rotation: the spent refresh token is refused; the new one works once.
    assert await refresh(http, sim, login["refreshToken"]) == (401, "Invalid refresh token")
    assert (await refresh(http, sim, rotated["refreshToken"]))[0] == 200
    assert [r.operation for r in sim.requests] == [
        "auth.jwt",
        "list",
        "auth.exchange",
        "list",
        "auth.refresh",
        "list",
        "auth.refresh",
        "auth.refresh",
    ]


async def test_exchanged_tokens_expire(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=2, token_lifetime=0.05) as sim:
        _, login = await exchange(http, sim, await jwt_grant(http, sim))
        assert await can_list(http, sim, login["accessToken"]) == 200
        await asyncio.sleep(0.1)
        assert await can_list(http, sim, login["accessToken"]) == 401
        _, rotated = await refresh(http, sim, login["refreshToken"])
        assert await can_list(http, sim, rotated["accessToken"]) == 200


async def test_exchange_without_include_refresh_has_no_refresh_token(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, login = await post_form(
        http,
        f"{sim.root_url}/api/auth/login/rc/accesstoken",
        {"rcAccessToken": await jwt_grant(http, sim), "rcTokenType": "Bearer"},
    )
    assert status == 200
    assert "refreshToken" not in login
    assert login["accessToken"]


async def test_exchange_refuses_unknown_tokens_and_bad_forms(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    assert await exchange(http, sim, "not-a-ringcentral-token") == (
        401,
        "Invalid RingCentral access token",
    )
    assert await exchange(http, sim, sim.token) == (401, "Invalid RingCentral access token")
    status, body = await post_form(
        http,
        f"{sim.root_url}/api/auth/login/rc/accesstoken?includeRefresh=true",
        {"rcAccessToken": "x", "rcTokenType": "MAC"},
    )
    assert status == 400
    assert [e["attributeName"] for e in body["validationErrors"]] == ["rcTokenType"]
    status, body = await refresh(http, sim, "")
    assert status == 400
    assert body["validationErrors"][0]["attributeName"] == "refresh_token"


async def test_exchange_allows_five_per_minute(sim: Simulator, http: aiohttp.ClientSession) -> None:
    rc_token = await jwt_grant(http, sim)
    statuses = [(await exchange(http, sim, rc_token))[0] for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    async with http.post(
        f"{sim.root_url}/api/auth/login/rc/accesstoken",
        data={"rcAccessToken": rc_token, "rcTokenType": "Bearer"},
    ) as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    # The API's own limit is separate (this simulator has none).
    assert await can_list(http, sim, sim.token) == 200
    sim.reset_counters()
    assert (await exchange(http, sim, rc_token))[0] == 200


async def test_jwt_grant_checks_client_grant_and_assertion(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.root_url}/restapi/oauth/token"
    good = basic_auth(sim.rc_client_id, sim.rc_client_secret)
    status, body = await post_form(
        http,
        url,
        {"grant_type": JWT_GRANT, "assertion": sim.rc_jwt},
        headers=basic_auth(sim.rc_client_id, "wrong"),
    )
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await post_form(http, url, {"grant_type": JWT_GRANT, "assertion": sim.rc_jwt})
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await post_form(
        http, url, {"grant_type": "password", "assertion": sim.rc_jwt}, headers=good
    )
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body = await post_form(
        http, url, {"grant_type": JWT_GRANT, "assertion": "eyJ.bad.jwt"}, headers=good
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    recorded = sim.requests[-1]
    assert recorded.operation == "auth.jwt"
    assert "assertion=eyJ.bad.jwt" in recorded.body
