"""One process's member of a shared watch: it polls for the fleet while it holds the lease,
reads the stream otherwise, and polls alone when it cannot use Redis (the contract is
``fleet.hub``'s docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import TypeVar

import attrs

from .._aio import ClosingIterator, stop_task
from ..models import ActiveCall, CallEvent, CallEventType
from ..watch import Snapshot, SnapshotWatch, diff_snapshots
from ._redis import UNAVAILABLE, bounded
from .channel import Channel, HubCore
from .records import FORMAT, FormatError, Published, decode_snapshot, new_mark

__all__ = ["OpenLocal", "SharedCallWatch", "SharedWatch"]

logger = logging.getLogger("activecalls_async")

_T = TypeVar("_T")

#: Opens the watch a member polls with: ``open_local()``, or with another
#: ``budget_share=``.
OpenLocal = Callable[..., SnapshotWatch]

#: How many ended uiis a member remembers (to never start one of them again).
_ENDED_KEPT = 10_000


class _Lost(Exception):
    """The lease went to another member."""


class SharedWatch(ClosingIterator[Snapshot]):
    """One process's member of a shared watch: ``Snapshot``s, as ``fleet.hub`` describes."""

    def __init__(
        self,
        hub: HubCore,
        open_local: OpenLocal,
        *,
        number: int,
        feed: bool = True,
    ) -> None:
        # The first local watch is opened now, so that bad targets and options are refused
        # before anything is sent; it is the one polled if this member's turn comes.
        first = open_local()
        self.hub = hub
        #: The watched listings, in the order given; the shared watch is named by their set.
        self.targets = first.targets
        self.label = first.label
        #: The interval asked for (the poller's counts while it polls).
        self.interval = first.interval
        #: The share of the client's rate limit the watch may use (split between the
        #: members while each polls alone).
        self.budget_share = first.budget_share
        #: Whether the first snapshot yields events (see ``activecalls_async.watch``).
        self.initial_events = first.initial_events
        self._telling = first.initial_events
        self._open_local = open_local
        self._local: SnapshotWatch | None = first
        self.channel = Channel(
            hub.redis,
            hub.scripts,
            key=hub.key,
            targets=self.targets,
            member=f"{hub.member}:{number}",
            lease=hub.lease,
            history=hub.history,
            events_history=hub.events_history,
        )
        self._feeding = feed
        self._feed: deque[Snapshot] = deque(maxlen=hub.history)
        self._arrived = asyncio.Event()
        self._failure: BaseException | None = None
        self._yielded: Mapping[str, ActiveCall] = MappingProxyType({})
        self._ended: dict[str, None] = {}  # the uiis this member saw end, latest last
        self._seen: Snapshot | None = None  # the last snapshot fed to the consumer
        self._last: Published | None = None  # the last one read from or written to Redis
        self._last_id: bytes | None = None  # where reading the stream goes on from
        self._alone_until: datetime | None = None  # the last snapshot polled alone
        self._before: Mapping[str, ActiveCall] = {}  # what the next call events follow
        self._next_tick = 0.0
        self._connected = False
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self._busy = False
        #: Whether this process polls now (for the fleet, or alone while cut off).
        self.polling = False
        #: Live members when Redis last answered (this one included).
        self.members = 1
        self._place = 0  # this member's place among them, by name

    def __repr__(self) -> str:
        role = "polling" if self.polling else "reading"
        state = "closed" if self._closed else f"{role}, shared with {self.shared_with}"
        return f"<SharedWatch {len(self.targets)} listings ({self.label}) {state}>"

    @property
    def shared_with(self) -> int:
        """How many other members the watch had when Redis last answered."""
        return max(0, self.members - 1)

    @property
    def online(self) -> bool:
        """Whether Redis answered the hub's last call."""
        return self.hub.online

    def start(self) -> None:
        """Join the fleet now (iterating starts it too)."""
        if self._runner is None and not self._closed:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"activecalls-shared-watch-{self.label}"
            )

    @property
    def closed(self) -> bool:
        """Whether the member has left (``aclose()``, or its hub closed)."""
        return self._closed

    @property
    def failure(self) -> BaseException | None:
        """The error that ended this member's polls, once one has."""
        return self._failure

    async def __anext__(self) -> Snapshot:
        if self._closed:
            raise StopAsyncIteration
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True
        try:
            self.start()
            while not self._feed:
                if self._failure is not None:
                    failure = self._failure
                    await self.aclose()
                    raise failure
                if self._closed:
                    raise StopAsyncIteration
                self._arrived.clear()
                await self._arrived.wait()
        finally:
            self._busy = False
        snapshot = self._without_ended(self._feed.popleft())
        events = diff_snapshots(self._yielded, snapshot.calls)
        self._yielded = snapshot.calls
        telling, self._telling = self._telling, True
        if not telling:
            return attrs.evolve(snapshot, events=())  # the first one takes stock
        for event in events:
            if event.type is CallEventType.ENDED:
                self._ended[event.call.uii] = None
                if len(self._ended) > _ENDED_KEPT:
                    del self._ended[next(iter(self._ended))]
        return attrs.evolve(snapshot, events=tuple(events))

    def _without_ended(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` less the calls this member has seen end: after polling alone, the
        fleet's view may still hold, as missed only once, a call its own polls proved gone
        (a uii never comes back, and the fleet's view ends it within a poll or two)."""
        ended = self._ended
        if not any(uii in ended for uii in snapshot.calls):
            return snapshot
        calls = {uii: call for uii, call in snapshot.calls.items() if uii not in ended}
        sources = {uii: held for uii, held in snapshot.sources.items() if uii in calls}
        return attrs.evolve(
            snapshot, calls=MappingProxyType(calls), sources=MappingProxyType(sources)
        )

    async def aclose(self) -> None:
        """Leave the fleet (giving up the lease at once) and stop; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._arrived.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await stop_task(runner)
            await self._resign()
        local, self._local = self._local, None
        if local is not None:
            await local.aclose()
        self.hub.forget(self)

    async def _resign(self) -> None:
        with contextlib.suppress(*UNAVAILABLE):
            await self.channel.resign(self.hub.timeout)

    # -- the runner: poll, read or go alone ----------------------------------------------------

    async def _run(self) -> None:
        try:
            # Until closed, even should a cancellation have been caught below it.
            while not self._closed:
                try:
                    if await self._tick():
                        await self._lead()
                    else:
                        await self._follow()
                except UNAVAILABLE as exc:
                    self.hub.unreachable(exc)
                    await self._alone(self._probe_redis)
                except FormatError as exc:
                    self.hub.refuse(exc)
                    await self._alone(self._probe_format)
                except _Lost:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a poll that cannot heal (or a bug): the consumer gets it
            self._failure = exc
            self._arrived.set()
            await self._resign()

    @property
    def _timeout(self) -> float:
        """The bound on one call: longer until connected (connecting, loading scripts)."""
        return self.hub.timeout if self._connected else self.hub.connect_timeout

    async def _tick(self) -> bool:
        """Count as live, keep or take the lease; True when this member holds it."""
        tick = await self.channel.tick(self._timeout)
        self._connected = True
        self.members, self._place = tick.members, min(tick.place, tick.members - 1)
        every = self.hub.lease / 3
        # A member waiting for the lease asks again just after it ends.
        wait = every if tick.held or tick.ends_in < 0 else min(every, tick.ends_in + 0.005)
        self._next_tick = asyncio.get_running_loop().time() + wait
        return tick.held

    def _deliver(self, snapshot: Snapshot) -> None:
        self._seen = snapshot
        if self._feeding:
            self._feed.append(snapshot)
            self._arrived.set()

    def _take(self, published: Published) -> None:
        """Take in a snapshot read from Redis; feed it unless it is older than what this
        member polled alone (a call seen ended there must not come back)."""
        if self._last is not None and published.mark == self._last.mark:
            return
        self._last = published
        alone = self._alone_until
        if alone is not None and published.snapshot.taken_at <= alone:
            return
        self._alone_until = None
        self._deliver(published.snapshot)

    async def _follow(self) -> None:
        """Read the stream until the next tick is due (or, not feeding, just wait)."""
        loop = asyncio.get_running_loop()
        if self._feeding and self._last_id is None:
            await self._catch_up()
        while (left := self._next_tick - loop.time()) > 0:
            if not self._feeding or self._last_id is None:
                await asyncio.sleep(left)
                continue
            block = min(left, self.hub.timeout / 2)
            entries = await self.channel.read(self._last_id, block=block, timeout=self._timeout)
            for entry_id, format, record in entries:
                self._last_id = entry_id
                published = decode_snapshot(format, record, self._last)
                if published is None:  # written against a snapshot this member missed
                    await self._catch_up()
                    break
                self._take(published)

    async def _catch_up(self) -> None:
        latest = await self.channel.latest(self._timeout)
        if latest is None:
            self._last_id = b"0-0"  # read the stream from its start when it comes
            return
        self._take(latest[0])
        self._last_id = latest[1]

    async def _lead(self) -> None:
        """Poll for the fleet while this member holds the lease."""
        keeper = asyncio.get_running_loop().create_task(self._keep_lease())
        local: SnapshotWatch | None = None
        try:
            try:
                latest = await self._while_held(keeper, self.channel.latest(self._timeout))
            except FormatError as exc:  # another version's records: this one's replace them
                self.hub.refuse(exc)
                latest = None
            if latest is not None:
                self._take(latest[0])
                self._last_id = latest[1]
            # The last published snapshot (or, when Redis lost it, the last one seen).
            seed = self._last.snapshot if self._last is not None else self._seen
            local = self._local or self._open_local()
            self._local = None
            if seed is not None:
                local.continue_from(seed)
                # The pace goes on: the next poll comes when the last poller's was due.
                wait = _until_due(seed, max(local.interval, seed.interval))
                await self._while_held(keeper, asyncio.sleep(wait))
            self._before = seed.calls if seed is not None else {}
            self.polling = True
            while True:
                await self._publish(await self._while_held(keeper, local.__anext__()))
        finally:
            if local is not None:
                await local.aclose()
            self.polling = False
            await stop_task(keeper)

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.hub.lease / 3)
            if not await self._tick():
                raise _Lost

    async def _while_held(self, keeper: asyncio.Task[None], step: Awaitable[_T]) -> _T:
        """``step``'s result, unless the lease is lost (``_Lost``) or Redis fails first."""
        task = asyncio.ensure_future(step)
        try:
            await asyncio.wait({task, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                await stop_task(task)
        if task.cancelled():
            keeper.result()  # the keeper only ends by raising why the lease is gone
            raise _Lost
        return task.result()

    async def _publish(self, snapshot: Snapshot) -> None:
        mark = new_mark()
        try:
            entry_id = await self.channel.publish(
                snapshot, mark, self._last, self._before, self._timeout
            )
        except UNAVAILABLE:
            self._deliver(snapshot)  # this member's consumer still gets its poll
            raise
        if entry_id is None:
            raise _Lost
        self._last, self._last_id = Published(snapshot, mark), entry_id
        self._before, self._alone_until = snapshot.calls, None
        self._deliver(snapshot)

    async def _alone(self, probe: Callable[[], Awaitable[bool]]) -> None:
        """Poll on this process's own (when feeding a consumer) until ``probe`` says to rejoin."""
        polls: asyncio.Task[None] | None = None
        local: SnapshotWatch | None = None
        if self._feeding:
            # The fleet's share of the budget for this watch, split between its members.
            local = self._open_local(budget_share=self.budget_share / self.members)
            polls = asyncio.get_running_loop().create_task(self._poll_alone(local))
            self.polling = True
        try:
            while True:
                if polls is None:
                    await asyncio.sleep(self.hub.probe_interval)
                else:
                    await asyncio.wait({polls}, timeout=self.hub.probe_interval)
                    if polls.done():
                        polls.result()  # a poll that cannot heal
                with contextlib.suppress(*UNAVAILABLE):
                    if await probe():
                        break
        finally:
            self.polling = False
            if polls is not None:
                await stop_task(polls)
            if local is not None:
                await local.aclose()
        if self._seen is not None and polls is not None:
            # Back in the fleet from its latest snapshot, none older than this member's own.
            self._alone_until = self._seen.taken_at
            self._last_id = None

    async def _poll_alone(self, local: SnapshotWatch) -> None:
        seen = self._seen
        if seen is not None:
            local.continue_from(seen)
            # Members that all went alone at once take turns, one fleet interval apart,
            # so that together they poll no faster than the one poller did.
            turn = (self._place + 1) * max(self.interval, seen.interval)
            await asyncio.sleep(_until_due(seen, turn))
        while True:
            self._deliver(await local.__anext__())

    async def _probe_redis(self) -> bool:
        # Connections from before the outage are dead: drop the idle ones rather than
        # meet each as a failure.
        pool = self.hub.redis.connection_pool
        await bounded(pool.disconnect(inuse_connections=False), self.hub.timeout)
        await self._tick()
        self.hub.reachable()
        return True

    async def _probe_format(self) -> bool:
        if await self._tick():
            return True
        found = await self.channel.latest_format(self.hub.timeout)
        return found is None or found == FORMAT


class SharedCallWatch(ClosingIterator[CallEvent]):
    """The ``CallEvent``s of a one-listing shared watch, in the order its snapshots bring them."""

    def __init__(self, snapshots: SharedWatch) -> None:
        self.snapshots = snapshots
        self.label = snapshots.label
        self.interval = snapshots.interval
        self._events: deque[CallEvent] = deque()

    def __repr__(self) -> str:
        return f"<SharedCallWatch {self.label} shared with {self.shared_with}>"

    @property
    def shared_with(self) -> int:
        """How many other members the watch had when Redis last answered."""
        return self.snapshots.shared_with

    @property
    def polling(self) -> bool:
        """Whether this process polls now (for the fleet, or alone while cut off)."""
        return self.snapshots.polling

    async def __anext__(self) -> CallEvent:
        while not self._events:
            self._events.extend((await self.snapshots.__anext__()).events)
        return self._events.popleft()

    async def aclose(self) -> None:
        """Leave the fleet and stop."""
        self._events.clear()
        await self.snapshots.aclose()


def _until_due(last: Snapshot, after: float) -> float:
    """Seconds until ``after`` seconds past ``last`` (0 to ``after``: host clocks differ)."""
    due = last.taken_at + timedelta(seconds=after)
    left = (due - datetime.now(timezone.utc)).total_seconds()
    return min(max(left, 0.0), after)
