"""``WatchHub``: every process watching the same listings shares one poller, through Redis.

``client.watch_active_calls_many(targets, hub=hub)`` (and ``watch_active_calls(..., hub=hub)``)
return a shared watch: every watch of the same set of targets, through hubs with the
same ``key``, is one member of one shared watch, wherever its process runs.

**One poller.** One member holds a lease in Redis (``<key>:watch:<id>:lease``, renewed
every third of ``lease`` while it lives) and polls, exactly as a plain watch would, under
its own client's rate limit and ``budget_share``: give every process a fleet
``RedisRateLimit`` and the pace is counted once for the fleet. It appends each
``Snapshot`` to a Redis Stream (about ``history`` entries kept) and keeps the latest one
whole under its own key; the other members read the stream and poll nothing. Records
are written in the format ``fleet.records`` describes. The poller's options (interval,
budget share, page size, listing order) are the ones that count while it polls.

**The same snapshots everywhere.** Every member yields the snapshots the poller took
(same ``calls``, ``taken_at``, ``requests``, ``interval``, ``sources``, ``errors``), and
works out ``events`` itself from the previous snapshot it yielded, so that each call is
``started`` once and ``ended`` once for each member, however the poller changes. A
member starts from the latest snapshot (its first events are those a plain watch gives
on its first poll). A member whose consumer falls more than ``history`` snapshots behind
skips to the newest, its events still worked out against what it last yielded.

**Handover.** A poller that dies, or is cut off from Redis, stops renewing its lease;
the lease ends ``lease`` seconds after its last renewal at most, and a member waiting
for it (each one knows when it ends) takes it then, and continues from the last
published snapshot: it takes those calls as in flight, so that none of them starts
again, and polls when the last poll's interval is up. A member that closes its watch
gives up the lease at once. Only the lease's holder can write a record: a poller that
lost its lease while slow or cut off writes nothing.

**Redis unreachable** (or slower than ``timeout``): each member polls on its own, seeded
with what it last yielded (its consumer sees no gap), under its own client's rate limit,
with the watch's budget share split between the members it last counted, and taking
turns one interval of the fleet's apart: together they poll no faster than the one
poller did. The hub logs one WARNING, probes Redis every ``probe_interval`` seconds and
rejoins with one INFO line; the member then takes up the fleet's snapshots taken after
its own last one, less any call its own polls saw end (a uii never comes back; the
fleet's view ends it within a poll or two). **Records in another format** (another
version of the SDK in the fleet) are refused with one ERROR, never misread: the member
polls on its own until the fleet's records are in its format again (it may take the
lease and write them itself).

**Failures of the listings** travel in the snapshots (``Snapshot.errors``). A failure
that waiting cannot heal (see ``activecalls_async.watch``) ends the poller's watch with
that error and gives up the lease; the next member to poll meets it in turn.

**Lifecycle.** A shared watch starts when first iterated and polls or reads in the
background while it is open (a consumer that pauses does not hold up the fleet). Close
it (``async with``, ``aclose()``); closing the hub closes its watches, and a Redis
client the hub opened from a URL.
"""

from __future__ import annotations

import itertools

from .. import _validators as check
from .._aio import ClosesOnExit
from ..errors import ValidationError
from ._redis import aioredis, check_key
from .channel import HubCore
from .member import OpenLocal, SharedCallWatch, SharedWatch

__all__ = ["SharedCallWatch", "SharedWatch", "WatchHub"]


class WatchHub(HubCore, ClosesOnExit):
    """Shares watches between processes through Redis (the contract: this module's docstring).

    ``redis`` is a URL or a ``redis.asyncio.Redis`` that returns bytes (the SDK opens and
    closes a URL's client; one passed in is the caller's). Every process gives the same
    ``key``.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        key: str,
        lease: float = 10.0,
        timeout: float = 0.5,
        connect_timeout: float = 2.0,
        probe_interval: float = 5.0,
        history: int = 100,
        events_history: int = 10_000,
    ) -> None:
        check_key(key)
        check.seconds("lease", lease)
        check.seconds("timeout", timeout)
        if timeout * 2 >= lease:
            raise ValidationError("timeout", "must be shorter than half the lease")
        check.seconds("connect_timeout", connect_timeout)
        check.seconds("probe_interval", probe_interval)
        check.count("history", history, minimum=1)
        check.count("events_history", events_history, minimum=1)
        if isinstance(redis, aioredis.Redis):
            options = redis.connection_pool.connection_kwargs
            if options.get("decode_responses") or str(options.get("protocol", 2)) == "3":
                raise ValidationError(
                    "redis", "the hub reads bytes over RESP2: no decode_responses, no protocol=3"
                )
        super().__init__(
            redis,
            key=key,
            lease=lease,
            timeout=timeout,
            connect_timeout=connect_timeout,
            probe_interval=probe_interval,
            history=history,
            events_history=events_history,
        )
        self._numbers = itertools.count(1)
        self._closed = False

    def __repr__(self) -> str:
        return f"WatchHub(key={self.key!r}, lease={self.lease:g})"

    def share(self, open_local: OpenLocal, *, feed: bool = True) -> SharedWatch:
        """A member of the shared watch of the listings ``open_local()`` would poll; it
        polls with such a watch when its turn comes (``feed=False``: it only takes turns).
        ``open_local(budget_share=...)`` opens one with another budget share."""
        if self._closed:
            raise ValidationError("hub", "this WatchHub is closed")
        watch = SharedWatch(self, open_local, number=next(self._numbers), feed=feed)
        self._open.add(watch)
        return watch

    def adopt(self, part: ClosesOnExit) -> None:
        """Close ``part`` (say, a group member) with the hub, before its own watches."""
        self._open.add(part)

    def share_listing(self, open_local: OpenLocal) -> SharedCallWatch:
        """The ``CallEvent``s of a one-listing shared watch (``watch_active_calls``)."""
        return SharedCallWatch(self.share(open_local))

    async def aclose(self) -> None:
        """Close every watch still open on this hub, then a Redis client it opened."""
        if self._closed:
            return
        self._closed = True
        # Group members first: they leave their group through Redis, and close their watch.
        for part in sorted(self._open, key=lambda part: isinstance(part, SharedWatch)):
            await part.aclose()
        await self.close_redis()
