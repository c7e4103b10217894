"""The Redis side of shared watches: a hub's connection and scripts (``HubCore``), and where
one shared watch lives in Redis (``Channel``): its keys, and every call on them.

Under ``<key>:watch:<id>`` (``id`` names the set of watched listings):

- ``:lease``: the member polling for the fleet, expiring ``lease`` after its last renewal;
- ``:members``: the live members, each counted for one lease after its last tick;
- ``:stream``: the snapshots, about ``history`` kept (``XADD ... MAXLEN ~``);
- ``:latest``: the latest snapshot whole (fields ``format``, ``record``, ``id``);
- ``:events``: the call events, written only once a ``take_call_events`` group exists.

The records' format is ``fleet.records``. Every call is bounded by a timeout
(``fleet._redis.bounded``); a Redis that fails raises one of ``_redis.UNAVAILABLE``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..models import ActiveCall
from ..pagination import Target
from ..watch import Snapshot, diff_snapshots
from . import scripts
from ._redis import aioredis, bounded, connect, describe
from .records import (
    FORMAT,
    FormatError,
    Published,
    decode_snapshot,
    encode_event,
    encode_snapshot,
)

__all__ = ["EVENTS_TTL", "Channel", "HubCore", "Scripts", "Tick"]

logger = logging.getLogger("activecalls_async")

#: How long the events stream outlives its last event (its groups' pending work with it).
EVENTS_TTL = 24 * 3600.0

#: A stream entry: its id, its format and its record.
Entry = tuple[bytes, bytes | None, bytes | None]


class Scripts:
    """The hub's Lua scripts, registered once on its Redis client."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.tick = redis.register_script(scripts.LEASE_TICK)
        self.publish = redis.register_script(scripts.PUBLISH)
        self.resign = redis.register_script(scripts.RESIGN)


@attrs.frozen
class Tick:
    """What a lease tick found: whether this member holds the lease, the live members,
    the seconds until the lease ends (negative when it never does), and this member's
    place among the live members by name (from 0)."""

    held: bool
    members: int
    ends_in: float
    place: int


class HubCore:
    """What every shared watch of a hub shares: the Redis client and scripts, the settings,
    this process's name, and the WARNING, INFO and ERROR lines it logs once."""

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        key: str,
        lease: float,
        timeout: float,
        connect_timeout: float,
        probe_interval: float,
        history: int,
        events_history: int,
    ) -> None:
        self.key, self.lease, self.timeout = key, lease, timeout
        self.connect_timeout, self.probe_interval = connect_timeout, probe_interval
        self.history, self.events_history = history, events_history
        self.redis, self._owns_redis = connect(redis, max(timeout, connect_timeout))
        #: This process's name in the fleet: its watches' members and its group consumers.
        self.member = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.scripts = Scripts(self.redis)
        self._online = True
        self._refused: set[bytes | None] = set()
        self._open: set[Any] = set()

    @property
    def online(self) -> bool:
        """Whether Redis answered the hub's last call (False from a failure to a rejoin)."""
        return self._online

    def forget(self, part: object) -> None:
        """A watch (or group member) of the hub has closed."""
        self._open.discard(part)

    def unreachable(self, exc: BaseException) -> None:
        """Log that Redis cannot be reached (once until it answers again)."""
        if self._online:
            self._online = False
            logger.warning(
                "Redis unreachable for the shared watches %r (%s); each polls on its own "
                "within its budget share, probing every %gs",
                self.key,
                describe(exc),
                self.probe_interval,
            )

    def reachable(self) -> None:
        """Log that Redis answers again (once after it was unreachable)."""
        if not self._online:
            self._online = True
            logger.info("Redis reachable again: shared watches %r rejoined", self.key)

    def refuse(self, exc: FormatError) -> None:
        """Log a record this version cannot read (once per format found)."""
        if exc.found not in self._refused:
            self._refused.add(exc.found)
            logger.error(
                "the shared watches %r hold records this version of activecalls-async "
                "cannot read (%s): another version in the fleet? Polling on its own until "
                "they agree",
                self.key,
                exc,
            )

    async def close_redis(self) -> None:
        """Close the Redis client if the hub opened it from a URL."""
        if self._owns_redis:
            await self.redis.aclose()


