"""Helpers the tests share: fast retries, scripted servers, in-memory listings, task checks,
waits for a condition, a loop clock that jumps, and the real programs some tests drive.

Fixtures come from the SDK's own pytest plugin (``activecalls_simulator``,
``activecalls_client``, ``activecalls_client_factory``, their ``*_options`` overrides and
markers); these are plain functions and classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from activecalls_async import ActiveCall, APIStatusError, Priority, RetryPolicy
from activecalls_async import _validators as check
from activecalls_async._endpoints import Endpoint
from activecalls_async._wire.request import RawCall, Request, build_raw_request, build_request
from activecalls_async._wire.request import admin_root as root_of
from activecalls_async._wire.request import api_prefix as prefix_of
from activecalls_async._wire.response import decode_response, error_from_response
from activecalls_async.limits import Limiter
from activecalls_async.options import CallOptions
from activecalls_async.pagination import FanOut, PageWalk, Target
from activecalls_async.testing import Simulator
from activecalls_async.watch import CallWatch, SnapshotWatch, WatchPace

ACCOUNT = "12440001"
#: Retries that wait at most 10 ms, so that a test pays for behaviour, not for sleeping.
FAST = RetryPolicy(max_attempts=8, initial_delay=0.001, max_delay=0.01)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI=true``), where a missing program is a failure."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need_program(name: str, hint: str) -> str:
    """The ``name`` executable on PATH. Without it the test is skipped with ``hint``, except
    in CI, where it fails: ``.ci/run`` installs every program the tests drive."""
    found = shutil.which(name)
    if found is None:
        if in_ci():
            pytest.fail(f"{hint} (CI=true: these tests must run)", pytrace=False)
        pytest.skip(hint)
    return found


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


_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_call(number: int, *, tag: str = "") -> ActiveCall:
    """A distinct call (fresh strings and times), like one decoded from a response."""
    return ActiveCall(
        uii=f"{tag}{number:030d}",
        account_id="12440001",
        ani=f"650{number % 10_000_000:07d}",
        dnis="8661234567",
        enqueue_time=_EPOCH + timedelta(seconds=number),
        call_state="ACTIVE",
        agent_first_name=f"Agent{number}",
        agent_last_name=f"Number{number}",
        destination_name=f"Queue {number % 97}",
        cnam=f"CALLER {number}",
    )


def make_calls(count: int, *, tag: str = "") -> list[ActiveCall]:
    """``count`` distinct calls in listing order."""
    return [make_call(n, tag=tag) for n in range(count)]


class FakeListing:
    """A listing served from memory, with the server behaviours a walk must survive.

    ``cap`` silently lowers ``maxRows``; the offset is ``page * capped size`` unless
    ``offset_by_request`` (then ``page * maxRows`` as asked). ``ignore_page`` serves
    page 0 whatever is asked. ``delay(page)`` is awaited before answering.
    ``before_page(page)`` runs when a request arrives (to change the listing mid-walk).
    """

    def __init__(
        self,
        calls: Sequence[ActiveCall],
        *,
        cap: int | None = None,
        offset_by_request: bool = False,
        ignore_page: bool = False,
        delay: Callable[[int], float] | float = 0.0,
        before_page: Callable[[int], None] | None = None,
        fail_page: int | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.calls = list(calls)
        self.cap = cap
        self.offset_by_request = offset_by_request
        self.ignore_page = ignore_page
        self.delay = delay
        self.before_page = before_page
        self.fail_page = fail_page
        self.fail_with = fail_with
        self.requests: list[tuple[int, int]] = []
        #: How many walks a test opened over it (a watch's polls).
        self.walks = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0
        self.answered = 0

    async def fetch(self, page: int, max_rows: int) -> Sequence[ActiveCall]:
        self.requests.append((page, max_rows))
        if self.before_page is not None:
            self.before_page(page)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            delay = self.delay(page) if callable(self.delay) else self.delay
            if delay:
                await asyncio.sleep(delay)
            if page == self.fail_page:
                assert self.fail_with is not None
                raise self.fail_with
            size = max_rows if self.cap is None else min(max_rows, self.cap)
            number = 0 if self.ignore_page else page
            start = number * (max_rows if self.offset_by_request else size)
            self.answered += 1
            return self.calls[start : start + size]
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def _is_server_task(task: asyncio.Task[object]) -> bool:
    """Whether a task belongs to the simulator or the aiohttp server it runs on."""
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    filename = code.co_filename if code is not None else ""
    return "aiohttp/web" in filename or "activecalls_async/testing" in filename


def client_tasks() -> list[asyncio.Task[object]]:
    """Pending tasks other than the current one and the simulator's own."""
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current and not task.done() and not _is_server_task(task)
    ]


async def assert_no_tasks_left(*, within: int = 100, on_the_wire: float = 2.0) -> None:
    """Fail unless every client-side task has finished after a few loop iterations.

    A request whose caller left is let finish its exchange (it keeps its concurrency
    slot until answered), for at most ``on_the_wire`` seconds.
    """
    for _ in range(within):
        if not client_tasks():
            return
        await asyncio.sleep(0)
    deadline = asyncio.get_running_loop().time() + on_the_wire
    while all(_on_the_wire(task) for task in client_tasks()):
        if not client_tasks() or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    if client_tasks():
        raise AssertionError(f"tasks still pending: {client_tasks()!r}")


