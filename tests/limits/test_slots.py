"""The server never serves more than ``max_concurrency`` requests of one client at once,
and waiting requests get slots by priority, without starving the lowest."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from activecalls_async import ActiveCallsClient, Priority
from activecalls_async.limits.slots import PrioritySlots
from tests.support import ACCOUNT, FAST, now, serve, virtual, wait_until


class CountingServer:
    """Listings of fixed sizes, answered after ``latency``; counts requests being served.

    A request stays counted until its handler ends, whether or not the client is still
    there to read the answer: that is the server's own view of the load.
    """

    def __init__(self, sizes: dict[str, int], latency: float) -> None:
        self.sizes = sizes
        self.latency = latency
        self.serving = 0
        self.most = 0
        self.seen = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        self.serving += 1
        self.most = max(self.most, self.serving)
        try:
            await asyncio.sleep(self.latency)
            product = request.query["product"]
            page, rows = int(request.query["page"]), int(request.query["maxRows"])
            first = page * rows
            last = min(self.sizes[product], first + rows)
            return web.json_response([{"uii": f"{product}-{n}"} for n in range(first, last)])
        finally:
            self.serving -= 1


@pytest.mark.parametrize("fan_outs", [1, 2])
async def test_walks_dropping_prefetched_pages_never_exceed_the_limit_at_the_server(
    fan_outs: int,
) -> None:
    server = CountingServer({"ACD": 45, "ACCOUNT": 1000}, latency=0.05)
    async with (
        serve(server.handle) as root,
        ActiveCallsClient(
            account_id=ACCOUNT,
            auth="tok-123456789",
            base_url=root,
            rate_limit=None,
            retry=FAST,
            max_concurrency=10,
            page_size=10,
        ) as client,
    ):

        async def fan_out() -> int:
            targets = [("ACD", 55), ("ACCOUNT", int(ACCOUNT))]
            return len([c async for c in client.iter_active_calls_many(targets)])

        assert await asyncio.gather(*(fan_out() for _ in range(fan_outs))) == [1045] * fan_outs
        # Requests abandoned past the end of a listing are still being answered.
        await wait_until(lambda: not server.serving)
    assert server.seen > 105 * fan_outs  # it did walk every page
    assert server.most <= 10


def test_an_action_overtakes_queued_bulk_at_the_slots() -> None:
    order: list[str] = []

    async def main() -> int:
        slots = PrioritySlots(1, clock=now)

        async def take(name: str, priority: Priority) -> None:
            await slots.acquire(priority)
            order.append(name)
            await asyncio.sleep(0.01)  # the request's time on the wire (virtual)
            slots.release()

        await slots.acquire(Priority.BULK)  # the one slot is busy
        bulk = [asyncio.create_task(take(f"bulk{i}", Priority.BULK)) for i in range(3)]
        await asyncio.sleep(0)
        read = asyncio.create_task(take("read", Priority.READ))
        action = asyncio.create_task(take("action", Priority.ACTION))
        await asyncio.sleep(0)
        waiting = slots.waiting
        slots.release()
        await asyncio.gather(*bulk, read, action)
        return waiting

    assert virtual(main) == 5
    assert order == ["action", "read", "bulk0", "bulk1", "bulk2"]  # FIFO within BULK


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_bulk_ages_and_is_never_starved_by_a_stream_of_actions() -> None:
    clock = Clock()
    slots = PrioritySlots(1, aging=1.0, clock=clock)
    await slots.acquire(Priority.ACTION)
    served: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await slots.acquire(priority)
        served.append(name)

    bulk = asyncio.create_task(take("bulk", Priority.BULK))
    for step in range(10):
        clock.now += 1.0  # every second a new action arrives and the slot frees
        actions = asyncio.create_task(take(f"action{step}", Priority.ACTION))
        await asyncio.sleep(0)
        slots.release()
        await asyncio.sleep(0)
        if "bulk" in served:
            break
        await actions
    await bulk
    # Fresh actions went first until BULK's wait raised it to ACTION rank (3 s); having
    # waited longest, it then went ahead of the next newcomer.
    assert served.index("bulk") == 3
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()


async def test_a_cancelled_waiter_takes_no_slot_and_blocks_nobody() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(Priority.BULK)
    first = asyncio.create_task(slots.acquire(Priority.ACTION))
    second = asyncio.create_task(slots.acquire(Priority.BULK))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    slots.release()
    await asyncio.wait_for(second, 1.0)
    assert (slots.held, slots.waiting) == (1, 0)


async def test_a_slot_granted_to_a_waiter_cancelled_meanwhile_goes_back() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(Priority.BULK)
    waiter = asyncio.create_task(slots.acquire(Priority.ACTION))
    await asyncio.sleep(0)
    slots.release()  # granted to the waiter, which has not run yet
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (slots.held, slots.waiting) == (0, 0)
