"""Where commands send requests: the configured account, or (only when asked for with
``--simulator`` or ``ACTIVECALLS_SIMULATOR=1``) an embedded simulator.

With no credential configured and no simulator asked for, a command stops with status 2
and one line naming the variables to set: a script missing an export must never get
simulated calls. When the simulator is used, a banner on stderr says so, and JSON output
carries ``"simulated": true``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import _log
from .._environ import CREDENTIAL_VARS, SECRET_VARS, Env, fleet_key
from ..auth import ApiToken, BearerToken
from ..client import ActiveCallsClient
from ..errors import ValidationError
from ..limits.ratelimit import Limiter
from ..retry import RetryPolicy
from .failures import UsageError
from .output import stderr
from .types import ACCOUNT_ID_PROBLEM

if TYPE_CHECKING:
    from ..fleet.hub import WatchHub

__all__ = [
    "check_account_id",
    "configure_logging",
    "configured_secrets",
    "open_client",
    "open_hub",
    "output_annotations",
    "uses_simulator",
]

_TRUE = frozenset({"1", "true", "yes", "on"})

#: The SDK's names for the RingCentral login settings, and the variables that carry them.
_RC_SETTINGS = {
    "client_id": Env.RC_CLIENT_ID,
    "client_secret": Env.RC_CLIENT_SECRET,
    "jwt": Env.RC_JWT,
    "rc_access_token": Env.RC_ACCESS_TOKEN,
    "rc_server": Env.RC_SERVER,
    "auth_url": Env.AUTH_URL,
}

_NO_ACCOUNT = f"no account id: pass --account-id or set {Env.ACCOUNT_ID}"
_NO_CREDENTIALS = (
    f"no credentials: set {Env.ACCOUNT_ID} and {Env.TOKEN} (or {Env.API_TOKEN}, "
    f"{Env.RC_ACCESS_TOKEN}, or {Env.RC_JWT} with {Env.RC_CLIENT_ID} and "
    f"{Env.RC_CLIENT_SECRET}), pass --token, or try a simulated account with --simulator"
)


def _option(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def _set(value: str | None) -> bool:
    return bool(value and value.strip())


def configured_secrets(args: argparse.Namespace | None, environ: Mapping[str, str]) -> list[str]:
    """Every token the user configured, so that no message can echo one."""
    found = [environ.get(name, "") for name in SECRET_VARS]
    if args is not None:
        found += [_option(args, "token") or "", _option(args, "api_token") or ""]
    return [s.strip() for s in found if s and s.strip()]


def uses_simulator(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """True when ``--simulator`` is given or ``ACTIVECALLS_SIMULATOR`` is 1/true/yes/on."""
    if _option(args, "simulator"):
        return True
    return environ.get(Env.SIMULATOR, "").strip().lower() in _TRUE


def output_annotations(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """The fields every JSON object a command prints carries: ``simulated: true`` on a
    simulator, nothing otherwise."""
    return {"simulated": True} if uses_simulator(args, environ) else {}


def check_account_id(account_id: str, *, why: str | None = None) -> str:
    """``account_id`` stripped, if it is the digits of a RingCX account id; else the same
    usage error as ``--account-id abc`` gives, naming the flag and the variable."""
    digits = account_id.strip()
    if not (digits.isascii() and digits.isdigit()):
        reason = f" ({why})" if why else ""
        raise UsageError(
            f"invalid account id {account_id!r}{reason}: {ACCOUNT_ID_PROBLEM}; "
            f"fix --account-id or {Env.ACCOUNT_ID}"
        )
    return digits


#: The SDK's logger level for each ``-v``.
_LOG_LEVELS = {1: logging.INFO, 2: logging.DEBUG}


#: The SDK's records on the CLI's stderr: prefixed like every other line it writes there.
_LOG_FORMAT = "activecalls: %(levelname)s %(name)s: %(message)s"


def configure_logging(args: argparse.Namespace) -> None:
    """``-v``: the ``activecalls_async`` logger at INFO on stderr; ``-vv``: DEBUG; neither:
    its warnings (a watch stretching its interval...), unless ``ACTIVECALLS_LOG`` chose."""
    count = _option(args, "verbose") or 0
    if count:
        _log.enable(_LOG_LEVELS[min(count, 2)], fmt=_LOG_FORMAT)
    elif not _log.enabled():
        _log.enable(logging.WARNING, fmt=_LOG_FORMAT)


def _retry(args: argparse.Namespace) -> dict[str, Any]:
    """``--retries N``: N retries after the first attempt (the SDK's policy otherwise)."""
    retries = _option(args, "retries")
    if retries is None:
        return {}
    return {"retry": RetryPolicy(max_attempts=retries + 1) if retries else None}


def _remote_environ(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables ``from_env`` may read: those a flag replaces are left out, so that a
    flag also wins over a variable that would not parse (a half-set RingCentral login)."""
    dropped: set[str] = set()
    if _option(args, "token") or _option(args, "api_token"):
        dropped.update(CREDENTIAL_VARS)
    if _option(args, "timeout") is not None:
        dropped.add(Env.TIMEOUT)
    if not _set(environ.get(Env.ACCOUNT_ID)):
        dropped.add(Env.ACCOUNT_ID)  # blank is missing
    return {name: value for name, value in environ.items() if name not in dropped}


def _check_rc_login(environ: Mapping[str, str]) -> None:
    """A JWT login needs its app's client id and secret: say which is missing."""
    if any(_set(environ.get(n)) for n in (Env.TOKEN, Env.API_TOKEN)):
        return  # these win over the RingCentral login
    if not _set(environ.get(Env.RC_JWT)):
        return
    missing = [
        name for name in (Env.RC_CLIENT_ID, Env.RC_CLIENT_SECRET) if not _set(environ.get(name))
    ]
    if missing:
        verb = "are" if len(missing) > 1 else "is"
        raise UsageError(f"{Env.RC_JWT} is set but {' and '.join(missing)} {verb} not")


def _configured(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """Whether any credential is given, as a flag or a variable (a RingCentral login
    variable counts: a half-set login is then reported by name)."""
    given = [
        _option(args, "token"),
        _option(args, "api_token"),
        *(environ.get(name) for name in CREDENTIAL_VARS),
    ]
    return any(_set(value) for value in given)


def _remote_client(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    settings: Mapping[str, Any],
    *,
    needs_account: bool = True,
) -> ActiveCallsClient:
    """A client for the configured account: flags override ``ACTIVECALLS_*`` variables
    (without ``needs_account``, a missing account id is left for the client to look up)."""
    if not _configured(args, environ):
        raise UsageError(_NO_CREDENTIALS)
    overrides: dict[str, Any] = {**_retry(args), **settings}
    if not needs_account:
        overrides["account_id"] = None
    if _option(args, "base_url"):
        overrides["base_url"] = args.base_url
    account_id = _option(args, "account_id") or environ.get(Env.ACCOUNT_ID) or ""
    if account_id.strip():  # a stray space or newline from a file is forgiven
        overrides["account_id"] = check_account_id(account_id)
    if _option(args, "token"):
        overrides["auth"] = BearerToken(args.token)
    elif _option(args, "api_token"):
        overrides["auth"] = ApiToken(args.api_token)
    if _option(args, "timeout") is not None:
        overrides["timeout"] = args.timeout
    if _option(args, "page_size") is not None:
        overrides["page_size"] = args.page_size
    if _option(args, "allow_insecure_http"):
        overrides["allow_insecure_http"] = True
    env = _remote_environ(args, environ)
    if _option(args, "redis_url"):
        env[Env.REDIS_URL] = args.redis_url  # from_env builds the fleet's parts
    _check_rc_login(env)
    try:
        return ActiveCallsClient.from_env(env, **overrides)
    except ValidationError as exc:
        # Name the flag as well as the variable: the user may use either.
        if exc.parameter == Env.ACCOUNT_ID:
            raise UsageError(_NO_ACCOUNT) from None
        if exc.parameter == "account_id":
            raise UsageError(
                f"invalid account id: {ACCOUNT_ID_PROBLEM}; fix --account-id or {Env.ACCOUNT_ID}"
            ) from None
        if exc.parameter == Env.TOKEN:
            raise UsageError(_NO_CREDENTIALS) from None
        if exc.parameter == Env.REDIS_URL and _option(args, "redis_url"):
            raise ValidationError("--redis-url", exc.problem) from None
        if exc.parameter in _RC_SETTINGS:
            # A RingCentral login setting comes from its variable: name that, not the SDK's.
            raise ValidationError(_RC_SETTINGS[exc.parameter], exc.problem) from None
        raise


@contextlib.asynccontextmanager
async def open_client(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    live: bool = False,
    rate_limit: Limiter | None = None,
    needs_account: bool = True,
) -> AsyncIterator[ActiveCallsClient]:
    """Yield a client for the configured account, or one bound to an embedded simulator
    when one is asked for (see the module docstring); ``rate_limit`` replaces the
    client's default limiter."""
    settings: dict[str, Any] = {} if rate_limit is None else {"rate_limit": rate_limit}
    if not uses_simulator(args, environ):
        async with _remote_client(args, environ, settings, needs_account=needs_account) as client:
            yield client
        return
    from ..testing import Simulator

    calls, seed = args.sim_calls, args.sim_seed
    account_id = _option(args, "account_id") or environ.get(Env.ACCOUNT_ID) or ""
    if account_id.strip():
        account_id = check_account_id(account_id)
    options: dict[str, Any] = {"account_id": account_id} if account_id else {}
    async with Simulator(calls=calls, seed=seed, live=live, **options) as sim:
        print(
            f"activecalls: SIMULATED account, not a real one (--simulator): {calls:,} calls, "
            f"seed {seed}, account {sim.account_id}, at {sim.base_url}",
            file=stderr(),
            flush=True,
        )
        settings.update(_retry(args))
        if _option(args, "page_size") is not None:
            settings["page_size"] = args.page_size
        if _option(args, "timeout") is not None:
            settings["timeout"] = args.timeout
        async with ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, **settings
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def open_hub(
    args: argparse.Namespace, environ: Mapping[str, str], client: ActiveCallsClient
) -> AsyncIterator[WatchHub | None]:
    """Yield the fleet's ``WatchHub`` when a Redis URL is configured (``--redis-url`` or
    ``ACTIVECALLS_REDIS_URL``), keyed as ``ActiveCallsClient.from_env`` keys the fleet's
    other parts, else None; never on a simulator, whose calls are this process's own."""
    url = _option(args, "redis_url") or environ.get(Env.REDIS_URL, "").strip()
    if not url or uses_simulator(args, environ):
        yield None
        return
    from ..fleet import WatchHub

    try:
        hub = WatchHub(url, key=fleet_key(environ, client.account_id))
    except ValidationError as exc:
        if exc.parameter != "redis":
            raise
        named = "--redis-url" if _option(args, "redis_url") else Env.REDIS_URL
        raise ValidationError(named, exc.problem) from None
    async with hub:
        yield hub
