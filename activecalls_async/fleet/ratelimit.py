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
- A grant nobody will use is taken back: when a call to Redis times out on the client
  (a paused or slow Redis still runs it later) or its waiter is cancelled, the process
  has Redis forget that ticket on its next call that works, and a tombstone stops an
  acquire Redis has not run yet from granting it. No slot stays held by a request that
  was never sent, so a fleet is back to its full pace within one window of Redis
  answering again.

**Its share.** When the process cannot rely on Redis's count it keeps to its share of
the limit: ``fallback_share``, or by default 1/N, N the live members it last saw. It
then counts its own requests of the last window and the fleet's window as it last saw
it, weighed by its share, with the slots other members may have taken since it last
heard from Redis counted as taken: those that freed meanwhile, plus the limit's pace
over that time (the one estimate in the scheme; heartbeats keep that time short).

**When Redis is unreachable** or slower than ``timeout`` (``connect_timeout`` for the
first call, which connects and loads the scripts), the limiter logs one WARNING and
falls back to a local ``RateLimit`` within its share. It probes Redis every
``probe_interval`` seconds, rejoins with one INFO line, counts its requests of the last
window back into the fleet's window (those made while cut off, and those Redis lost if
it restarted meanwhile), and for one more window also keeps its own requests within its
share, because members still cut off are not yet counted in Redis. A process that never
reached Redis knows of no other member: give it an explicit ``fallback_share``.

**When Redis refuses** (it answers with an error that will not pass by itself: a fleet
key of the wrong type, an ACL forbidding a command, a wrong password), the process is
not alone: it logs one ERROR naming the keys of the wrong type (or, when none is, the
rights to check) and keeps to its share as above, probing until Redis accepts again. A
process that knows no share (it never heard from the fleet and has no
``fallback_share``) does not guess: ``acquire`` raises ``RedisRefusedError``.

