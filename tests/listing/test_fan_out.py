"""``iter_active_calls_many`` against the simulator: uniqueness, concurrency, errors, limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import pytest

from activecalls_async import (
    ActiveCallsClient,
    BadRequestError,
    FanOut,
    Priority,
    RateLimit,
    RateLimitError,
    Target,
    ValidationError,
)
from activecalls_async.pagination import PageWalk, WalkShape, Window
from activecalls_async.testing import Faults, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import FakeListing, assert_no_tasks_left, make_calls, serving, wait_until

#: A product id the simulator cannot read (beyond int64): its listing answers 400.
BROKEN = Target("ACD", "9999999999999999999")


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 400, "seed": 11, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    """No client-side pacing: the walks here run as fast as the server answers (the tests
    of pacing bring their own limiter)."""
    return {"rate_limit": None}


def expected_sources(sim: Simulator, targets: list[Target]) -> dict[str, tuple[Target, ...]]:
    sources: dict[str, tuple[Target, ...]] = {}
    for target in targets:
        product_id = None if target.product_id is None else int(target.product_id)
        for row in sim.wire_calls(target.product.value, product_id):
            sources[row["uii"]] = (*sources.get(row["uii"], ()), target)
    return sources


async def drain(fan_out: FanOut) -> None:
    async for _call in fan_out:
        pass


def max_overlap(sim: Simulator) -> int:
    """The most list requests the simulator was serving at one time."""
    edges = sorted(
        [(r.started, 1) for r in sim.requests] + [(r.finished, -1) for r in sim.requests],
        key=lambda edge: (edge[0], edge[1]),
    )
    busiest = current = 0
    for _, step in edges:
        current += step
        busiest = max(busiest, current)
    return busiest


async def test_every_call_once_across_overlapping_targets(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    # ACCOUNT lists every call, and inbound calls are also listed under their DNIS.
    targets = [Target(p, i) for p, i in sim.targets()]
    fan_out = activecalls_client.iter_active_calls_many(targets, page_size=25, prefetch=2)
    async with fan_out:
        got = [call.uii async for call in fan_out]
    assert len(got) == len(set(got))
    assert set(got) == {row["uii"] for row in sim.wire_calls()}
    # Sources list targets in the order their pages arrived: compare them as sets.
    expected = {uii: set(found) for uii, found in expected_sources(sim, targets).items()}
    assert {uii: set(found) for uii, found in fan_out.sources.items()} == expected
    assert all(len(found) == len(set(found)) for found in fan_out.sources.values())
    assert fan_out.errors == {}


async def test_pairs_are_accepted_and_repeated_targets_walked_once(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    product, product_id = sim.targets()[1]
    fan_out = activecalls_client.iter_active_calls_many(
        [(product, product_id), (product.lower(), str(product_id)), Target(product, product_id)]
    )
    got = [call.uii async for call in fan_out]
    assert fan_out.targets == (Target(product, product_id),)
    assert got == [row["uii"] for row in sim.wire_calls(product, product_id)]


@pytest.mark.activecalls_simulator(latency=0.05)
@pytest.mark.activecalls_client(max_concurrency=3)
async def test_targets_are_walked_concurrently_under_the_client_limit(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    targets = sim.targets()[1:9]
    started = time.monotonic()
    got = [c.uii async for c in activecalls_client.iter_active_calls_many(targets, concurrency=8)]
    elapsed = time.monotonic() - started
    assert len(got) == len(set(got))
    assert max_overlap(sim) == 3  # eight walks at once, three requests at once
    serial = len(sim.requests) * 0.05
    assert elapsed < serial * 0.7


@pytest.mark.activecalls_simulator(latency=0.01)
async def test_concurrency_one_walks_targets_one_after_another(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    fan_out = activecalls_client.iter_active_calls_many(sim.targets()[1:5], concurrency=1)
    got = [c.uii async for c in fan_out]
    assert got
    assert max_overlap(sim) == 1


@pytest.mark.activecalls_simulator(latency=0.05)
async def test_a_failing_target_cancels_the_others_and_raises(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    others = [Target(p, i) for p, i in sim.targets()[1:7]]
    fan_out = client.iter_active_calls_many([others[0], BROKEN, *others[1:]], concurrency=2)
    with pytest.raises(BadRequestError):
        await drain(fan_out)
    assert list(fan_out.errors) == [BROKEN]
    await assert_no_tasks_left()
    walked = {r.param("productId") for r in sim.requests}
    # Only the two targets under way were asked for; the rest never started.
    assert walked <= {str(others[0].product_id), str(BROKEN.product_id)}
    # And the client goes on working.
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)


async def test_collect_mode_carries_on_and_reports_each_failure(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    others = [Target(p, i) for p, i in sim.targets()[1:7]]
    fan_out = activecalls_client.iter_active_calls_many(
        [BROKEN, *others], concurrency=3, on_error="collect"
    )
    async with fan_out:
        got = {call.uii async for call in fan_out}
    assert set(fan_out.errors) == {BROKEN}
    assert isinstance(fan_out.errors[BROKEN], BadRequestError)
    assert got == set(expected_sources(sim, others))


@pytest.mark.parametrize("mode", ["break", "cancel"])
@pytest.mark.activecalls_simulator(latency=0.05)
async def test_leaving_a_fan_out_early_cancels_every_walk(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient, mode: str
) -> None:
    sim, client = activecalls_simulator, activecalls_client
    got: list[str] = []
    parked = asyncio.Event()

    async def consume() -> None:
        async for call in client.iter_active_calls_many(
            sim.targets()[1:], page_size=5, prefetch=2, concurrency=4
        ):
            got.append(call.uii)
            if len(got) == 3:
                await wait_until(lambda: serving(sim) > 0)  # later pages are on the wire
                if mode == "break":
                    break
                parked.set()
                await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(consume())
    if mode == "cancel":
        await parked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await task
    await assert_no_tasks_left()
    sim.faults = Faults()
    assert await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)


async def test_a_bug_in_a_walk_is_raised_even_in_collect_mode() -> None:
    def open_walk(target: Target, window: Window | None) -> PageWalk:
        listing = FakeListing(make_calls(10), fail_page=0, fail_with=KeyError("bug"))
        return PageWalk(listing.fetch, WalkShape(page_size=5))

    fan_out = FanOut(open_walk, [("ACD", 1), ("ACD", 2)], concurrency=2, on_error="collect")
    with pytest.raises(KeyError):
        await drain(fan_out)
    await assert_no_tasks_left()


async def test_no_targets_yields_nothing(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    assert [c async for c in activecalls_client.iter_active_calls_many([])] == []
    assert activecalls_simulator.requests == []


@pytest.mark.parametrize(
    ("targets", "options", "parameter"),
    [
        ([("ACD",)], {}, "targets"),
        ([("NOPE", 1)], {}, "product"),
        ([("ACD", "x")], {}, "product_id"),
        ("ACD", {}, "targets"),
        ([("ACD", 1)], {"concurrency": 0}, "concurrency"),
        ([("ACD", 1)], {"on_error": "ignore"}, "on_error"),
        ([("ACD", 1)], {"page_size": 0}, "page_size"),
        ([("ACD", 1)], {"prefetch": 0}, "prefetch"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    targets: object,
    options: dict[str, object],
    parameter: str,
) -> None:
    with pytest.raises(ValidationError) as raised:
        activecalls_client.iter_active_calls_many(targets, **options)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter
    assert activecalls_simulator.requests == []


@pytest.mark.activecalls_simulator(rate_limit=20, rate_window=0.25)
async def test_a_fan_out_far_beyond_the_rate_limit_gets_no_429(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    # The same limit on both sides, scaled down to 20 per quarter second: ~50 requests.
    sim = activecalls_simulator
    targets = sim.targets()
    async with activecalls_client_factory(rate_limit=RateLimit(20, per=0.25), retry=None) as client:
        got = [c.uii async for c in client.iter_active_calls_many(targets, page_size=40)]
    assert len(sim.requests) > 40
    assert [r.status for r in sim.requests if r.status != 200] == []
    assert set(got) == {row["uii"] for row in sim.wire_calls()}
    assert len(got) == len(set(got))


@pytest.mark.activecalls_simulator(rate_limit=20, rate_window=0.25)
@pytest.mark.activecalls_client(retry=None)
async def test_without_the_limiter_the_same_fan_out_is_throttled(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    # The control for the test above: it would fail if the client did not pace itself.
    fan_out = activecalls_client.iter_active_calls_many(
        activecalls_simulator.targets(), page_size=40
    )
    with pytest.raises(RateLimitError):
        await drain(fan_out)
    await assert_no_tasks_left()


def test_a_fan_out_has_a_readable_repr() -> None:
    fan_out = FanOut(
        lambda t, w: PageWalk(FakeListing([]).fetch, WalkShape(page_size=1)),
        [("ACD", 1)],
        concurrency=4,
    )
    assert repr(fan_out) == "<FanOut 1 targets concurrency=1 on_error='raise' errors=0>"
    assert str(Target("ACD", 55)) == "ACD 55"
    assert str(Target("ACCOUNT")) == "ACCOUNT"


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": "x"}, "timeout"),
        ({"retry": "nope"}, "retry"),
    ],
)
async def test_bad_request_options_are_refused_when_the_fan_out_is_made(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    options: dict[str, object],
    parameter: str,
) -> None:
    sim = activecalls_simulator
    with pytest.raises(ValidationError) as raised:
        activecalls_client.iter_active_calls_many(sim.targets()[1:3], **options)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter
    assert sim.requests == []


@pytest.mark.parametrize("on_error", ["raise", "collect"])
async def test_a_walk_that_cannot_be_opened_is_never_silent(
    on_error: Literal["raise", "collect"],
) -> None:
    def open_walk(target: Target, window: Window | None) -> PageWalk:
        if target.product_id == "2":
            raise ValidationError("timeout", "refused")
        return PageWalk(FakeListing(make_calls(10)).fetch, WalkShape(page_size=5))

    fan_out = FanOut(open_walk, [("ACD", 1), ("ACD", 2)], concurrency=2, on_error=on_error)
    if on_error == "raise":
        with pytest.raises(ValidationError):
            await drain(fan_out)
    else:
        async with fan_out:
            assert len([call async for call in fan_out]) == 10
    assert list(fan_out.errors) == [Target("ACD", 2)]
    await assert_no_tasks_left()


@pytest.mark.parametrize("on_error", ["raise", "collect"])
async def test_a_bug_opening_a_walk_is_raised(on_error: Literal["raise", "collect"]) -> None:
    def open_walk(target: Target, window: Window | None) -> PageWalk:
        raise KeyError("bug")

    fan_out = FanOut(open_walk, [("ACD", 1), ("ACD", 2)], concurrency=2, on_error=on_error)
    with pytest.raises(KeyError):
        await drain(fan_out)
    await assert_no_tasks_left()


def test_a_target_keeps_its_id_as_sent_and_equal_ids_make_one_target() -> None:
    dnis = Target("DNIS", "0123456789")
    assert dnis.product_id == "0123456789"
    assert str(dnis) == "DNIS 0123456789"
    assert Target("ACD", 55) == Target("ACD", "55") == Target("acd", " 55 ")
    assert hash(Target("ACD", 55)) == hash(Target("ACD", "55"))
    assert Target("DNIS", 123456789) != dnis


async def test_a_fan_out_asks_for_the_id_exactly_as_list_active_calls_does(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    await activecalls_client.list_active_calls("DNIS", "0123456789")
    await drain(activecalls_client.iter_active_calls_many([("DNIS", "0123456789")]))
    sent = [r.param("productId") for r in activecalls_simulator.requests]
    assert len(sent) == 2
    assert set(sent) == {"0123456789"}


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


@pytest.mark.parametrize(("prefetch", "shares"), [(None, True), (1, False)])
@pytest.mark.activecalls_simulator(calls=300, seed=3, latency=0.03)
@pytest.mark.activecalls_client(max_concurrency=6)
async def test_by_default_a_long_listing_takes_the_slots_short_ones_leave(
    activecalls_simulator: Simulator,
    activecalls_client: ActiveCallsClient,
    prefetch: int | None,
    shares: bool,
) -> None:
    sim = activecalls_simulator
    fan_out = activecalls_client.iter_active_calls_many(
        [("ACCOUNT", sim.account_id), ("ACD", 55)], page_size=10, prefetch=prefetch
    )
    async with fan_out:
        calls = [call async for call in fan_out]
    assert len(calls) == len(sim.wire_calls())
    account_pages = [
        (r.started, r.finished)
        for r in sim.requests
        if r.operation == "list" and r.param("product") == "ACCOUNT"
    ]
    assert (_max_overlap(account_pages) > 1) is shares


def pages_past_the_end(sim: Simulator, sizes: dict[Target, int], page_size: int) -> list[int]:
    """For each target, how many pages it was asked beyond those holding its rows and
    the one proving their end."""
    past = []
    for target, size in sizes.items():
        pages = [
            int(r.param("page") or 0)
            for r in sim.requests
            if r.param("product") == target.product.value
            and r.param("productId") == target.product_id
        ]
        assert sorted(set(pages))[: size // page_size + 1] == list(range(size // page_size + 1))
        past.append(len([page for page in pages if page > size // page_size]))
    return past


def listing_sizes(sim: Simulator) -> dict[Target, int]:
    """The size of every listing of ten calls or more."""
    sizes = {Target(p, i): len(sim.calls(p, i)) for p, i in sim.targets()}
    return {target: size for target, size in sizes.items() if size >= 10}


@pytest.mark.activecalls_simulator(latency=0.02)
async def test_under_pressure_a_fan_out_sends_one_request_past_the_end_at_most(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory
) -> None:
    sim = activecalls_simulator
    sizes = listing_sizes(sim)
    assert len(sizes) >= 5
    # Half the window is taken and stays taken: walks and watches are paced, and the
    # limiter has nothing to spare for them.
    limit = RateLimit(200, per=0.4)
    for _ in range(100):
        await limit.acquire(Priority.READ)
    assert limit.spare(Priority.BULK) == 0
    async with activecalls_client_factory(rate_limit=limit, max_concurrency=16) as client:
        fan_out = client.iter_active_calls_many(list(sizes), page_size=10)
        async with fan_out:
            got = [call.uii async for call in fan_out]
    assert len(got) == len(set(got))
    assert max(pages_past_the_end(sim, sizes, 10)) <= 1


@pytest.mark.activecalls_simulator(latency=0.02)
@pytest.mark.activecalls_client(max_concurrency=16)
async def test_with_slack_a_fan_out_sends_no_more_past_the_end_than_its_share(
    activecalls_simulator: Simulator, activecalls_client: ActiveCallsClient
) -> None:
    sim = activecalls_simulator
    sizes = listing_sizes(sim)
    fan_out = activecalls_client.iter_active_calls_many(list(sizes), page_size=10, prefetch=3)
    async with fan_out:
        got = [call.uii async for call in fan_out]
    assert len(got) == len(set(got))
    assert max(pages_past_the_end(sim, sizes, 10)) <= 2  # prefetch - 1


@pytest.mark.parametrize(("slots", "windows"), [(0, {None}), (3, {1, 2, 3})])
async def test_a_fan_out_hands_each_walk_its_window_when_it_opens_it(
    slots: int, windows: set[int | None]
) -> None:
    seen: set[int | None] = set()

    def open_walk(target: Target, window: Window | None) -> PageWalk:
        seen.add(None if window is None else window())
        listing = FakeListing(make_calls(25))
        return PageWalk(listing.fetch, WalkShape(page_size=5, prefetch=window or 1))

    fan_out = FanOut(open_walk, [("ACD", n) for n in range(4)], concurrency=4, slots=slots)
    async with fan_out:
        assert len([call async for call in fan_out]) == 25  # the same calls in every listing
    assert seen <= windows
    assert seen
