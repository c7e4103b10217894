"""Pure request building and response decoding over endpoint descriptors (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from . import _validators as v
from ._convert import structure_calls, structure_queue_check
from ._endpoints import Endpoint, ResponseKind
from ._redact import excerpt, redact_url
from .errors import (
    ActionRejectedError,
    APIStatusError,
    FieldError,
    ResponseDecodeError,
    ValidationError,
    status_error_class,
)

__all__ = [
    "Request",
    "api_prefix",
    "build_request",
    "decode_response",
    "error_from_response",
    "parse_retry_after",
]

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@attrs.frozen
class Request:
    """A request ready to send: its descriptor, method and fully encoded URL."""

    endpoint: Endpoint
    method: str
    url: str
    uii: str | None = None

    @property
    def operation(self) -> str:
        """The operation's wire name, e.g. ``addSessionToCall``."""
        return self.endpoint.operation

    @property
    def safe_url(self) -> str:
        """The URL with any credential removed, for logs and errors."""
        return redact_url(self.url)


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def api_prefix(base_url: str, account_id: Any, *, allow_insecure_http: bool = False) -> str:
    """Return ``{base_url}/api/v1/admin/accounts/{accountId}/activeCalls/``, checked."""
    if not isinstance(base_url, str):
        raise ValidationError("base_url", f"expected a URL string; got {base_url!r}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("base_url", f"expected an http(s) URL; got {redact_url(base_url)!r}")
    if parts.query or parts.fragment:
        raise ValidationError("base_url", "must not carry a query string or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not allow_insecure_http:
        raise ValidationError(
            "base_url",
            "plain http:// to a non-loopback host would send credentials in clear text; "
            "use https:// or pass allow_insecure_http=True",
        )
    account = v.path_segment("account_id", account_id)
    return f"{base_url.strip().rstrip('/')}/api/v1/admin/accounts/{account}/activeCalls/"


def build_request(endpoint: Endpoint, prefix: str, args: Mapping[str, Any]) -> Request:
    """Check ``args`` (Python names) and build the request; raise ValidationError on bad input."""
    if endpoint.check is not None:
        endpoint.check(args)
    uii: str | None = None
    path = endpoint.path
    if endpoint.takes_uii:
        uii = v.path_segment("uii", args.get("uii"))
        path = path.replace("{uii}", uii)
    query = []
    for param in endpoint.params:
        value = args.get(param.name)
        if value is None:
            if param.required:
                raise ValidationError(param.name, "is required")
            continue
        # quote(safe="") sends "+" as %2B and "@" as %40: a bare "+" would decode as a space.
        query.append(f"{param.wire}={quote(param.encode(param.name, value), safe='')}")
    url = prefix + path + ("?" + "&".join(query) if query else "")
    return Request(endpoint, endpoint.method, url, uii)


def _decode_error(request: Request, status: int, body: bytes, why: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"{request.operation} answered a body that is not {request.endpoint.response.value}: {why}",
        operation=request.operation,
        method=request.method,
        url=request.safe_url,
        status=status,
        body_excerpt=excerpt(body),
    )


def decode_response(request: Request, status: int, body: bytes) -> Any:
    """Decode a 2xx body into the endpoint's result; raise ResponseDecodeError or
    ActionRejectedError."""
    kind = request.endpoint.response
    if kind is ResponseKind.ACTION:
        answer = body.strip().strip(b'"').lower()
        if answer == b"true":
            return None
        if answer == b"false":
            raise ActionRejectedError(
                f"{request.operation} was declined by the server (it answered false)",
                operation=request.operation,
                method=request.method,
                url=request.safe_url,
                uii=request.uii,
            )
        raise _decode_error(request, status, body, "expected true or false")
    try:
        data = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise _decode_error(request, status, body, f"invalid JSON ({exc})") from None
    try:
        if kind is ResponseKind.CALL_LIST:
            return structure_calls(data)
        return structure_queue_check(data)
    except ValueError as exc:
        raise _decode_error(request, status, body, str(exc)) from None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _field_errors(raw: Any) -> list[FieldError]:
    if not isinstance(raw, list):
        return []
    return [
        FieldError(
            _text(item.get("attributeName")), _text(item.get("message")), _text(item.get("value"))
        )
        for item in raw
        if isinstance(item, dict)
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    request: Request, status: int, body: bytes, headers: Mapping[str, str]
) -> APIStatusError:
    """Map an error response to the exception for its status, with the server's words."""
    text = body.decode("utf-8", "replace").strip()
    message, code, details, fields = None, None, None, []
    try:
        data = json.loads(text) if text[:1] in ("{", "[") else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        code = _text(data.get("errorCode") or data.get("error"))
        message = _text(data.get("generalMessage") or data.get("message"))
        details = _text(data.get("details") or data.get("developerMessage"))
        fields = _field_errors(data.get("validationErrors"))
    elif text and text[:1] != "<":
        message = text.splitlines()[0]
    cls = status_error_class(status)
    return cls(
        excerpt(message, 300) if message else _REASONS.get(status, "error status"),
        status=status,
        operation=request.operation,
        method=request.method,
        url=request.safe_url,
        error_code=code,
        details=excerpt(details, 300) if details else None,
        field_errors=fields,
        body_excerpt=excerpt(body),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
