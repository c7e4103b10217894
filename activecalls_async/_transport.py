"""The only place that does network I/O: session, limits, retries, auth and timeouts."""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import backoff
from yarl import URL

from ._endpoints import Endpoint, RetryClass
from ._redact import redact, redact_url, sent_secrets
from ._version import __version__
from ._wire import Request, decode_response, error_from_response, status_error
from .errors import (
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
)
from .priority import Priority
from .ratelimit import Limiter
from .retry import RetryPolicy

if TYPE_CHECKING:  # auth sends its login requests through this module
    from .auth import Auth

__all__ = ["USER_AGENT", "Transport", "post_form"]

logger = logging.getLogger("activecalls_async")

USER_AGENT = (
    f"activecalls-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)
_ACCEPT = "application/json, text/plain;q=0.9"

#: Retry wrappers a transport keeps before it starts over (see ``Transport._sender``).
_MAX_SENDERS = 64

Attempt = Callable[[Request, "float | None"], Awaitable[Any]]

#: Failures that happen while connecting, before a byte of the request is written.
_CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def _progress_tracer() -> aiohttp.TraceConfig:
    """Trace hooks that record how far each request got, in its ``trace_request_ctx``."""

    def mark(step: str) -> Callable[[aiohttp.ClientSession, SimpleNamespace, Any], Awaitable[None]]:
        async def hook(session: aiohttp.ClientSession, context: SimpleNamespace, _: Any) -> None:
            progress = context.trace_request_ctx
            if isinstance(progress, dict):  # a caller's own requests carry no record
                progress[step] = True

        return hook

    tracer = aiohttp.TraceConfig()
    tracer.on_request_start.append(mark("started"))
    # aiohttp fires this just before it writes the request line: from here on the
    # server may have received the request.
    tracer.on_request_headers_sent.append(mark("sent"))
    return tracer


def _request_sent(exc: BaseException, progress: Mapping[str, bool]) -> bool:
    """Whether the server may have received the request that failed with ``exc``.

    Only a proof of the contrary counts: a connect failure, or a request that this
    transport's trace saw start but not reach the writing of its first line. Without
    the trace (a borrowed session, a mocked one) the answer is "it may have".
    """
    if isinstance(exc, _CONNECT_ERRORS):
        return False
    return not (progress.get("started") and not progress.get("sent"))


async def _request_once(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    where: Callable[[], Mapping[str, str]],
    headers: Mapping[str, str],
    timeout: float | None,
    secrets: Iterable[str] = (),
    closed: Callable[[], bool] = lambda: False,
    data: bytes | Mapping[str, str] | None = None,
) -> tuple[int, Mapping[str, str], bytes]:
    """Send once and read the whole answer; map transport failures to SDK errors.

    Every request of the SDK, API call or login, goes through here. ``where`` names the
    request for its errors (called only on failure: redacting a URL costs more than a
    request's own bookkeeping); ``closed`` tells whether its client was closed meanwhile.
    """
    progress: dict[str, bool] = {}  # filled in by _progress_tracer's hooks
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=data,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
            trace_request_ctx=progress,
        ) as response:
            body = await response.read()
            return response.status, response.headers, body
    except asyncio.TimeoutError as exc:  # also aiohttp's ServerTimeoutError family
        sent = _request_sent(exc, progress)
        when = "answer" if sent else "connection"
        raise APITimeoutError(
            f"no complete {when} within {timeout}s", request_sent=sent, **where()
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        if closed() or session.closed:
            raise ClientClosedError("the client was closed during the request") from exc
        what = "could not connect" if isinstance(exc, _CONNECT_ERRORS) else "connection failed"
        raise APIConnectionError(
            redact(f"{what}: {type(exc).__name__}: {exc}".rstrip(": "), secrets),
            request_sent=_request_sent(exc, progress),
            **where(),
        ) from exc
    except RuntimeError as exc:  # aiohttp's "Session is closed"
        if closed() or session.closed:
            raise ClientClosedError("the client was closed during the request") from exc
        raise


async def post_form(
    session: aiohttp.ClientSession,
    operation: str,
    url: URL,
    form: Mapping[str, str],
    *,
    timeout: float | None,
    secrets: Iterable[str],
    credentials: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """POST a login form and return its JSON object; failures become SDK errors.

    ``secrets`` are the form's credential values: an answer echoing one never gets it
    into an exception; ``credentials`` are headers such as HTTP Basic client
    credentials. A refusal (a 4xx but 429) is an ``AuthenticationError``.
    """
    where = {"operation": operation, "method": "POST", "url": redact_url(str(url))}
    credentials = credentials or {}
    masked = sent_secrets(credentials, *secrets)
    status, headers, body = await _request_once(
        session,
        "POST",
        url,
        where=lambda: where,
        headers={"Accept": "application/json", **credentials},
        timeout=timeout,
        secrets=masked,
        data=form,
    )
    if not 200 <= status < 300:
        raise status_error(
            status, body, headers, **where, secrets=masked, refusal=AuthenticationError
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        data = None
    if not isinstance(data, dict):
        # No excerpt: a half-broken login answer may still carry a token.
        raise ResponseDecodeError(
            f"{operation} answered a body that is not a JSON object", status=status, **where
        )
    return data


class Transport:
    """Sends prepared requests for one client and decodes their answers.

    Every attempt takes a concurrency slot, then waits for the rate limiter, then
    sends: the limiter records real start times, and nothing holds a connection
    while it waits. Retries (``backoff``) run outside the slot. Credentials come from
    the auth object over the same session, outside the slot and the rate limiter.
    """

    def __init__(
        self,
        *,
        auth: Auth,
        owns_auth: bool = False,
        session: aiohttp.ClientSession | None,
        timeout: float | None,
        retry: RetryPolicy | None,
        limiter: Limiter | None,
        max_concurrency: int,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.auth = auth
        #: Whether ``aclose()`` closes ``auth`` too: only credentials the client made.
        self.owns_auth = owns_auth
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
        self._senders: dict[tuple[RetryPolicy, Endpoint], Attempt] = {}

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
                ssl=self._ssl_context if self._ssl_context is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=[_progress_tracer()]
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
        session, self._session = self._session, None
        try:
            if self.owns_auth:
                # First the credentials, so that a renewal in flight stops before the
                # session it uses goes away.
                await self.auth.aclose()
        finally:
            if session is not None and session is not self._borrowed:
                await session.close()

    async def send(
        self,
        request: Request,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> Any:
        """Send ``request`` under the retry policy and return its decoded result."""
        if retry is None or retry.max_attempts == 1:
            return await self._attempt(request, timeout)
        return await self._sender(retry, request.endpoint)(request, timeout)

    def _sender(self, policy: RetryPolicy, endpoint: Endpoint) -> Attempt:
        """``_attempt`` wrapped in the policy's backoff for this operation, built once.

        Building a ``backoff`` wrapper costs more than a request's own Python work, so
        wrappers are kept per (policy, operation).
        """
        # Keyed by the whole descriptor: client.request's share an operation name (the
        # path) across methods and retry classes.
        key = (policy, endpoint)
        sender = self._senders.get(key)
        if sender is not None:
            return sender

        def giveup(exc: Exception) -> bool:
            # An error naming another operation came from obtaining credentials, before
            # this request was sent, so repeating cannot make the server act twice.
            own = getattr(exc, "operation", None) == endpoint.operation
            retry_class = endpoint.retry if own else RetryClass.IDEMPOTENT
            return not policy.should_retry(exc, retry_class)

        sender = backoff.on_exception(
            policy.delays,
            ActiveCallsError,
            max_tries=policy.max_attempts,
            giveup=giveup,
            jitter=None,  # the policy's delays are already fully jittered
            on_backoff=_log_retry,
            on_giveup=_count_retries,
            logger=None,
        )(self._attempt)
        if len(self._senders) >= _MAX_SENDERS:
            self._senders.clear()  # a caller building a new policy for every request
        self._senders[key] = sender
        return sender

    async def _attempt(self, request: Request, timeout: float | None) -> Any:
        """One attempt, repeated once at most after renewing an expired token."""
        session = self.session
        for renewed in (False, True):
            credentials = await self.auth.headers(session)
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
                or not await self.auth.refresh(session, credentials)
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
        headers = {**self._base_headers, **credentials}
        if request.body is not None:  # only client.request sends a (JSON) body
            headers["Content-Type"] = "application/json"
        return await _request_once(
            session,
            request.method,
            URL(request.url, encoded=True),
            where=where,
            headers=headers,
            timeout=timeout,
            secrets=secrets,
            closed=lambda: self._closed,
            data=request.body,
        )


def _log_retry(details: Any) -> None:
    exc = details["exception"]
    request = details["args"][0]
    logger.info(
        "%s: attempt %d failed (%s); retrying in %.2fs",
        request.operation,
        details["tries"],
        _reason(exc),
        details["wait"],
    )


def _count_retries(details: Any) -> None:
    exc = details["exception"]
    if hasattr(exc, "retries"):
        exc.retries = details["tries"] - 1


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
