"""``iter_active_calls`` and ``iter_active_call_pages`` end to end against the simulator."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

import pytest

from activecalls_async import ActiveCallPage, ActiveCallsClient, CallWalk, ValidationError
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import (
    assert_no_tasks_left,
    list_requests,
    max_in_flight,
    serving,
    wait_until,
)

ACCOUNT = "12440001"


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 300, "seed": 7, "rate_limit": None}


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
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    page_size: int,
    expected: list[tuple[int, int]] | None,
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=page_size, prefetch=1)
    got = [c.uii async for c in walk]
    assert got == wire_uiis(sim)
    assert len(got) == 300
    if expected is not None:
        assert list_requests(sim) == expected


async def test_a_product_listing(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    product, product_id = sim.targets()[1]
    got = [c.uii async for c in client.iter_active_calls(product, product_id, page_size=10)]
    assert got == wire_uiis(sim, product, product_id)
    assert got


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_the_silent_cap(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, prefetch: int
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(max_rows_cap=40)
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=100, prefetch=prefetch)
    got = [c.uii async for c in walk]
    assert got == wire_uiis(sim)
    requests = list_requests(sim)
    assert requests[:2] == [(0, 100), (1, 40)]
    # 300 = 7 full pages of 40 and one of 20: the short page 7 ends the walk.
    assert max(page for page, _ in requests) <= 7 + prefetch - 1


async def test_the_ignored_page(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(ignore_page=True)
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=100, prefetch=1)
    got = await asyncio.wait_for(collect_uiis(walk), 5)  # a spinning walk would never end
    assert got == wire_uiis(sim)[:100]
    # Page 1 repeats page 0; page 0 asked again at 100 still starts the same: ignored.
    assert list_requests(sim) == [(0, 100), (1, 100), (0, 100)]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_arrivals_mid_walk_shift_rows_without_doubling(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, prefetch: int
) -> None:
    sim, client = activecalls_simulator, activecalls_client
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


async def test_ends_mid_walk_never_double_a_call(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
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
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    mode: str,
    prefetch: int,
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(latency=0.05)
    got: list[str] = []
    parked = asyncio.Event()

    async def consume() -> None:
        async for call in client.iter_active_calls(
            "ACCOUNT", ACCOUNT, page_size=20, prefetch=prefetch
        ):
            got.append(call.uii)
            if len(got) == 25:  # page 1's call: later pages are on the wire
                await wait_until(lambda: serving(sim) > 0)
                if mode == "break":
                    break
                if mode == "error":
                    raise LookupError("consumer failed")
                parked.set()
                await asyncio.Event().wait()  # until cancelled from outside

    task = asyncio.create_task(consume())
    if mode == "cancel":
        await parked.wait()
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
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
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


async def test_external_id_listing(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    external_id = sim.wire_calls()[0]["externalId"]
    expected = [row["uii"] for row in sim.wire_calls() if row["externalId"] == external_id]
    got = [c.uii async for c in client.iter_active_calls(external_id=external_id)]
    assert got == expected


@pytest.mark.activecalls_simulator(calls=0, seed=1)
async def test_a_call_arriving_during_the_probe_does_not_shrink_later_walks(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    # Issue reproducer, end to end: ACD 55 holds one call; one more arrives as page 1 is
    # asked. Then ACCOUNT (300 calls) must still be walked at page_size=100.
    sim, client = activecalls_simulator, activecalls_client
    sim.add_call(product="ACD", product_id=55)
    for _ in range(299):
        sim.add_call(product="ACD", product_id=56)
    async with client.iter_active_call_pages("ACD", 55, page_size=100) as pages:
        async for _page in pages:
            if len(list_requests(sim)) == 1:
                # The probe is scheduled, not yet sent: the call beats it there.
                sim.add_call(product="ACD", product_id=55)
    sim.requests.clear()
    walk = client.iter_active_calls("ACCOUNT", ACCOUNT, page_size=100, prefetch=1)
    got = [c.uii async for c in walk]
    assert len(got) == 301
    assert list_requests(sim) == [(0, 100), (1, 100), (2, 100), (3, 100)]


@pytest.mark.activecalls_simulator(calls=3000, seed=5)
async def test_a_3000_call_account_in_four_requests_then_in_one_round_trip(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    # One page at a time: the minimum, four requests (the last, empty, proves the end).
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, prefetch=1)]
    assert got == wire_uiis(sim)
    assert list_requests(sim) == [(0, 1000), (1, 1000), (2, 1000), (3, 1000)]
    # Walked again by default, the client asks the four pages it expects at once.
    sim.requests.clear()
    sim.faults = Faults(latency=0.05)
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT)]
    assert got == wire_uiis(sim)
    assert list_requests(sim) == [(0, 1000), (1, 1000), (2, 1000), (3, 1000)]
    assert max_in_flight(sim) == 4


@pytest.mark.activecalls_simulator(calls=3000, seed=5)
async def test_a_first_walk_prefetches_from_slack_within_its_prefetch(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, prefetch=3)]
    assert got == wire_uiis(sim)
    pages = [page for page, _ in list_requests(sim)]
    assert pages[:4] == [0, 1, 2, 3]
    assert max(pages) <= 3 + 2  # at most prefetch - 1 past the end


@pytest.mark.activecalls_simulator(calls=3000, seed=5)
async def test_a_3000_call_account_capped_at_500_costs_the_minimum_plus_one_then_the_minimum(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    sim.faults = Faults(max_rows_cap=500)
    # Six full pages of 500 and the empty one proving the end: 7 at the least.
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT, prefetch=1)]
    assert got == wire_uiis(sim)
    assert len(list_requests(sim)) == 8  # the first walk checks the cap once
    sim.requests.clear()
    got = [c.uii async for c in client.iter_active_calls("ACCOUNT", ACCOUNT)]
    assert got == wire_uiis(sim)
    assert list_requests(sim) == [(0, 1000)] + [(page, 500) for page in range(1, 7)]


async def test_a_short_listing_is_proven_whole_by_its_own_probe_every_time(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    product, product_id = "ACD", 55
    size = len(sim.calls(product, product_id))
    assert 0 < size < 300
    await collect_uiis(client.iter_active_calls(product, product_id))
    assert list_requests(sim) == [(0, 1000), (1, size)]  # size may be a cap: checked
    await collect_uiis(client.iter_active_calls("ACCOUNT", ACCOUNT))  # a page of 300
    sim.requests.clear()
    sim.faults = Faults(latency=0.05)
    assert await collect_uiis(client.iter_active_calls(product, product_id)) == wire_uiis(
        sim, product, product_id
    )
    # Larger pages sent before prove nothing now; the probe goes with page 0, at once, at
    # two thirds of the size the listing had.
    assert list_requests(sim) == [(0, 1000), (1, size - size // 3)]
    assert max_in_flight(sim) == 2


@pytest.mark.activecalls_client(server_max_rows=2000)
async def test_server_max_rows_makes_a_short_listing_one_request_from_the_start(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    assert client.page_size == 2000
    assert await collect_uiis(client.iter_active_calls("ACCOUNT", ACCOUNT)) == wire_uiis(sim)
    assert list_requests(sim) == [(0, 2000)]


@pytest.mark.parametrize("value", [0, -5, True, "1000"])
async def test_a_bad_server_max_rows_is_refused(
    activecalls_client_factory: ClientFactory, value: object
) -> None:
    with pytest.raises(ValidationError, match="server_max_rows"):
        activecalls_client_factory(server_max_rows=value)
