"""What the fleet's parts share about Redis: the client, its timeouts, its failures.

``redis`` is a URL (``redis://``, ``rediss://`` or ``unix://``; the SDK opens and closes
that client) or a ``redis.asyncio.Redis`` the caller owns (never closed by the SDK).
Every Redis call is bounded by a timeout: nothing waits on a slow Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "activecalls_async.fleet needs the redis package: pip install 'activecalls-async[redis]'"
    ) from exc

from .._aio import retrieve
from ..errors import ValidationError

__all__ = ["UNAVAILABLE", "RedisError", "aioredis", "bounded", "check_key", "connect", "describe"]

_T = TypeVar("_T")

#: What a Redis call that did not work raises: the server is unreachable, slow or odd.
UNAVAILABLE = (RedisError, OSError, asyncio.TimeoutError)


def connect(redis: str | aioredis.Redis, timeout: float) -> tuple[aioredis.Redis, bool]:
    """The Redis client to use, and whether the SDK opened it (and so closes it)."""
    if isinstance(redis, str):
        if not redis.startswith(("redis://", "rediss://", "unix://")):
            raise ValidationError("redis", "expected a redis://, rediss:// or unix:// URL")
        client = aioredis.Redis.from_url(
            redis, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        return client, True
    if isinstance(redis, aioredis.Redis):
        return redis, False
    raise ValidationError("redis", "expected a Redis URL or a redis.asyncio.Redis")


def check_key(key: object) -> str:
    """``key`` if it can name the fleet's Redis keys: non-empty, no whitespace."""
    if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key):
        raise ValidationError("key", "expected a non-empty Redis key without spaces")
    return key


async def bounded(call: Awaitable[_T], timeout: float) -> _T:
    """``call``, or ``asyncio.TimeoutError`` once it took ``timeout`` seconds.

    Not ``asyncio.wait_for``: before Python 3.12 it can swallow a cancellation that
    arrives as the call completes, and a cancelled heartbeat or acquire must stop.
    """
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(retrieve)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(retrieve)
        raise asyncio.TimeoutError
    return task.result()


def describe(exc: BaseException) -> str:
    """The error's type, and Redis's own words when it answered (say, an ACL refusal)."""
    if isinstance(exc, RedisError) and str(exc):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__
