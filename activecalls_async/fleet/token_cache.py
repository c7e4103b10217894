"""``RedisTokenCache``: a ``TokenCache`` for ``RingCentralAuth(cache=...)``: the login is
stored in Redis as the login endpoint returned it, and renewals take a Redis lock with
a lease (``lock_lease`` seconds, renewed while its holder lives, so that a crashed
holder blocks the fleet at most that long). Redis then holds live credentials: protect
it like them (an ACL user limited to the key, ``rediss://``, no shared admin password).
Tokens are never logged and appear in no repr. A login stored by a process that was cut
off meanwhile never replaces a newer one. When Redis is unreachable the cache falls back
to the process's own login (its renewals then limited by the exchange's own limit), with
one WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator

from redis.asyncio.lock import Lock

from .. import _validators as check
from .._aio import ClosesOnExit
from ..auth.cache import StoredLogin
from . import scripts
from ._redis import UNAVAILABLE, aioredis, bounded, check_key, connect, describe

__all__ = ["RedisTokenCache"]

logger = logging.getLogger("activecalls_async")


class RedisTokenCache(ClosesOnExit):
    """A ``TokenCache`` in Redis: one login and one renewal lock for a whole fleet.

    The contract (lock lease, fallback, protecting Redis) is the module's docstring.
    ``aclose()`` (or ``async with``) closes a Redis client opened from a URL.
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

    def __repr__(self) -> str:
        return f"RedisTokenCache(key={self.key!r}, lock_lease={self.lock_lease:g})"

    async def aclose(self) -> None:
        """Close a Redis client opened from a URL (a client passed in is left open)."""
        if self._owns_redis:
            await self._redis.aclose()

    async def load(self) -> StoredLogin | None:
        """The newest of the fleet's stored login and this process's own (see the module)."""
        try:
            raw = await bounded(self._redis.get(self.key), self._call_timeout)
        except UNAVAILABLE as exc:
            self._unavailable(exc)
            return self._own
        self._warned, self._connected = False, True
        shared = _decode(raw) if raw is not None else None
        if shared is None:
            return self._own
        if self._own is None or shared.obtained_at >= self._own.obtained_at:
            self._own = shared
        return self._own

    async def store(self, login: StoredLogin) -> None:
        """Keep ``login`` for this process and, when Redis answers, for the fleet."""
        if self._own is None or login.obtained_at >= self._own.obtained_at:
            self._own = login
        data = json.dumps({"answer": dict(login.answer), "obtained_at": login.obtained_at})
        try:
            await bounded(
                self._store_script(keys=[self.key], args=[data, login.obtained_at]),
                self._call_timeout,
            )
        except UNAVAILABLE as exc:
            self._unavailable(exc)

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[None]:
        """Hold the fleet's renewal lock (or, without Redis, this process's own)."""
        async with self._renewing:
            lock = self._redis.lock(self._lock_key, timeout=self.lock_lease, blocking=False)
            held = await self._take(lock)
            keeper = asyncio.get_running_loop().create_task(self._keep(lock)) if held else None
            try:
                yield
            finally:
                if keeper is not None:
                    keeper.cancel()
                    await asyncio.wait({keeper})
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
        """Wait for the fleet's lock; False when Redis cannot be reached."""
        while True:
            try:
                if await bounded(lock.acquire(blocking=False), self._call_timeout):
                    self._warned, self._connected = False, True
                    return True
            except UNAVAILABLE as exc:
                self._unavailable(exc)
                return False
            await asyncio.sleep(self.poll)

    @property
    def _call_timeout(self) -> float:
        """The bound on one call: longer until one succeeded (connecting, TLS)."""
        return self.timeout if self._connected else self.connect_timeout

    def _unavailable(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "Redis unreachable for the fleet login %r (%s); this process uses its own login",
                self.key,
                describe(exc),
            )


def _decode(raw: bytes | str) -> StoredLogin | None:
    """The stored login, or None (with a warning that shows no content) when unreadable."""
    try:
        data = json.loads(raw)
        answer, obtained_at = data["answer"], float(data["obtained_at"])
        if not isinstance(answer, dict) or not math.isfinite(obtained_at):
            raise ValueError
    except (ValueError, TypeError, KeyError):
        logger.warning("the fleet login in Redis is unreadable; ignoring it")
        return None
    return StoredLogin(answer=answer, obtained_at=obtained_at)
