"""The ``ACTIVECALLS_*`` environment variables: their names, and the client they describe.

``ActiveCallsClient.from_env`` and the ``activecalls`` command both read them here, so
that each name is written once. ``client_settings`` turns an environment into the
client's keyword arguments and the parts made for it (its credentials, and a fleet's
Redis-backed limiter and login cache), which the client closes with itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final, Protocol

import attrs

from .auth import ApiToken, Auth, BearerToken, RingCentralAuth
from .auth.ringcentral import DEFAULT_AUTH_URL
from .auth.sources import DEFAULT_RC_SERVER
from .errors import ValidationError
from .telemetry import Telemetry

__all__ = [
    "CREDENTIAL_VARS",
    "SECRET_VARS",
    "Env",
    "Owned",
    "Settings",
    "client_settings",
    "telemetry_setting",
]

logger = logging.getLogger("activecalls_async")


class Env:
    """The name of each variable, by what it sets."""

    BASE_URL: Final = "ACTIVECALLS_BASE_URL"
    ACCOUNT_ID: Final = "ACTIVECALLS_ACCOUNT_ID"
    TIMEOUT: Final = "ACTIVECALLS_TIMEOUT"
    #: A RingCX access token (bearer).
    TOKEN: Final = "ACTIVECALLS_TOKEN"
    #: A legacy permanent API token (``X-Auth-Token``).
    API_TOKEN: Final = "ACTIVECALLS_API_TOKEN"
    RC_JWT: Final = "ACTIVECALLS_RC_JWT"
    RC_CLIENT_ID: Final = "ACTIVECALLS_RC_CLIENT_ID"
    RC_CLIENT_SECRET: Final = "ACTIVECALLS_RC_CLIENT_SECRET"
    RC_ACCESS_TOKEN: Final = "ACTIVECALLS_RC_ACCESS_TOKEN"
    RC_SERVER: Final = "ACTIVECALLS_RC_SERVER"
    AUTH_URL: Final = "ACTIVECALLS_AUTH_URL"
    #: Joins a fleet: one budget, one login and one view shared through Redis.
    REDIS_URL: Final = "ACTIVECALLS_REDIS_URL"
    FLEET_KEY: Final = "ACTIVECALLS_FLEET_KEY"
    #: ``debug`` or ``info``: the SDK's log on stderr (read by ``_log``).
    LOG: Final = "ACTIVECALLS_LOG"
    #: 1 (or true, yes, on): the CLI runs against an embedded simulator.
    SIMULATOR: Final = "ACTIVECALLS_SIMULATOR"
    #: Where the CLI keeps its state (the call handles of ``top``).
    STATE_DIR: Final = "ACTIVECALLS_STATE_DIR"
    #: The supervisor's phone that ``top`` uses to monitor, coach or barge in.
    SUPERVISOR_PHONE: Final = "ACTIVECALLS_SUPERVISOR_PHONE"
    #: ``off`` (or 0, false, no): no client reports traces or metrics, whatever its
    #: ``telemetry=`` (``activecalls_async.telemetry``).
    TELEMETRY: Final = "ACTIVECALLS_TELEMETRY"


#: The variables whose values are credentials: masked in every message.
SECRET_VARS: Final = (
    Env.TOKEN,
    Env.API_TOKEN,
    Env.RC_ACCESS_TOKEN,
    Env.RC_JWT,
    Env.RC_CLIENT_SECRET,
)
#: The variables that say how to log in: any of them set means a real account is meant.
CREDENTIAL_VARS: Final = (*SECRET_VARS, Env.RC_CLIENT_ID, Env.RC_SERVER, Env.AUTH_URL)


class Owned(Protocol):
    """Something made for a client, which the client closes with itself."""

    async def aclose(self) -> None:
        """Release what it holds."""


@attrs.frozen
class Settings:
    """A client's keyword arguments from the environment, and the parts made for it."""

    options: dict[str, Any]
    owned: tuple[Owned, ...] = ()


#: The values of ``ACTIVECALLS_TELEMETRY`` that turn telemetry off, and those that leave it on.
_TELEMETRY_OFF = frozenset({"off", "0", "false", "no"})
_TELEMETRY_ON = frozenset({"", "on", "1", "true", "yes"})
_warned_switches: set[str] = set()


