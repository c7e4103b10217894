"""The only place that does network I/O: session, limits, retries, auth and timeouts."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from typing import Any, Literal

import aiohttp
from yarl import URL

from ._endpoints import RetryClass
from ._http import USER_AGENT, post_form, progress_tracer, request_once
from ._redact import sent_secrets
from ._wire import Request, decode_response, error_from_response
from .auth import Auth, LoginRequest, LoginSender
from .errors import (
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
    _RequestError,
)
from .priority import Priority
from .ratelimit import Limiter
from .retry import RetryPolicy

__all__ = ["Transport"]

logger = logging.getLogger("activecalls_async")

_ACCEPT = "application/json, text/plain;q=0.9"


class Transport:
    """Sends prepared requests for one client and decodes their answers.

    Every attempt takes a concurrency slot, then waits for the rate limiter, then
    sends: the limiter records real start times, and nothing holds a connection
    while it waits. Retries (one loop in ``send``) run outside the slot. Credentials come from
    the auth object over the same session, outside the slot and the rate limiter.
    """

    def __init__(
        self,
        *,
        auth: Auth,
        session: aiohttp.ClientSession | None,
        timeout: float | None,
        retry: RetryPolicy | None,
        limiter: Limiter | None,
        max_concurrency: int,
        ssl_context: ssl.SSLContext | Literal[False] | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.auth = auth
        #: Whether ``aclose()`` closes ``auth`` too: only credentials the client made.
        self.owns_auth = False
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self.max_concurrency = max_concurrency
        self._borrowed = session
        self._session: aiohttp.ClientSession | None = session
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_concurrency)
        self._base_headers = {"User-Agent": user_agent, "Accept": _ACCEPT}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_guard: AsyncGenerator[None, None] | None = None
        # Kept as one object: a renewal remembers which client's sender carried it.
        self._login_sender: LoginSender = self._send_login

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` has been called."""
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through, created on first use inside the loop."""
        if self._closed:
            raise ClientClosedError("this ActiveCallsClient is closed; create a new one")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_concurrency,
                # False is aiohttp's own spelling of "do not verify" (the client warned).
                ssl=self._ssl_context if self._ssl_context is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[progress_tracer()]
            )
        return self._session

    async def aclose(self) -> None:
        """Close the owned session and credentials (never borrowed ones); refuse further work.

        A request in flight raises ``ClientClosedError``: its connection goes away with
        the session, and a token renewal it waits for stops with it (or, when borrowed
        credentials renew over another client's session, it is unaffected).
        """
        if self._closed:
            return
        self._closed = True
        guard, self._loop_guard = self._loop_guard, None
        if guard is not None and _running_loop() is self._loop:
            await guard.aclose()  # its own clean-up is the one below
        await self._release()

    async def _release(self) -> None:
        """Close what this transport owns: the session it made and, if its own, the auth."""
        session, self._session = self._session, None
        try:
            if self.owns_auth:
                # First the credentials, so that a renewal in flight stops before the
                # session it uses goes away.
                await self.auth.aclose()
        finally:
            if session is not None and session is not self._borrowed:
                await session.close()

    async def _enter_loop(self) -> None:
        """Bind to the running loop on first use; refuse to work in any other loop.

        An aiohttp session, its connections and a renewal in flight all belong to the
        loop that made them, so a client cannot move to another one.
        """
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        if self._loop is not None:
            raise ActiveCallsError(
                "this ActiveCallsClient belongs to the event loop it was first used on "
                "(each asyncio.run() has its own): create one client per event loop"
            )
        self._loop = loop
        self._loop_guard = self._until_loop_ends()
        await self._loop_guard.asend(None)

    async def _until_loop_ends(self) -> AsyncGenerator[None, None]:
        """Suspended while the loop lives; asyncio closes it as the loop shuts down.

        ``asyncio.run()`` closes every open async generator before it closes its loop,
        so a client never closed still releases its session there, in its own loop,
        rather than leaving an "Unclosed client session" behind.
        """
        try:
            yield
        finally:
            if self._loop_guard is not None:  # not already being closed by aclose()
                self._loop_guard = None
                await self._release()

    async def _send_login(self, request: LoginRequest) -> Mapping[str, Any]:
        """The ``LoginSender`` this transport gives its auth: one POST over its session."""
        return await post_form(
            self.session,
            request.operation,
            URL(request.url),
            request.form,
            timeout=request.timeout,
            secrets=request.secrets,
            headers=request.headers,
            closed=lambda: self._closed,
        )

    async def send(
        self,
        request: Request,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> Any:
        """Send ``request`` under the retry policy and return its decoded result.

        The retry loop: attempt, classify the failure, wait the policy's next delay,
        repeat; the error finally raised carries the number of retries taken.
        """
        if self._loop is not asyncio.get_running_loop():
            await self._enter_loop()
        if retry is None:
            return await self._attempt(request, timeout)
        delays: Generator[float, BaseException | None, None] | None = None
        attempt = 1
        while True:
            try:
                return await self._attempt(request, timeout)
            except ActiveCallsError as exc:
                if attempt >= retry.max_attempts or not _may_retry(exc, request, retry):
                    if isinstance(exc, _RequestError):
                        exc.retries = attempt - 1
                    raise
                if delays is None:
                    delays = retry.delays()
                    next(delays)  # primed: from now on it is sent each failure
                wait = delays.send(exc)
                logger.info(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    request.operation,
                    attempt,
                    _reason(exc),
                    wait,
                )
            await asyncio.sleep(wait)
            attempt += 1

    async def _attempt(self, request: Request, timeout: float | None) -> Any:
        """One attempt, repeated once at most after renewing an expired token."""
        session = self.session
        for renewed in (False, True):
            credentials = await self.auth.headers(self._login_sender)
            secrets = sent_secrets(credentials)
            status, headers, body = await self._exchange(
                session, request, credentials, secrets, timeout
            )
            if 200 <= status < 300:
                return decode_response(request, status, body, secrets=secrets)
            # Anything else, a redirect included (never followed), is an error.
            error = error_from_response(request, status, body, headers, secrets=secrets)
            if (
                renewed
                or not isinstance(error, AuthenticationError)
                or not error.token_expired
                or not await self.auth.refresh(self._login_sender, credentials)
            ):
                raise error
            logger.info("%s: access token expired; renewed it, repeating", request.operation)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        request: Request,
        credentials: Mapping[str, str],
        secrets: Iterable[str],
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send once under the concurrency slots and the rate limiter; read the answer."""

        def where() -> dict[str, str]:
            return {
                "operation": request.operation,
                "method": request.method,
                "url": request.safe_url,
            }

        async with self._slots:
            limiter = self.limiter
            if limiter is None:
                return await self._send_once(session, request, credentials, secrets, timeout, where)
            await limiter.acquire(Priority.READ)
            try:
                return await self._send_once(session, request, credentials, secrets, timeout, where)
            finally:
                await limiter.release()

    async def _send_once(
        self,
        session: aiohttp.ClientSession,
        request: Request,
        credentials: Mapping[str, str],
        secrets: Iterable[str],
        timeout: float | None,
        where: Callable[[], Mapping[str, str]],
    ) -> tuple[int, Mapping[str, str], bytes]:
        return await request_once(
            session,
            request.method,
            URL(request.url, encoded=True),
            where=where,
            headers={**self._base_headers, **credentials},
            timeout=timeout,
            secrets=secrets,
            closed=lambda: self._closed,
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # aclose() driven without a loop, e.g. by hand
        return None


def _may_retry(exc: ActiveCallsError, request: Request, policy: RetryPolicy) -> bool:
    """Whether the policy lets ``request`` be tried again after ``exc``."""
    # An error naming another operation came from obtaining credentials, before this
    # request was sent, so repeating cannot make the server act twice.
    own = getattr(exc, "operation", None) == request.operation
    return policy.should_retry(exc, request.endpoint.retry if own else RetryClass.IDEMPOTENT)


def _reason(exc: BaseException) -> str:
    """A short, secret-free cause for a retry log line."""
    if isinstance(exc, APIStatusError):
        after = f", Retry-After {exc.retry_after:g}s" if exc.retry_after is not None else ""
        return f"HTTP {exc.status}{after}"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection error"
        return f"{cause}, {'sent' if exc.request_sent else 'not sent'}"
    if isinstance(exc, ResponseDecodeError):
        return "malformed body"
    return type(exc).__name__