class Channel:
    """One shared watch's keys in Redis, as one member reads and writes them."""

    def __init__(
        self,
        redis: aioredis.Redis,
        registered: Scripts,
        *,
        key: str,
        targets: Iterable[Target],
        member: str,
        lease: float,
        history: int,
        events_history: int,
    ) -> None:
        names = sorted({f"{t.product.value}:{t.product_id or ''}" for t in targets})
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
        base = f"{key}:watch:{digest}"
        self.redis, self.scripts, self.member = redis, registered, member
        self.lease, self.history, self.events_history = lease, history, events_history
        self.lease_keys = [f"{base}:lease", f"{base}:members"]
        self.stream, self.latest_key = f"{base}:stream", f"{base}:latest"
        self.events = f"{base}:events"

    async def tick(self, timeout: float) -> Tick:
        """Count this member as live; keep the lease, or take it when nobody holds it."""
        args: list[Any] = [self.member, _ms(self.lease), _ms(2 * self.lease + 60)]
        reply = await bounded(self.scripts.tick(keys=self.lease_keys, args=args), timeout)
        held, members, ends_in, place = (int(x) for x in reply)
        seconds = ends_in / 1000 if ends_in >= 0 else -1.0
        return Tick(held != 0, max(1, members), seconds, place)

    async def resign(self, timeout: float) -> None:
        """Give up the lease (if held) and stop counting as live."""
        await bounded(self.scripts.resign(keys=self.lease_keys, args=[self.member]), timeout)

    async def latest(self, timeout: float) -> tuple[Published, bytes] | None:
        """The latest snapshot (whole) and its stream entry's id, or None; ``FormatError``
        for a record in another format."""
        fields: Mapping[Any, Any] = await bounded(self.redis.hgetall(self.latest_key), timeout)
        if not fields:
            return None
        published = decode_snapshot(fields.get(b"format"), fields.get(b"record"), None)
        assert published is not None  # written whole, so against nothing
        return published, fields.get(b"id", b"0-0")

    async def latest_format(self, timeout: float) -> bytes | None:
        """The format of the latest snapshot, or None when there is none."""
        found = await bounded(self.redis.hget(self.latest_key, "format"), timeout)
        return found if isinstance(found, bytes) else None

    async def read(self, after: bytes, *, block: float, timeout: float) -> list[Entry]:
        """The snapshots' entries after ``after``, waiting up to ``block`` seconds for one."""
        reply = await bounded(
            self.redis.xread({self.stream: after}, count=self.history, block=_ms(block)),
            block + timeout,
        )
        return [(i, f.get(b"format"), f.get(b"record")) for i, f in _entries(reply)]

    async def publish(
        self,
        snapshot: Snapshot,
        mark: int,
        previous: Published | None,
        before: Mapping[str, ActiveCall],
        timeout: float,
    ) -> bytes | None:
        """Write ``snapshot`` (against ``previous`` where smaller) with its call events since
        ``before``; its entry's id, or None when this member does not hold the lease."""
        whole, record = encode_snapshot(snapshot, mark, previous)
        changes = diff_snapshots(before, snapshot.calls)
        events = [encode_event(event, mark, snapshot.taken_at) for event in changes]
        ttl = _ms(2 * (self.lease + snapshot.interval) + 60)
        keys = [self.lease_keys[0], self.stream, self.latest_key, self.events]
        args: list[Any] = [self.member, FORMAT, record, whole, self.history, ttl]
        args += [self.events_history, _ms(EVENTS_TTL), *events]
        entry_id: bytes | None = await bounded(self.scripts.publish(keys=keys, args=args), timeout)
        return entry_id


def _entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of an XREAD reply on one stream (RESP2: the hub refuses RESP3 clients)."""
    return [(entry_id, dict(fields)) for _, entries in reply or [] for entry_id, fields in entries]


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)
