"""Per-attempt timeouts, and cancellation that stops a request at once and harms nothing.

The timeouts are aiohttp's, timed by the event loop against servers that really are slow:
these waits are real, and kept to tenths of a second.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from activecalls_async import (
    ActiveCallsClient,
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    RateLimit,
    RetryPolicy,
)
from tests.support import ACCOUNT, client_tasks, serve, wait_until


class Slow:
    """Answers ``/list`` after ``delay`` seconds (``?maxRows=1`` at once) with 503s first."""

    def __init__(self, delay: float, failures: int = 0, retry_after: str | None = None) -> None:
        self.delay = delay
        self.failures = failures
        self.retry_after = retry_after
        self.seen = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        if self.seen <= self.failures:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.Response(status=503, headers=headers)
        if request.query.get("maxRows") != "1":
            await asyncio.sleep(self.delay)
        return web.json_response([])


def client_for(root: str, **options: object) -> ActiveCallsClient:
    settings: dict[str, object] = {"retry": None, "rate_limit": None, **options}
    return ActiveCallsClient(account_id=ACCOUNT, auth="tok-1", base_url=root, **settings)  # type: ignore[arg-type]


async def slow_list(client: ActiveCallsClient, **options: object) -> None:
    await client.list_active_calls("ACD", 55, **options)  # type: ignore[arg-type]


async def quick_list(client: ActiveCallsClient) -> None:
    await client.list_active_calls("ACD", 55, max_rows=1)


async def test_the_clients_timeout_bounds_an_attempt() -> None:
    async with serve(Slow(5.0).handle) as root, client_for(root, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await slow_list(client)
        assert time.monotonic() - started < 1.0
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.request_sent


async def test_a_per_call_timeout_overrides_the_clients() -> None:
    async with serve(Slow(0.3).handle) as root:
        async with client_for(root, timeout=30.0) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError):
                await slow_list(client, timeout=0.1)
            assert time.monotonic() - started < 0.4
        async with client_for(root, timeout=0.1) as client:
            await slow_list(client, timeout=None)  # None: no limit for this call
            await slow_list(client, timeout=2.0)


async def test_the_timeout_applies_to_each_attempt_not_to_all_of_them() -> None:
    server = Slow(5.0)
    policy = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)
    async with serve(server.handle) as root, client_for(root, timeout=0.2, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await slow_list(client)
        elapsed = time.monotonic() - started
    assert server.seen == 3
    assert caught.value.retries == 2
    assert 0.55 < elapsed < 1.5


async def test_cancelling_the_caller_returns_at_once_and_the_slot_waits_for_the_answer() -> None:
    server = Slow(0.6)
    async with serve(server.handle) as root, client_for(root, max_concurrency=1) as client:
        task = asyncio.create_task(slow_list(client))
        await wait_until(lambda: server.seen == 1)  # on the wire
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.2
        # The server is still serving it: the only concurrency slot stays taken until
        # the answer arrives, then the client works as before.
        await asyncio.wait_for(quick_list(client), 2.0)
        assert time.monotonic() - started > 0.4
        assert client_tasks() == []


async def test_a_cancelled_request_keeps_its_slot_no_longer_than_its_timeout() -> None:
    server = Slow(5.0)
    async with (
        serve(server.handle) as root,
        client_for(root, max_concurrency=1, timeout=0.3) as client,
    ):
        task = asyncio.create_task(slow_list(client))
        await wait_until(lambda: server.seen == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = time.monotonic()
        await asyncio.wait_for(quick_list(client), 2.0)
        assert time.monotonic() - started < 1.0
        assert client_tasks() == []


@pytest.mark.parametrize("borrowed", [False, True])
async def test_closing_the_client_ends_a_request_its_caller_abandoned(borrowed: bool) -> None:
    server = Slow(5.0)
    async with serve(server.handle) as root, aiohttp.ClientSession() as session:
        options: dict[str, object] = {"session": session} if borrowed else {}
        client = client_for(root, max_concurrency=1, **options)
        task = asyncio.create_task(slow_list(client))
        await wait_until(lambda: server.seen == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks() != set()  # still on the wire, holding its slot
        started = time.monotonic()
        await client.aclose()
        assert time.monotonic() - started < 0.5
        assert client_tasks() == []
        assert session.closed is False


async def test_cancelling_during_the_wait_between_attempts() -> None:
    server = Slow(0.0, failures=5, retry_after="10")
    policy = RetryPolicy(max_attempts=5, initial_delay=0.001)
    async with serve(server.handle) as root, client_for(root, retry=policy) as client:
        task = asyncio.create_task(slow_list(client))
        await wait_until(lambda: client.stats.retries == 1)  # waiting the ten seconds now
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.2
        assert server.seen == 1
        server.failures = 0
        await asyncio.wait_for(quick_list(client), 1.0)


async def test_cancelling_while_waiting_for_the_rate_limiter() -> None:
    limit = RateLimit(1, per=0.2, margin=0.0)
    async with serve(Slow(0.0).handle) as root, client_for(root, rate_limit=limit) as client:
        await quick_list(client)
        waiting = asyncio.create_task(quick_list(client))
        await wait_until(lambda: client.stats.waiting_for_limiter is not None)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # The limiter is not left locked by the cancelled waiter.
        await asyncio.wait_for(quick_list(client), 1.0)


async def test_closing_the_client_under_a_request_says_so() -> None:
    server = Slow(5.0)
    async with serve(server.handle) as root:
        client = client_for(root)
        task = asyncio.create_task(slow_list(client))
        await wait_until(lambda: server.seen == 1)
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await task
        with pytest.raises(ClientClosedError):
            await quick_list(client)
