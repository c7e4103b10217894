"""Credentials: how each request is authorised, and how an expired token is renewed."""

from __future__ import annotations

import abc
from collections.abc import Mapping

import aiohttp

from .errors import ValidationError

__all__ = ["ApiToken", "Auth", "BearerToken", "coerce_auth"]


def _check_token(name: str, token: object) -> str:
    if not isinstance(token, str) or not token.strip() or any(c in token for c in "\r\n"):
        raise ValidationError(name, "expected a non-empty token string on one line")
    return token.strip()


class Auth(abc.ABC):
    """A source of request headers that authorise one account's API calls."""

    @abc.abstractmethod
    async def headers(self, session: aiohttp.ClientSession) -> Mapping[str, str]:
        """The headers to send with the next request."""

    async def refresh(self, session: aiohttp.ClientSession, rejected: Mapping[str, str]) -> bool:
        """Renew credentials that the server called expired; True if a retry may succeed.

        ``rejected`` are the headers the server refused, so that of many requests
        that meet the same expired token only the first renews it.
        """
        return False

    async def aclose(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release anything the credentials hold (nothing, by default)."""


class BearerToken(Auth):
    """A fixed RingCX access token, sent as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {_check_token('token', token)}"}

    def __repr__(self) -> str:
        return "BearerToken(token='***')"

    async def headers(self, session: aiohttp.ClientSession) -> Mapping[str, str]:
        """The bearer header."""
        return self._headers


class ApiToken(Auth):
    """A legacy permanent API token, sent as ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self._headers = {"X-Auth-Token": _check_token("token", token)}

    def __repr__(self) -> str:
        return "ApiToken(token='***')"

    async def headers(self, session: aiohttp.ClientSession) -> Mapping[str, str]:
        """The ``X-Auth-Token`` header."""
        return self._headers


def coerce_auth(auth: Auth | str) -> Auth:
    """Accept an ``Auth`` or a bearer token string."""
    if isinstance(auth, Auth):
        return auth
    if isinstance(auth, str):
        return BearerToken(auth)
    raise ValidationError(
        "auth", f"expected a token string or an Auth object; got {type(auth).__name__}"
    )
