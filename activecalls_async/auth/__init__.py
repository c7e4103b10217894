"""Credentials: how each request is authorised, and how an expired token is renewed.

``BearerToken`` and ``ApiToken`` send a fixed credential. ``RingCentralAuth`` trades
a RingCentral access token (or, with ``from_jwt``, a JWT credential) for a RingCX
token, renews it before it expires and whenever the API calls it expired, and falls
back to a fresh exchange when the refresh token is refused. Renewal is single-flight:
however many requests meet a stale token, one renewal runs and all of them wait for it.

An ``Auth`` object does no I/O of its own: it describes each login request
(``LoginRequest``) and the client's ``LoginSender`` sends it, so that writing one needs
no HTTP library. Where the RingCentral token comes from is a ``TokenSource``: a fixed
token, an async callable, or the JWT grant of ``RingCentralAuth.from_jwt``. Several
``RingCentralAuth`` objects, in one process or a fleet, share one login through a
``TokenCache`` (``activecalls_async.fleet.RedisTokenCache`` for a fleet).
"""

from .base import ApiToken, Auth, BearerToken, LoginRequest, LoginSender, coerce_auth
from .cache import StoredLogin, TokenCache
from .ringcentral import (
    DEFAULT_AUTH_URL,
    AgentDetails,
    LoginOptions,
    LoginSettings,
    RingCentralAuth,
)
from .sources import DEFAULT_RC_SERVER, TokenSource

__all__ = [
    "DEFAULT_AUTH_URL",
    "DEFAULT_RC_SERVER",
    "AgentDetails",
    "ApiToken",
    "Auth",
    "BearerToken",
    "LoginOptions",
    "LoginRequest",
    "LoginSender",
    "LoginSettings",
    "RingCentralAuth",
    "StoredLogin",
    "TokenCache",
    "TokenSource",
    "coerce_auth",
]
