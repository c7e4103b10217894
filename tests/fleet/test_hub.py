"""``WatchHub``: members of one shared watch in one process, against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from activecalls_async import (
    ActiveCallsClient,
    AuthenticationError,
    CallEventType,
    ServerError,
    Target,
    ValidationError,
)
from activecalls_async.fleet import WatchHub
from activecalls_async.fleet.hub import SharedCallWatch
from activecalls_async.fleet.records import FORMAT
from activecalls_async.testing import Faults, Simulator
from tests.support import assert_no_tasks_left, wait_until

from .proxy import Proxy
from .redis_server import RedisServer, free_port
from .watchers import (
    HUB,
    INTERVAL,
    Member,
    check_events,
    list_requests,
    one_poll,
    pollers,
    same,
)

LEASE = HUB["lease"]
#: For tests where the lease must not change hands.
STEADY = {"lease": 3.0, "timeout": 0.2}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # Calls arrive and end all the time (about one a second in each listing).
    async with Simulator(calls=40, seed=5, live=True, mean_call_seconds=8, rate_limit=None) as s:
        yield s


@pytest.fixture
def targets(sim: Simulator) -> list[Target]:
    return [Target(product, product_id) for product, product_id in sim.targets()[1:5]]


async def test_members_share_one_poller_and_yield_the_same_snapshots(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    # A lease long enough that no stall of a loaded machine hands it on.
    members = [Member(sim, redis_server.url, fleet_key, targets, **STEADY) for _ in range(3)]
    for member in members:
        member.start()
    try:
        await wait_until(lambda: all(len(m.snapshots) >= 8 for m in members))
        assert len(pollers(members)) == 1
        # Each member counts the others at its next tick (every third of the lease).
        await wait_until(lambda: all(m.watch.shared_with == 2 for m in members))
    finally:
        for member in members:
            await member.stop()
    published = {s.taken_at: s for m in members for s in m.snapshots}
    order = sorted(published)
    for member in members:
        check_events(member.snapshots)
        # Each member, from its first snapshot to its last, got every one published.
        start = order.index(member.taken()[0])
        assert member.taken() == order[start : start + len(member.snapshots)]
        for snapshot in member.snapshots:
            same(snapshot, published[snapshot.taken_at])
    # The server saw the poller's requests only (the last poll may be cut short at close,
    # its requests sent but its snapshot never published).
    polled = sum(s.requests for s in published.values())
    assert polled <= list_requests(sim) <= polled + one_poll(list(published.values()))


async def test_a_member_joining_late_starts_from_the_latest_snapshot(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    first = Member(sim, redis_server.url, fleet_key, targets, **STEADY).start()
    try:
        await wait_until(lambda: len(first.snapshots) >= 3)
        late = Member(sim, redis_server.url, fleet_key, targets, **STEADY).start()
        try:
            await wait_until(lambda: len(late.snapshots) >= 2)
        finally:
            await late.stop()
    finally:
        await first.stop()
    opening = late.snapshots[0]
    assert opening.taken_at in first.taken()[2:]  # no older one
    assert [e.type for e in opening.events] == [CallEventType.STARTED] * len(opening.calls)
    assert [e.call.uii for e in opening.events] == list(opening.calls)
    check_events(late.snapshots)


async def test_a_closing_poller_hands_over_without_a_call_starting_twice(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    members = [Member(sim, redis_server.url, fleet_key, targets).start() for _ in range(3)]
    try:
        await wait_until(lambda: len(pollers(members)) == 1 and len(members[0].snapshots) >= 3)
        (leaving,) = pollers(members)
        await leaving.stop()
        staying = [m for m in members if m is not leaving]
        counts = [len(m.snapshots) for m in staying]
        await wait_until(lambda: len(pollers(staying)) == 1)
        await wait_until(
            lambda: all(len(m.snapshots) >= c + 5 for m, c in zip(staying, counts, strict=False))
        )
    finally:
        for member in members:
            await member.stop()
    for member in staying:
        check_events(member.snapshots)
        gaps = [b - a for a, b in zip(member.taken(), member.taken()[1:], strict=False)]
        assert max(gaps) < timedelta(seconds=LEASE + INTERVAL)


async def test_a_poller_cut_off_from_redis_polls_alone_and_another_takes_over(
    sim: Simulator,
    targets: list[Target],
    redis_server: RedisServer,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "activecalls_async")
    async with Proxy(redis_server.port) as proxy:
        cut = Member(sim, proxy.url, fleet_key, targets).start()
        await wait_until(lambda: cut.watch.polling and len(cut.snapshots) >= 2)
        others = [Member(sim, redis_server.url, fleet_key, targets).start() for _ in range(2)]
        try:
            await wait_until(lambda: all(len(m.snapshots) >= 2 for m in others))
            proxy.cut()
            before = len(cut.snapshots)
            await wait_until(lambda: len(pollers(others)) == 1, timeout=LEASE + 2)
            await wait_until(lambda: len(cut.snapshots) >= before + 5)  # no gap for its consumer
            assert cut.watch.polling  # alone
            proxy.restore()
            await wait_until(lambda: not cut.watch.polling and cut.hub.online)
            rejoined = len(cut.snapshots)
            await wait_until(lambda: len(cut.snapshots) >= rejoined + 3)
            assert len(pollers([cut, *others])) == 1
        finally:
            for member in [cut, *others]:
                await member.stop()
    for member in [cut, *others]:
        check_events(member.snapshots)
    for member in others:
        gaps = [b - a for a, b in zip(member.taken(), member.taken()[1:], strict=False)]
        assert max(gaps) < timedelta(seconds=LEASE + INTERVAL + 0.2)
    # The cut-off member's later snapshots are the fleet's again.
    assert set(cut.taken()[-2:]) <= set(others[0].taken()) | set(others[1].taken())
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    warnings = [m for level, m in messages if level == "WARNING" and "unreachable" in m]
    rejoins = [m for level, m in messages if level == "INFO" and "rejoined" in m]
    assert len(warnings) == 1, messages
    assert len(rejoins) == 1, messages
    assert "shared watches" in warnings[0]


async def test_the_next_poller_continues_from_the_last_snapshot(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    first = Member(sim, redis_server.url, fleet_key, targets).start()
    await wait_until(lambda: first.watch.polling and len(first.snapshots) >= 2)
    second = Member(sim, redis_server.url, fleet_key, targets).start()
    try:
        await wait_until(lambda: len(second.snapshots) >= 2)
        sim.live = False
        last = second.snapshots[-1]
        await wait_until(lambda: second.snapshots[-1] is not last)
        last = second.snapshots[-1]
        # Every listing fails from now on: a poller starting afresh would see no calls.
        sim.faults = Faults(error_rate=1.0, error_status=503)
        await first.stop()
        await wait_until(lambda: second.watch.polling and second.snapshots[-1].errors != {})
    finally:
        await first.stop()
        await second.stop()
    failed = second.snapshots[-1]
    assert set(failed.errors) == set(targets)
    assert all(isinstance(e, ServerError) for e in failed.errors.values())
    assert dict(failed.calls) == dict(last.calls)
    assert failed.events == ()
    check_events(second.snapshots)


async def test_records_of_another_version_are_refused_and_the_member_polls_alone(
    sim: Simulator,
    targets: list[Target],
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    member = Member(sim, redis_server.url, fleet_key, targets)
    keys = member.watch.channel
    # Another version polls: it holds the lease and wrote its own records.
    await redis_client.set(keys.lease_keys[0], "another-version", px=60_000)
    theirs = {"format": "activecalls-watch/9", "record": b"\x01", "id": "1-0"}
    await redis_client.hset(keys.latest_key, mapping=theirs)  # type: ignore[arg-type]
    member.start()
    try:
        await wait_until(lambda: len(member.snapshots) >= 3)
        assert member.watch.polling  # on its own
        check_events(member.snapshots)
        assert list_requests(sim) >= 3 * len(targets)
        # That version leaves: this member takes the lease and writes its own format.
        await redis_client.delete(keys.lease_keys[0])
        await wait_until_format(redis_client, keys.latest_key)
        count = len(member.snapshots)
        await wait_until(lambda: len(member.snapshots) >= count + 2)
    finally:
        await member.stop()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "activecalls-watch/9" in errors[0].getMessage()
    assert "another version" in errors[0].getMessage()


async def _format(redis_client: aioredis.Redis, key: str) -> bytes | None:
    found: bytes | None = await redis_client.hget(key, "format")
    return found


async def wait_until_format(redis_client: aioredis.Redis, key: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await _format(redis_client, key) != FORMAT:
        assert loop.time() < deadline, "the member never wrote its own format"
        await asyncio.sleep(0.02)


async def test_without_redis_a_member_polls_on_its_own(
    sim: Simulator, targets: list[Target], caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    member = Member(sim, nowhere, "fleet-without-redis", targets).start()
    try:
        await wait_until(lambda: len(member.snapshots) >= 3)
        assert member.watch.polling
        assert not member.hub.online
    finally:
        await member.stop()
    check_events(member.snapshots)
    assert sum(s.requests for s in member.snapshots) <= list_requests(sim)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert nowhere not in warnings[0].getMessage()


async def test_a_failure_that_cannot_heal_ends_the_watch_and_gives_up_the_lease(
    sim: Simulator,
    targets: list[Target],
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
) -> None:
    member = Member(sim, redis_server.url, fleet_key, targets, client={"auth": "not-a-token"})
    member.start()
    await wait_until(lambda: member.failure is not None)
    assert isinstance(member.failure, AuthenticationError)
    assert not await redis_client.exists(member.watch.channel.lease_keys[0])
    with pytest.raises(StopAsyncIteration):
        await member.watch.__anext__()
    await member.stop()


async def test_watch_active_calls_over_a_hub_yields_the_shared_events(
    sim: Simulator, redis_server: RedisServer, fleet_key: str
) -> None:
    product, product_id = sim.targets()[1]
    reader = Member(sim, redis_server.url, fleet_key, [Target(product, product_id)]).start()
    async with (
        ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=None
        ) as client,
        WatchHub(redis_server.url, key=fleet_key, **HUB) as hub,
    ):
        try:
            events = client.watch_active_calls(product, product_id, interval=INTERVAL, hub=hub)
            assert isinstance(events, SharedCallWatch)
            seen = []
            async with events:
                seen.append(await events.__anext__())
                await wait_until(lambda: events.shared_with == 1)
        finally:
            await reader.stop()
    assert seen[0].type is CallEventType.STARTED


async def test_bad_input_is_refused_before_anything_is_sent(
    sim: Simulator, redis_server: RedisServer
) -> None:
    async with ActiveCallsClient(
        account_id=sim.account_id, auth=sim.token, base_url=sim.base_url
    ) as client:
        decoding = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        with pytest.raises(ValidationError, match="decode_responses"):
            WatchHub(decoding, key="k")
        await decoding.aclose()
        with pytest.raises(ValidationError, match="timeout"):
            WatchHub(redis_server.url, key="k", lease=1.0, timeout=0.5)
        with pytest.raises(ValidationError, match="key"):
            WatchHub(redis_server.url, key="has space")
        with pytest.raises(ValidationError, match="history"):
            WatchHub(redis_server.url, key="k", history=0)
        async with WatchHub(redis_server.url, key="k") as hub:
            with pytest.raises(ValidationError, match="product"):
                client.watch_active_calls_many([("NOPE", 1)], hub=hub)
            with pytest.raises(ValidationError, match="external_id"):
                client.watch_active_calls(external_id="x", hub=hub)
            with pytest.raises(ValidationError, match="interval"):
                client.watch_active_calls("ACD", 55, interval=0, hub=hub)
        with pytest.raises(ValidationError, match="closed"):
            client.watch_active_calls_many([("ACD", 55)], hub=hub)
    assert sim.requests == []


async def test_closing_the_hub_stops_its_watches_and_leaves_nothing_behind(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    member = Member(sim, redis_server.url, fleet_key, targets).start()
    await wait_until(lambda: len(member.snapshots) >= 2)
    await member.hub.aclose()
    await wait_until(lambda: member._task is not None and member._task.done())
    assert member.failure is None
    with pytest.raises(StopAsyncIteration):
        await member.watch.__anext__()
    await member.stop()
    await assert_no_tasks_left()


async def test_one_task_at_a_time(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    member = Member(sim, redis_server.url, fleet_key, targets)
    waiting = asyncio.ensure_future(member.watch.__anext__())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="another task"):
        await member.watch.__anext__()
    await waiting
    await member.stop()


async def test_a_consumer_falling_behind_skips_to_the_newest(
    sim: Simulator, targets: list[Target], redis_server: RedisServer, fleet_key: str
) -> None:
    poller = Member(sim, redis_server.url, fleet_key, targets).start()
    slow = Member(sim, redis_server.url, fleet_key, targets, history=3)
    try:
        first = await slow.watch.__anext__()
        await wait_until(lambda: first.taken_at in poller.taken())
        await wait_until(lambda: len(poller.snapshots) >= poller.taken().index(first.taken_at) + 8)
        behind = [await slow.watch.__anext__() for _ in range(3)]
    finally:
        await poller.stop()
        await slow.stop()
    check_events([first, *behind])
    skipped = poller.taken().index(behind[0].taken_at) - poller.taken().index(first.taken_at)
    assert skipped > 1
