"""What every set of credentials is: an ``Auth`` that gives each request its headers, and
the login requests it may ask the client to send (``LoginRequest`` through a
``LoginSender``), so that writing one needs no HTTP library.

``BearerToken`` and ``ApiToken`` send a fixed credential; ``coerce_auth`` turns a token
string into a ``BearerToken``.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .._redact import redact_url
from ..errors import ResponseDecodeError, ValidationError

__all__ = [
    "ApiToken",
    "Auth",
    "BearerToken",
    "LoginRequest",
    "LoginSender",
    "access_token",
    "check_token",
    "clean_token",
    "coerce_auth",
]

#: Characters no credential may hold (a header would be cut or split at them); a tab
#: around a token is only whitespace and is stripped.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def clean_token(token: object) -> str | None:
    """``token`` stripped, if it can go in a header: non-blank, no control characters."""
    if not isinstance(token, str) or not token.strip() or _CONTROL.search(token):
        return None
    return token.strip()


def check_token(name: str, token: object) -> str:
    """``token`` cleaned (see ``clean_token``); else ``ValidationError`` naming ``name``."""
    clean = clean_token(token)
    if clean is None:
        raise ValidationError(
            name, "expected a non-empty token string on one line (no CR, LF, NUL or other controls)"
        )
    return clean


@attrs.frozen(repr=False)
class LoginRequest:
    """A login form an ``Auth`` object asks its ``LoginSender`` to POST.

    ``headers`` may carry credentials (HTTP Basic); ``secrets`` are the form's credential
    values, masked wherever the answer or an error could echo them; ``timeout`` bounds
    the one attempt in seconds (None: no limit).
    """

    operation: str
    url: str
    form: Mapping[str, str]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    secrets: tuple[str, ...] = ()
    timeout: float | None = 30.0

    def __repr__(self) -> str:
        return f"LoginRequest({self.operation!r}, url={redact_url(self.url)!r})"


class LoginSender(Protocol):
    """Sends an ``Auth`` object's login requests: the client passes one in.

    It POSTs the form once (no retry, no rate limit) and returns the JSON object
    answered; an error status raises an ``APIStatusError`` (a refusal: an
    ``AuthenticationError``), a body that is not a JSON object a ``ResponseDecodeError``,
    a network failure an ``APIConnectionError``, and a closed client ``ClientClosedError``.
    """

    async def __call__(self, request: LoginRequest) -> Mapping[str, Any]:
        """POST ``request`` and return the JSON object it was answered with."""


class Auth(abc.ABC):
    """A source of request headers that authorise one account's API calls.

    A subclass implements ``headers`` (and ``refresh`` if its credentials can be
    renewed). Both receive a ``LoginSender`` to send any login request they need, so
    that an implementation does no network I/O of its own and needs no HTTP library.
    """

    @abc.abstractmethod
    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The headers to send with the next request."""

    async def refresh(self, send: LoginSender, rejected: Mapping[str, str]) -> bool:
        """Renew credentials that the server called expired; True if a retry may succeed.

        ``rejected`` are the headers the server refused, so that of many requests
        that meet the same expired token only the first renews it.
        """
        return False

    async def aclose(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release anything the credentials hold (nothing, by default).

        A client calls this only for credentials it made itself (from a token string,
        or in ``from_env``); credentials passed in are their owner's to close.
        """


class BearerToken(Auth):
    """A fixed RingCX access token, sent as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self._headers = {"Authorization": f"Bearer {check_token('token', token)}"}

    def __repr__(self) -> str:
        return "BearerToken(token='***')"

    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The bearer header."""
        return self._headers


class ApiToken(Auth):
    """A legacy permanent API token, sent as ``X-Auth-Token``."""

    def __init__(self, token: str) -> None:
        self._headers = {"X-Auth-Token": check_token("token", token)}

    def __repr__(self) -> str:
        return "ApiToken(token='***')"

    async def headers(self, send: LoginSender) -> Mapping[str, str]:
        """The ``X-Auth-Token`` header."""
        return self._headers


def access_token(answer: Mapping[str, Any], key: str, request: LoginRequest) -> str:
    """The usable token under ``key`` in a login answer; else ``ResponseDecodeError``."""
    token = clean_token(answer.get(key))
    if token is None:
        raise ResponseDecodeError(
            f"{request.operation} answered no usable {key}",
            operation=request.operation,
            method="POST",
            url=redact_url(request.url),
        )
    return token


def coerce_auth(auth: Auth | str) -> Auth:
    """Accept an ``Auth`` or a bearer token string."""
    if isinstance(auth, Auth):
        return auth
    if isinstance(auth, str):
        return BearerToken(auth)
    raise ValidationError(
        "auth", f"expected a token string or an Auth object; got {type(auth).__name__}"
    )
