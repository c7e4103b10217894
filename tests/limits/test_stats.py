"""``ClientStats``: counters the transport records, read as read-only snapshots."""

from __future__ import annotations

import time

import pytest

from activecalls_async import ClientStats, Priority, RateLimit


def test_a_new_client_has_spent_nothing() -> None:
    stats = ClientStats()
    assert (stats.requests, stats.rate_limited, stats.retries) == (0, 0, 0)
    assert dict(stats.by_operation) == {}
    assert dict(stats.by_status) == {}
    assert dict(stats.waited) == dict.fromkeys(Priority, 0.0)
    assert stats.in_window is None


def test_attempts_are_counted_by_operation_status_and_priority() -> None:
    stats = ClientStats()
    stats.record_attempt("list", 200, Priority.BULK, 0.75)
    stats.record_attempt("list", 429, Priority.BULK, 1.0)
    stats.record_retry()
    stats.record_attempt("list", None, Priority.BULK, 0.0)  # no answer: connection lost
    stats.record_retry()
    stats.record_attempt("list", 200, Priority.BULK, 0.0)
    stats.record_attempt("hangupCall", 404, Priority.ACTION, 0.125)
    assert stats.requests == 5
    assert dict(stats.by_operation) == {"list": 4, "hangupCall": 1}
    assert dict(stats.by_status) == {200: 2, 429: 1, 404: 1}
    assert stats.rate_limited == 1
    assert stats.retries == 2
    assert stats.waited == {
        Priority.BULK: 1.75,
        Priority.WATCH: 0.0,
        Priority.READ: 0.0,
        Priority.ACTION: 0.125,
    }


def test_readings_are_snapshots_that_cannot_be_written() -> None:
    stats = ClientStats()
    stats.record_attempt("list", 200, Priority.READ, 0.5)
    by_operation, by_status, waited = stats.by_operation, stats.by_status, stats.waited
    stats.record_attempt("list", 500, Priority.READ, 1.0)
    assert dict(by_operation) == {"list": 1}
    assert dict(by_status) == {200: 1}
    assert waited[Priority.READ] == 0.5
    with pytest.raises(TypeError):
        by_operation["list"] = 7  # type: ignore[index]
    with pytest.raises(TypeError):
        by_status[200] = 7  # type: ignore[index]
    with pytest.raises(TypeError):
        waited[Priority.READ] = 7.0  # type: ignore[index]
    assert stats.by_operation["list"] == 2


async def test_in_window_is_read_from_the_rate_limiter() -> None:
    limit = RateLimit(10, per=60.0)
    stats = ClientStats(limit)
    assert stats.in_window == 0
    await limit.acquire(Priority.ACTION)
    await limit.acquire(Priority.BULK)
    assert stats.in_window == 2
    await limit.release()
    assert stats.in_window == 2  # answered, still inside the window


def test_in_window_is_none_for_a_limiter_that_does_not_count() -> None:
    class Silent:
        async def acquire(self, priority: Priority = Priority.READ) -> None:
            pass

        async def release(self) -> None:
            pass

    class Odd(Silent):
        in_window = True  # not a count

    assert ClientStats(Silent()).in_window is None
    assert ClientStats(Odd()).in_window is None


def test_repr_shows_the_headline_counts() -> None:
    stats = ClientStats(RateLimit(5))
    stats.record_attempt("list", 429, Priority.WATCH, 0.0)
    stats.record_retry()
    assert repr(stats) == "ClientStats(requests=1, rate_limited=1, retries=1, in_window=0)"


def test_the_longest_wait_for_the_limiter_in_progress_is_visible() -> None:
    stats = ClientStats()
    assert stats.waiting_for_limiter is None
    first = stats.limiter_wait_started()
    time.sleep(0.02)  # a real wait: ClientStats times waits on the monotonic clock, not a given one
    second = stats.limiter_wait_started()
    waited = stats.waiting_for_limiter
    assert waited is not None
    assert waited >= 0.02
    stats.limiter_wait_ended(first)
    waited = stats.waiting_for_limiter
    assert waited is not None
    assert waited < 0.02
    stats.limiter_wait_ended(second)
    assert stats.waiting_for_limiter is None
