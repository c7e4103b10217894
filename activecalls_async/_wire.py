"""Pure request building and response decoding over endpoint descriptors (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import attrs

from . import _validators as v
from ._convert import structure_queue_check
from ._decode import decode_calls
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
    "status_error",
]


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


def api_prefix(base_url: str, account_id: Any, *, allow_insecure_http: bool = False) -> str:
    """Return ``{base_url}/api/v1/admin/accounts/{accountId}/activeCalls/``, checked."""
    root = v.base_url("base_url", base_url, allow_insecure_http=allow_insecure_http)
    account = v.path_segment("account_id", account_id)
    return f"{root}/api/v1/admin/accounts/{account}/activeCalls/"


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


def _decode_error(
    request: Request, status: int, body: bytes, why: str, secrets: Iterable[str]
) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"{request.operation} answered a body that is not {request.endpoint.response.value}: {why}",
        operation=request.operation,
        method=request.method,
        url=request.safe_url,
        status=status,
        body_excerpt=excerpt(body, secrets=secrets),
    )


def decode_response(
    request: Request, status: int, body: bytes, *, secrets: Iterable[str] = ()
) -> Any:
    """Decode a 2xx body into the endpoint's result; raise ResponseDecodeError or
    ActionRejectedError.

    ``secrets`` are the credential values the request carried, masked in any excerpt.
    """
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
        raise _decode_error(request, status, body, "expected true or false", secrets)
    if kind is ResponseKind.CALL_LIST:
        try:
            return decode_calls(body)
        except ValueError as exc:
            raise _decode_error(request, status, body, str(exc), secrets) from None
    try:
        data = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise _decode_error(request, status, body, f"invalid JSON ({exc})", secrets) from None
    try:
        return structure_queue_check(data)
    except ValueError as exc:
        raise _decode_error(request, status, body, str(exc), secrets) from None


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


def error_from_response(
    request: Request,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Iterable[str] = (),
) -> APIStatusError:
    """Map a non-2xx response to the exception for its status, with the server's words.

    ``secrets`` are the credential values the request carried: a server that echoes
    one back (``Invalid token <token>``) never gets it into the exception.
    """
    return status_error(
        status,
        body,
        headers,
        operation=request.operation,
        method=request.method,
        url=request.safe_url,
        secrets=secrets,
    )


def status_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    operation: str,
    method: str,
    url: str,
    secrets: Iterable[str] = (),
    refusal: type[APIStatusError] | None = None,
) -> APIStatusError:
    """The exception for any non-2xx answer (API or login); ``refusal`` replaces the
    class of a 4xx other than 429, as a login's refusals are all authentication errors.
    """
    secrets = tuple(secrets)

    def clean(value: Any, limit: int = 300) -> str | None:
        return None if value is None else excerpt(str(value), limit, secrets)

    text = body.decode("utf-8", "replace").strip()
    message, code, details, fields = None, None, None, []
    try:
        data = json.loads(text) if text[:1] in ("{", "[") else None
    except (ValueError, RecursionError):  # not JSON, or absurdly nested
        data = None
    if isinstance(data, dict):
        code = clean(data.get("errorCode") or data.get("error"))
        message = clean(
            data.get("generalMessage") or data.get("message") or data.get("error_description")
        )
        details = clean(data.get("details") or data.get("developerMessage"))
        raw_fields = data.get("validationErrors")
        if isinstance(raw_fields, list):
            fields = [
                FieldError(
                    clean(item.get("attributeName")),
                    clean(item.get("message")),
                    clean(item.get("value")),
                )
                for item in raw_fields
                if isinstance(item, dict)
            ]
    elif text and text[:1] != "<":
        message = clean(text.splitlines()[0])
    if 300 <= status < 400:
        # Redirects are never followed: a login page or another host is not the API.
        message = clean(f"redirected to {_redirect_target(headers.get('Location'))}; not followed")
    cls = status_error_class(status)
    if refusal is not None and 400 <= status < 500 and status != 429:
        cls = refusal
    return cls(
        message or _reason_phrase(status),
        status=status,
        operation=operation,
        method=method,
        url=url,
        error_code=code,
        details=details,
        field_errors=fields,
        body_excerpt=excerpt(body, secrets=secrets),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def _redirect_target(location: str | None) -> str:
    """Where a redirect pointed, without credentials, query or fragment."""
    if not location:
        return "an unnamed location"
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return "an unparsable location"
    netloc = parts.netloc.rpartition("@")[2]
    return redact_url(urlunsplit((parts.scheme, netloc, parts.path, "", ""))) or "/"


def _reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` ("Not Found"), for a body that says nothing."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error status"
