"""``RedisTokenCache``: a ``TokenCache`` for ``RingCentralAuth(cache=...)``: the login is
stored in Redis as the login endpoint returned it, and renewals take a Redis lock with
a lease (``lock_lease`` seconds, renewed while its holder lives, so that a crashed
holder blocks the fleet at most that long). Redis then holds live credentials: protect
it like them (an ACL user limited to the key, ``rediss://``, no shared admin password).
Tokens are never logged and appear in no repr.

- **Ages on Redis's clock.** A login is stored with the time it was obtained on the
  Redis server's clock (its age as the storing host measured it, taken from Redis's
  ``TIME``), and loaded with its age on that same clock, so that a host whose clock runs
  ahead or behind neither passes an old login off as fresh nor blocks newer ones. A
  login stored by a process that was cut off meanwhile never replaces a newer one; a
  stored time in the future (written by another clock) counts as unknown: the login is
  not used as fresh, its refresh token still is, and any newer login replaces it.
- **Unreadable logins.** A stored value that is not a login (not JSON, nested too
  deeply, the wrong shape) is ignored with one WARNING, and the process logs in itself;
  so is a key of another type, which Redis refuses to read (as when unreachable, below).
- **Waiting is bounded.** A process waits for the renewal lock only while its holder
  keeps renewing it: a lock that has no expiry, or that was not renewed for
  ``lock_lease`` seconds, is taken as abandoned (left by an old version, an operator,
  a bug), and the process renews on its own, with one WARNING per abandoned lock.
- **When Redis fails** the cache falls back to the process's own login (its renewals
  then limited by the exchange's own limit), with one WARNING.

Every process of a fleet should give the same ``lock_lease``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio.lock import Lock

from .. import _validators as check
from .._aio import ClosesOnExit, stop_task
from ..auth.cache import StoredLogin
from . import scripts
from ._redis import UNAVAILABLE, aioredis, bounded, check_key, connect, describe, refused

__all__ = ["RedisTokenCache"]

logger = logging.getLogger("activecalls_async")


class RedisTokenCache(ClosesOnExit):
    """A ``TokenCache`` in Redis: one login and one renewal lock for a whole fleet.

    The contract (ages, lock lease, fallback, protecting Redis) is the module's
    docstring. ``aclose()`` (or ``async with``) closes a Redis client opened from a URL.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        key: str,
        lock_lease: float = 10.0,
        timeout: float = 0.5,
        connect_timeout: float = 2.0,
        poll: float = 0.05,
    ) -> None:
        self.key = check_key(key)
        self.lock_lease = check.seconds("lock_lease", lock_lease)
        self.timeout = check.seconds("timeout", timeout)
        self.connect_timeout = check.seconds("connect_timeout", connect_timeout)
        self.poll = check.seconds("poll", poll)
        self._redis, self._owns_redis = connect(redis, max(self.timeout, self.connect_timeout))
        self._connected = False
        self._lock_key = f"{key}:renewal"
        self._store_script = self._redis.register_script(scripts.STORE_LOGIN)
        self._own: StoredLogin | None = None
        self._renewing = asyncio.Lock()
        self._warned = False
        # Digests of the stored value and of the lock last warned about (one WARNING each).
        self._odd_value: bytes | None = None
        self._abandoned: bytes | None = None

    def __repr__(self) -> str:
        return f"RedisTokenCache(key={self.key!r}, lock_lease={self.lock_lease:g})"

    async def aclose(self) -> None:
        """Close a Redis client opened from a URL (a client passed in is left open)."""
        if self._owns_redis:
            await self._redis.aclose()

    async def load(self) -> StoredLogin | None:
        """The newest of the fleet's stored login and this process's own (see the module)."""
        asked = time.time()
        try:
            raw, (seconds, micros) = await bounded(self._get_with_time(), self._call_timeout)
        except UNAVAILABLE as exc:
            self._unavailable(exc)
            return self._own
        self._warned, self._connected = False, True
        shared = self._decode(raw, int(seconds) + int(micros) / 1e6, asked)
        if shared is None:
            return self._own
        if self._own is None or shared.obtained_at >= self._own.obtained_at:
            self._own = shared
        return self._own

    async def _get_with_time(self) -> list[Any]:
        """The stored login (or None) and Redis's ``TIME``, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key)
            pipe.time()
            return list(await pipe.execute())

    async def store(self, login: StoredLogin) -> None:
        """Keep ``login`` for this process and, when Redis answers, for the fleet."""
        if self._own is None or login.obtained_at >= self._own.obtained_at:
            self._own = login
        answer = json.dumps(dict(login.answer))
        age = max(0.0, time.time() - login.obtained_at)  # one host's clock: a duration
        try:
            await bounded(
                self._store_script(keys=[self.key], args=[answer, f"{age:.3f}"]),
                self._call_timeout,
            )
        except UNAVAILABLE as exc:
            self._unavailable(exc)

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[None]:
        """Hold the fleet's renewal lock (or, without Redis or when the lock is abandoned,
        this process's own)."""
        async with self._renewing:
            lock = self._redis.lock(self._lock_key, timeout=self.lock_lease, blocking=False)
            held = await self._take(lock)
            keeper = asyncio.get_running_loop().create_task(self._keep(lock)) if held else None
            try:
                yield
            finally:
                if keeper is not None:
                    await stop_task(keeper)
                    try:
                        await bounded(lock.release(), self.timeout)
                    except UNAVAILABLE:
                        # Lost to its lease, or Redis went away: it expires by itself.
                        logger.debug("renewal lock %r already released by its lease", self.key)

    async def _keep(self, lock: Lock) -> None:
        """Renew the lock's lease while its holder lives (a crashed one stops renewing it)."""
        while True:
            await asyncio.sleep(self.lock_lease / 3)
            try:
                await bounded(lock.reacquire(), self.timeout)
            except UNAVAILABLE:
                return

    async def _take(self, lock: Lock) -> bool:
        """Wait for the fleet's lock while its holder keeps renewing it; False when Redis
        cannot be reached or the lock is abandoned (see the module)."""
        last: tuple[bytes | None, int] | None = None
        renewed_at = time.monotonic()
        while True:
            try:
                if await bounded(lock.acquire(blocking=False), self._call_timeout):
                    self._warned, self._connected = False, True
                    return True
                holder, ttl = await bounded(self._lock_state(), self.timeout)
            except UNAVAILABLE as exc:
                self._unavailable(exc)
                return False
            now = time.monotonic()
            if holder is not None:
                digest = _digest(holder)
                # A holder renews its lease every third of it: a longer expiry, or the
                # same holder's expiry only running down, means nobody keeps it.
                if last is None or last[0] != holder or ttl > last[1]:
                    renewed_at = now
                last = (holder, ttl)
                if digest == self._abandoned:
                    return False
                if ttl == -1 or now - renewed_at >= self.lock_lease:
                    self._abandoned = digest
                    logger.warning(
                        "the fleet login's renewal lock %r %s; this process renews its login "
                        "without it",
                        self._lock_key,
                        "has no expiry"
                        if ttl == -1
                        else f"was not renewed for {self.lock_lease:g}s",
                    )
                    return False
            await asyncio.sleep(self.poll)

    async def _lock_state(self) -> tuple[bytes | None, int]:
        """The lock's holder token (None once free) and its expiry in ms (-1: none)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._lock_key)
            pipe.pttl(self._lock_key)
            holder, ttl = await pipe.execute()
        return holder, int(ttl)

    @property
    def _call_timeout(self) -> float:
        """The bound on one call: longer until one succeeded (connecting, TLS)."""
        return self.timeout if self._connected else self.connect_timeout

    def _unavailable(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "Redis %s for the fleet login %r (%s); this process uses its own login",
                "refuses" if refused(exc) else "unreachable",
                self.key,
                describe(exc),
            )

    def _decode(self, raw: bytes | None, redis_now: float, asked: float) -> StoredLogin | None:
        """The stored login with its age on Redis's clock, as this host's wall-clock time
        (taken before asking, so that the age errs on the old side); None when absent or
        unreadable (one WARNING per value, showing no content)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            answer, obtained_at = data["answer"], data["obtained_at"]
            if not isinstance(answer, dict) or isinstance(obtained_at, bool):
                raise TypeError
            obtained_at = float(obtained_at)
            if not math.isfinite(obtained_at):
                raise ValueError
        except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError):
            self._odd(raw, "the fleet login in Redis is unreadable; ignoring it")
            return None
        age = redis_now - obtained_at
        if age < 0:
            self._odd(raw, "the fleet login in Redis has a time in the future; renewing it")
            return StoredLogin(answer=answer, obtained_at=0.0)
        self._odd_value = None
        return StoredLogin(answer=answer, obtained_at=asked - age)

    def _odd(self, raw: bytes, message: str) -> None:
        digest = _digest(raw)
        if digest != self._odd_value:
            self._odd_value = digest
            logger.warning(message)


def _digest(value: bytes | str) -> bytes:
    """A short digest of a stored value: remembered instead of the value (a secret)."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.blake2b(data, digest_size=16).digest()
