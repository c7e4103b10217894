"""The API's response bodies: successes, the spec's Errors body, 401/403/429 forms."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp import web

from ._params import Problem

_dumps = msgspec.json.Encoder().encode


def wall_ms() -> int:
    """The real time in epoch milliseconds (error timestamps are wall-clock, as the API's)."""
    return int(time.time() * 1000)


def json_ok(data: Any, *, status: int = 200) -> web.Response:
    """A JSON response."""
    return web.Response(body=_dumps(data), status=status, content_type="application/json")


def boolean(result: bool) -> web.Response:
    """An action's ``text/plain`` ``true``/``false`` answer."""
    return web.Response(text="true" if result else "false", content_type="text/plain")


def errors(
    status: int,
    request: web.Request,
    general: str,
    details: str,
    *,
    problems: Iterable[Problem] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The spec's ``Errors`` body (400/404/429/5xx) with its validation entries."""
    body = {
        "generalMessage": general,
        "details": details,
        "developerMessage": f"{request.method} {request.path}: {details}",
        "requestUri": request.path,
        "timestamp": wall_ms(),
        "validationErrors": [problem.wire() for problem in problems],
    }
    return web.Response(
        body=_dumps(body), status=status, content_type="application/json", headers=headers
    )


def invalid(request: web.Request, problems: list[Problem]) -> web.Response:
    """400 naming every rejected parameter."""
    names = ", ".join(problem.attribute for problem in problems)
    return errors(400, request, "Bad Request", f"Invalid parameters: {names}", problems=problems)


def not_found(request: web.Request, details: str) -> web.Response:
    """404 with the Errors body."""
    return errors(404, request, "Not Found", details)


def forbidden(request: web.Request, account_id: str) -> web.Response:
    """403 for an account the token may not act on."""
    body = {
        "errorCode": "ACCESS_DENIED",
        "generalMessage": "Forbidden",
        "details": f"Access to account {account_id} is denied",
        "requestUri": request.path,
        "timestamp": wall_ms(),
    }
    return web.Response(body=_dumps(body), status=403, content_type="application/json")


def unauthorized(message: str) -> web.Response:
    """401 with the plain-text body the API sends (``Jwt is expired`` and friends)."""
    return web.Response(
        text=message,
        status=401,
        content_type="text/plain",
        headers={"WWW-Authenticate": 'Bearer realm="ringcx"'},
    )


def too_many(request: web.Request, retry_after: int, details: str) -> web.Response:
    """429 with ``Retry-After`` in whole seconds."""
    return errors(
        429,
        request,
        "Too Many Requests",
        details,
        headers={"Retry-After": str(retry_after)},
    )


def oauth_error(status: int, error: str, description: str) -> web.Response:
    """An OAuth 2 error body, as the RingCentral token endpoint sends."""
    return json_ok({"error": error, "error_description": description}, status=status)
