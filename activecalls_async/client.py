"""``ActiveCallsClient``: the client's lifecycle and one method per operation."""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import os
import ssl
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypedDict, TypeVar

import aiohttp

from . import _endpoints as endpoints
from . import _validators as v
from ._aio import ClosesOnExit
from ._endpoints import Endpoint, RetryClass, Scope
from ._http import USER_AGENT
from ._transport import Transport
from ._wire import Request, admin_root, api_prefix, build_raw_request, build_request
from .auth import (
    DEFAULT_AUTH_URL,
    DEFAULT_RC_SERVER,
    ApiToken,
    Auth,
    BearerToken,
    RingCentralAuth,
    coerce_auth,
)
from .errors import ClientClosedError, ValidationError
from .limits.priority import Priority
from .limits.ratelimit import Limiter, RateLimit
from .limits.stats import ClientStats
from .models import Account, ActiveCall, Product, QueueCheck, SessionType
from .pagination import DEFAULT_PAGE_SIZE, CallWalk, FanOut, PageWalk, PagingMemo, Target, Window
from .retry import RetryPolicy
from .watch import CallWatch, SnapshotWatch

if TYPE_CHECKING:  # Unpack is in typing from Python 3.11; only type checkers need it
    from typing_extensions import Unpack

    # -- shared watches (activecalls_async.fleet, the optional redis extra) begin --
    from .fleet.hub import SharedCallWatch, SharedWatch, WatchHub
    from .fleet.work import TakenEvents
    # -- shared watches end --

__all__ = [
    "DEFAULT",
    "DEFAULT_BASE_URL",
    "ActiveCallsClient",
    "ClientOptions",
    "Default",
    "PriorityOption",
    "RetryOption",
    "TimeoutOption",
]

logger = logging.getLogger("activecalls_async")

DEFAULT_BASE_URL: Final = "https://ringcx.ringcentral.com/voice"

_T = TypeVar("_T")


class Default(enum.Enum):
    """The type of ``DEFAULT``, for annotating wrappers that pass per-call options on."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the client's setting": distinct from ``None``, which means "none at all".
DEFAULT: Final = Default.DEFAULT

#: A per-call ``timeout=``: seconds per attempt, ``None`` for no limit, or ``DEFAULT``.
TimeoutOption: TypeAlias = "float | Default | None"
#: A per-call ``retry=``: a ``RetryPolicy``, ``None`` for one attempt, or ``DEFAULT``.
RetryOption: TypeAlias = "RetryPolicy | Default | None"
#: A per-call ``priority=``: a ``Priority``, or ``DEFAULT`` for the operation's own.
PriorityOption: TypeAlias = "Priority | Default"


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of ``ActiveCallsClient``, as ``from_env`` takes them."""

    account_id: str | int | None
    auth: Auth | str
    base_url: str
    session: aiohttp.ClientSession | None
    timeout: float | None
    retry: RetryPolicy | None
    rate_limit: Limiter | Default | None
    max_concurrency: int
    page_size: int
    allow_insecure_http: bool
    ssl_context: ssl.SSLContext | None
    user_agent: str | None
    account_timezone: str | tzinfo | None