**When Redis loses the window** (it restarted empty, was flushed, or failed over to a
replica without the fleet's keys; the client reconnects by itself, so no call fails),
an epoch kept beside the window shows it on the next reply, and Redis grants nothing to
a member that has not seen the new epoch. Each member then logs one WARNING, counts its
requests of the last window back in, and for one window keeps within its share,
counting the fleet's window as it saw it before the loss, so that the limit is not
spent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from .. import _validators as check
from .._aio import ClosesOnExit, stop_task
from ..errors import ClientClosedError, ValidationError
from ..limits.priority import Priority
from ..limits.ratelimit import RateLimit
from ..limits.window import WindowedLimit, WindowSettings
from . import scripts
from ._redis import (
    UNAVAILABLE,
    RedisRefusedError,
    aioredis,
    bounded,
    check_key,
    connect,
    describe,
    refused,
    text,
    what_refuses,
)
from ._share import Guard, Ledger

__all__ = ["RedisRateLimit"]

logger = logging.getLogger("activecalls_async")

# The ACQUIRE script's statuses (see ``scripts``).
_GRANTED, _EPOCH_CHANGED, _GIVEN_UP = 1, -1, -2


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
        self._types = {f"{key}:{part}": kind for part, kind in scripts.WINDOW_KEYS.items()}
        window, inflight, queue, seen, clocks, members, epoch, cancelled = self._types
        self._acquire_keys = [window, inflight, queue, seen, clocks, epoch, cancelled]
        self._release_keys = [window, inflight]
        self._heartbeat_keys = [window, inflight, queue, seen, members, epoch, cancelled]
        self._forget_keys = [window, inflight, queue, seen, cancelled]
        self._acquire_script = self._redis.register_script(scripts.ACQUIRE)
        self._release_script = self._redis.register_script(scripts.RELEASE)
        self._heartbeat_script = self._redis.register_script(scripts.HEARTBEAT)
        self._forget_script = self._redis.register_script(scripts.FORGET)
        self._member = uuid.uuid4().hex
        self._tickets = itertools.count()
        self._ledger = Ledger(self.settings)
        # Tickets given up whose grant Redis may hold (or make later): forgotten in Redis
        # by the next call that works.
        self._given_up: set[str] = set()
        self._cleanups: set[asyncio.Task[None]] = set()
        # The window's epoch as this process knows it ("" before the first reply), and
        # when the last reply came.
        self._epoch = ""
        self._heard_at: float | None = None
        self.members = 1
        self._members_known = False
        self._online = True
        self._refusal: str | None = None  # why acquire raises, while Redis refuses
        self._cut_off_at = self._last_probe = 0.0
        self._guard: Guard | None = None
        self._local: RateLimit | None = None
        self._local_lock = asyncio.Lock()
        self._restore_lock = asyncio.Lock()
        self._waiters = 0
        self._idle_since = time.monotonic()
        self._beat: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisRateLimit({self.requests}, per={self.per:g}, key={self.key!r})"

    @property
    def online(self) -> bool:
        """Whether the limiter is using Redis (False while it keeps to its share alone)."""
        return self._online

    @property
    def in_window(self) -> int:
        """Requests in the fleet's window when this process last heard from Redis (or,
        while cut off, as it counts them)."""
        return self._ledger.in_window(time.monotonic())

    @property
    def share(self) -> float:
        """The fraction of the limit this process keeps to when it cannot rely on Redis."""
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
            await stop_task(beat)
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
        ticket = self._new_ticket()
        asked = False
        try:
            while True:
                if self._online:
                    asked = True
                    granted = await self._try_redis(ticket, priority)
                    if granted:
                        return
                    if granted is None:  # given up: Redis forgets that ticket
                        ticket, asked = self._new_ticket(), False
                elif self._refusal is not None:
                    await self._refuse()
                elif await self._try_local(ticket, priority):
                    return
        except BaseException:
            if asked:
                self._forget(ticket)
            raise
        finally:
            self._waiters -= 1
            self._idle_since = time.monotonic()

    def _new_ticket(self) -> str:
        return f"{self._member}:{next(self._tickets)}"

    def _forget(self, ticket: str) -> None:
        """Have Redis forget a ticket that will never be used, in the background; one
        that cannot be forgotten now is by the next heartbeat that works."""
        self._given_up.add(ticket)

        async def forget() -> None:
            with contextlib.suppress(*UNAVAILABLE):
                args: list[str | int] = [self._ttl(), ticket]
                await bounded(self._forget_script(keys=self._forget_keys, args=args), self.timeout)
                self._given_up.discard(ticket)

        self._in_background(forget())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task that ``aclose()`` waits for."""
        task = asyncio.get_running_loop().create_task(work)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def release(self) -> None:
        """Count the oldest request still in flight as started now (see the module)."""
        ledger = self._ledger
        if not ledger.inflight:
            return
        ticket, local = ledger.inflight.popleft()
        ledger.ended.append((ticket, time.monotonic()))
        if local is not None:
            await local.release()
        if self._online:
            args: list[str | int] = [ticket, self._ms(self.per + self.margin), self._ttl()]
            # Cancelled or cut off, the lease ends it in Redis; here it has already ended.
            try:
                await bounded(
                    self._release_script(keys=self._release_keys, args=args), self.timeout
                )
            except UNAVAILABLE as exc:
                self._cut_off(exc)

    # -- Redis mode --------------------------------------------------------------------------

    async def _try_redis(self, ticket: str, priority: Priority) -> bool | None:
        """Ask Redis once: True once granted, False after waiting for the next chance,
        None when the ticket was given up (Redis did not answer in time)."""
        guard, reserved = self._guard, False
        try:
            if guard is not None and time.monotonic() < guard.until:
                # Members still cut off, or not recounted yet, are missing from Redis's count.
                reserved = await self._wait_for_share(reserve=True)
            if not self._online:  # cut off while it waited: the local share takes over
                return False
            reply = await self._ask(ticket, priority)
        finally:
            if reserved:
                self._ledger.reserved -= 1
        if reply is None:
            return None
        received = time.monotonic()
        status, wait_ms, fleet_inflight = (int(x) for x in reply[:3])
        lost = self._hear(received, text(reply[3]))
        if status == _EPOCH_CHANGED:
            if lost:
                await self._restore(text(reply[3]))
            return False
        if status == _GIVEN_UP:
            return None
        if status == _GRANTED:
            self._ledger.inflight.append((ticket, None))
            self._ledger.remember(received, fleet_inflight, reply[4:])
            return True
        # Asking at least every heartbeat keeps the ticket in the queue (see ``stale``).
        delay = self.heartbeat if wait_ms < 0 else wait_ms / 1000 + 0.001
        await asyncio.sleep(min(delay, self.heartbeat))
        return False

    async def _ask(self, ticket: str, priority: Priority) -> list[Any] | None:
        """The ACQUIRE script's reply, or None (the ticket given up, the process cut off)."""
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
            self._epoch,
            self._new_ticket(),
        ]
        try:
            reply: list[Any] = await bounded(
                self._acquire_script(keys=self._acquire_keys, args=args), self._call_timeout
            )
        except UNAVAILABLE as exc:
            # Redis may still run it (a paused Redis runs its backlog when it resumes).
            self._given_up.add(ticket)
            self._cut_off(exc)
            return None
        return reply

    def _hear(self, received: float, epoch: str) -> bool:
        """Note a reply; True when its epoch shows that Redis lost the fleet's window."""
        last, self._heard_at = self._heard_at, received
        if epoch == self._epoch:
            return False
        if not self._epoch or last is None or received - last >= self._ttl() / 1000 - 1:
            # The first reply, or the keys (may have) expired while this process was idle
            # (a second early: they were refreshed before the reply came): nothing of its
            # own is left in the window to count back in.
            self._epoch = epoch
            return False
        return True

    async def _restore(self, epoch: str) -> None:
        """Count this process's recent requests back into a window Redis lost, once."""
        async with self._restore_lock:
            if not self._online or self._epoch == epoch:
                return  # done meanwhile, or cut off (rejoining counts them back in)
            now = time.monotonic()
            fleet, share, own = self._ledger.estimate(now), self.share, self._ledger.own(now)
            if not await self._beat_once(recount=True):
                return
            self._guard = Guard(now + self.per + self.margin, share, tuple(fleet))
            logger.warning(
                "Redis lost the fleet rate limit's window %r (restarted, flushed or failed "
                "over); counted this process's %d recent requests back in and keeping to "
                "%.0f%% of %d requests per %gs for one window",
                self.key,
                own,
                100 * share,
                self.requests,
                self.per,
            )

    @property
    def _call_timeout(self) -> float:
        """The bound on one call: longer until connected (connecting, loading scripts)."""
        return self.timeout if self._heard_at is not None and self._online else self.connect_timeout

    # -- fallback ----------------------------------------------------------------------------

    def _cut_off(self, exc: BaseException) -> None:
        """Go on alone within this process's share (or refuse), with one log line."""
        if not self._online:
            return
        self._online = False
        now = time.monotonic()
        self._cut_off_at = self._last_probe = now
        # Requests in flight at the switch count as if they ended now, and so do those
        # other members may have been granted since this process last heard from Redis.
        self._ledger.cut_off(now)
        self._guard = None
        knows_share = self.fallback_share is not None or self._members_known
        is_refusal = refused(exc)
        self._refusal = None
        if is_refusal and not knows_share:
            self._refusal = (
                f"Redis refuses the fleet rate limit {self.key!r} ({describe(exc)}) and no "
                "share is known to keep to alone: fix Redis (see the ERROR) or set fallback_share"
            )
        else:
            self._local = RateLimit(max(1, math.floor(self.share * self.requests)), self.per)
        self._start_heartbeats()
        if is_refusal:
            self._in_background(self._log_refusal(exc))  # names the key: a call to Redis
            return
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

    async def _log_refusal(self, exc: BaseException) -> None:
        """One ERROR: what Redis said, the keys of the wrong type, what the process does."""
        culprit = await what_refuses(self._redis, self._types, self.timeout)
        if self._refusal is not None:
            doing = "requests raise RedisRefusedError until it is fixed (no fallback_share)"
        else:
            doing = f"keeping to {100 * self.share:.0f}% of {self.requests} requests per "
            doing += f"{self.per:g}s locally until it is fixed"
        logger.error(
            "Redis refuses the fleet rate limit %r (%s); %s; %s, probing every %gs",
            self.key,
            describe(exc),
            culprit,
            doing,
            self.probe_interval,
        )

    async def _refuse(self) -> None:
        """Probe Redis when one is due; raise while it still refuses."""
        if time.monotonic() - self._last_probe >= self.probe_interval:
            self._last_probe = time.monotonic()
            if await self._beat_once():
                return
        if self._refusal is not None:
            raise RedisRefusedError(self._refusal)

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
            self._ledger.inflight.append((ticket, local))
        else:
            await local.release()
        return granted

    async def _wait_for_share(self, *, grant: bool = False, reserve: bool = False) -> bool:
        """Wait until this process's share has room (``Ledger.wait``).

        With ``grant``, False if Redis came back first; with ``reserve``, the room is
        held (``Ledger.reserved``) until the caller's ask is answered.
        """
        while True:
            async with self._local_lock:
                if grant and self._online:
                    return False
                now = time.monotonic()
                guard = self._guard if self._online else None
                if self._online and (guard is None or now >= guard.until):
                    delay = 0.0
                else:
                    delay = self._ledger.wait(now, self.share, guard)
                if not delay:
                    self._ledger.reserved += reserve
                    return True
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
            idle = not self._ledger.inflight and not self._waiters and not self._given_up
            if idle and time.monotonic() - self._idle_since > 3 * self.heartbeat:
                return
            await asyncio.sleep(self.heartbeat)

    async def _beat_once(self, *, recount: bool = False) -> bool:
        """One heartbeat (or, while cut off, one probe that rejoins on success); with
        ``recount``, the process's requests of the last window are counted back in.
        False when Redis failed."""
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
                return False
        lost_epoch = None
        async with contextlib.AsyncExitStack() as stack:
            if rejoining:
                # No local grant may slip between the snapshot sent and the switch back.
                await stack.enter_async_context(self._local_lock)
            recount = recount or rejoining
            now = time.monotonic()
            given_up = list(self._given_up)
            args: list[str | int] = [
                self._member,
                self._ms(self.per + self.margin),
                self._ms(self.lease),
                self._ms(3 * self.heartbeat),
                self._ttl(),
                self._new_ticket(),
                "1" if recount else "0",
                *(ticket for ticket, _ in self._ledger.inflight),
                "|",
                *given_up,
                "|",
            ]
            if recount:
                for ticket, ago in self._ledger.recent(now):
                    args += [ticket, ago]
            try:
                reply = await bounded(
                    self._heartbeat_script(keys=self._heartbeat_keys, args=args),
                    self._call_timeout,
                )
            except UNAVAILABLE as exc:
                self._cut_off(exc)
                return False
            received = time.monotonic()
            self._given_up.difference_update(given_up)
            epoch = text(reply[2])
            lost = self._hear(received, epoch)
            if lost and not recount:
                lost_epoch = epoch  # counted back in below, outside this beat
            else:
                self._epoch = epoch
                guard_share, before = self.share, self._ledger.fleet_ends
                self.members, self._members_known = max(1, int(reply[0])), True
                self._ledger.remember(received, int(reply[1]), reply[3:])
                if rejoining:
                    self._rejoin(received, guard_share, before if lost else None)
        if lost_epoch is not None:
            await self._restore(lost_epoch)
        return True

    def _rejoin(self, received: float, share: float, lost: list[float] | None) -> None:
        """Switch back to Redis, keeping to ``share`` for one more window (counting the
        fleet's window as it was before, ``lost``, when Redis lost it meanwhile)."""
        self._online = True
        self._refusal = None
        self._guard = Guard(received + self.per + self.margin, share, tuple(lost or ()))
        logger.info(
            "Redis reachable again: fleet rate limit %r rejoined after %.1fs (%d members%s)",
            self.key,
            received - self._cut_off_at,
            self.members,
            "" if lost is None else "; Redis had lost the window: recent requests counted back in",
        )

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _ms(seconds: float) -> int:
        return math.ceil(seconds * 1000)

    def _ttl(self) -> int:
        """How long the keys outlive the fleet's last use (ms)."""
        return self._ms(2 * (self.per + self.lease) + 60)
