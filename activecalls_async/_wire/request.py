"""Pure request building over endpoint descriptors (no I/O).

``build_request`` checks a call's arguments against its descriptor and encodes them;
``build_raw_request`` does the same for ``client.request``'s any-path requests. Every
request carries the ``CallOptions`` its call was resolved to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from .. import _validators as check
from .._endpoints import Endpoint, ResponseKind, RetryClass, Scope
from .._redact import redact_url
from ..errors import ValidationError
from ..options import CallOptions

__all__ = [
    "METHODS",
    "RawCall",
    "Request",
    "admin_root",
    "api_prefix",
    "build_raw_request",
    "build_request",
]


#: Query values that stand as they are in a URL.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")

#: The methods ``client.request`` sends.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@attrs.frozen
class Request:
    """A request ready to send: its descriptor, fully encoded URL, options and JSON body."""

    endpoint: Endpoint
    url: str
    options: CallOptions
    uii: str | None = None
    #: A JSON body, already encoded (only ``client.request`` sends one).
    body: bytes | None = None

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.endpoint.method

    @property
    def operation(self) -> str:
        """The operation's wire name, e.g. ``addSessionToCall``."""
        return self.endpoint.operation

    @property
    def safe_url(self) -> str:
        """The URL with any credential removed, for logs and errors."""
        return redact_url(self.url)

    def page(self, page: int, max_rows: int) -> Request:
        """This listing request for one page (built without ``page`` and ``maxRows``)."""
        joint = "&" if "?" in self.url else "?"
        return Request(
            self.endpoint, f"{self.url}{joint}page={page}&maxRows={max_rows}", self.options
        )


def admin_root(base_url: str) -> str:
    """``{base_url}/api/v1/admin/``, the root of ``ADMIN``-scope paths (``base_url``
    already checked by the client)."""
    return f"{base_url}/api/v1/admin/"


def api_prefix(base_url: str, account_id: Any) -> str:
    """``{base_url}/api/v1/admin/accounts/{accountId}/activeCalls/``, the account checked."""
    account = check.path_segment("account_id", account_id)
    return f"{admin_root(base_url)}accounts/{account}/activeCalls/"


def build_request(
    endpoint: Endpoint, prefix: str, args: Mapping[str, Any], options: CallOptions
) -> Request:
    """Check ``args`` (Python names) and build the request; raise ValidationError on bad input.

    ``prefix`` is the URL the endpoint's scope is relative to (``api_prefix`` or
    ``admin_root``). A name the descriptor does not declare raises ``TypeError``: a
    misspelt argument must not be dropped silently.
    """
    if not endpoint.arguments.issuperset(args):
        unknown = set(args) - endpoint.arguments
        raise TypeError(
            f"{endpoint.operation} got unexpected argument(s): {', '.join(sorted(unknown))}"
        )
    if endpoint.check is not None:
        endpoint.check(args)
    uii: str | None = None
    path = endpoint.path
    if endpoint.takes_uii:
        uii = check.path_segment("uii", args.get("uii"))
        path = path.replace("{uii}", uii)
    query = []
    for param in endpoint.params:
        value = args.get(param.name)
        if value is None:
            if param.required:
                raise ValidationError(param.name, "is required")
            continue
        query.append(f"{param.wire}={_quoted(param.encode(param.name, value))}")
    url = prefix + path + ("?" + "&".join(query) if query else "")
    return Request(endpoint, url, options, uii)


@attrs.frozen
class RawCall:
    """What ``client.request`` was asked to send, before it is checked."""

    method: object
    path: object
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    retry_class: RetryClass | str | None = None
    #: Whether the caller wants the answer itself (a ``RawResponse``), not its data.
    raw: bool = False


def _quoted(text: str) -> str:
    """``text`` as a query value: ``quote(safe="")`` sends "+" as %2B and "@" as %40 (a
    bare "+" would decode as a space); most values (ids, enums) need no quoting at all."""
    return text if _PLAIN.fullmatch(text) else quote(text, safe="")


def build_raw_request(call: RawCall, root: str, options: CallOptions) -> Request:
    """Check and build a request to any admin API path (``client.request``).

    ``path`` is relative to ``root`` (``admin_root``) and each of its ``/``-separated
    segments must be a plain identifier, as a ``uii`` is: no ``..``, no leading ``/``,
    no empty segment, no ``?``, ``#`` or ``%``. ``params`` values are text, ints,
    finite floats, bools (``true``/``false``), ``None`` (left out) or lists of these
    (the key repeated). The retry class defaults to idempotent for GET, at most once
    for anything else.
    """
    method, path = call.method, call.path
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValidationError("method", f"expected one of {', '.join(sorted(METHODS))}")
    method = method.upper()
    if not isinstance(path, str) or not path:
        raise ValidationError("path", "expected a path relative to /api/v1/admin/")
    if path.startswith("/"):
        raise ValidationError("path", "must be relative to /api/v1/admin/ (no leading '/')")
    segments = [check.path_segment("path", segment) for segment in path.split("/")]
    query = []
    for key, value in (call.params or {}).items():
        if not isinstance(key, str) or not key or not check.is_utf8(key):
            raise ValidationError("params", f"expected parameter names as text; got {key!r}")
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is not None:
                text = quote(_param_text(f"params[{key!r}]", item), safe="")
                query.append(f"{quote(key, safe='')}={text}")
    body = None
    if call.json_body is not None:
        try:
            body = json.dumps(call.json_body, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValidationError("json", f"cannot be sent as JSON: {exc}") from None
    if call.retry_class is None:
        retry = RetryClass.IDEMPOTENT if method == "GET" else RetryClass.AT_MOST_ONCE
    else:
        retry = _retry_class(call.retry_class)
    clean = "/".join(segments)
    kind = ResponseKind.RAW if call.raw else ResponseKind.ANY
    endpoint = Endpoint(clean, method, clean, (), kind, retry, scope=Scope.ADMIN)
    url = root + clean + ("?" + "&".join(query) if query else "")
    return Request(endpoint, url, options, body=body)


def _param_text(name: str, value: Any) -> str:
    """One ``params`` value as wire text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return check.integer(name, value)
    if isinstance(value, float) and check.finite_number(value) is not None:
        return repr(value)
    if isinstance(value, str) and check.is_utf8(value):
        return value
    raise ValidationError(name, "expected text, a 64-bit int, a finite float, a bool or None")


def _retry_class(value: RetryClass | str) -> RetryClass:
    if isinstance(value, RetryClass):
        return value
    for member in RetryClass:
        if isinstance(value, str) and value.strip().lower().replace("_", "-") in (
            member.value,
            member.name.lower().replace("_", "-"),
        ):
            return member
    choices = ", ".join(repr(m.value) for m in RetryClass)
    raise ValidationError("retry_class", f"expected a RetryClass or one of {choices}")
