"""Where commands send requests: the configured account, or an embedded simulator."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..auth import ApiToken, BearerToken
from ..client import ActiveCallsClient
from ..errors import ValidationError
from .output import stderr

__all__ = ["SECRET_VARS", "configured_secrets", "open_client", "uses_simulator"]

#: The variables that carry credentials: their values are masked in every message, and
#: any of them being set means a real account is configured.
SECRET_VARS = (
    "ACTIVECALLS_TOKEN",
    "ACTIVECALLS_API_TOKEN",
    "ACTIVECALLS_RC_ACCESS_TOKEN",
    "ACTIVECALLS_RC_JWT",
    "ACTIVECALLS_RC_CLIENT_SECRET",
)


def _option(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def configured_secrets(args: argparse.Namespace | None, environ: Mapping[str, str]) -> list[str]:
    """Every token the user configured, so that no message can echo one."""
    found = [environ.get(name, "") for name in SECRET_VARS]
    if args is not None:
        found += [_option(args, "token") or "", _option(args, "api_token") or ""]
    return [s.strip() for s in found if s and s.strip()]


def uses_simulator(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """True when no base URL and no token is configured: commands then run on a simulator."""
    configured = [
        _option(args, "base_url"),
        _option(args, "token"),
        _option(args, "api_token"),
        *(environ.get(name) for name in ("ACTIVECALLS_BASE_URL", *SECRET_VARS)),
    ]
    return not any(value and value.strip() for value in configured)


def _remote_client(args: argparse.Namespace, environ: Mapping[str, str]) -> ActiveCallsClient:
    """A client for the configured account: flags override ``ACTIVECALLS_*`` variables."""
    overrides: dict[str, Any] = {}
    if _option(args, "base_url"):
        overrides["base_url"] = args.base_url
    if _option(args, "account_id"):
        overrides["account_id"] = args.account_id
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
    try:
        return ActiveCallsClient.from_env(environ, **overrides)
    except ValidationError as exc:
        # Name the flag as well as the variable: the user may use either.
        if exc.parameter == "ACTIVECALLS_ACCOUNT_ID":
            raise ValidationError("account id", "pass --account-id or set it") from None
        if exc.parameter == "ACTIVECALLS_TOKEN":
            raise ValidationError(
                "token",
                "pass --token or --api-token, or set ACTIVECALLS_TOKEN or ACTIVECALLS_API_TOKEN",
            ) from None
        raise


@contextlib.asynccontextmanager
async def open_client(
    args: argparse.Namespace, environ: Mapping[str, str], *, live: bool = False
) -> AsyncIterator[ActiveCallsClient]:
    """Yield a client for the configured account, or one bound to an embedded simulator."""
    if not uses_simulator(args, environ):
        async with _remote_client(args, environ) as client:
            yield client
        return
    from ..testing import Simulator

    calls, seed = args.sim_calls, args.sim_seed
    account_id = str(_option(args, "account_id") or environ.get("ACTIVECALLS_ACCOUNT_ID") or "")
    if account_id and not account_id.isdigit():
        raise ValidationError("account id", f"expected digits; got {account_id!r}")
    options: dict[str, Any] = {"account_id": account_id} if account_id else {}
    async with Simulator(calls=calls, seed=seed, live=live, **options) as sim:
        print(
            f"activecalls: no base URL or token configured; using an embedded simulator "
            f"({calls} calls, seed {seed}, account {sim.account_id}) at {sim.base_url}",
            file=stderr(),
        )
        settings: dict[str, Any] = {}
        if _option(args, "page_size") is not None:
            settings["page_size"] = args.page_size
        if _option(args, "timeout") is not None:
            settings["timeout"] = args.timeout
        async with ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, **settings
        ) as client:
            yield client
