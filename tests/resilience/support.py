"""Helpers for the resilience tests: fast retry policies and tiny scripted servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from activecalls_async import RetryPolicy

ACCOUNT = "12440001"
#: Retries that wait at most 10 ms, so that a test pays for behaviour, not for sleeping.
FAST = RetryPolicy(max_attempts=8, initial_delay=0.001, max_delay=0.01)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """Serve every path with ``handler`` on 127.0.0.1; yields the root URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def silent_tcp() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP server on 127.0.0.1 that accepts, reads, and never answers.

    Yields its port and the bytes each connection sent, so a test can tell a request
    that reached the server from one that never got past the handshake.
    """
    received: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[object]] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        writers.append(writer)
        index = len(received)
        received.append(b"")
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received[index] += chunk

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


def client_side_tasks() -> set[asyncio.Task[object]]:
    """Tasks still pending besides the caller's, leaving out servers' request handlers."""
    current = asyncio.current_task()
    return {
        task
        for task in asyncio.all_tasks()
        if task is not current and "aiohttp/web_" not in task.get_coro().cr_code.co_filename  # type: ignore[union-attr]
    }
