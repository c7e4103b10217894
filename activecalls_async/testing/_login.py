"""Handlers for the login endpoints: RingCentral JWT grant, RingCX exchange and refresh."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from . import _bodies as bodies
from ._api import Handler
from ._auth import JWT_GRANT_TYPE, RC_TOKEN_LIFETIME, TokenStore
from ._params import Problem
from ._state import AccountState

#: Paths on the root URL, as (method, path, operation name).
JWT_PATH = "/restapi/oauth/token"
EXCHANGE_PATH = "/api/auth/login/rc/accesstoken"
REFRESH_PATH = "/api/auth/token/refresh"


class LoginApi:
    """Issues RingCentral and RingCX tokens from the simulator's credentials."""

    def __init__(self, state: AccountState, tokens: TokenStore) -> None:
        self.state = state
        self.tokens = tokens

    def routes(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path, operation name, handler) for each login endpoint."""
        return [
            ("POST", JWT_PATH, "auth.jwt", self.jwt_grant),
            ("POST", EXCHANGE_PATH, "auth.exchange", self.exchange),
            ("POST", REFRESH_PATH, "auth.refresh", self.refresh),
        ]

    async def jwt_grant(self, request: web.Request) -> web.Response:
        """RingCentral's token endpoint, JWT bearer grant with HTTP Basic client credentials."""
        client = _basic_credentials(request.headers.get("Authorization", ""))
        if client is None or not self.tokens.client_matches(*client):
            return bodies.oauth_error(401, "invalid_client", "Invalid client credentials")
        form = await request.post()
        grant_type, assertion = form.get("grant_type"), form.get("assertion")
        if grant_type != JWT_GRANT_TYPE:
            return bodies.oauth_error(400, "unsupported_grant_type", "Use the JWT bearer grant")
        rc_token = self.tokens.jwt_grant(assertion) if isinstance(assertion, str) else None
        if rc_token is None:
            return bodies.oauth_error(400, "invalid_grant", "Invalid JWT token")
        return bodies.json_ok(
            {
                "access_token": rc_token,
                "token_type": "bearer",
                "expires_in": RC_TOKEN_LIFETIME,
                "scope": "ReadAccounts",
                "owner_id": "63312345004",
                "endpoint_id": "simulator",
            }
        )

    async def exchange(self, request: web.Request) -> web.Response:
        """Trade a RingCentral access token (from the JWT grant) for RingCX tokens."""
        form = await request.post()
        rc_token, token_type = form.get("rcAccessToken"), form.get("rcTokenType")
        problems = []
        if not isinstance(rc_token, str) or not rc_token:
            problems.append(Problem("rcAccessToken", "rcAccessToken is required", None))
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            value = token_type if isinstance(token_type, str) else None
            problems.append(Problem("rcTokenType", "rcTokenType must be Bearer", value))
        if problems or not isinstance(rc_token, str):
            return bodies.invalid(request, problems)
        pair = self.tokens.exchange(rc_token)
        if pair is None:
            return bodies.unauthorized("Invalid RingCentral access token")
        include_refresh = request.query.get("includeRefresh", "").lower() == "true"
        return bodies.json_ok(self._login_body(*pair, include_refresh=include_refresh))

    async def refresh(self, request: web.Request) -> web.Response:
        """Rotate tokens: the refresh token is spent, a new access and refresh token issued."""
        form = await request.post()
        refresh_token = form.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            problem = Problem("refresh_token", "refresh_token is required", None)
            return bodies.invalid(request, [problem])
        pair = self.tokens.refresh(refresh_token)
        if pair is None:
            return bodies.unauthorized("Invalid refresh token")
        return bodies.json_ok(self._login_body(*pair, include_refresh=True))

    def _login_body(self, access: str, refresh: str, *, include_refresh: bool) -> dict[str, Any]:
        agent = self.state.agents[0]
        body: dict[str, Any] = {
            "accessToken": access,
            "tokenType": "Bearer",
            "agentDetails": [
                {
                    "agentId": agent.agent_id,
                    "firstName": agent.first_name,
                    "lastName": agent.last_name,
                    "email": agent.username,
                    "username": agent.username,
                    "agentType": "AGENT",
                    "accountId": self.state.account_id,
                    "accountName": "Simulated Contact Centre",
                }
            ],
            "adminId": 1000,
            "adminUrl": "/voice/admin/",
            "agentUrl": "/voice/agent/",
            "accountId": self.state.account_id,
        }
        if include_refresh:
            body["refreshToken"] = refresh
        return body


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """The (client id, secret) of an HTTP Basic ``Authorization`` header, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None
