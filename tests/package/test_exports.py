"""The public names are a contract: this pins them."""

import activecalls_async


def test_all_is_pinned() -> None:
    assert activecalls_async.__all__ == [
        "DEFAULT",
        "DEFAULT_BASE_URL",
        "RESULT_PRODUCTS",
        "APIConnectionError",
        "APIError",
        "APIStatusError",
        "APITimeoutError",
        "Account",
        "ActionRejectedError",
        "ActiveCall",
        "ActiveCallPage",
        "ActiveCallsClient",
        "ActiveCallsError",
        "ApiToken",
        "Auth",
        "AuthenticationError",
        "BadRequestError",
        "BearerToken",
        "CallEvent",
        "CallEventType",
        "CallOptions",
        "CallWalk",
        "CallWatch",
        "ClientClosedError",
        "ClientOptions",
        "ClientStats",
        "Default",
        "FanOut",
        "FieldError",
        "Limiter",
        "NotFoundError",
        "PageWalk",
        "PermissionDeniedError",
        "Priority",
        "PriorityOption",
        "Product",
        "QueueCheck",
        "RateLimit",
        "RateLimitError",
        "RawResponse",
        "ResponseDecodeError",
        "RetryClass",
        "RetryOption",
        "RetryPolicy",
        "RingCentralAuth",
        "ServerError",
        "SessionType",
        "Snapshot",
        "SnapshotWatch",
        "Target",
        "Timeout",
        "TimeoutOption",
        "ValidationError",
        "__version__",
    ]


def test_all_is_sorted_and_importable() -> None:
    names = activecalls_async.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.startswith("__"), n))
    for name in names:
        assert hasattr(activecalls_async, name), name


def test_every_request_error_is_an_api_error() -> None:
    errors = activecalls_async
    for name in (
        "APIConnectionError",
        "APITimeoutError",
        "APIStatusError",
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "RateLimitError",
        "ServerError",
        "ActionRejectedError",
        "ResponseDecodeError",
    ):
        assert issubclass(getattr(errors, name), errors.APIError), name
    assert not issubclass(errors.ValidationError, errors.APIError)
    assert not issubclass(errors.ClientClosedError, errors.APIError)


def test_names_kept_where_they_were_imported_from() -> None:
    from activecalls_async import client, limits, priority, ratelimit, stats, token_cache
    from activecalls_async.auth import StoredLogin, TokenCache

    assert ratelimit.RateLimit is limits.RateLimit
    assert ratelimit.Limiter is limits.Limiter
    assert priority.Priority is limits.Priority
    assert stats.ClientStats is limits.ClientStats
    assert token_cache.TokenCache is TokenCache
    assert token_cache.StoredLogin is StoredLogin
    assert client.DEFAULT is activecalls_async.DEFAULT
    assert client.TimeoutOption is activecalls_async.TimeoutOption