class ActiveCallsClient(ClosesOnExit):
    """An async client for one RingCX account's Active Calls API.

    Use it as ``async with ActiveCallsClient(...) as client`` or call ``aclose()``.
    One client is meant to be shared by every task of a program: requests share one
    connection pool, one concurrency limit and one rate limiter.

    With ``account_id=None`` the first request that needs the account id looks it up
    (``list_accounts``), once however many tasks start at the same time, and uses it
    when the credentials see exactly one sub-account; with several it raises a
    ``ValidationError`` naming them, with none a ``ValidationError`` saying so. A
    failed lookup is tried again by the next request. ``account_timezone`` (a zoneinfo
    name or a ``tzinfo``) is the time zone aware ``callback_at`` times are converted to.
    """

    def __init__(
        self,
        *,
        account_id: str | int | None = None,
        auth: Auth | str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - frozen, safe to share
        rate_limit: Limiter | Default | None = DEFAULT,
        max_concurrency: int = 10,
        page_size: int | None = None,
        server_max_rows: int | None = None,
        allow_insecure_http: bool = False,
        ssl_context: ssl.SSLContext | Literal[False] | None = None,
        user_agent: str | None = None,
        account_timezone: str | tzinfo | None = None,
    ) -> None:
        self.base_url = v.base_url("base_url", base_url, allow_insecure_http=allow_insecure_http)
        self._root = admin_root(self.base_url, allow_insecure_http=True)
        #: The account requests act on; ``None`` until looked up when none was given.
        self.account_id: str | None = None
        self._prefix: str | None = None
        if account_id is not None:
            self._prefix = api_prefix(self.base_url, account_id, allow_insecure_http=True)
            self.account_id = v.path_segment("account_id", account_id)
        #: The account lookup in flight, shared by every request waiting for it.
        self._lookup: asyncio.Future[str] | None = None
        self.account_timezone = _timezone(account_timezone)
        self._warned_wall_clock = False
        self._check_request_options(timeout, retry)
        v.count("max_concurrency", max_concurrency, minimum=1)
        v.count("page_size", page_size, minimum=1, allow_none=True)
        v.count("server_max_rows", server_max_rows, minimum=1, allow_none=True)
        if rate_limit is DEFAULT:
            rate_limit = RateLimit(120, per=60.0)
        elif rate_limit is not None and not isinstance(rate_limit, Limiter):
            raise ValidationError("rate_limit", "expected a RateLimit (or other Limiter) or None")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValidationError("session", "expected an aiohttp.ClientSession")
        if ssl_context is False:
            # aiohttp's own spelling of "no verification": allowed, but never silently.
            logger.warning("TLS verification is OFF for this client (ssl_context=False)")
        elif ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ValidationError(
                "ssl_context", "expected an ssl.SSLContext, False (no verification) or None"
            )
        elif ssl_context is not None and (
            ssl_context.verify_mode == ssl.CERT_NONE or not ssl_context.check_hostname
        ):
            # Allowed (private CAs, test rigs), but never silently.
            logger.warning(
                "TLS verification is OFF for this client's ssl_context "
                "(verify_mode=%s, check_hostname=%s)",
                ssl_context.verify_mode.name,
                ssl_context.check_hostname,
            )
        if user_agent is not None and (
            not isinstance(user_agent, str) or any(c in user_agent for c in "\r\n\0")
        ):
            raise ValidationError("user_agent", "expected text on one line (no CR, LF or NUL)")
        #: The largest page the server is known to honour (None: learnt from its answers).
        self.server_max_rows = server_max_rows
        #: The ``maxRows`` asked by default: ``server_max_rows`` when given (see
        #: ``activecalls_async.pagination`` for how walks learn what the server sends).
        self.page_size = page_size or server_max_rows or DEFAULT_PAGE_SIZE
        self._stats = ClientStats(rate_limit)
        self._transport = Transport(
            auth=coerce_auth(auth),
            session=session,
            timeout=timeout,
            retry=retry,
            limiter=rate_limit,
            max_concurrency=max_concurrency,
            ssl_context=ssl_context,
            user_agent=user_agent or USER_AGENT,
            stats=self._stats,
        )
        # A token string becomes credentials of this client's own, closed with it;
        # an auth object passed in (maybe shared) is the caller's to close.
        self._own_credentials(isinstance(auth, str))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[ClientOptions]
    ) -> ActiveCallsClient:
        """Build a client from ``ACTIVECALLS_*`` environment variables.

        Required: ``ACTIVECALLS_ACCOUNT_ID`` (or ``account_id=None`` to look it up), and
        credentials: ``ACTIVECALLS_TOKEN`` (bearer), ``ACTIVECALLS_API_TOKEN`` (legacy)
        or a RingCentral login (``ACTIVECALLS_RC_JWT`` with ``ACTIVECALLS_RC_CLIENT_ID``
        and ``ACTIVECALLS_RC_CLIENT_SECRET``, or ``ACTIVECALLS_RC_ACCESS_TOKEN``;
        ``ACTIVECALLS_RC_SERVER`` and ``ACTIVECALLS_AUTH_URL`` optional). Optional:
        ``ACTIVECALLS_BASE_URL``, ``ACTIVECALLS_TIMEOUT``. Keyword arguments override them.
        ``ACTIVECALLS_REDIS_URL`` joins a fleet (``activecalls_async.fleet``, the ``redis``
        extra): a ``RedisRateLimit`` and, for a RingCentral login, a ``RedisTokenCache``
        under ``ACTIVECALLS_FLEET_KEY`` (default ``activecalls:<account id>``), closed
        with the client.
        """
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {}
        if env.get("ACTIVECALLS_ACCOUNT_ID"):
            options["account_id"] = env["ACTIVECALLS_ACCOUNT_ID"]
        fleet: list[Any] = []  # the fleet's Redis-backed parts, made here and closed here
        login_cache: Any = None
        if env.get("ACTIVECALLS_REDIS_URL"):
            from .fleet import RedisRateLimit, RedisTokenCache

            account = overrides.get("account_id", options.get("account_id", ""))
            key = env.get("ACTIVECALLS_FLEET_KEY") or f"activecalls:{account}"
            if account is None and not env.get("ACTIVECALLS_FLEET_KEY"):
                # A looked-up account is not known yet: the fleet needs its key now.
                raise ValidationError(
                    "ACTIVECALLS_FLEET_KEY", "is needed to join a fleet without an account id"
                )
            if "rate_limit" not in overrides:
                options["rate_limit"] = RedisRateLimit(env["ACTIVECALLS_REDIS_URL"], key=key)
                fleet.append(options["rate_limit"])
            if "auth" not in overrides:
                login_cache = RedisTokenCache(env["ACTIVECALLS_REDIS_URL"], key=f"{key}:login")
        if env.get("ACTIVECALLS_BASE_URL"):
            options["base_url"] = env["ACTIVECALLS_BASE_URL"]
        if env.get("ACTIVECALLS_TOKEN"):
            options["auth"] = BearerToken(env["ACTIVECALLS_TOKEN"])
        elif env.get("ACTIVECALLS_API_TOKEN"):
            options["auth"] = ApiToken(env["ACTIVECALLS_API_TOKEN"])
        elif env.get("ACTIVECALLS_RC_JWT"):
            options["auth"] = RingCentralAuth.from_jwt(
                client_id=env.get("ACTIVECALLS_RC_CLIENT_ID", ""),
                client_secret=env.get("ACTIVECALLS_RC_CLIENT_SECRET", ""),
                jwt=env["ACTIVECALLS_RC_JWT"],
                rc_server=env.get("ACTIVECALLS_RC_SERVER") or DEFAULT_RC_SERVER,
                auth_url=env.get("ACTIVECALLS_AUTH_URL") or DEFAULT_AUTH_URL,
                cache=login_cache,
            )
        elif env.get("ACTIVECALLS_RC_ACCESS_TOKEN"):
            options["auth"] = RingCentralAuth(
                env["ACTIVECALLS_RC_ACCESS_TOKEN"],
                auth_url=env.get("ACTIVECALLS_AUTH_URL") or DEFAULT_AUTH_URL,
                cache=login_cache,
            )
        if env.get("ACTIVECALLS_TIMEOUT"):
            try:
                options["timeout"] = float(env["ACTIVECALLS_TIMEOUT"])
            except ValueError:
                raise ValidationError("ACTIVECALLS_TIMEOUT", "expected seconds") from None
        options.update(overrides)
        if "account_id" not in options:
            raise ValidationError(
                "ACTIVECALLS_ACCOUNT_ID", "is not set (pass account_id=None to look it up)"
            )
        if "auth" not in options:
            raise ValidationError(
                "ACTIVECALLS_TOKEN", "is not set (nor ACTIVECALLS_API_TOKEN, nor ACTIVECALLS_RC_*)"
            )
        if login_cache is not None and isinstance(options["auth"], RingCentralAuth):
            fleet.append(login_cache)
        client = cls(**options)
        # The credentials built here from the environment belong to this client.
        client._own_credentials("auth" not in overrides)
        client._owned_fleet = tuple(fleet)
        return client

    #: Redis-backed parts ``from_env`` made for this client: closed by ``aclose()``.
    _owned_fleet: tuple[Any, ...] = ()

    def _own_credentials(self, owned: bool) -> None:
        """Whether ``aclose()`` closes the auth object too (only credentials made here)."""
        self._transport.owns_auth = owned

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<ActiveCallsClient account_id={self.account_id!r} base_url={self.base_url!r} "
            f"auth={self._transport.auth!r} {state}>"
        )

    async def aclose(self) -> None:
        """Close the client; a session or auth object passed in by the caller is left open.

        Requests still in flight raise ``ClientClosedError``. A ``RingCentralAuth`` passed
        in (perhaps shared by several clients) is the caller's to ``aclose()``.
        """
        lookup, self._lookup = self._lookup, None
        if lookup is not None:
            lookup.cancel()  # its waiters raise ClientClosedError (see _account_prefix)
            await asyncio.wait([lookup])
        await self._transport.aclose()
        for part in self._owned_fleet:
            await part.aclose()

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._transport.closed

    @property
    def stats(self) -> ClientStats:
        """What this client has spent: attempts, answers, retries, waits."""
        return self._stats

    async def _call(
        self,
        endpoint: Endpoint,
        args: Mapping[str, Any],
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption = DEFAULT,
    ) -> Any:
        """Check the arguments, build the request and send it (the one path every method takes)."""
        transport = self._transport
        if transport.closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        self._check_request_options(timeout, retry, priority)
        if endpoint.scope is Scope.ADMIN:
            prefix = self._root
        elif self._prefix is not None:
            prefix = self._prefix
        else:
            build_request(endpoint, "", args)  # bad input fails before the lookup is sent
            prefix = await self._account_prefix()
        request = build_request(endpoint, prefix, args)
        return await self._send(request, timeout, retry, priority)

    async def _send(
        self,
        request: Request,
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption = DEFAULT,
    ) -> Any:
        """Send under the per-call options (``DEFAULT``: the client's)."""
        transport = self._transport
        return await transport.send(
            request,
            timeout=transport.timeout if timeout is DEFAULT else timeout,
            retry=transport.retry if retry is DEFAULT else retry,
            priority=None if priority is DEFAULT else priority,
        )

    async def _account_prefix(self) -> str:
        """The activeCalls prefix, looking the account id up first if needed (single-flight)."""
        if self._prefix is not None:
            return self._prefix
        lookup = self._lookup
        if lookup is None:
            lookup = self._lookup = asyncio.ensure_future(self._discover())
            lookup.add_done_callback(self._lookup_done)
        try:
            # Shielded: one caller giving up must not cancel the lookup the others wait for.
            return await asyncio.shield(lookup)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            # Only aclose() cancels the lookup itself; a waiter's own cancel stands.
            if lookup.cancelled() and not (cancelling and cancelling()):
                raise ClientClosedError("the client was closed during the request") from None
            raise

    def _lookup_done(self, lookup: asyncio.Future[str]) -> None:
        if self._lookup is lookup:
            self._lookup = None  # a failed lookup is tried again by the next request
        if not lookup.cancelled():
            lookup.exception()  # retrieved: a lookup nobody awaits any more is no error

    async def _discover(self) -> str:
        """Look the account up and keep it; return the activeCalls prefix."""
        accounts = await self.list_accounts()
        if not accounts:
            raise ValidationError(
                "account_id",
                "not given, and these credentials see no sub-account to use; pass account_id=",
            )
        if len(accounts) > 1:
            seen = ", ".join(
                f"{a.account_id} ({a.account_name})" if a.account_name else a.account_id
                for a in accounts
            )
            raise ValidationError(
                "account_id", f"not given, and these credentials see several accounts: {seen}"
            )
        account_id = v.path_segment("account_id", accounts[0].account_id)
        prefix = self._prefix = api_prefix(self.base_url, account_id, allow_insecure_http=True)
        self.account_id = account_id
        logger.info("using account %s, the only one these credentials see", account_id)
        return prefix

    async def resolve_account_id(self) -> str:
        """The account id requests act on, looked up (once) if it was not given."""
        if self._transport.closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        await self._account_prefix()
        assert self.account_id is not None
        return self.account_id

    async def list_accounts(
        self,
        *,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> list[Account]:
        """The sub-accounts these credentials can see (``GET {BASE_URL}/api/v1/admin/accounts``)."""
        result: list[Account] = await self._call(endpoints.ACCOUNTS, {}, timeout, retry, priority)
        return result

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_class: RetryClass | Literal["idempotent", "at-most-once"] | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> Any:
        """Send any RingCX admin API request; see ``docs/concepts/operations.md``.

        ``path`` is relative to ``{BASE_URL}/api/v1/admin/`` (``"accounts/1/users"``);
        the answer is the decoded JSON, or text when it is not JSON, or ``None`` when
        empty. ``retry_class`` defaults to idempotent for GET, at most once otherwise.
        """
        if self._transport.closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        request = build_raw_request(
            method, path, self._root, params=params, json_body=json, retry_class=retry_class
        )
        self._check_request_options(timeout, retry, priority)
        return await self._send(request, timeout, retry, priority)

    async def list_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page: int = 0,
        max_rows: int | Default = DEFAULT,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> list[ActiveCall]:
        """One page of the calls in flight for a product (or an external id); one request."""
        args = {
            "product": product,
            "product_id": product_id,
            "external_id": external_id,
            "page": page,
            "max_rows": self.page_size if max_rows is DEFAULT else max_rows,
        }
        result: list[ActiveCall] = await self._call(endpoints.LIST, args, timeout, retry, priority)
        return result

    async def create_manual_agent_call(
        self,
        *,
        username: str,
        destination: str,
        ring_duration: int,
        caller_id: str,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Ring an agent and dial ``destination`` for them; raise ActionRejectedError if refused."""
        args = {
            "username": username,
            "destination": destination,
            "ring_duration": ring_duration,
            "caller_id": caller_id,
        }
        await self._call(endpoints.CREATE_MANUAL_AGENT_CALL, args, timeout, retry, priority)

    async def add_session_to_call(
        self,
        uii: str,
        *,
        destination: str,
        session_type: SessionType | str,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Put a supervisor's phone on the call to listen, coach or barge in."""
        args = {"uii": uii, "destination": destination, "session_type": session_type}
        await self._call(endpoints.ADD_SESSION_TO_CALL, args, timeout, retry, priority)

    async def disposition_call(
        self,
        uii: str,
        *,
        disposition: str,
        callback: bool | None = None,
        callback_at: datetime | str | None = None,
        notes: str | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Set the call's disposition; a ``callback_at`` asks for a callback (``callback``
        defaults to whether one is given). An aware ``callback_at`` is sent in the
        client's ``account_timezone``, or as its own wall-clock time (logged once) when
        the client has none; a naive one is sent as given."""
        if callback is None:
            callback = callback_at is not None
        args = {
            "uii": uii,
            "disposition": disposition,
            "callback": callback,
            "callback_at": self._account_time(callback_at),
            "notes": notes,
        }
        await self._call(endpoints.DISPOSITION_CALL, args, timeout, retry, priority)

    def _account_time(self, when: datetime | str | None) -> datetime | str | None:
        """``when`` as the account's wall-clock time, when it is aware and that zone is known."""
        if not isinstance(when, datetime) or when.utcoffset() is None:
            return when
        if self.account_timezone is not None:
            try:
                return when.astimezone(self.account_timezone).replace(tzinfo=None)
            except OverflowError:  # year 1 or 9999 pushed out of range by the shift
                raise ValidationError(
                    "callback_at", "is out of range in the account's time zone"
                ) from None
        if not self._warned_wall_clock:
            self._warned_wall_clock = True
            logger.warning(
                "callback_at %s is timezone-aware but the client has no account_timezone: "
                "sending its wall-clock time %s as the account's; pass account_timezone= "
                "to convert",
                when.isoformat(),
                when.strftime("%Y-%m-%d %H:%M:%S"),
            )
        return when

    async def hangup_call(
        self,
        uii: str,
        *,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """End the call for every party."""
        await self._call(endpoints.HANGUP_CALL, {"uii": uii}, timeout, retry, priority)

    async def hangup_session(
        self,
        uii: str,
        *,
        phone: str,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Drop one party (for example a supervisor's session) from the call."""
        await self._call(
            endpoints.HANGUP_SESSION, {"uii": uii, "phone": phone}, timeout, retry, priority
        )

    async def toggle_call_recording(
        self,
        uii: str,
        *,
        record: bool,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Turn the call's recording on or off (off to pause it while card details are read)."""
        await self._call(
            endpoints.TOGGLE_CALL_RECORDING,
            {"uii": uii, "record": record},
            timeout,
            retry,
            priority,
        )

    async def ping_call(
        self,
        uii: str,
        *,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Keep the call from moving to the archived, read-only state while work is pending."""
        await self._call(endpoints.PING_CALL, {"uii": uii}, timeout, retry, priority)

    async def set_call_hold(
        self,
        uii: str,
        *,
        hold: bool,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Put the call on hold (``hold=True``) or take it off (sends ``state=ON|OFF``)."""
        await self._call(
            endpoints.TOGGLE_CALL_HOLD, {"uii": uii, "hold": hold}, timeout, retry, priority
        )

    async def requeue_call(
        self,
        uii: str,
        *,
        gate_id: int | str,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Send the call back into a queue (gate ``gate_id``), away from its agent."""
        args = {"uii": uii, "gate_id": gate_id}
        await self._call(endpoints.REQUEUE_CALL, args, timeout, retry, priority)

    async def hangup_session_by_id(
        self,
        uii: str,
        *,
        session_id: str | int,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Drop one session from the call by its id; the API never returns session ids (see
        ``docs/concepts/operations.md``), so the id must come from elsewhere."""
        args = {"uii": uii, "session_id": session_id}
        await self._call(endpoints.HANGUP_SESSION_BY_ID, args, timeout, retry, priority)

    async def check_queue_status(
        self,
        *,
        destination_number: str,
        max_queued: int,
        i18n_numbers: bool | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> QueueCheck:
        """May a call to this DNIS be queued? ``max_queued`` is the API's ``maxq``: the longest
        acceptable wait in queue (seconds); 0 or less asks whether an agent is free."""
        args = {
            "destination_number": destination_number,
            "max_queued": max_queued,
            "i18n_numbers": i18n_numbers,
        }
        result: QueueCheck = await self._call(
            endpoints.CHECK_QUEUE_STATUS, args, timeout, retry, priority
        )
        return result

    async def check_queue_threshold(
        self,
        *,
        destination_number: str,
        max_calls_queued: int | None = None,
        i18n_numbers: bool | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> QueueCheck:
        """Are fewer than ``max_calls_queued`` calls (server default 10) waiting for this DNIS?"""
        args = {
            "destination_number": destination_number,
            "max_calls_queued": max_calls_queued,
            "i18n_numbers": i18n_numbers,
        }
        result: QueueCheck = await self._call(
            endpoints.CHECK_QUEUE_THRESHOLD, args, timeout, retry, priority
        )
        return result

    @functools.cached_property
    def _paging(self) -> PagingMemo:
        """What this client's walks have learnt about the server's page sizes."""
        return PagingMemo(server_max_rows=self.server_max_rows)

    @staticmethod
    def _check_request_options(
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Raise ValidationError for a per-call ``timeout``, ``retry`` or ``priority`` that is
        not one."""
        if timeout is not DEFAULT:
            v.optional_seconds("timeout", timeout)
        if retry is not DEFAULT and retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry", "expected a RetryPolicy or None")
        if priority is not DEFAULT and not isinstance(priority, Priority):
            raise ValidationError("priority", "expected a Priority (ACTION, READ, WATCH, BULK)")

    def _page_walk(
        self,
        product: Product | str | None,
        product_id: int | str | None,
        external_id: str | None,
        *,
        page_size: int | None,
        prefetch: int,
        max_items: int | None,
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption,
        window: Window | None = None,
        default_priority: Priority = Priority.BULK,
    ) -> PageWalk:
        """A walk over one listing, every argument checked now rather than at page 0."""
        args = {"product": product, "product_id": product_id, "external_id": external_id}
        build_request(endpoints.LIST, "", args)  # raises ValidationError
        self._check_request_options(timeout, retry, priority)
        if priority is DEFAULT:
            priority = default_priority

        async def fetch(page: int, max_rows: int) -> list[ActiveCall]:
            return await self.list_active_calls(
                product,
                product_id,
                external_id=external_id,
                page=page,
                max_rows=max_rows,
                timeout=timeout,
                retry=retry,
                priority=priority,
            )

        label = " ".join(str(part) for part in (product, product_id) if part is not None)
        return PageWalk(
            fetch,
            page_size=self.page_size if page_size is None else page_size,
            prefetch=prefetch,
            window=window,
            max_items=max_items,
            memo=self._paging,
            label=label or "externalId listing",
        )

    def iter_active_call_pages(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> PageWalk:
        """Every page of a listing, each holding the calls new to the walk (the walk
        contract: ``activecalls_async.pagination``)."""
        return self._page_walk(
            product,
            product_id,
            external_id,
            page_size=page_size,
            prefetch=prefetch,
            max_items=max_items,
            timeout=timeout,
            retry=retry,
            priority=priority,
        )

    def iter_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> CallWalk:
        """Every call of a listing, each uii once (the walk contract:
        ``activecalls_async.pagination``)."""
        return CallWalk(
            self.iter_active_call_pages(
                product,
                product_id,
                external_id=external_id,
                page_size=page_size,
                max_items=max_items,
                prefetch=prefetch,
                timeout=timeout,
                retry=retry,
                priority=priority,
            )
        )

    def iter_active_calls_many(
        self,
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        *,
        page_size: int | None = None,
        prefetch: int | None = None,
        concurrency: int | None = None,
        on_error: Literal["raise", "collect"] = "raise",
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> FanOut:
        """The calls of many listings, walked concurrently, each uii once across them (the
        walk contract: ``activecalls_async.pagination``)."""
        if concurrency is None:
            concurrency = self._transport.max_concurrency
        v.count("page_size", page_size, minimum=1, allow_none=True)
        v.count("prefetch", prefetch, minimum=1, allow_none=True)
        # Checked now: a walk opened later, in a worker, must not be the first to refuse.
        self._check_request_options(timeout, retry, priority)

        def open_walk(target: Target, window: Window | None) -> PageWalk:
            return self._page_walk(
                target.product,
                target.product_id,
                None,
                page_size=page_size,
                prefetch=1 if prefetch is None else prefetch,
                max_items=None,
                timeout=timeout,
                retry=retry,
                window=window,
                priority=priority,
            )

        slots = self._transport.max_concurrency if prefetch is None else 0
        return FanOut(open_walk, targets, concurrency=concurrency, on_error=on_error, slots=slots)

    def watch_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        interval: float = 5.0,
        budget_share: float = 0.5,
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
        hub: WatchHub | None = None,
    ) -> CallWatch | SharedCallWatch:
        """Poll one listing and yield ``CallEvent``s, as ``activecalls_async.watch`` describes;
        with ``hub``, share the polls with the fleet (``activecalls_async.fleet.hub``)."""
        # -- shared watches begin --
        if hub is not None:
            if external_id is not None:
                raise ValidationError("external_id", "a shared watch (hub=) takes a product")
            target = [(product if product is not None else "", product_id)]
            return hub.share_listing(
                functools.partial(
                    self._snapshot_watch,
                    target,
                    interval,
                    budget_share=budget_share,
                    page_size=page_size,
                    timeout=timeout,
                    retry=retry,
                    priority=priority,
                )
            )
        # -- shared watches end --

        def open_walk() -> PageWalk:
            return self._page_walk(
                product,
                product_id,
                external_id,
                page_size=page_size,
                prefetch=prefetch,
                max_items=None,
                timeout=timeout,
                retry=retry,
                priority=priority,
                default_priority=Priority.WATCH,
            )

        return CallWatch(
            open_walk,
            interval=interval,
            budget_share=budget_share,
            limiter=self._transport.limiter,
        )

    def watch_active_calls_many(
        self,
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        *,
        interval: float = 5.0,
        budget_share: float = 0.5,
        page_size: int | None = None,
        concurrency: int | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
        hub: WatchHub | None = None,
    ) -> SnapshotWatch | SharedWatch:
        """Poll many listings together and yield one ``Snapshot`` per poll, as
        ``activecalls_async.watch`` describes; with ``hub``, share the polls with the fleet
        (``activecalls_async.fleet.hub``)."""
        open_local = functools.partial(
            self._snapshot_watch,
            _reiterable(targets),  # a shared watch opens one for each turn at polling
            interval,
            budget_share=budget_share,
            page_size=page_size,
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            priority=priority,
        )
        # -- shared watches begin --
        if hub is not None:
            return hub.share(open_local)
        # -- shared watches end --
        return open_local()

    def _snapshot_watch(
        self,
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        interval: float,
        *,
        budget_share: float = 0.5,
        page_size: int | None = None,
        concurrency: int | None = None,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> SnapshotWatch:
        """The watch ``watch_active_calls_many`` opens (every argument checked now)."""
        v.count("page_size", page_size, minimum=1, allow_none=True)
        # Checked now: a walk opened later, in a worker, must not be the first to refuse.
        self._check_request_options(timeout, retry, priority)

        def open_walk(target: Target) -> PageWalk:
            return self._page_walk(
                target.product,
                target.product_id,
                None,
                page_size=page_size,
                prefetch=1,
                max_items=None,
                timeout=timeout,
                retry=retry,
                priority=priority,
                default_priority=Priority.WATCH,
            )

        return SnapshotWatch(
            open_walk,
            targets,
            interval=interval,
            budget_share=budget_share,
            limiter=self._transport.limiter,
            concurrency=self._transport.max_concurrency if concurrency is None else concurrency,
        )

    # -- shared watches begin --
    def take_call_events(
        self,
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        *,
        hub: WatchHub,
        group: str,
        consumer: str | None = None,
        claim_after: float = 30.0,
        interval: float = 5.0,
    ) -> TakenEvents:
        """Yield each ``CallEvent`` of the fleet's shared watch of ``targets`` to one member of
        ``group``, with ``ack()``, as ``activecalls_async.fleet.work`` describes."""
        from .fleet.work import TakenEvents

        open_local = functools.partial(self._snapshot_watch, _reiterable(targets), interval)
        return TakenEvents(
            hub,
            open_local,
            group=group,
            consumer=consumer,
            claim_after=claim_after,
        )

    # -- shared watches end --


def _reiterable(targets: _T) -> _T | tuple[Any, ...]:
    """``targets`` as something that can be iterated again (a one-shot iterator is read
    now; anything else is left for the watch to check)."""
    return tuple(targets) if isinstance(targets, Iterator) else targets


def _timezone(value: str | tzinfo | None) -> tzinfo | None:
    """``account_timezone`` as a tzinfo: a zoneinfo name (``"America/New_York"``) or one."""
    if value is None or isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        try:
            return zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise ValidationError(
        "account_timezone", f"expected a tzinfo or a zoneinfo name; got {value!r}"
    )
