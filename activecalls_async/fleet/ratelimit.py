"""``RedisRateLimit``: a ``Limiter`` whose window lives in Redis, so that every process
using the same ``key`` shares it. One Lua script per step keeps each decision atomic,
and every time in it is the Redis server's ``TIME``, never a host's clock:

- A request counts from ``acquire`` until ``release``, and from then as if it started
  at its release, so however late the server saw it, the server never sees more than
  ``requests`` starts inside ``per`` seconds. An in-flight request holds a lease that
  its process's heartbeats extend: a crashed process's requests stop counting
  ``lease`` seconds after its last heartbeat (then ``per`` seconds more, as released).
- Waiters of every process queue in one sorted set, ordered by arrival time minus
  ``age`` seconds per priority level: higher priorities go first across processes,
  and a request that has waited ``age`` seconds per level overtakes newer, more
  urgent ones. Within a priority, each process's waiters are spaced one slot
  (``per / requests``) apart in that order, so that processes take turns: one with
  many tasks waiting cannot push another back by all of them, and none starves. The
  last ``reserve`` slots of the window (by default 2 of 120, as ``RateLimit``'s) are
  kept for actions and one-off reads (``READ`` and up), so that they need not wait for
  a window that walks and watches filled.
- Heartbeats (every ``heartbeat`` seconds while the limiter is in use) register the
  process as a live member and bring back the fleet's recent window.

When Redis is unreachable or slower than ``timeout`` (``connect_timeout`` for the first
call, which connects and loads the scripts), the limiter logs one WARNING and falls back
to a local ``RateLimit`` of ``fallback_share`` of the limit (by default 1/N, N the live
members it last saw). So that the switch itself does not push the server over the
limit, the process keeps counting its own recent requests, and the fleet's window as it
last saw it weighed by its share, with the slots other members may have taken since it
last heard from Redis counted as taken: those that freed meanwhile, plus the limit's
pace over that time (the one estimate in the scheme; heartbeats keep that time short).
It probes Redis every ``probe_interval`` seconds, rejoins with one INFO line, adds its
requests made meanwhile to the fleet's window, and for one more window also keeps within
its share, because members still cut off are not yet counted in Redis. A process that
never reached Redis knows of no other member: give it an explicit ``fallback_share``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from .. import _validators as check
from .._aio import ClosesOnExit
from ..errors import ClientClosedError, ValidationError
from ..limits.priority import Priority
from ..limits.ratelimit import RateLimit
from ..limits.window import WindowedLimit, WindowSettings
from . import scripts
from ._redis import UNAVAILABLE, aioredis, bounded, check_key, connect, describe

__all__ = ["RedisRateLimit"]

logger = logging.getLogger("activecalls_async")


class RedisRateLimit(WindowedLimit, ClosesOnExit):
    """A ``Limiter`` shared through Redis by every process using ``key``.

    The contract (window, leases, priorities, fallback) is the module's docstring.
    Use it as an async context manager, or call ``aclose()`` when done: that stops
    its heartbeats (which also stop by themselves once it is idle) and closes a Redis
    client it opened from a URL.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        key: str,
        requests: int = 120,
        per: float = 60.0,
        margin: float = 0.05,
        reserve: int | None = None,
        age: float | None = None,
        lease: float = 10.0,
        heartbeat: float = 1.0,
        timeout: float = 0.5,
        connect_timeout: float = 2.0,
        fallback_share: float | None = None,
        probe_interval: float = 5.0,
    ) -> None:
        self.settings = WindowSettings.of(requests, per, margin=margin, reserve=reserve, age=age)
        self.lease = check.seconds("lease", lease)
        self.heartbeat = check.seconds("heartbeat", heartbeat)
        if self.heartbeat * 2 >= self.lease:
            raise ValidationError("heartbeat", "must be shorter than half the lease")
        self.timeout = check.seconds("timeout", timeout)
        self.connect_timeout = check.seconds("connect_timeout", connect_timeout)
        if fallback_share is not None:
            share = check.finite_number(fallback_share)
            if share is None or not 0 < share <= 1:
                raise ValidationError("fallback_share", "expected a fraction > 0 and <= 1")
        self.fallback_share = fallback_share
        self.probe_interval = check.seconds("probe_interval", probe_interval)
        self.key = check_key(key)
        self._redis, self._owns_redis = connect(redis, max(self.timeout, self.connect_timeout))
        self._keys = [f"{key}:window", f"{key}:inflight", f"{key}:queue", f"{key}:seen"]
        self._clocks_key = f"{key}:clocks"
        self._members_key = f"{key}:members"
        self._acquire_script = self._redis.register_script(scripts.ACQUIRE)
        self._release_script = self._redis.register_script(scripts.RELEASE)
        self._heartbeat_script = self._redis.register_script(scripts.HEARTBEAT)
        self._forget_script = self._redis.register_script(scripts.FORGET)
        self._member = uuid.uuid4().hex
        self._tickets = itertools.count()
        # Own requests in flight, oldest first: their tickets, and the local limiter of
        # those granted while cut off; and the local times at which finished ones ended.
        self._inflight: deque[tuple[str, RateLimit | None]] = deque()
        self._ended: deque[float] = deque()
        # Requests granted while cut off (ticket -> local end time, None while in flight),
        # added to the fleet's window on rejoining.
        self._offline: dict[str, float | None] = {}
        self._cleanups: set[asyncio.Task[None]] = set()
        # The fleet's window as last seen: local end times, and how many were in flight.
        self._fleet_ends: list[float] = []
        self._fleet_inflight = 0
        self._seen_at: float | None = None
        self.members = 1
        self._online = True
        self._cut_off_at = self._last_probe = 0.0
        self._guarded_until = 0.0
        self._local: RateLimit | None = None
        self._local_lock = asyncio.Lock()
        self._waiters = 0
        self._idle_since = time.monotonic()
        self._beat: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisRateLimit({self.requests}, per={self.per:g}, key={self.key!r})"

    @property
    def online(self) -> bool:
        """Whether the limiter is using Redis (False while it runs on its fallback share)."""
        return self._online

    @property
    def in_window(self) -> int:
        """Requests in the fleet's window when this process last heard from Redis (or,
        while cut off, as it counts them)."""
        now = time.monotonic()
        window = self.per + self.margin
        fleet = sum(1 for end in self._fleet_ends if end + window > now)
        return fleet + self._fleet_inflight

    @property
    def share(self) -> float:
        """The fraction of the limit this process keeps to when Redis is unreachable."""
        if self.fallback_share is not None:
            return self.fallback_share
        return 1.0 / max(1, self.members)

    async def aclose(self) -> None:
        """Stop the heartbeats and close a Redis client opened from a URL; a second call
        does nothing."""
        if self._closed:
            return
        self._closed = True
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if self._cleanups:
            await asyncio.wait(self._cleanups)
        if self._owns_redis:
            await self._redis.aclose()

    # -- the Limiter protocol ----------------------------------------------------------------

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Wait until the fleet's window lets one more request of ``priority`` start."""
        if self._closed:
            raise ClientClosedError("this RedisRateLimit is closed; create a new one")
        priority = Priority(priority)
        self._waiters += 1
        self._start_heartbeats()
        ticket = f"{self._member}:{next(self._tickets)}"
        asked = False
        try:
            while True:
                if self._online:
                    asked = True
                    if await self._try_redis(ticket, priority):
                        return
                elif await self._try_local(ticket, priority):
                    return
        except BaseException:
            if asked:
                self._forget(ticket)
            raise
        finally:
            self._waiters -= 1
            self._idle_since = time.monotonic()

    def _forget(self, ticket: str) -> None:
        """Take a ticket that will never be used out of the queue (and out of the window:
        a grant whose reply was lost sent no request), in the background."""

        async def forget() -> None:
            with contextlib.suppress(*UNAVAILABLE):
                await bounded(self._forget_script(keys=self._keys, args=[ticket]), self.timeout)

        task = asyncio.get_running_loop().create_task(forget())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def release(self) -> None:
        """Count the oldest request still in flight as started now (see the module)."""
        if not self._inflight:
            return
        ticket, local = self._inflight.popleft()
        now = time.monotonic()
        self._ended.append(now)
        if local is not None:
            await local.release()
        if ticket in self._offline:
            self._offline[ticket] = now
        elif self._online:
            args: list[str | int] = [ticket, self._ms(self.per + self.margin), self._ttl()]
            # Cancelled or cut off, the lease ends it in Redis; here it has already ended.
            try:
                await bounded(self._release_script(keys=self._keys[:2], args=args), self.timeout)
            except UNAVAILABLE as exc:
                self._cut_off(exc)

    # -- Redis mode --------------------------------------------------------------------------

    async def _try_redis(self, ticket: str, priority: Priority) -> bool:
        """Ask Redis once; True once granted, else after waiting for the next chance."""
        if self._guarded_until and time.monotonic() < self._guarded_until:
            # Just rejoined: members still cut off are not in Redis's count yet.
            await self._wait_for_share()
        args: list[str | int] = [
            ticket,
            self._member,
            int(priority),
            self.requests,
            self.reserve,
            self._ms(self.per + self.margin),
            self._ms(self.lease),
            self._ms(self.age),
            self._ms(max(3.0, 3 * self.heartbeat)),
            self._ttl(),
        ]
        try:
            reply = await bounded(
                self._acquire_script(keys=[*self._keys, self._clocks_key], args=args),
                self._call_timeout,
            )
        except UNAVAILABLE as exc:
            self._cut_off(exc)
            return False
        received = time.monotonic()
        granted, wait_ms, fleet_inflight = (int(x) for x in reply[:3])
        if granted:
            self._inflight.append((ticket, None))
            self._remember(received, fleet_inflight, reply[3:])
            return True
        # Asking at least every heartbeat keeps the ticket in the queue (see ``stale``).
        delay = self.heartbeat if wait_ms < 0 else wait_ms / 1000 + 0.001
        await asyncio.sleep(min(delay, self.heartbeat))
        return False

    def _remember(self, received: float, inflight: int, ages: Sequence[Any]) -> None:
        self._fleet_ends = [received - int(age) / 1000 for age in ages]
        self._fleet_inflight = inflight
        self._seen_at = received

    @property
    def _call_timeout(self) -> float:
        """The bound on one call: longer until connected (connecting, loading scripts)."""
        return self.timeout if self._seen_at is not None and self._online else self.connect_timeout

    # -- fallback ----------------------------------------------------------------------------

    def _cut_off(self, exc: BaseException) -> None:
        if not self._online:
            return
        self._online = False
        now = time.monotonic()
        self._cut_off_at = self._last_probe = now
        # Requests in flight at the switch are counted as if they ended now, and so are
        # those other members may have been granted since this process last heard from
        # Redis: every slot that freed meanwhile, plus the limit's pace over that time.
        window = self.per + self.margin
        if self._seen_at is not None:
            seen, live = self._seen_at, [e for e in self._fleet_ends if e + window > now]
            freed = sum(1 for e in self._fleet_ends if seen < e + window <= now)
            pace = math.ceil(self.requests / window * (now - seen))
            room = self.requests - len(live) - self._fleet_inflight
            unseen = max(0, min(room, freed + pace))
            self._fleet_ends = [*live, *[now] * (self._fleet_inflight + unseen)]
        self._fleet_inflight = 0
        self._seen_at = None
        self._local = RateLimit(max(1, math.floor(self.share * self.requests)), self.per)
        logger.warning(
            "Redis unreachable for the fleet rate limit %r (%s); keeping to %.0f%% of %d "
            "requests per %gs locally, probing every %gs",
            self.key,
            describe(exc),
            100 * self.share,
            self.requests,
            self.per,
            self.probe_interval,
        )
        self._start_heartbeats()

    async def _try_local(self, ticket: str, priority: Priority) -> bool:
        """Take a local slot within this process's share; False if Redis came back."""
        local = self._local
        assert local is not None
        await local.acquire(priority)
        try:
            granted = await self._wait_for_share(grant=True)
        except BaseException:
            await local.release()
            raise
        if granted:
            self._inflight.append((ticket, local))
            self._offline[ticket] = None
        else:
            await local.release()
        return granted

    def _window_counts(self, now: float) -> tuple[int, int]:
        """(own requests, fleet requests as last seen) counting in the window at ``now``."""
        window = self.per + self.margin
        while self._ended and self._ended[0] + window <= now:
            self._ended.popleft()
        own = len(self._inflight) + len(self._ended)
        fleet = sum(1 for end in self._fleet_ends if end + window > now)
        return own, fleet

    async def _wait_for_share(self, *, grant: bool = False) -> bool:
        """Wait until this process's share has room: its own requests, plus the fleet's
        window as last seen weighed by the share, stay under its share of the limit.

        With ``grant``, take the slot (locally); returns False if Redis came back first.
        """
        while True:
            async with self._local_lock:
                if grant and self._online:
                    return False
                now = time.monotonic()
                own, fleet = self._window_counts(now)
                share = self.share
                if own + share * fleet < share * self.requests:
                    return True
                window = self.per + self.margin
                ends = [e + window for e in itertools.chain(self._ended, self._fleet_ends)]
                later = [e for e in ends if e > now]
                delay = (min(later) - now if later else self.heartbeat) + 0.001
            await asyncio.sleep(min(delay, self.heartbeat))

    # -- heartbeats and probes ---------------------------------------------------------------

    def _start_heartbeats(self) -> None:
        if self._closed or (self._beat is not None and not self._beat.done()):
            return
        self._beat = asyncio.get_running_loop().create_task(
            self._heartbeats(), name=f"activecalls-fleet-heartbeat-{self.key}"
        )

    async def _heartbeats(self) -> None:
        """Beat while in use (and probe while cut off); stop once idle for a few beats."""
        while not self._closed:
            if self._online:
                await self._beat_once()
            elif time.monotonic() - self._last_probe >= self.probe_interval:
                # Kept across restarts of this task, so that sparse requests still probe.
                self._last_probe = time.monotonic()
                await self._beat_once()
            idle = not self._inflight and not self._waiters
            if idle and time.monotonic() - self._idle_since > 3 * self.heartbeat:
                return
            await asyncio.sleep(self.heartbeat)

    async def _beat_once(self) -> None:
        """One heartbeat (or, while cut off, one probe that rejoins on success)."""
        rejoining = not self._online
        if rejoining:
            # Connections from before the outage are dead: drop the idle ones rather
            # than meet each as a failure, and ask for a new one without holding up
            # local grants while it connects.
            try:
                pool = self._redis.connection_pool
                await bounded(pool.disconnect(inuse_connections=False), self.timeout)
                await bounded(self._redis.ping(), self.connect_timeout)
            except UNAVAILABLE:
                return
        async with contextlib.AsyncExitStack() as stack:
            if rejoining:
                # No local grant may slip between the snapshot sent and the switch back.
                await stack.enter_async_context(self._local_lock)
            now = time.monotonic()
            args: list[str | int] = [
                self._member,
                self._ms(self.per + self.margin),
                self._ms(self.lease),
                self._ms(3 * self.heartbeat),
                self._ttl(),
                *(ticket for ticket, local in self._inflight if local is None),
                "|",
            ]
            if rejoining:
                # Requests still in flight count as ending now; their release re-times them.
                for ticket, ended in self._offline.items():
                    args += [ticket, 0 if ended is None else max(0, self._ms(now - ended))]
            keys = [*self._keys[:2], self._members_key]
            try:
                reply = await bounded(
                    self._heartbeat_script(keys=keys, args=args), self._call_timeout
                )
            except UNAVAILABLE as exc:
                self._cut_off(exc)
                return
            received = time.monotonic()
            self.members = max(1, int(reply[0]))
            self._remember(received, int(reply[1]), reply[2:])
            if rejoining:
                self._offline.clear()
                self._online = True
                self._guarded_until = received + self.per + self.margin
                logger.info(
                    "Redis reachable again: fleet rate limit %r rejoined after %.1fs (%d members)",
                    self.key,
                    received - self._cut_off_at,
                    self.members,
                )

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _ms(seconds: float) -> int:
        return math.ceil(seconds * 1000)

    def _ttl(self) -> int:
        """How long the keys outlive the fleet's last use (ms)."""
        return self._ms(2 * (self.per + self.lease) + 60)
