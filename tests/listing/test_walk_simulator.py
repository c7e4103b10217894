"""``iter_active_calls`` and ``iter_active_call_pages`` end to end against the simulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from activecalls_async import ActiveCallPage, ActiveCallsClient, CallWalk, ValidationError
from activecalls_async.testing import Faults, Simulator

from .helpers import assert_no_tasks_left, client_for, list_requests, wait_until

ACCOUNT = "12440001"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=300, seed=7, rate_limit=None) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[ActiveCallsClient]:
    async with client_for(sim) as active_calls:
        yield active_calls


async def collect_uiis(walk: CallWalk) -> list[str]:
    async with walk:
        return [call.uii async for call in walk]


def wire_uiis(sim: Simulator, product: str = "ACCOUNT", product_id: int | None = None) -> list[str]:
    return [row["uii"] for row in sim.wire_calls(product, product_id)]


@pytest.mark.parametrize(
    ("page_size", "expected"),
    [
        (100, [(0, 100), (1, 100), (2, 100), (3, 100)]),  # 300 calls: an exact multiple
        (7, None),
        (1000, [(0, 1000), (1, 300)]),
    ],
)
async def test_every_call_once_in_listing_order(
    sim: Simulator,
    client: ActiveCallsClient,
    page_size: int,
    expected: list[tuple[int, int]] | None,
) -> None:
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=page_size)]
    assert got == wire_uiis(sim)
    assert len(got) == 300
    if expected is not None:
        assert list_requests(sim) == expected


async def test_a_product_listing(sim: Simulator, client: ActiveCallsClient) -> None:
    product, product_id = sim.targets()[1]
    got = [c.uii async for c in client.iter_active_calls(product, product_id, page_size=10)]
    assert got == wire_uiis(sim, product, product_id)
    assert got


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_the_silent_cap(sim: Simulator, client: ActiveCallsClient, prefetch: int) -> None:
    sim.faults = Faults(max_rows_cap=40)
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=100, prefetch=prefetch)
    got = [c.uii async for c in walk]
    assert got == wire_uiis(sim)
    requests = list_requests(sim)
    assert requests[:2] == [(0, 100), (1, 40)]
    # 300 = 7 full pages of 40 and one of 20: the short page 7 ends the walk.
    assert max(page for page, _ in requests) <= 7 + prefetch - 1


async def test_the_ignored_page(
    sim: Simulator, client: ActiveCallsClient, caplog: pytest.LogCaptureFixture
) -> None:
    sim.faults = Faults(ignore_page=True)
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=100)
    got = await asyncio.wait_for(collect_uiis(walk), 5)  # a spinning walk would never end
    assert got == wire_uiis(sim)[:100]
    assert list_requests(sim) == [(0, 100), (1, 100)]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_arrivals_mid_walk_shift_rows_without_doubling(
    sim: Simulator, client: ActiveCallsClient, prefetch: int
) -> None:
    before = set(wire_uiis(sim))
    early = datetime(2020, 1, 1, tzinfo=timezone.utc)
    product, product_id = "ACD", None
    seen: list[str] = []
    async for page in client.iter_active_call_pages(
        "ACCOUNT", ACCOUNT, page_size=50, prefetch=prefetch
    ):
        assert isinstance(page, ActiveCallPage)
        seen.extend(call.uii for call in page.calls)
        # Calls that sort ahead of every row arrive: every later row moves down by 5.
        for _ in range(5):
            sim.add_call(product=product, product_id=product_id, enqueue_time=early)
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


async def test_ends_mid_walk_never_double_a_call(sim: Simulator, client: ActiveCallsClient) -> None:
    seen: list[str] = []
    async for page in client.iter_active_call_pages("ACCOUNT", ACCOUNT, page_size=50):
        seen.extend(call.uii for call in page.calls)
        for uii in [c.uii for c in page.calls[:3]]:
            sim.end_call(uii)
    assert len(seen) == len(set(seen))
    # Calls moved onto pages already read are missed; the next walk sees them all.
    again = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=50)]
    assert again == wire_uiis(sim)


CLOSE_MODES = ["break", "error", "cancel"]


@pytest.mark.parametrize("prefetch", [1, 3])
@pytest.mark.parametrize("mode", CLOSE_MODES)
async def test_leaving_early_closes_everything_and_the_client_stays_usable(
    sim: Simulator, client: ActiveCallsClient, mode: str, prefetch: int
) -> None:
    sim.faults = Faults(latency=0.05)
    got: list[str] = []

    async def consume() -> None:
        async for call in client.iter_active_calls(
            "ACCOUNT", ACCOUNT, page_size=20, prefetch=prefetch
        ):
            got.append(call.uii)
            if len(got) == 25:  # page 1's call: later pages are in flight now
                await asyncio.sleep(0.01)
                if mode == "break":
                    break
                if mode == "error":
                    raise LookupError("consumer failed")
                await asyncio.sleep(10)  # cancelled from outside

    task = asyncio.create_task(consume())
    if mode == "cancel":
        await wait_until(lambda: len(got) >= 25)
        await asyncio.sleep(0.02)
        task.cancel()
    if mode == "error":
        with pytest.raises(LookupError):
            await task
    elif mode == "cancel":
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await task
    await assert_no_tasks_left()
    sim.faults = Faults()
    assert len(await client.list_active_calls("ACCOUNT", ACCOUNT, max_rows=5)) == 5
    whole = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, prefetch=prefetch)]
    assert whole == wire_uiis(sim)


async def test_bad_arguments_are_refused_when_the_walk_is_made(
    sim: Simulator, client: ActiveCallsClient
) -> None:
    with pytest.raises(ValidationError, match="product"):
        client.iter_active_calls("NOT_A_PRODUCT", 1)
    with pytest.raises(ValidationError, match="product"):
        client.iter_active_call_pages(product_id=5)
    with pytest.raises(ValidationError, match="page_size"):
        client.iter_active_calls("ACD", 55, page_size=0)
    with pytest.raises(ValidationError, match="prefetch"):
        client.iter_active_calls("ACD", 55, prefetch=0)
    with pytest.raises(ValidationError, match="max_items"):
        client.iter_active_calls("ACD", 55, max_items=-1)
    with pytest.raises(ValidationError, match="timeout"):
        client.iter_active_calls("ACD", 55, timeout=-1)
    assert sim.requests == []


async def test_external_id_listing(sim: Simulator, client: ActiveCallsClient) -> None:
    external_id = sim.wire_calls()[0]["externalId"]
    expected = [row["uii"] for row in sim.wire_calls() if row["externalId"] == external_id]
    got = [c.uii async for c in client.iter_active_calls(external_id=external_id)]
    assert got == expected
