"""The only place that does network I/O: session, limits, retries, auth and timeouts."""

from __future__ import annotations

import asyncio
import logging
import platform
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import backoff
from yarl import URL

from ._endpoints import RetryClass
from ._version import __version__
from ._wire import Request, decode_response, error_from_response
from .auth import Auth
from .errors import (
    ActiveCallsError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
)
from .ratelimit import Limiter
from .retry import RetryPolicy

__all__ = ["USER_AGENT", "Transport"]

logger = logging.getLogger("activecalls_async")

USER_AGENT = (
    f"activecalls-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)
_ACCEPT = "application/json, text/plain;q=0.9"

Attempt = Callable[[Request, "float | None"], Awaitable[Any]]


class Transport:
    """Sends prepared requests for one client and decodes their answers.

    Every attempt takes a concurrency slot, then waits for the rate limiter, then
    sends: the limiter records real start times, and nothing holds a connection
    while it waits. Retries (``backoff``) run outside the slot.
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
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.auth = auth
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
        self._senders: dict[tuple[RetryPolicy, RetryClass], Attempt] = {}

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
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def aclose(self) -> None:
        """Close the owned session (never a borrowed one) and refuse further work."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and session is not self._borrowed:
            await session.close()
        await self.auth.aclose()

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
        return await self._sender(retry, request.endpoint.retry)(request, timeout)

    def _sender(self, policy: RetryPolicy, retry_class: RetryClass) -> Attempt:
        """The attempt function wrapped in ``backoff`` for this policy and class."""
        key = (policy, retry_class)
        sender = self._senders.get(key)
        if sender is None:
            sender = backoff.on_exception(
                policy.delays,
                ActiveCallsError,
                max_tries=policy.max_attempts,
                giveup=lambda exc: not policy.should_retry(exc, retry_class),
                jitter=None,
                on_backoff=_log_retry,
                on_giveup=_count_retries,
                logger=None,
            )(self._attempt)
            self._senders[key] = sender
        return sender

    async def _attempt(self, request: Request, timeout: float | None) -> Any:
        """One attempt, repeated once at most after renewing an expired token."""
        session = self.session
        for renewed in (False, True):
            credentials = await self.auth.headers(session)
            status, headers, body = await self._exchange(session, request, credentials, timeout)
            if status < 400:
                return decode_response(request, status, body)
            error = error_from_response(request, status, body, headers)
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
        timeout: float | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send once and read the whole answer; map transport failures to SDK errors."""
        headers = {**self._base_headers, **credentials}
        where: dict[str, Any] = {
            "operation": request.operation,
            "method": request.method,
            "url": request.safe_url,
        }
        try:
            async with self._slots:
                if self.limiter is not None:
                    await self.limiter.acquire()
                async with session.request(
                    request.method,
                    URL(request.url, encoded=True),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    allow_redirects=False,
                ) as response:
                    body = await response.read()
                    return response.status, response.headers, body
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"timed out connecting after {timeout}s", request_sent=False, **where
            ) from exc
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(f"no complete answer within {timeout}s", **where) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"could not connect: {exc.os_error or exc}", request_sent=False, **where
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            if self._closed:
                raise ClientClosedError("the client was closed during the request") from exc
            raise APIConnectionError(
                f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "), **where
            ) from exc
        except RuntimeError as exc:
            if self._closed or session.closed:
                raise ClientClosedError("the client was closed during the request") from exc
            raise


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
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if isinstance(status, int) and status >= 400 else type(exc).__name__
