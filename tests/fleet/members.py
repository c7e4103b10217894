"""An in-process fleet: members with their own ``RedisRateLimit`` and client, driving traffic
at a simulator that enforces the limit, so that a test can count what the server saw."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from activecalls_async import ActiveCallsClient, ActiveCallsError
from activecalls_async.fleet import RedisRateLimit
from activecalls_async.testing import API_OPERATIONS, Simulator


class Member:
    """``tasks`` tasks listing calls through one client and one ``RedisRateLimit``."""

    def __init__(self, sim: Simulator, limit: RedisRateLimit, tasks: int) -> None:
        self.limit = limit
        self.client = ActiveCallsClient(
            account_id=sim.account_id,
            auth=sim.token,
            base_url=sim.base_url,
            rate_limit=limit,
            retry=None,
            max_concurrency=tasks,
        )
        self.tasks = tasks
        self._product_id = int(sim.account_id)
        #: When each answered request was answered (``time.time()``).
        self.answered: list[float] = []
        #: The type of each SDK error raised to a task.
        self.errors: list[str] = []
        self._running: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._running = [asyncio.create_task(self._work()) for _ in range(self.tasks)]

    async def stop(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running = []

    async def _work(self) -> None:
        while True:
            try:
                await self.client.list_active_calls("ACCOUNT", self._product_id, max_rows=1)
                self.answered.append(time.time())
            except ActiveCallsError as exc:
                self.errors.append(type(exc).__name__)
                await asyncio.sleep(0.05)  # an error that comes at once must not spin


@contextlib.asynccontextmanager
async def fleet(
    sim: Simulator, limits: Iterable[RedisRateLimit], *, tasks: int = 4
) -> AsyncIterator[list[Member]]:
    """Members running traffic until the block ends; closes their clients and limiters."""
    members = [Member(sim, limit, tasks) for limit in limits]
    async with contextlib.AsyncExitStack() as stack:
        for member in members:
            await stack.enter_async_context(member.limit)
            await stack.enter_async_context(member.client)
            stack.push_async_callback(member.stop)
        for member in members:
            member.start()
        yield members


def statuses(sim: Simulator) -> Counter[int]:
    """How often the simulator answered each status to the API (logins left out)."""
    return Counter(r.status for r in sim.requests if r.operation in API_OPERATIONS)


async def until(condition: Callable[[], Any], timeout: float, step: float = 0.02) -> None:
    """Wait until ``condition()`` is true; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(step)
