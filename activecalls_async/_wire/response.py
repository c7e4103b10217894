"""Pure response decoding: a 2xx body into the endpoint's result, anything else into
the error for its status, with the server's words (no I/O).

Actions answer ``true`` (done) or ``false`` (declined, ``ActionRejectedError``). A
**201 Created** is also done, whatever its body says short of ``false``: an empty
body, ``true`` or anything else is success, never a decode error, never a retry.
A declined action keeps the server's words when it gave any, in
``ActionRejectedError.server_message``: text after ``false`` (``false: Agent is not on
the call``), or a JSON object whose ``result``, ``status`` or ``success`` is false,
with its ``message``, ``generalMessage`` and ``details``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from .._endpoints import ResponseKind
from .._redact import excerpt, mask, redact_url
from ..errors import (
    ActionRejectedError,
    APIStatusError,
    FieldError,
    ResponseDecodeError,
    status_error_class,
)
from ..models import Account
from .calls import decode_calls
from .convert import structure_queue_check
from .request import Request

#: An answer as read: its status, headers and whole body.
Answer = tuple[int, Mapping[str, str], bytes]

__all__ = [
    "RawResponse",
    "RequestFacts",
    "decode_response",
    "error_from_response",
    "parse_retry_after",
    "status_error",
    "structure_accounts",
]

_ACCOUNT_KEYS = ("accountId", "accountName", "mainAccountId")


@attrs.frozen
class RequestFacts:
    """What an error says of a request: the operation, the method and the URL (credentials
    removed), and the credential values sent, masked in anything the answer echoes."""

    operation: str
    method: str
    url: str
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, request: Request, secrets: Iterable[str]) -> RequestFacts:
        """The facts of ``request``, which carried ``secrets``."""
        secrets = tuple(secrets)
        return cls(request.operation, request.method, _safe_url(request, secrets), secrets)


def _safe_url(request: Request, secrets: Iterable[str]) -> str:
    """The request's URL for an error: any credential in it masked, the ones sent too
    (a caller may have put one in a path or a query value of any name)."""
    return mask(request.safe_url, secrets)


def _decode_error(
    request: Request, answer: Answer, why: str, secrets: Iterable[str]
) -> ResponseDecodeError:
    status, _, body = answer
    return ResponseDecodeError(
        f"{request.operation} answered a body that is not {request.endpoint.response.value}: {why}",
        operation=request.operation,
        method=request.method,
        url=_safe_url(request, secrets),
        status=status,
        body_excerpt=excerpt(body, secrets=secrets),
    )


@attrs.frozen(repr=False)
class RawResponse:
    """A 2xx answer as it came (``client.request(..., raw=True)``): status, headers, body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"<RawResponse {self.status} {len(self.body)} bytes>"

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` when it is not JSON."""
        return json.loads(self.body)


def decode_response(request: Request, answer: Answer, *, secrets: Iterable[str] = ()) -> Any:
    """Decode a 2xx answer into the endpoint's result; raise ResponseDecodeError or
    ActionRejectedError.

    ``secrets`` are the credential values the request carried, masked in any excerpt.
    """
    status, headers, body = answer
    kind = request.endpoint.response
    if kind is ResponseKind.RAW:
        return RawResponse(status, headers, body)
    if kind is ResponseKind.ACTION:
        declined, words = _declined(body, secrets)
        if declined:
            why = f": {words}" if words else " (it answered false)"
            raise ActionRejectedError(
                f"{request.operation} was declined by the server{why}",
                operation=request.operation,
                method=request.method,
                url=_safe_url(request, secrets),
                uii=request.uii,
                server_message=words,
            )
        said = body.strip().strip(b'"').lower()
        if said == b"true" or status == 201:  # 201 Created: done, whatever the body
            return None
        raise _decode_error(request, answer, "expected true or false", secrets)
    if kind is ResponseKind.ANY:
        return _any_body(body)
    if kind is ResponseKind.CALL_LIST:
        try:
            return decode_calls(body)
        except ValueError as exc:
            raise _decode_error(request, answer, str(exc), secrets) from None
    try:
        data = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise _decode_error(request, answer, f"invalid JSON ({exc})", secrets) from None
    try:
        if kind is ResponseKind.ACCOUNT_LIST:
            return structure_accounts(data)
        return structure_queue_check(data)
    except ValueError as exc:
        raise _decode_error(request, answer, str(exc), secrets) from None


#: The fields of a JSON answer that say an action failed when false, and those that say why.
_OUTCOME_KEYS = ("result", "status", "success")
_WORDS_KEYS = ("message", "generalMessage", "details")
#: The most of the server's words an ActionRejectedError keeps.
_WORDS_CHARS = 300


def _declined(body: bytes, secrets: Iterable[str]) -> tuple[bool, str | None]:
    """Whether an action's answer declines it, and the server's words when it gave any:
    ``false`` (no words), ``false`` followed by text (that text), or a JSON object whose
    ``result``, ``status`` or ``success`` is false (its ``message``, ``generalMessage``
    and ``details``)."""
    text = body.decode("utf-8", "replace").strip()
    unquoted = text.strip('"').strip()
    if unquoted.lower() == "false":
        return True, None
    head, rest = unquoted[:5], unquoted[5:]
    if head.lower() == "false" and rest[:1] and not (rest[0].isalnum() or rest[0] == "_"):
        return True, _words(rest.lstrip(" \t\r\n:;,.-=|"), secrets)
    if not text.startswith("{"):
        return False, None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False, None
    if not isinstance(data, dict):
        return False, None
    outcome = [data[key] for key in _OUTCOME_KEYS if key in data]
    if not any(value is False or str(value).lower() == "false" for value in outcome):
        return False, None
    said = [str(data[key]).strip() for key in _WORDS_KEYS if data.get(key) not in (None, "")]
    return True, _words(": ".join(dict.fromkeys(said)), secrets)


def _words(text: str, secrets: Iterable[str]) -> str | None:
    """The server's words on one line, bounded and with any credential masked."""
    line = " ".join(text.split())
    return excerpt(line, _WORDS_CHARS, secrets) if line else None


def _any_body(body: bytes) -> Any:
    """JSON when the body parses as JSON, else its text; None for an empty body."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")


def _id_text(value: Any) -> str | None:
    """An id sent as text or as a JSON number; None for anything else."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def structure_accounts(data: object) -> list[Account]:
    """Structure a decoded ``accounts`` body; raise ``ValueError`` saying what is wrong."""
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON array of accounts, got {type(data).__name__}")
    accounts = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"body[{index}]: expected an object, got {type(item).__name__}")
        account_id = _id_text(item.get("accountId"))
        if account_id is None:
            raise ValueError(f"body[{index}].accountId: expected a string or integer id")
        name = item.get("accountName")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"body[{index}].accountName: expected a string")
        main = item.get("mainAccountId")
        main_id = None if main is None else _id_text(main)
        if main is not None and main_id is None:
            raise ValueError(f"body[{index}].mainAccountId: expected a string or integer id")
        extra = {key: value for key, value in item.items() if key not in _ACCOUNT_KEYS}
        accounts.append(
            Account(account_id=account_id, account_name=name, main_account_id=main_id, extra=extra)
        )
    return accounts


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
    request: Request, answer: Answer, *, secrets: Iterable[str] = ()
) -> APIStatusError:
    """Map a non-2xx answer to the exception for its status, with the server's words.

    ``secrets`` are the credential values the request carried: a server that echoes
    one back (``Invalid token <token>``) never gets it into the exception.
    """
    return status_error(answer, RequestFacts.of(request, secrets))


def status_error(
    answer: Answer, facts: RequestFacts, refusal: type[APIStatusError] | None = None
) -> APIStatusError:
    """The exception for any non-2xx answer (API or login); ``refusal`` replaces the
    class of a 4xx other than 429, as a login's refusals are all authentication errors.
    """
    status, headers, body = answer
    secrets = facts.secrets

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
        operation=facts.operation,
        method=facts.method,
        url=facts.url,
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