def _on_the_wire(task: asyncio.Task[object]) -> bool:
    return getattr(task.get_coro(), "__qualname__", "") == "Transport._on_the_wire"


def list_requests(sim: Simulator) -> list[tuple[int, int]]:
    """The (page, maxRows) of every list request the simulator received, in order."""
    return [
        (int(r.param("page") or 0), int(r.param("maxRows") or 0))
        for r in sim.requests
        if r.operation == "list"
    ]


def serving(sim: Simulator, operation: str = "list") -> int:
    """How many requests of ``operation`` the simulator is serving now (arrived, unanswered)."""
    return sum(1 for r in sim.requests if r.operation == operation and r.status == 0)


def max_in_flight(sim: Simulator, operation: str = "list") -> int:
    """The most requests of ``operation`` the simulator was serving at once."""
    spans = [(r.started, r.finished) for r in sim.requests if r.operation == operation]
    return max(
        (sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans),
        default=0,
    )


async def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds: for state (a server's log, a counter) that has no
    event to wait on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


async def wait_for_arrival(sim: Simulator, operation: str, count: int = 1) -> None:
    """Wait until ``count`` requests of ``operation`` have reached the simulator (answered or
    still being served): a request is in flight, not merely scheduled."""
    await wait_until(lambda: sum(r.operation == operation for r in sim.requests) >= count)


# -- virtual time ------------------------------------------------------------------------


class LoopClock:
    """Moves the running event loop's clock ahead on demand, so that code timing itself on
    the loop (``loop.time()``) sees a long wait that took no time. Timers already set fall
    due as the clock passes them, as they would after a real wait."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self._real = loop.time
        self.ahead = 0.0
        monkeypatch.setattr(loop, "time", self.now)

    def now(self) -> float:
        """The loop's time: the real one plus every jump."""
        return self._real() + self.ahead

    def jump(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead at once."""
        self.ahead += seconds


class JumpingSelector:
    """Wraps a selector so that waiting for a timer moves the loop's clock instead."""

    def __init__(self, selector: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._selector = selector
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = self._selector.select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self._loop.now += timeout
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer: minutes of waiting take no time."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(JumpingSelector(selectors.DefaultSelector(), self))  # type: ignore[arg-type]

    def time(self) -> float:
        return self.now


def virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on a ``VirtualTimeLoop`` (for code with no real I/O)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def now() -> float:
    """The running loop's time: the clock to give what a virtual-time test drives."""
    return asyncio.get_running_loop().time()


# -- the pure wire, called as the transport calls it ----------------------------------

#: The options a request carries when a test builds one by hand.
OPTIONS = CallOptions(aiohttp.ClientTimeout(total=30.0), None, Priority.READ)


def build(endpoint: Endpoint, prefix: str, args: Mapping[str, Any]) -> Request:
    """``build_request`` with the options a test does not care about."""
    return build_request(endpoint, prefix, args, OPTIONS)


def build_raw(method: object, path: object, root: str, **call: Any) -> Request:
    """``build_raw_request`` for ``client.request``'s arguments (``params``, ``json_body``,
    ``retry_class``, ``raw``)."""
    return build_raw_request(RawCall(method, path, **call), root, OPTIONS)


def decode(
    request: Request, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> Any:
    """``decode_response`` of an answer given by its parts."""
    return decode_response(request, (status, headers or {}, body))


def error_for(
    request: Request, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> APIStatusError:
    """``error_from_response`` of an answer given by its parts."""
    return error_from_response(request, (status, headers or {}, body))


def api_prefix(base_url: str, account_id: object, *, allow_insecure_http: bool = False) -> str:
    """The ``activeCalls`` prefix of a base URL as a client checks and builds it."""
    checked = check.base_url("base_url", base_url, allow_insecure_http=allow_insecure_http)
    return prefix_of(checked, account_id)


def admin_root(base_url: str) -> str:
    """The admin root of a base URL as a client checks and builds it."""
    return root_of(check.base_url("base_url", base_url))


# -- watches over in-memory listings ---------------------------------------------------


def call_watch(
    open_walk: Callable[[], PageWalk],
    *,
    interval: float,
    budget_share: float = 0.5,
    limiter: Limiter | None = None,
    label: str = "listing",
    initial_events: bool = True,
) -> CallWatch:
    """A ``CallWatch`` over walks a test opens itself."""
    pace = WatchPace(interval, budget_share, limiter)
    return CallWatch(open_walk, pace, initial_events=initial_events, label=label)


def snapshot_watch(
    open_walk: Callable[[Target], PageWalk],
    targets: Sequence[Target],
    *,
    interval: float,
    concurrency: int,
    budget_share: float = 0.5,
    limiter: Limiter | None = None,
    initial_events: bool = True,
) -> SnapshotWatch:
    """A ``SnapshotWatch`` over walks a test opens itself, one per target."""

    def open_fan_out() -> FanOut:
        return FanOut(
            lambda target, _: open_walk(target),
            targets,
            concurrency=concurrency,
            on_error="collect",
        )

    pace = WatchPace(interval, budget_share, limiter)
    return SnapshotWatch(open_fan_out, pace, initial_events=initial_events)
