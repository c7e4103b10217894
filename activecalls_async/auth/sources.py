"""Where a ``RingCentralAuth`` gets the RingCentral access token it trades for RingCX's:
a fixed token, an async callable asked each time, or the JWT grant of ``from_jwt``.
"""

from __future__ import annotations

import abc
import base64
import inspect
from collections.abc import Awaitable, Callable

from .. import _validators as check
from ..errors import ValidationError
from .base import LoginRequest, LoginSender, access_token, check_token, clean_token

__all__ = ["DEFAULT_RC_SERVER", "JwtGrant", "TokenSource", "token_source"]

#: Where RingCentral grants access tokens for a JWT credential.
DEFAULT_RC_SERVER = "https://platform.ringcentral.com"

_JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: How long a RingCentral access token from the JWT grant lives when the answer omits it.
_RC_TOKEN_LIFETIME = 3600.0


class TokenSource(abc.ABC):
    """How a ``RingCentralAuth`` gets the RingCentral access token it trades for RingCX's."""

    #: How ``RingCentralAuth``'s repr names this source (never the token itself).
    label = "token source"

    @abc.abstractmethod
    async def token(self, send: LoginSender) -> str:
        """A currently valid RingCentral access token (``send`` sends any login request)."""

    def rejected(self) -> bool:
        """RingCX refused the last token: forget it; True if asking again may give another."""
        return False


class _FixedToken(TokenSource):
    """One RingCentral access token given up front: refused once, refused for good."""

    label = "rc_access_token"

    def __init__(self, token: str) -> None:
        self._token = check_token("rc_access_token", token)

    async def token(self, send: LoginSender) -> str:
        return self._token


class _AskedToken(TokenSource):
    """An async callable asked for a current token before every exchange."""

    label = "rc_access_token"

    def __init__(self, ask: Callable[[], Awaitable[str]]) -> None:
        self._ask = ask

    async def token(self, send: LoginSender) -> str:
        token = clean_token(await self._ask())
        if token is None:
            raise ValidationError("rc_access_token", "the callable returned no usable token")
        return token

    def rejected(self) -> bool:
        return True  # the callable may return a newer token


class JwtGrant(TokenSource):
    """RingCentral access tokens from a JWT credential, cached until shortly before expiry."""

    label = "from_jwt"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        jwt: str,
        rc_server: str,
        timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        client_id = check_token("client_id", client_id)
        if ":" in client_id:
            raise ValidationError("client_id", "must not contain ':'")
        secret = check_token("client_secret", client_secret)
        assertion = check_token("jwt", jwt)
        # Built by hand: aiohttp 3.14 deprecates BasicAuth.
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
        self._request = LoginRequest(
            "auth.jwt",
            f"{rc_server}/restapi/oauth/token",
            {"grant_type": _JWT_GRANT_TYPE, "assertion": assertion},
            headers={"Authorization": f"Basic {basic}"},
            secrets=(secret, assertion),
            timeout=timeout,
        )
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    async def token(self, send: LoginSender) -> str:
        """A live RingCentral access token, granted anew when the cached one is near expiry."""
        if self._token is None or self._clock() >= self._renew_at:
            started = self._clock()
            answer = await send(self._request)
            token = access_token(answer, "access_token", self._request)
            expires_in = check.finite_number(answer.get("expires_in"))
            lifetime = expires_in if expires_in and expires_in > 0 else _RC_TOKEN_LIFETIME
            # Renew with a tenth of the lifetime to spare, so an exchange never meets a
            # token that expires on its way.
            self._token, self._renew_at = token, started + 0.9 * lifetime
        return self._token

    def rejected(self) -> bool:
        self._token = None  # granted anew on the next exchange
        return True


def token_source(value: object) -> TokenSource:
    """The token source for ``RingCentralAuth``'s ``rc_access_token`` argument."""
    if isinstance(value, TokenSource):
        return value
    if isinstance(value, str):
        return _FixedToken(value)
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        return _AskedToken(value)  # type: ignore[arg-type]
    raise ValidationError(
        "rc_access_token",
        "expected a token string or an async callable returning one"
        + ("; got a plain (sync) callable" if callable(value) else ""),
    )
