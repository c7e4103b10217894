"""RetryPolicy on its own: which failures are retried for each retry class, and the waits."""

from __future__ import annotations

import random
import ssl

import pytest

from activecalls_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from activecalls_async._endpoints import ENDPOINTS, RetryClass

IDEMPOTENT, AT_MOST_ONCE = RetryClass.IDEMPOTENT, RetryClass.AT_MOST_ONCE


def status(cls: type[Exception], code: int, retry_after: float | None = None) -> Exception:
    return cls("failed", status=code, retry_after=retry_after)  # type: ignore[call-arg]


def tls_failure() -> APIConnectionError:
    error = APIConnectionError("could not connect", request_sent=False)
    error.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    return error


# (failure, retried for reads and harmless actions, retried for at-most-once actions)
CASES = [
    pytest.param(status(RateLimitError, 429), True, True, id="429"),
    pytest.param(status(ServerError, 502), True, False, id="502"),
    pytest.param(status(ServerError, 503), True, False, id="503"),
    pytest.param(status(ServerError, 504), True, False, id="504"),
    pytest.param(status(ServerError, 500), False, False, id="500"),
    pytest.param(status(BadRequestError, 400), False, False, id="400"),
    pytest.param(status(AuthenticationError, 401), False, False, id="401"),
    pytest.param(status(PermissionDeniedError, 403), False, False, id="403"),
    pytest.param(status(NotFoundError, 404), False, False, id="404"),
    pytest.param(APIConnectionError("reset", request_sent=True), True, False, id="conn-sent"),
    pytest.param(APIConnectionError("refused", request_sent=False), True, True, id="conn-unsent"),
    pytest.param(APITimeoutError("slow", request_sent=True), True, False, id="timeout-sent"),
    pytest.param(APITimeoutError("slow", request_sent=False), True, True, id="timeout-unsent"),
    pytest.param(ResponseDecodeError("garbled"), True, False, id="malformed-2xx"),
    pytest.param(tls_failure(), False, False, id="tls"),
    pytest.param(ValidationError("x", "bad"), False, False, id="validation"),
]


@pytest.mark.parametrize(("failure", "read", "action"), CASES)
def test_what_each_retry_class_retries(failure: Exception, read: bool, action: bool) -> None:
    policy = RetryPolicy()
    assert policy.should_retry(failure, IDEMPOTENT) is read
    assert policy.should_retry(failure, AT_MOST_ONCE) is action


def test_retry_classes_of_the_operations() -> None:
    harmless = {
        "list",
        "checkQueueStatus",
        "checkQueueThreshold",
        "toggleCallRecording",
        "pingCall",
        "toggleCallHold",
        "accounts",
    }
    classes = {name: endpoint.retry for name, endpoint in ENDPOINTS.items()}
    assert {name for name, c in classes.items() if c is IDEMPOTENT} == harmless
    assert {name for name, c in classes.items() if c is AT_MOST_ONCE} == {
        "createManualAgentCall",
        "addSessionToCall",
        "dispositionCall",
        "hangupCall",
        "hangupSession",
        "requeueCall",
        "hangupSessionById",
    }


@pytest.mark.parametrize("retry_class", [IDEMPOTENT, AT_MOST_ONCE])
def test_a_retry_after_beyond_the_cap_is_not_waited_for(retry_class: RetryClass) -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.should_retry(status(RateLimitError, 429, 30.0), retry_class)
    assert not policy.should_retry(status(RateLimitError, 429, 30.5), retry_class)
    # The cap holds for any status that carries Retry-After, not only 429.
    assert not policy.should_retry(status(ServerError, 503, 3600.0), retry_class)


def test_retry_statuses_are_configurable() -> None:
    policy = RetryPolicy(retry_statuses={500, 429})
    assert policy.retry_statuses == frozenset({500, 429})
    assert hash(policy)  # a policy stays usable as a key
    assert policy.should_retry(status(ServerError, 500), IDEMPOTENT)
    assert not policy.should_retry(status(ServerError, 503), IDEMPOTENT)
    assert not RetryPolicy(retry_statuses=()).should_retry(
        status(RateLimitError, 429), AT_MOST_ONCE
    )


def waits(policy: RetryPolicy, failures: list[Exception]) -> list[float]:
    """Drive the wait generator the way backoff does: prime it, then send each failure."""
    generator = policy.delays()
    next(generator)
    return [generator.send(failure) for failure in failures]


def test_waits_are_capped_exponential_with_full_jitter() -> None:
    random.seed(1234)
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=5.0)
    runs = [waits(policy, [status(ServerError, 503)] * 6) for _ in range(400)]
    for attempt, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0, 5.0]):
        column = [run[attempt] for run in runs]
        assert all(0.0 <= wait <= ceiling for wait in column)
        # Full jitter: the waits spread over the whole range, not around the ceiling.
        assert min(column) < 0.1 * ceiling
        assert max(column) > 0.9 * ceiling


def test_retry_after_is_waited_for_exactly() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=2.0)
    assert waits(policy, [status(RateLimitError, 429, 7.0), status(ServerError, 503, 0.0)]) == [
        7.0,
        0.0,
    ]


def test_many_attempts_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=5000, initial_delay=0.5, multiplier=10.0, max_delay=3.0)
    assert all(0.0 <= wait <= 3.0 for wait in waits(policy, [status(ServerError, 503)] * 4000))


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 1.5}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"initial_delay": -1}, "initial_delay"),
        ({"initial_delay": float("nan")}, "initial_delay"),
        ({"initial_delay": "0.5"}, "initial_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"max_delay": False}, "max_delay"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"max_retry_after": -1}, "max_retry_after"),
        ({"max_retry_after": float("nan")}, "max_retry_after"),
        ({"retry_statuses": 503}, "retry_statuses"),
        ({"retry_statuses": {"503"}}, "retry_statuses"),
        ({"retry_statuses": {True}}, "retry_statuses"),
        ({"retry_statuses": {42}}, "retry_statuses"),
    ],
)
def test_bad_policies_are_refused(options: dict[str, object], parameter: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RetryPolicy(**options)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


def test_edge_policies_are_fine() -> None:
    policy = RetryPolicy(
        max_attempts=1, initial_delay=0, max_delay=0, multiplier=1, max_retry_after=0
    )
    assert policy.max_attempts == 1
    assert RetryPolicy(retry_statuses=[500, 503]).retry_statuses == frozenset({500, 503})


@pytest.mark.parametrize(
    ("initial_delay", "multiplier", "max_delay"),
    [(0.0, 10.0, 3.0), (1e-300, 1e10, 3.0), (0.5, 1.0, 3.0)],
)
def test_waits_stay_under_the_cap_however_many_retries(
    initial_delay: float, multiplier: float, max_delay: float
) -> None:
    policy = RetryPolicy(
        max_attempts=5000, initial_delay=initial_delay, multiplier=multiplier, max_delay=max_delay
    )
    found = waits(policy, [status(ServerError, 503)] * 4000)
    assert all(0.0 <= wait <= max_delay for wait in found)
    if initial_delay == 0.0:
        assert set(found) == {0.0}