def telemetry_setting(value: object, environ: Mapping[str, str] | None = None) -> Telemetry | None:
    """A client's ``telemetry=``, checked; None when ``ACTIVECALLS_TELEMETRY`` turns it off
    (any other value than those above logs a warning and leaves it on)."""
    if value is not None and not isinstance(value, Telemetry):
        raise ValidationError("telemetry", "expected a Telemetry, or None to turn it off")
    switch = (os.environ if environ is None else environ).get(Env.TELEMETRY, "")
    if switch.strip().lower() in _TELEMETRY_OFF:
        return None
    if switch.strip().lower() not in _TELEMETRY_ON and switch not in _warned_switches:
        _warned_switches.add(switch)  # once, not for every client made
        logger.warning("%s=%r is neither on nor off; telemetry stays on", Env.TELEMETRY, switch)
    return value


def fleet_key(environ: Mapping[str, str], account_id: object) -> str:
    """The key a fleet's parts share: ``ACTIVECALLS_FLEET_KEY``, else ``activecalls:<account>``."""
    key = environ.get(Env.FLEET_KEY)
    if key:
        return key
    if account_id is None or account_id == "":
        # A looked-up account is not known yet: the fleet needs its key now.
        raise ValidationError(Env.FLEET_KEY, "is needed to join a fleet without an account id")
    return f"activecalls:{account_id}"


def client_settings(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> Settings:
    """The client ``environ`` describes, ``overrides`` winning (rules: ``from_env``)."""
    options: dict[str, Any] = {}
    owned: list[Owned] = []
    if environ.get(Env.ACCOUNT_ID):
        options["account_id"] = environ[Env.ACCOUNT_ID]
    if environ.get(Env.BASE_URL):
        options["base_url"] = environ[Env.BASE_URL]
    if environ.get(Env.TIMEOUT):
        try:
            options["timeout"] = float(environ[Env.TIMEOUT])
        except ValueError:
            raise ValidationError(Env.TIMEOUT, "expected seconds") from None
    login_cache: Owned | None = None
    redis_url = environ.get(Env.REDIS_URL)
    if redis_url:
        from .fleet import RedisRateLimit, RedisTokenCache

        key = fleet_key(environ, overrides.get("account_id", options.get("account_id", "")))
        try:
            if "rate_limit" not in overrides:
                options["rate_limit"] = RedisRateLimit(redis_url, key=key)
                owned.append(options["rate_limit"])
            if "auth" not in overrides and _logs_in(environ):
                login_cache = RedisTokenCache(redis_url, key=f"{key}:login")
                owned.append(login_cache)
        except ValidationError as exc:
            if exc.parameter != "redis":
                raise
            raise ValidationError(Env.REDIS_URL, exc.problem) from None
    if "auth" not in overrides:
        auth = _credentials(environ, login_cache)
        if auth is not None:
            options["auth"] = auth
            owned.append(auth)
    options.update(overrides)
    if "account_id" not in options:
        raise ValidationError(Env.ACCOUNT_ID, "is not set (pass account_id=None to look it up)")
    if "auth" not in options:
        raise ValidationError(
            Env.TOKEN, f"is not set (nor {Env.API_TOKEN}, nor the ACTIVECALLS_RC_* login)"
        )
    return Settings(options, tuple(owned))


def _logs_in(environ: Mapping[str, str]) -> bool:
    """Whether the credentials the environment gives are a RingCentral login."""
    fixed = environ.get(Env.TOKEN) or environ.get(Env.API_TOKEN)
    return not fixed and bool(environ.get(Env.RC_JWT) or environ.get(Env.RC_ACCESS_TOKEN))


def _credentials(environ: Mapping[str, str], cache: Any) -> Auth | None:
    """The credentials the environment gives, the first set of these that is there:
    a bearer token, a legacy API token, a JWT login, a RingCentral access token."""
    if environ.get(Env.TOKEN):
        return BearerToken(environ[Env.TOKEN])
    if environ.get(Env.API_TOKEN):
        return ApiToken(environ[Env.API_TOKEN])
    auth_url = environ.get(Env.AUTH_URL) or DEFAULT_AUTH_URL
    if environ.get(Env.RC_JWT):
        return RingCentralAuth.from_jwt(
            client_id=environ.get(Env.RC_CLIENT_ID, ""),
            client_secret=environ.get(Env.RC_CLIENT_SECRET, ""),
            jwt=environ[Env.RC_JWT],
            rc_server=environ.get(Env.RC_SERVER) or DEFAULT_RC_SERVER,
            auth_url=auth_url,
            cache=cache,
        )
    if environ.get(Env.RC_ACCESS_TOKEN):
        return RingCentralAuth(environ[Env.RC_ACCESS_TOKEN], auth_url=auth_url, cache=cache)
    return None
