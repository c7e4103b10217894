"""Shared helpers for the listing tests: an in-memory listing server and task checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from activecalls_async import ActiveCall, ActiveCallsClient
from activecalls_async.testing import Simulator

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


def client_for(sim: Simulator, **options: object) -> ActiveCallsClient:
    """A client of the simulator's account (options override the defaults)."""
    return ActiveCallsClient(
        account_id=sim.account_id,
        auth=sim.token,
        base_url=sim.base_url,
        **options,  # type: ignore[arg-type]
    )


def list_requests(sim: Simulator) -> list[tuple[int, int]]:
    """The (page, maxRows) of every list request the simulator received, in order."""
    return [
        (int(r.param("page") or 0), int(r.param("maxRows") or 0))
        for r in sim.requests
        if r.operation == "list"
    ]


async def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds: for state (a server's log, a counter) that has no
    event to wait on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)
