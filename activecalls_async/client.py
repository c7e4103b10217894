"""``ActiveCallsClient``: the client's lifecycle and one method per operation."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, overload

import aiohttp

from . import _endpoints as endpoints
from . import _validators as check
from ._account import AccountLookup
from ._aio import ClosesOnExit
from ._endpoints import Endpoint, RetryClass, Scope
from ._environ import client_settings, telemetry_setting
from ._listings import ListingMethods
from ._paging import DEFAULT_PAGE_SIZE, PagingMemo
from ._transport import Transport
from ._wire.http import USER_AGENT
from ._wire.request import RawCall, Request, admin_root, build_raw_request, build_request
from ._wire.response import RawResponse
from .auth import Auth, coerce_auth
from .errors import ClientClosedError, ValidationError
from .limits.priority import Priority
from .limits.ratelimit import Limiter, RateLimit
from .limits.stats import ClientStats
from .models import Account, ActiveCall, Product, QueueCheck, SessionType
from .options import (
    DEFAULT,
    CallOptions,
    ClientDefaults,
    Default,
    PriorityOption,
    RetryOption,
    Timeout,
    TimeoutOption,
)
from .retry import RetryPolicy
from .telemetry import Telemetry

if TYPE_CHECKING:  # Unpack is in typing from Python 3.11; only type checkers need it
    from typing_extensions import Unpack

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


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of ``ActiveCallsClient``, as ``from_env`` takes them."""

    account_id: str | int | None
    auth: Auth | str
    base_url: str
    session: aiohttp.ClientSession | None
    timeout: float | Timeout | aiohttp.ClientTimeout | None
    retry: RetryPolicy | None
    rate_limit: Limiter | Default | None
    max_concurrency: int
    page_size: int
    allow_insecure_http: bool
    ssl_context: ssl.SSLContext | None
    user_agent: str | None
    account_timezone: str | tzinfo | None
    telemetry: Telemetry | None


