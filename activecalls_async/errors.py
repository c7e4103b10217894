"""Exceptions raised by activecalls-async.

Every exception the SDK raises on purpose derives from ``ActiveCallsError``::

    ActiveCallsError
    ├── ValidationError (ValueError)       bad input; raised before any request is sent
    ├── ClientClosedError (RuntimeError)   the client was used after ``aclose()``
    ├── fleet.RedisRefusedError            Redis refuses the fleet and no share is known
    └── APIError                           a request failed: the base of the errors below
        ├── APIConnectionError             no HTTP response was received
        │   └── APITimeoutError (TimeoutError) the attempt ran out of time
        ├── APIStatusError                 an error status, or a 3xx (never followed)
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404 (for a call: the call has ended)
        │   ├── RateLimitError             429 (``retry_after``)
        │   └── ServerError                5xx
        ├── ActionRejectedError            an action answered ``false`` (``server_message``)
        └── ResponseDecodeError            a 2xx body not in the documented shape

Every ``APIError`` carries the operation, the HTTP method and the URL (never a
credential: credentials travel in headers, which are never kept), and ``retries``, the
number of retries taken before it was raised: ``except APIError`` catches every failed
request and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ActionRejectedError",
    "ActiveCallsError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "FieldError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "ValidationError",
    "status_error_class",
]


class ActiveCallsError(Exception):
    """Base class of every error this SDK raises on purpose."""


class ValidationError(ActiveCallsError, ValueError):
    """A parameter is invalid; raised before anything is sent."""

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class ClientClosedError(ActiveCallsError, RuntimeError):
    """The client was used after it was closed."""


class APIError(ActiveCallsError):
    """A request failed: the base of every error tied to one request (its operation,
    HTTP method and URL, and the retries taken)."""

    def __init__(
        self, message: str, *, operation: str = "", method: str = "", url: str = ""
    ) -> None:
        self.message = message
        self.operation = operation
        self.method = method
        self.url = url
        self.retries = 0
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}{self._context()}"

    def _context(self) -> str:
        """The tail every request error's text ends with: the request, and the retries."""
        where = f" ({self.method} {self.url})" if self.method else ""
        tries = f" after {self.retries} retries" if self.retries else ""
        return f"{where}{tries}"


class APIConnectionError(APIError):
    """No HTTP response was received (connection refused, reset or dropped)."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        method: str = "",
        url: str = "",
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, operation=operation, method=method, url=url)
        # False only when the connection failed before the request left this process,
        # so the server cannot have acted on it.
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request attempt did not complete within its timeout."""


@attrs.frozen
class FieldError:
    """One entry of the server's ``validationErrors`` list."""

    attribute: str | None
    message: str | None
    value: str | None = None


class APIStatusError(APIError):
    """The server answered with an HTTP error status, or a redirect (never followed)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        operation: str = "",
        method: str = "",
        url: str = "",
        error_code: str | None = None,
        details: str | None = None,
        field_errors: Sequence[FieldError] = (),
        body_excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, operation=operation, method=method, url=url)
        self.status = status
        self.error_code = error_code
        self.details = details
        self.field_errors = tuple(field_errors)
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f" [{self.error_code}]" if self.error_code else ""
        details = f": {self.details}" if self.details and self.details != self.message else ""
        fields = "".join(f"; {f.attribute}: {f.message}" for f in self.field_errors)
        return f"HTTP {self.status}{code}: {self.message}{details}{fields}{self._context()}"


class BadRequestError(APIStatusError):
    """400: the server refused the parameters."""


class AuthenticationError(APIStatusError):
    """401: the credentials are missing, unknown or expired."""

    @property
    def token_expired(self) -> bool:
        """Whether the server said the token has expired (so a refresh may help)."""
        return "expired" in f"{self.message} {self.details or ''}".lower()


class PermissionDeniedError(APIStatusError):
    """403: the credentials may not act on this account or resource."""


class NotFoundError(APIStatusError):
    """404: no such resource; for a call, it has ended."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long to wait, when known."""


class ServerError(APIStatusError):
    """5xx: the server failed."""


class ActionRejectedError(APIError):
    """An action answered ``false``: the server declined to do it.

    ``server_message`` holds the server's own words when it gave any (a JSON
    ``message``/``generalMessage``/``details``, or text after ``false``), else None; the
    error's text ends with them.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        method: str,
        url: str,
        uii: str | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, method=method, url=url)
        self.uii = uii
        self.server_message = server_message


class ResponseDecodeError(APIError):
    """A successful response whose body is not in the documented shape."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        method: str = "",
        url: str = "",
        status: int = 200,
        body_excerpt: str = "",
    ) -> None:
        super().__init__(message, operation=operation, method=method, url=url)
        self.status = status
        self.body_excerpt = body_excerpt


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)
