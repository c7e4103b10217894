"""One request on the wire: send it, read the whole answer, map failures to SDK errors.

The bottom of the request path (client → transport → auth, and transport → here): the
transport sends API requests, and the login forms its auth object describes, through
these functions; nothing here knows about auth, retries, limits or priorities.
"""

from __future__ import annotations

import asyncio
import json
import platform
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from ._redact import redact, redact_url, sent_secrets
from ._version import __version__
from ._wire import status_error
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
)

__all__ = ["USER_AGENT", "post_form", "progress_tracer", "request_once", "request_sent"]

#: The ``User-Agent`` every request carries unless the client is given another.
USER_AGENT = (
    f"activecalls-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)

#: Failures that happen while connecting, before a byte of the request is written.
_CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def progress_tracer() -> aiohttp.TraceConfig:
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


def request_sent(exc: BaseException, progress: Mapping[str, bool]) -> bool:
    """Whether the server may have received the request that failed with ``exc``.

    Only a proof of the contrary counts: a connect failure, or a request that the
    ``progress_tracer`` saw start but not reach the writing of its first line. Without
    the trace (a borrowed session, a mocked one) the answer is "it may have".
    """
    if isinstance(exc, _CONNECT_ERRORS):
        return False
    return not (progress.get("started") and not progress.get("sent"))


async def request_once(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    where: Callable[[], Mapping[str, str]],
    headers: Mapping[str, str],
    timeout: float | None,
    secrets: Iterable[str] = (),
    closed: Callable[[], bool] = lambda: False,
    data: Mapping[str, str] | None = None,
) -> tuple[int, Mapping[str, str], bytes]:
    """Send once and read the whole answer; map transport failures to SDK errors.

    Every request of the SDK, API call or login, goes through here. ``where`` names the
    request for its errors (called only on failure: redacting a URL costs more than a
    request's own bookkeeping); ``closed`` tells whether its client was closed meanwhile.
    """
    progress: dict[str, bool] = {}  # filled in by progress_tracer's hooks
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=data,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
            # A borrowed session may raise on error statuses; the SDK maps statuses to
            # its own errors (and renews a token on a 401), so it must see every answer.
            raise_for_status=False,
            trace_request_ctx=progress,
        ) as response:
            body = await response.read()
            return response.status, response.headers, body
    except asyncio.TimeoutError as exc:  # also aiohttp's ServerTimeoutError family
        sent = request_sent(exc, progress)
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
            request_sent=request_sent(exc, progress),
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
    headers: Mapping[str, str],
    closed: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """POST a login form and return its JSON object; failures become SDK errors.

    ``secrets`` are the form's credential values: an answer echoing one never gets it
    into an exception; ``headers`` may carry credentials such as HTTP Basic client
    credentials (masked likewise). A refusal (a 4xx but 429) is an ``AuthenticationError``.
    """
    where = {"operation": operation, "method": "POST", "url": redact_url(str(url))}
    masked = sent_secrets(headers, *secrets)
    status, answer_headers, body = await request_once(
        session,
        "POST",
        url,
        where=lambda: where,
        headers={"Accept": "application/json", **headers},
        timeout=timeout,
        secrets=masked,
        closed=closed,
        data=form,
    )
    if not 200 <= status < 300:
        raise status_error(
            status, body, answer_headers, **where, secrets=masked, refusal=AuthenticationError
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
