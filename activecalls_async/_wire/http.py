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
import attrs
from yarl import URL

from .._redact import mask, redact, redact_url
from .._version import __version__
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ResponseDecodeError,
)
from .response import Answer, RequestFacts, status_error

__all__ = [
    "USER_AGENT",
    "Answer",
    "Outgoing",
    "post_form",
    "progress_tracer",
    "request_once",
    "request_sent",
]


#: The ``User-Agent`` every request carries unless the client is given another.
USER_AGENT = (
    f"activecalls-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
)

#: Headers aiohttp would add to a request without a body (an octet-stream type for nothing).
_NO_BODY_HEADERS = ("Content-Type",)

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


@attrs.frozen
class Outgoing:
    """One HTTP request as it goes on the wire, and what its errors may say of it.

    ``secrets`` are the credential values it carries, masked in any error; ``data`` is
    its body (a login form, or JSON bytes), ``None`` for none.
    """

    operation: str
    method: str
    url: URL
    headers: Mapping[str, str]
    timeout: aiohttp.ClientTimeout
    secrets: Iterable[str] = ()
    data: bytes | Mapping[str, str] | None = None

    def facts(self) -> RequestFacts:
        """What an error says of it: credentials removed from its URL, those sent too."""
        # Only on failure: redacting a URL costs more than a request's own bookkeeping.
        secrets = tuple(self.secrets)
        url = mask(redact_url(str(self.url)), secrets)
        return RequestFacts(self.operation, self.method, url, secrets)

    def context(self) -> dict[str, str]:
        """Its operation, method and URL, as an error's keyword arguments."""
        facts = self.facts()
        return {"operation": facts.operation, "method": facts.method, "url": facts.url}


async def request_once(session: aiohttp.ClientSession, out: Outgoing) -> Answer:
    """Send ``out`` once and read the whole answer; map transport failures to SDK errors.

    Every request of the SDK, API call or login, goes through here. A request without
    ``data`` carries no ``Content-Type``: there is no body to describe. A failure after
    ``session`` was closed (its client closed meanwhile) is a ``ClientClosedError``.
    """
    progress: dict[str, bool] = {}  # filled in by progress_tracer's hooks
    try:
        async with session.request(
            out.method,
            out.url,
            headers=out.headers,
            data=out.data,
            skip_auto_headers=_NO_BODY_HEADERS if out.data is None else (),
            timeout=out.timeout,
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
        raise APITimeoutError(
            _timed_out(out.timeout, sent), request_sent=sent, **out.context()
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        if session.closed:
            raise ClientClosedError("the client was closed during the request") from exc
        what = "could not connect" if isinstance(exc, _CONNECT_ERRORS) else "connection failed"
        raise APIConnectionError(
            redact(f"{what}: {type(exc).__name__}: {exc}".rstrip(": "), out.secrets),
            request_sent=request_sent(exc, progress),
            **out.context(),
        ) from exc
    except RuntimeError as exc:  # aiohttp's "Session is closed"
        if session.closed:
            raise ClientClosedError("the client was closed during the request") from exc
        raise


def _timed_out(timeout: aiohttp.ClientTimeout, sent: bool) -> str:
    """What ran out of time, in words: the connection or the whole answer."""
    if not sent and timeout.connect is not None:
        return f"no connection within {timeout.connect:g}s"
    when = "answer" if sent else "connection"
    limit = "no limit" if timeout.total is None else f"{timeout.total:g}s"
    return f"no complete {when} within {limit}"


async def post_form(session: aiohttp.ClientSession, out: Outgoing) -> dict[str, Any]:
    """POST a login form (``out.data``) and return its JSON object; failures become SDK
    errors, and a refusal (a 4xx but 429) is an ``AuthenticationError``.

    ``out.secrets`` holds the form's credential values and any credential in its headers
    (HTTP Basic client credentials): none reaches an exception, even echoed back.
    """
    answer = await request_once(session, out)
    status, _, body = answer
    operation = out.operation
    if not 200 <= status < 300:
        raise status_error(answer, out.facts(), refusal=AuthenticationError)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        data = None
    if not isinstance(data, dict):
        # No excerpt: a half-broken login answer may still carry a token.
        raise ResponseDecodeError(
            f"{operation} answered a body that is not a JSON object",
            status=status,
            **out.context(),
        )
    return data
