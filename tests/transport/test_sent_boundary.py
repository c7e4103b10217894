"""Over real sockets: an at-most-once action is repeated only if it never left this process.

The transport learns from aiohttp's trace hooks whether a request got as far as its
first written byte. Before that (refused, hung TLS handshake) any action may be tried
again; after it (a dropped connection, a silent server) only reads and harmless actions.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from activecalls_async import (
    ActiveCallsClient,
    APIConnectionError,
    APITimeoutError,
    RetryPolicy,
    RingCentralAuth,
)
from tests.support import ACCOUNT, FAST, serve, silent_tcp, wait_until

THREE = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)


def client_for(base_url: str, **options: object) -> ActiveCallsClient:
    settings: dict[str, object] = {"retry": THREE, "rate_limit": None, **options}
    return ActiveCallsClient(account_id=ACCOUNT, auth="tok-1", base_url=base_url, **settings)  # type: ignore[arg-type]


async def dial(client: ActiveCallsClient) -> None:
    await client.create_manual_agent_call(
        username="agent@example.com", destination="6501234567", ring_duration=5,
        caller_id="1234567890",
    )  # fmt: skip


class DropFirst:
    """Reads each request, drops the connection without answering the first ``drops``."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.seen: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.path)
        if len(self.seen) <= self.drops:
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPServiceUnavailable()  # goes nowhere: the connection is gone
        if request.path.endswith("/list"):
            return web.json_response([])
        return web.Response(text="true")


async def test_a_dropped_action_is_not_repeated() -> None:
    server = DropFirst(drops=1)
    async with serve(server.handle) as root, client_for(root) as client:
        with pytest.raises(APIConnectionError) as caught:
            await dial(client)
    assert caught.value.request_sent
    assert caught.value.retries == 0
    assert len(server.seen) == 1


async def test_a_dropped_read_is_repeated() -> None:
    server = DropFirst(drops=2)
    async with serve(server.handle) as root, client_for(root) as client:
        assert await client.list_active_calls("ACD", 55) == []
    assert len(server.seen) == 3


async def test_an_action_that_cannot_connect_is_repeated() -> None:
    async with silent_tcp() as (port, _):
        pass  # the port is closed again: connecting to it is refused
    async with client_for(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(APIConnectionError) as caught:
            await dial(client)
    assert not caught.value.request_sent
    assert caught.value.retries == 2


async def test_an_action_timing_out_in_the_tls_handshake_is_repeated() -> None:
    # The server accepts TCP but never answers the TLS hello: the attempt times out
    # while connecting, so the request line was never written.
    async with silent_tcp() as (port, received):
        client = client_for(f"https://127.0.0.1:{port}", timeout=0.2)
        async with client:
            with pytest.raises(APITimeoutError) as caught:
                await dial(client)
    assert not caught.value.request_sent
    assert caught.value.retries == 2
    assert len(received) == 3
    assert not any(b"createManualAgentCall" in data for data in received)


async def test_an_action_timing_out_after_it_was_sent_is_not_repeated() -> None:
    async with silent_tcp() as (port, received):
        client = client_for(f"http://127.0.0.1:{port}", timeout=0.2)
        async with client:
            with pytest.raises(APITimeoutError) as caught:
                await dial(client)
            await wait_until(lambda: bool(received and received[0]))  # the server read it
    assert caught.value.request_sent
    assert caught.value.retries == 0
    assert len(received) == 1
    assert b"POST " in received[0]


async def test_a_login_timing_out_in_the_tls_handshake_was_not_sent() -> None:
    # Login requests go through the same path as API calls, trace included.
    async with silent_tcp() as (port, received):
        root = f"https://127.0.0.1:{port}"
        auth = RingCentralAuth("rc-token-1", auth_url=root, timeout=0.2)
        async with ActiveCallsClient(
            account_id=ACCOUNT, auth=auth, base_url=root, retry=None, rate_limit=None
        ) as client:
            with pytest.raises(APITimeoutError) as caught:
                await client.list_active_calls("ACD", 55)
    assert caught.value.operation == "auth.exchange"
    assert not caught.value.request_sent
    assert "connection" in str(caught.value)
    assert not any(b"accesstoken" in data for data in received)


async def test_a_borrowed_session_counts_every_failure_as_possibly_sent() -> None:
    # Without the transport's own trace there is no proof the request stayed here, so
    # even the hung handshake counts as "may have been sent"; reads are retried anyway.
    async with silent_tcp() as (port, received), aiohttp.ClientSession() as session:
        base = f"https://127.0.0.1:{port}"
        async with client_for(base, timeout=0.2, session=session) as client:
            with pytest.raises(APITimeoutError) as caught:
                await dial(client)
            assert caught.value.request_sent
            assert len(received) == 1
            with pytest.raises(APITimeoutError):
                await client.list_active_calls("ACD", 55)
            assert len(received) == 4


class StaleKeepAlive:
    """Answers the first request with keep-alive, then closes its socket without reading on."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if not await reader.readuntil(b"\r\n\r\n"):
                return
            self.requests += 1
            body = b"true" if self.connections > 1 else b"[]"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            # The server's idle timeout strikes as the client reuses the connection:
            # the next request arrives at a socket that is closed without answering.
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_a_post_meeting_a_stale_keep_alive_connection_is_not_repeated() -> None:
    # The known ambiguity: the server closed the pooled connection without reading the
    # request, but nothing on the wire tells that apart from "acted, then crashed".
    # The action is reported, not repeated (as Go's net/http and RFC 9112 §9.3.1 do).
    stale = StaleKeepAlive()
    server = await asyncio.start_server(stale.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client_for(f"http://127.0.0.1:{port}", retry=FAST) as client:
            assert await client.list_active_calls("ACD", 55) == []
            with pytest.raises(APIConnectionError) as caught:
                await dial(client)
            assert caught.value.request_sent
            assert caught.value.retries == 0
            await dial(client)  # a fresh connection works
    finally:
        server.close()
        await server.wait_closed()
    assert stale.requests == 2
