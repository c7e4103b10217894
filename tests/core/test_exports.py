"""The public names are a contract: this pins them."""

import activecalls_async


def test_all_is_pinned() -> None:
    assert activecalls_async.__all__ == [
        "DEFAULT",
        "DEFAULT_BASE_URL",
        "RESULT_PRODUCTS",
        "APIConnectionError",
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
        "TimeoutOption",
        "ValidationError",
        "__version__",
    ]


def test_all_is_sorted_and_importable() -> None:
    names = activecalls_async.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.startswith("__"), n))
    for name in names:
        assert hasattr(activecalls_async, name), name