class ActiveCallsClient(ListingMethods, ClosesOnExit):
    """An async client for one RingCX account's Active Calls API.

    Use it as ``async with ActiveCallsClient(...) as client`` or call ``aclose()``.
    One client is meant to be shared by every task of a program: requests share one
    connection pool, one concurrency limit and one rate limiter.

    With ``account_id=None`` the account is looked up by the first request that needs
    it (``activecalls_async._account`` states how). ``timeout=`` and ``retry=`` are the
    defaults of every call (``activecalls_async.options``). ``account_timezone`` (a
    zoneinfo name or a ``tzinfo``) is the time zone aware ``callback_at`` times are
    converted to. ``telemetry`` says where traces and metrics go (``None``: nowhere; see
    ``activecalls_async.telemetry``).
    """

    def __init__(
        self,
        *,
        account_id: str | int | None = None,
        auth: Auth | str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float | Timeout | aiohttp.ClientTimeout | None = 30.0,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - frozen, safe to share
        rate_limit: Limiter | Default | None = DEFAULT,
        max_concurrency: int = 10,
        page_size: int | None = None,
        server_max_rows: int | None = None,
        allow_insecure_http: bool = False,
        ssl_context: ssl.SSLContext | Literal[False] | None = None,
        user_agent: str | None = None,
        account_timezone: str | tzinfo | None = None,
        telemetry: Telemetry | None = Telemetry(),  # noqa: B008 - frozen, safe to share
    ) -> None:
        self.base_url = check.base_url(
            "base_url", base_url, allow_insecure_http=allow_insecure_http
        )
        self._root = admin_root(self.base_url)
        self._account = AccountLookup(self.base_url, account_id, self.list_accounts)
        self.account_timezone = _timezone(account_timezone)
        self._warned_wall_clock = False
        self._defaults = ClientDefaults.of(timeout=timeout, retry=retry)
        check.count("max_concurrency", max_concurrency, minimum=1)
        check.count("page_size", page_size, minimum=1, allow_none=True)
        if rate_limit is DEFAULT:
            rate_limit = RateLimit(120, per=60.0)
        elif rate_limit is not None and not isinstance(rate_limit, Limiter):
            raise ValidationError("rate_limit", "expected a RateLimit (or other Limiter) or None")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValidationError("session", "expected an aiohttp.ClientSession")
        tls = check.tls("ssl_context", ssl_context)
        if (off := check.tls_off(tls)) is not None:
            # Allowed (private CAs, test rigs), but never silently.
            logger.warning("TLS verification is OFF for this client (%s)", off)
        #: What this client's walks have learnt about the server's page sizes.
        self._paging = PagingMemo(server_max_rows=server_max_rows)
        #: The ``maxRows`` asked by default: ``server_max_rows`` when given (see
        #: ``activecalls_async.pagination`` for how walks learn what the server sends).
        self.page_size = page_size or server_max_rows or DEFAULT_PAGE_SIZE
        self._stats = ClientStats(rate_limit)
        self._transport = Transport(
            auth=coerce_auth(auth),
            session=session,
            limiter=rate_limit,
            max_concurrency=max_concurrency,
            tls=tls,
            user_agent=USER_AGENT
            if user_agent is None
            else check.header_text("user_agent", user_agent),
            stats=self._stats,
            telemetry=telemetry_setting(telemetry),
        )
        #: What the client made for itself and closes with itself (credentials from a
        #: token string or the environment, a fleet's parts).
        self._owned = contextlib.AsyncExitStack()
        if isinstance(auth, str):
            self._owned.push_async_callback(self._transport.auth.aclose)

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
        under ``ACTIVECALLS_FLEET_KEY`` (default ``activecalls:<account id>``). What is
        made here from the environment is the client's own: closed with it.
        """
        settings = client_settings(os.environ if environ is None else environ, overrides)
        client = cls(**settings.options)
        for part in settings.owned:
            client._owned.push_async_callback(part.aclose)
        return client

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
        await self._account.aclose()
        try:
            await self._transport.aclose()
        finally:
            await self._owned.aclose()

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._transport.closed

    @property
    def stats(self) -> ClientStats:
        """What this client has spent: attempts, answers, retries, waits."""
        return self._stats

    @property
    def account_id(self) -> str | None:
        """The account requests act on; ``None`` until looked up when none was given."""
        return self._account.account_id

    async def resolve_account_id(self) -> str:
        """The account id requests act on, looked up (once) if it was not given."""
        self._check_open()
        await self._account.resolve()
        assert self._account.account_id is not None
        return self._account.account_id

    # -- the request path ----------------------------------------------------------------

    def _options(
        self,
        default_priority: Priority,
        timeout: TimeoutOption,
        retry: RetryOption,
        priority: PriorityOption,
    ) -> CallOptions:
        """One public call's options, checked and resolved (``activecalls_async.options``)."""
        return self._defaults.resolve(timeout, retry, priority, default_priority=default_priority)

    def _check_open(self) -> None:
        if self._transport.closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")

    async def _request(
        self, endpoint: Endpoint, args: Mapping[str, Any], options: CallOptions
    ) -> Request:
        """Check the arguments and build the request (the account looked up if needed)."""
        self._check_open()
        if endpoint.scope is Scope.ADMIN:
            prefix = self._root
        elif (known := self._account.prefix) is not None:
            prefix = known
        else:
            build_request(endpoint, "", args, options)  # bad input fails before the lookup
            prefix = await self._account.resolve()
        return build_request(endpoint, prefix, args, options)

    async def _call(self, endpoint: Endpoint, args: Mapping[str, Any], options: CallOptions) -> Any:
        """Build one request and send it: the path every operation takes."""
        return await self._transport.send(await self._request(endpoint, args, options))

    # -- the operations ------------------------------------------------------------------

    async def list_accounts(
        self,
        *,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> list[Account]:
        """The sub-accounts these credentials can see (``GET {BASE_URL}/api/v1/admin/accounts``)."""
        ep = endpoints.ACCOUNTS
        result: list[Account] = await self._call(
            ep, {}, self._options(ep.priority, timeout, retry, priority)
        )
        return result

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        retry_class: RetryClass | Literal["idempotent", "at-most-once"] | None = ...,
        raw: Literal[False] = ...,
        timeout: TimeoutOption = ...,
        retry: RetryOption = ...,
        priority: PriorityOption = ...,
    ) -> Any: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        retry_class: RetryClass | Literal["idempotent", "at-most-once"] | None = ...,
        raw: Literal[True],
        timeout: TimeoutOption = ...,
        retry: RetryOption = ...,
        priority: PriorityOption = ...,
    ) -> RawResponse: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_class: RetryClass | Literal["idempotent", "at-most-once"] | None = None,
        raw: bool = False,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> Any:
        """Send any RingCX admin API request; see ``docs/concepts/operations.md``.

        ``path`` is relative to ``{BASE_URL}/api/v1/admin/`` (``"accounts/1/users"``);
        the answer is the decoded JSON, or text when it is not JSON, or ``None`` when
        empty; with ``raw=True``, a ``RawResponse`` (status, headers, body) instead. An
        error status raises as for any operation. ``retry_class`` defaults to idempotent
        for GET, at most once otherwise.
        """
        self._check_open()
        call = RawCall(method, path, params, json, retry_class, raw)
        verb = method.upper() if isinstance(method, str) else ""
        options = self._options(endpoints.default_priority(verb), timeout, retry, priority)
        request = build_raw_request(call, self._root, options)
        return await self._transport.send(request)

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
        ep = endpoints.LIST
        result: list[ActiveCall] = await self._call(
            ep, args, self._options(ep.priority, timeout, retry, priority)
        )
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
        ep = endpoints.CREATE_MANUAL_AGENT_CALL
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.ADD_SESSION_TO_CALL
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.DISPOSITION_CALL
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.HANGUP_CALL
        await self._call(ep, {"uii": uii}, self._options(ep.priority, timeout, retry, priority))

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
        args = {"uii": uii, "phone": phone}
        ep = endpoints.HANGUP_SESSION
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        args = {"uii": uii, "record": record}
        ep = endpoints.TOGGLE_CALL_RECORDING
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

    async def ping_call(
        self,
        uii: str,
        *,
        timeout: TimeoutOption = DEFAULT,
        retry: RetryOption = DEFAULT,
        priority: PriorityOption = DEFAULT,
    ) -> None:
        """Keep the call from moving to the archived, read-only state while work is pending."""
        ep = endpoints.PING_CALL
        await self._call(ep, {"uii": uii}, self._options(ep.priority, timeout, retry, priority))

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
        args = {"uii": uii, "hold": hold}
        ep = endpoints.TOGGLE_CALL_HOLD
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.REQUEUE_CALL
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.HANGUP_SESSION_BY_ID
        await self._call(ep, args, self._options(ep.priority, timeout, retry, priority))

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
        ep = endpoints.CHECK_QUEUE_STATUS
        result: QueueCheck = await self._call(
            ep, args, self._options(ep.priority, timeout, retry, priority)
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
        ep = endpoints.CHECK_QUEUE_THRESHOLD
        result: QueueCheck = await self._call(
            ep, args, self._options(ep.priority, timeout, retry, priority)
        )
        return result


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
