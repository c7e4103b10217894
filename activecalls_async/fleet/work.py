"""Work that one process takes: each call event of a shared watch goes to one member of a group.

``client.take_call_events(targets, hub=hub, group="hangups")`` yields ``TakenEvent``s: a
``CallEvent`` (``started``, ``changed``, ``ended``: the events a watch of those targets
gives, worked out from the shared watch's consecutive snapshots) with ``ack()``.

- **One member each.** The shared watch's poller writes every call event to a Redis
  Stream once a group reads it; the members of a group (a Redis consumer group: every
  process giving the same ``group``) take them one at a time, each event going to one
  member. A group is created by its first member and gets the events from then on.
- **Acknowledge when done.** ``await event.ack()`` tells the group the event is handled.
  An event a member took and did not acknowledge within ``claim_after`` seconds (the
  member died, or is still at it) is given to another member (``XAUTOCLAIM``), with
  ``redelivered`` set: set ``claim_after`` above the longest an action takes.
- **At least once.** An event is handed out until one member acknowledges it: it may be
  handled twice (a member that acted and died before ``ack()``, or one slower than
  ``claim_after``), never silently dropped while Redis keeps it (the stream keeps about
  ``events_history`` events for a day; a Redis that restarts empty loses them, and the
  group, which its members then create again). Make each action safe to repeat: check
  the call's state first when ``redelivered``, and treat ``NotFoundError`` (the call has
  ended) as done; the SDK's own actions never repeat themselves after a possible
  success, so a repeat can only come from a redelivery.
- **Who polls.** Every member also takes its turn as the shared watch's poller (polling
  every ``interval`` seconds while it holds the lease), so the group needs no watcher
  beside it; the events come from whichever member polls.
- **Redis unreachable**: nothing is handed out (the hub logs one WARNING, and one INFO
  when it answers again); the poller cannot write either, and its first snapshot after
  the outage carries what changed meanwhile. **Records in another format** are refused
  with one ERROR and left for a member that can read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import attrs

from .. import _validators as check
from .._aio import ClosingIterator, stop_task
from ..errors import ValidationError
from ..models import CallEvent
from ..watch import SnapshotWatch
from ._redis import UNAVAILABLE, RedisError, bounded, describe
from .hub import WatchHub
from .records import FormatError, decode_event

__all__ = ["TakenEvent", "TakenEvents"]

logger = logging.getLogger("activecalls_async")


@attrs.frozen
class TakenEvent(CallEvent):
    """A ``CallEvent`` this member of the group took: ``await event.ack()`` once handled.

    ``id`` is its stream entry, ``seen_at`` when the snapshot that brought it was taken,
    ``redelivered`` whether another member took it first and did not acknowledge it.
    """

    id: str = attrs.field(kw_only=True)
    seen_at: datetime = attrs.field(kw_only=True)
    redelivered: bool = attrs.field(kw_only=True, default=False)
    _acknowledge: Callable[[str], Awaitable[None]] = attrs.field(
        kw_only=True, alias="acknowledge", eq=False, repr=False
    )

    async def ack(self) -> None:
        """Tell the group this event is handled (a second call does nothing); if Redis
        cannot be reached, log a WARNING: the event is then given again after
        ``claim_after``."""
        await self._acknowledge(self.id)


class TakenEvents(ClosingIterator[TakenEvent]):
    """The call events one member of ``group`` takes (the contract: this module's docstring)."""

    def __init__(
        self,
        hub: WatchHub,
        open_local: Callable[[], SnapshotWatch],
        *,
        group: str,
        consumer: str | None = None,
        claim_after: float = 30.0,
    ) -> None:
        if not isinstance(hub, WatchHub):
            raise ValidationError("hub", "expected a WatchHub")
        if not isinstance(group, str) or not group.strip():
            raise ValidationError("group", "expected a non-empty group name")
        if consumer is not None and (not isinstance(consumer, str) or not consumer.strip()):
            raise ValidationError("consumer", "expected a non-empty name, or None")
        self.claim_after = check.seconds("claim_after", claim_after)
        self.hub = hub
        #: This process's turn at polling (it feeds no consumer of its own).
        self.watch = hub.share(open_local, feed=False)
        hub.adopt(self)  # closed, leaving the group, before the hub closes Redis
        self.group = group
        #: This member's name in the group (unique to the process unless given).
        self.consumer = consumer or hub.member
        self._stream = self.watch.channel.events
        self._claim_every = min(self.claim_after / 4, 1.0)
        self._next_claim = 0.0
        self._claim_from = b"0-0"
        self._joined = False
        self._closed = False
        self._busy = False
        #: The Redis step of ``__anext__`` in flight, cut off by ``aclose()``.
        self._step: asyncio.Task[TakenEvent | None] | None = None

    def __repr__(self) -> str:
        return f"<TakenEvents {self.watch.label} group={self.group!r} consumer={self.consumer!r}>"

    async def aclose(self) -> None:
        """Leave the group (its name stays while it has events unacknowledged) and the
        shared watch; a second call does nothing. A read in flight in another task is cut
        off first (that task's iteration stops), so nothing uses Redis once this returns."""
        if self._closed:
            return
        self._closed = True
        step, self._step = self._step, None
        if step is not None:
            await stop_task(step)
        await self.watch.aclose()
        if self._joined:
            with contextlib.suppress(*UNAVAILABLE):
                await bounded(self._leave(), self.hub.timeout)
        self.hub.forget(self)

    async def _leave(self) -> None:
        redis = self.hub.redis
        mine = await redis.xpending_range(
            self._stream, self.group, min="-", max="+", count=1, consumername=self.consumer
        )
        if not mine:
            await redis.xgroup_delconsumer(self._stream, self.group, self.consumer)

    async def __anext__(self) -> TakenEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True
        try:
            return await self._next()
        finally:
            self._busy = False

    async def _next(self) -> TakenEvent:
        while True:
            failure = self.watch.failure
            if failure is not None:
                await self.aclose()
                raise failure
            if self._closed or self.watch.closed:
                raise StopAsyncIteration
            step = self._step = asyncio.get_running_loop().create_task(self._take_one())
            try:
                await asyncio.wait({step})
            finally:
                self._step = None
                if not step.done():  # this task was cancelled
                    await stop_task(step)
            if step.cancelled():  # cut off by aclose()
                continue
            event = step.result()
            if event is not None:
                return event

    async def _take_one(self) -> TakenEvent | None:
        """One look at the group (joining it first): an event, or None to look again."""
        loop = asyncio.get_running_loop()
        try:
            if not self._joined:
                await self._join()
                self.watch.start()
            event = None
            if loop.time() >= self._next_claim:
                event = await self._claim()
                if event is None:  # none left to claim: look again in a while
                    self._next_claim = loop.time() + self._claim_every
            if event is None:
                event = await self._read()
        except UNAVAILABLE as exc:
            if _no_group(exc):
                self._joined = False  # a Redis that restarted empty: create it again
                return None
            self.hub.unreachable(exc)
            await asyncio.sleep(self.hub.probe_interval)
            return None
        self.hub.reachable()
        return event

    async def _join(self) -> None:
        """Create the group (reading events from now on) unless it exists."""
        try:
            await bounded(
                self.hub.redis.xgroup_create(self._stream, self.group, id="$", mkstream=True),
                self.hub.connect_timeout,
            )
        except RedisError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._joined = True

    async def _read(self) -> TakenEvent | None:
        block = self.hub.timeout / 2
        reply: Any = await bounded(
            self.hub.redis.xreadgroup(
                self.group,
                self.consumer,
                {self._stream: ">"},
                count=1,
                block=max(1, int(block * 1000)),
            ),
            block + self.hub.timeout,
        )
        for _, entries in reply or []:
            for entry_id, fields in entries:
                return self._taken(entry_id, fields, redelivered=False)
        return None

    async def _claim(self) -> TakenEvent | None:
        reply = await bounded(
            self.hub.redis.xautoclaim(
                self._stream,
                self.group,
                self.consumer,
                min_idle_time=int(self.claim_after * 1000),
                start_id=self._claim_from,
                count=1,
            ),
            self.hub.timeout,
        )
        self._claim_from = reply[0]
        for entry_id, fields in reply[1]:
            if fields is not None:  # None: trimmed from the stream meanwhile
                return self._taken(entry_id, fields, redelivered=True)
        return None

    def _taken(self, entry_id: Any, fields: Any, *, redelivered: bool) -> TakenEvent | None:
        try:
            event, seen_at, _ = decode_event(fields.get(b"format"), fields.get(b"record"))
        except FormatError as exc:
            self.hub.refuse(exc)  # left unacknowledged, for a member that can read it
            return None
        return TakenEvent(
            event.type,
            event.call,
            event.previous,
            id=entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id),
            seen_at=seen_at,
            redelivered=redelivered,
            acknowledge=self._ack,
        )

    async def _ack(self, entry_id: str) -> None:
        try:
            await bounded(self.hub.redis.xack(self._stream, self.group, entry_id), self.hub.timeout)
        except UNAVAILABLE as exc:
            logger.warning(
                "event %s of group %r not acknowledged (%s): it will be given again after %gs",
                entry_id,
                self.group,
                describe(exc),
                self.claim_after,
            )


def _no_group(exc: BaseException) -> bool:
    return isinstance(exc, RedisError) and str(exc).startswith("NOGROUP")
