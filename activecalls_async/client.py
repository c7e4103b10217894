"""``ActiveCallsClient``: the client's lifecycle and one method per operation."""

from __future__ import annotations

import enum
import functools
import logging
import os
import ssl
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Literal

import aiohttp

from . import _validators as v
from ._endpoints import ENDPOINTS
from ._http import USER_AGENT
from ._transport import Transport
from ._wire import api_prefix, build_request
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
from .models import ActiveCall, Product, QueueCheck, SessionType
from .pagination import CallWalk, FanOut, PageWalk, PagingMemo, Target
from .priority import Priority
from .ratelimit import Limiter, RateLimit
from .retry import RetryPolicy
from .stats import ClientStats
from .watch import CallWatch

__all__ = ["DEFAULT", "DEFAULT_BASE_URL", "ActiveCallsClient"]

logger = logging.getLogger("activecalls_async")

DEFAULT_BASE_URL: Final = "https://ringcx.ringcentral.com/voice"


class _Default(enum.Enum):
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the client's setting": distinct from ``None``, which means "none at all".
DEFAULT: Final = _Default.DEFAULT


class ActiveCallsClient:
    """An async client for one RingCX account's Active Calls API.

    Use it as ``async with ActiveCallsClient(...) as client`` or call ``aclose()``.
    One client is meant to be shared by every task of a program: requests share one
    connection pool, one concurrency limit and one rate limiter.
    """

    def __init__(
        self,
        *,
        account_id: str | int,
        auth: Auth | str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - frozen, safe to share
        rate_limit: Limiter | _Default | None = DEFAULT,
        max_concurrency: int = 10,
        page_size: int = 100,
        allow_insecure_http: bool = False,
        ssl_context: ssl.SSLContext | Literal[False] | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.base_url = v.base_url("base_url", base_url, allow_insecure_http=allow_insecure_http)
        self._prefix = api_prefix(self.base_url, account_id, allow_insecure_http=True)
        self.account_id = str(account_id)
        self._check_request_options(timeout, retry)
        v.count("max_concurrency", max_concurrency, minimum=1)
        v.count("page_size", page_size, minimum=1)
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
        self.page_size = page_size
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
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> ActiveCallsClient:
        """Build a client from ``ACTIVECALLS_*`` environment variables.

        ``ACTIVECALLS_ACCOUNT_ID`` and one of ``ACTIVECALLS_TOKEN`` (bearer) or
        ``ACTIVECALLS_API_TOKEN`` (legacy) or a RingCentral login (``ACTIVECALLS_RC_JWT``
        with ``ACTIVECALLS_RC_CLIENT_ID`` and ``ACTIVECALLS_RC_CLIENT_SECRET``, or
        ``ACTIVECALLS_RC_ACCESS_TOKEN``; ``ACTIVECALLS_RC_SERVER`` and
        ``ACTIVECALLS_AUTH_URL`` optional) are required; ``ACTIVECALLS_BASE_URL`` and
        ``ACTIVECALLS_TIMEOUT`` are optional. Keyword arguments override them.
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
            raise ValidationError("ACTIVECALLS_ACCOUNT_ID", "is not set")
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

    async def __aenter__(self) -> ActiveCallsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client; a session or auth object passed in by the caller is left open.

        Requests still in flight raise ``ClientClosedError``. A ``RingCentralAuth`` passed
        in (perhaps shared by several clients) is the caller's to ``aclose()``.
        """
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
        operation: str,
        args: Mapping[str, Any],
        timeout: float | _Default | None,
        retry: RetryPolicy | _Default | None,
        priority: Priority | _Default = DEFAULT,
    ) -> Any:
        """Check the arguments, build the request and send it (the one path every method takes)."""
        transport = self._transport
        if transport.closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        request = build_request(ENDPOINTS[operation], self._prefix, args)
        self._check_request_options(timeout, retry, priority)
        return await transport.send(
            request,
            timeout=transport.timeout if timeout is DEFAULT else timeout,
            retry=transport.retry if retry is DEFAULT else retry,
            priority=None if priority is DEFAULT else priority,
        )

    async def list_active_calls(
        self,
        product: Product | str | None = None,
        product_id: int | str | None = None,
        *,
        external_id: str | None = None,
        page: int = 0,
        max_rows: int | _Default = DEFAULT,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> list[ActiveCall]:
        """One page of the calls in flight for a product (or an external id); one request."""
        args = {
            "product": product,
            "product_id": product_id,
            "external_id": external_id,
            "page": page,
            "max_rows": self.page_size if max_rows is DEFAULT else max_rows,
        }
        result: list[ActiveCall] = await self._call("list", args, timeout, retry, priority)
        return result

    async def create_manual_agent_call(
        self,
        *,
        username: str,
        destination: str,
        ring_duration: int,
        caller_id: str,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """Ring an agent and dial ``destination`` for them; raise ActionRejectedError if refused."""
        args = {
            "username": username,
            "destination": destination,
            "ring_duration": ring_duration,
            "caller_id": caller_id,
        }
        await self._call("createManualAgentCall", args, timeout, retry, priority)

    async def add_session_to_call(
        self,
        uii: str,
        *,
        destination: str,
        session_type: SessionType | str,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """Put a supervisor's phone on the call to listen, coach or barge in."""
        args = {"uii": uii, "destination": destination, "session_type": session_type}
        await self._call("addSessionToCall", args, timeout, retry, priority)

    async def disposition_call(
        self,
        uii: str,
        *,
        disposition: str,
        callback: bool = False,
        callback_at: datetime | str | None = None,
        notes: str | None = None,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """Set the call's disposition; ``callback_at`` (wall-clock time) is required with a
        callback."""
        args = {
            "uii": uii,
            "disposition": disposition,
            "callback": callback,
            "callback_at": callback_at,
            "notes": notes,
        }
        await self._call("dispositionCall", args, timeout, retry, priority)

    async def hangup_call(
        self,
        uii: str,
        *,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """End the call for every party."""
        await self._call("hangupCall", {"uii": uii}, timeout, retry, priority)

    async def hangup_session(
        self,
        uii: str,
        *,
        phone: str,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """Drop one party (for example a supervisor's session) from the call."""
        await self._call("hangupSession", {"uii": uii, "phone": phone}, timeout, retry, priority)

    async def toggle_call_recording(
        self,
        uii: str,
        *,
        record: bool,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> None:
        """Turn the call's recording on or off (off to pause it while card details are read)."""
        await self._call(
            "toggleCallRecording", {"uii": uii, "record": record}, timeout, retry, priority
        )

    async def check_queue_status(
        self,
        *,
        destination_number: str,
        max_queued: int,
        i18n_numbers: bool | None = None,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> QueueCheck:
        """May a call to this DNIS be queued? ``max_queued`` is the API's ``maxq``: the longest
        acceptable wait in queue (seconds); 0 or less asks whether an agent is free."""
        args = {
            "destination_number": destination_number,
            "max_queued": max_queued,
            "i18n_numbers": i18n_numbers,
        }
        result: QueueCheck = await self._call("checkQueueStatus", args, timeout, retry, priority)
        return result

    async def check_queue_threshold(
        self,
        *,
        destination_number: str,
        max_calls_queued: int | None = None,
        i18n_numbers: bool | None = None,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> QueueCheck:
        """Are fewer than ``max_calls_queued`` calls (server default 10) waiting for this DNIS?"""
        args = {
            "destination_number": destination_number,
            "max_calls_queued": max_calls_queued,
            "i18n_numbers": i18n_numbers,
        }
        result: QueueCheck = await self._call("checkQueueThreshold", args, timeout, retry, priority)
        return result

    @functools.cached_property
    def _paging(self) -> PagingMemo:
        """What this client's walks have learnt about the server's page sizes."""
        return PagingMemo()

    @staticmethod
    def _check_request_options(
        timeout: float | _Default | None,
        retry: RetryPolicy | _Default | None,
        priority: Priority | _Default = DEFAULT,
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
        timeout: float | _Default | None,
        retry: RetryPolicy | _Default | None,
        priority: Priority | _Default,
        default_priority: Priority = Priority.BULK,
    ) -> PageWalk:
        """A walk over one listing, every argument checked now rather than at page 0."""
        args = {"product": product, "product_id": product_id, "external_id": external_id}
        build_request(ENDPOINTS["list"], self._prefix, args)  # raises ValidationError
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
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> PageWalk:
        """Every page of a listing in order, each ``ActiveCallPage`` holding only the calls
        new to this walk; see ``iter_active_calls`` for the rules and guarantees."""
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
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> CallWalk:
        """Every call of a listing, walking ``page``/``maxRows`` from page 0, each uii once.

        ``page_size`` defaults to the client's; ``max_items`` stops after that many calls;
        ``prefetch`` pages are kept in flight and still yielded in order. A short first
        page is checked for a silent ``maxRows`` cap before it is taken as the end, and
        a page repeating page 0 (a server ignoring ``page``) stops the walk with a
        warning.

        Guarantees while calls come and go: no uii is yielded twice. A call in flight
        for the whole walk is yielded, unless calls ahead of it in the listing end
        during the walk: each such end moves later calls up one row, and a call moved
        from a page not yet read onto one already read is missed by this walk (the next
        walk sees it). Calls starting mid-walk may or may not be included; a call may
        have ended by the time it is yielded. The walk holds at most ``page_size *
        (prefetch + 1)`` calls plus the set of uiis it has yielded.

        Use ``async with client.iter_active_calls(...) as calls:`` (or ``aclose()``) to
        close it deterministically; breaking out of a plain ``async for``, an error or
        cancellation also cancels every request in flight.
        """
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
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> FanOut:
        """The calls of many ``(product, product_id)`` listings, walked concurrently, each
        uii once across them, yielded as pages arrive.

        ``concurrency`` listings are walked at once (default: the client's
        ``max_concurrency``, at most one per target); every request still shares the
        client's concurrency limit and rate limiter. ``prefetch`` fixes how many pages
        each listing keeps in flight; by default (``None``) the client's
        ``max_concurrency`` is shared among the listings still being walked, so that a
        long listing speeds up as the short ones finish (at the cost of up to that many
        requests past the end of a listing). ``on_error="raise"`` (default)
        cancels the other listings and raises the first failure; ``"collect"`` records
        failures in ``.errors`` by target and carries on. ``.sources`` maps each uii to
        the targets that listed it.
        """
        if concurrency is None:
            concurrency = self._transport.max_concurrency
        v.count("page_size", page_size, minimum=1, allow_none=True)
        v.count("prefetch", prefetch, minimum=1, allow_none=True)
        # Checked now: a walk opened later, in a worker, must not be the first to refuse.
        self._check_request_options(timeout, retry, priority)

        def open_walk(target: Target) -> PageWalk:
            return self._page_walk(
                target.product,
                target.product_id,
                None,
                page_size=page_size,
                prefetch=1 if prefetch is None else prefetch,
                max_items=None,
                timeout=timeout,
                retry=retry,
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
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: float | _Default | None = DEFAULT,
        retry: RetryPolicy | _Default | None = DEFAULT,
        priority: Priority | _Default = DEFAULT,
    ) -> CallWatch:
        """Poll a listing every ``interval`` seconds and yield ``CallEvent``s: ``started``
        (every call of the first snapshot, then new ones), ``changed`` (with ``previous``)
        and ``ended``.

        A listing read in one page ends a call as soon as a poll misses it; a listing
        taking several pages ends it only when two polls in a row miss it (so ``ended``
        may come one ``interval`` late), because a call can slip between pages while
        calls ahead of it end. A transient failure (connection, timeout, 429, 5xx, a
        malformed body) is logged and the poll tried again on the next tick; a failure
        waiting cannot heal (a rejected token, 403, 400, a ``ValidationError``) or a
        closed client ends the stream by raising. See ``CallWatch`` for the details.
        """

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

        return CallWatch(open_walk, interval=interval, label=open_walk().label)
