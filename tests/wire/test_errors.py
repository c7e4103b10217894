"""The error tree and the mapping of error responses to exceptions (pure)."""

import json

import pytest

from activecalls_async import (
    ActiveCallsError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from activecalls_async._endpoints import ENDPOINTS
from activecalls_async.errors import FieldError, status_error_class
from tests.support import build, error_for

REQUEST = build(
    ENDPOINTS["hangupCall"], "https://h.example/api/v1/admin/accounts/1/activeCalls/", {"uii": "U9"}
)


def test_tree() -> None:
    assert issubclass(ValidationError, ActiveCallsError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(ClientClosedError, RuntimeError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APITimeoutError, TimeoutError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIStatusError)
        assert issubclass(cls, ActiveCallsError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIStatusError),
        (409, APIStatusError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
    ],
)
def test_status_mapping(status: int, cls: type[APIStatusError]) -> None:
    assert status_error_class(status) is cls
    error = error_for(REQUEST, status, b"", {})
    assert type(error) is cls
    assert error.status == status


def test_spec_errors_body_400() -> None:
    body = {
        "generalMessage": "Validation failed",
        "details": "sessionType is invalid",
        "developerMessage": "dev",
        "requestUri": "/api/v1/...",
        "timestamp": 1700000000000,
        "validationErrors": [
            {"attributeName": "sessionType", "message": "must be one of ...", "value": "LISTEN"}
        ],
    }
    error = error_for(REQUEST, 400, json.dumps(body).encode(), {})
    assert isinstance(error, BadRequestError)
    assert error.message == "Validation failed"
    assert error.details == "sessionType is invalid"
    assert error.field_errors == (FieldError("sessionType", "must be one of ...", "LISTEN"),)
    text = str(error)
    assert "HTTP 400" in text
    assert "sessionType: must be one of" in text
    assert "POST https://h.example/api/v1/admin/accounts/1/activeCalls/U9/hangupCall" in text


def test_documented_403_body() -> None:
    body = {
        "errorCode": "ACCESS_DENIED",
        "generalMessage": "Access is denied",
        "details": "not your account",
        "requestUri": "/x",
        "timestamp": 1,
    }
    error = error_for(REQUEST, 403, json.dumps(body).encode(), {})
    assert isinstance(error, PermissionDeniedError)
    assert error.error_code == "ACCESS_DENIED"
    assert "[ACCESS_DENIED]" in str(error)
    assert error.method == "POST"
    assert error.operation == "hangupCall"


def test_plain_text_401_expired() -> None:
    error = error_for(REQUEST, 401, b"Jwt is expired", {})
    assert isinstance(error, AuthenticationError)
    assert error.message == "Jwt is expired"
    assert error.token_expired


def test_plain_text_401_not_expired() -> None:
    error = error_for(REQUEST, 401, b"Invalid token", {})
    assert isinstance(error, AuthenticationError)
    assert not error.token_expired


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>Bad gateway</body></html>", b"\xff\xfe", b"[1, 2]", b"{not json"]
)
def test_empty_html_or_broken_bodies_fall_back_to_the_reason(body: bytes) -> None:
    error = error_for(REQUEST, 502, body, {})
    assert isinstance(error, ServerError)
    assert error.message
    assert "HTTP 502" in str(error)


def test_429_carries_retry_after() -> None:
    error = error_for(REQUEST, 429, b"", {"Retry-After": "12"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 12.0
    assert error_for(REQUEST, 429, b"", {}).retry_after is None


def test_body_excerpt_is_bounded_and_redacted() -> None:
    body = b'{"generalMessage": "bad", "accessToken": "s3cr3t-token-value"}' + b" " * 5000
    error = error_for(REQUEST, 500, body, {})
    assert "s3cr3t" not in error.body_excerpt
    assert "s3cr3t" not in str(error)
    assert len(error.body_excerpt) <= 501


def test_retries_show_in_the_message() -> None:
    error = error_for(REQUEST, 503, b"down", {})
    error.retries = 3
    assert str(error).endswith("after 3 retries")


def test_validation_error_names_the_parameter() -> None:
    error = ValidationError("ring_duration", "expected whole seconds")
    assert error.parameter == "ring_duration"
    assert str(error) == "ring_duration: expected whole seconds"
