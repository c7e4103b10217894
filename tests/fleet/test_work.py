"""``take_call_events``: each call event of a shared watch to one member of a group."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from activecalls_async import (
    ActiveCallsClient,
    AuthenticationError,
    CallEvent,
    CallEventType,
    Target,
    ValidationError,
)
from activecalls_async.fleet import TakenEvent, WatchHub
from activecalls_async.fleet.work import TakenEvents
from activecalls_async.testing import Simulator
from tests.support import wait_until

from .proxy import Proxy
from .redis_server import RedisServer
from .watchers import HUB, INTERVAL

QUEUE = Target("ACD", 55)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(calls=0, seed=2, live=False, rate_limit=None) as s:
        yield s


class Taker:
    """One member of a group, in its own client and hub, handling events in a task."""

    def __init__(
        self, sim: Simulator, redis: str, key: str, group: str, *, ack: bool = True, **more: Any
    ) -> None:
        self.client = ActiveCallsClient(
            account_id=sim.account_id, auth=more.pop("auth", sim.token), base_url=sim.base_url,
            rate_limit=None, retry=None,
        )  # fmt: skip
        self.hub = WatchHub(redis, key=key, **HUB)
        self.events: TakenEvents = self.client.take_call_events(
            [QUEUE], hub=self.hub, group=group, interval=INTERVAL, **more
        )
        self.taken: list[TakenEvent] = []
        self.ack = ack
        self.failure: BaseException | None = None
        self.task = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        try:
            async for event in self.events:
                self.taken.append(event)
                if self.ack:
                    await event.ack()
        except Exception as exc:
            self.failure = exc

    async def stop(self) -> None:
        await self.events.aclose()
        await asyncio.wait({self.task}, timeout=5)
        assert self.task.done()
        await self.hub.aclose()
        await self.client.aclose()


def started(*takers: Taker) -> Counter[str]:
    return Counter(e.call.uii for t in takers for e in t.taken if e.type is CallEventType.STARTED)


async def joined(redis_client: aioredis.Redis, taker: Taker) -> None:
    """Wait until the taker's group exists (events before it are not the group's)."""

    async def has_group() -> bool:
        try:
            groups = await redis_client.xinfo_groups(taker.events.watch.channel.events)
        except aioredis.ResponseError:
            return False
        return bool(groups)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not await has_group():
        assert loop.time() < deadline
        await asyncio.sleep(0.01)


async def test_each_event_goes_to_one_member_of_the_group(
    sim: Simulator, redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    takers = [Taker(sim, redis_server.url, fleet_key, "hangups") for _ in range(3)]
    other_group = Taker(sim, redis_server.url, fleet_key, "recording")
    try:
        for taker in [*takers, other_group]:
            await joined(redis_client, taker)
        uiis = [sim.add_call(product="ACD", product_id=55) for _ in range(30)]
        await wait_until(lambda: set(started(*takers)) == set(uiis))
        for uii in uiis[:10]:
            sim.end_call(uii)
        await wait_until(lambda: sum(len(t.taken) for t in takers) == 40)
        await wait_until(lambda: len(other_group.taken) == 40)
    finally:
        for taker in [*takers, other_group]:
            await taker.stop()
    assert started(*takers) == Counter(uiis)  # each once, in the group
    ended = Counter(e.call.uii for t in takers for e in t.taken if e.type is CallEventType.ENDED)
    assert ended == Counter(uiis[:10])
    assert started(other_group) == Counter(uiis)  # another group gets its own copy
    assert sum(1 for t in takers if t.taken) >= 2  # shared out, not all to one
    for event in (e for t in takers for e in t.taken):
        assert isinstance(event, CallEvent)
        assert not event.redelivered
    pending = await redis_client.xpending(takers[0].events.watch.channel.events, "hangups")
    assert pending["pending"] == 0  # every one acknowledged


async def test_an_event_not_acknowledged_is_given_to_another_member(
    sim: Simulator, redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    claim_after = 0.4
    silent = Taker(sim, redis_server.url, fleet_key, "g", ack=False, claim_after=claim_after)
    await joined(redis_client, silent)
    uii = sim.add_call(product="ACD", product_id=55)
    await wait_until(lambda: len(silent.taken) == 1)
    # It took the event and went quiet (as a member that died would): another member
    # that joins later gets it once it has waited ``claim_after``.
    await silent.events.watch.aclose()
    silent.task.cancel()
    loop = asyncio.get_running_loop()
    taken_at = loop.time()
    helper = Taker(sim, redis_server.url, fleet_key, "g", claim_after=claim_after)
    try:
        await wait_until(lambda: len(helper.taken) == 1)
        waited = loop.time() - taken_at
    finally:
        await helper.stop()
        await silent.stop()
    (event,) = helper.taken
    assert event.call.uii == uii
    assert event.redelivered
    assert event.id == silent.taken[0].id
    assert claim_after * 0.9 <= waited <= claim_after + 1.5
    pending = await redis_client.xpending(helper.events.watch.channel.events, "g")
    assert pending["pending"] == 0


async def test_acknowledging_twice_does_nothing_and_a_lost_ack_is_logged(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Proxy(redis_server.port) as proxy:
        taker = Taker(sim, proxy.url, fleet_key, "g", ack=False)
        try:
            await joined(redis_client, taker)
            sim.add_call(product="ACD", product_id=55)
            sim.add_call(product="ACD", product_id=55)
            await wait_until(lambda: len(taker.taken) == 2)
            first, second = taker.taken
            await first.ack()
            await first.ack()
            proxy.cut()
            await second.ack()
        finally:
            proxy.restore()
            await taker.stop()
    pending = await redis_client.xpending(taker.events.watch.channel.events, "g")
    assert pending["pending"] == 1
    (lost,) = [r.getMessage() for r in caplog.records if "not acknowledged" in r.getMessage()]
    assert second.id in lost


async def test_a_group_lost_with_redis_is_created_again(
    sim: Simulator, redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    taker = Taker(sim, redis_server.url, fleet_key, "g")
    try:
        await joined(redis_client, taker)
        sim.add_call(product="ACD", product_id=55)
        await wait_until(lambda: len(taker.taken) == 1)
        # As after a restart of Redis with nothing kept: the stream and its group are gone.
        await redis_client.delete(taker.events.watch.channel.events)
        await joined(redis_client, taker)
        sim.add_call(product="ACD", product_id=55)
        await wait_until(lambda: len(taker.taken) == 2)
    finally:
        await taker.stop()
    assert taker.failure is None


async def test_an_event_of_another_version_is_left_for_a_member_that_reads_it(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    taker = Taker(sim, redis_server.url, fleet_key, "g")
    try:
        await joined(redis_client, taker)
        stream = taker.events.watch.channel.events
        foreign = {"format": "activecalls-watch/9", "record": b"\x00"}
        await redis_client.xadd(stream, foreign)  # type: ignore[arg-type]
        sim.add_call(product="ACD", product_id=55)
        await wait_until(lambda: len(taker.taken) == 1)
    finally:
        await taker.stop()
    pending = await redis_client.xpending(stream, "g")
    assert pending["pending"] == 1  # the foreign one, not acknowledged
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "activecalls-watch/9" in errors[0].getMessage()


async def test_a_failure_that_cannot_heal_ends_the_iteration(
    sim: Simulator, redis_server: RedisServer, fleet_key: str
) -> None:
    taker = Taker(sim, redis_server.url, fleet_key, "g", auth="not-a-token")
    await wait_until(lambda: taker.task.done())
    assert isinstance(taker.failure, AuthenticationError)
    await taker.stop()


async def test_closing_the_hub_ends_the_iteration(
    sim: Simulator,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    fleet_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The hub's connections carry a name, to find them among the server's clients.
    name = f"taker-{fleet_key}"
    taker = Taker(sim, f"{redis_server.url}?client_name={name}", fleet_key, "g")
    await joined(redis_client, taker)

    async def connections() -> int:
        return sum(1 for c in await redis_client.client_list() if c["name"] == name)

    assert await connections() > 0
    # The member is blocked reading the group: the close cuts that read off.
    await taker.hub.aclose()
    await asyncio.wait({taker.task}, timeout=5)
    assert taker.task.done()
    assert taker.failure is None
    # Nothing used Redis after the close (a read left in flight would have reconnected,
    # leaving a socket open for good), and nothing took the close for an outage.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await connections():
        assert loop.time() < deadline, "the closed hub still has a connection to Redis"
        await asyncio.sleep(0.01)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    await taker.stop()


async def test_bad_input_is_refused_before_anything_is_sent(
    sim: Simulator, redis_server: RedisServer
) -> None:
    async with (
        ActiveCallsClient(account_id=sim.account_id, auth=sim.token, base_url=sim.base_url) as c,
        WatchHub(redis_server.url, key="k") as hub,
    ):
        for options, parameter in [
            ({"group": ""}, "group"),
            ({"group": "g", "consumer": " "}, "consumer"),
            ({"group": "g", "claim_after": 0}, "claim_after"),
            ({"group": "g", "interval": -1}, "interval"),
        ]:
            with pytest.raises(ValidationError, match=parameter):
                c.take_call_events([QUEUE], hub=hub, **options)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="targets"):
            c.take_call_events(55, hub=hub, group="g")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="hub"):
            c.take_call_events([QUEUE], hub="redis://x", group="g")  # type: ignore[arg-type]
    assert sim.requests == []
