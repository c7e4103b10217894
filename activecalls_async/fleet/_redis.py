"""What the fleet's parts share about Redis: the client, its timeouts, its failures.

``redis`` is a URL (``redis://``, ``rediss://`` or ``unix://``; the SDK opens and closes
that client) or a ``redis.asyncio.Redis`` the caller owns (never closed by the SDK).
Every Redis call is bounded by a timeout: nothing waits on a slow Redis.

A call that did not work either found Redis *unavailable* (no answer in time, a lost
connection, a server still loading or failing over) or *refused*: Redis answered with an
error that will not go away by itself, such as a fleet key of the wrong type
(``WRONGTYPE``), an ACL that forbids a command, or a wrong password. The fleet's parts
treat the two differently (see each one's docstring).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

try:
    import redis.asyncio as aioredis
    from redis.exceptions import AuthenticationError, ReadOnlyError, RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "activecalls_async.fleet needs the redis package: pip install 'activecalls-async[redis]'"
    ) from exc

from .._aio import stop_task
from ..errors import ActiveCallsError, ValidationError

__all__ = [
    "UNAVAILABLE",
    "RedisError",
    "RedisRefusedError",
    "aioredis",
    "bounded",
    "check_key",
    "connect",
    "describe",
    "refused",
    "text",
    "what_refuses",
]

_T = TypeVar("_T")

#: What a Redis call that did not work raises: the server is unreachable, slow or odd.
UNAVAILABLE = (RedisError, OSError, asyncio.TimeoutError)

# Error replies that a server gives while it starts, fails over or runs a long script:
# they pass by themselves, so they count as unavailable, not refused.
_PASSING = frozenset({"BUSY", "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"})


class RedisRefusedError(ActiveCallsError):
    """Redis answers but refuses the fleet's commands, and this process has no share of
    the limit it could safely keep to alone (see ``RedisRateLimit``)."""


def refused(exc: BaseException) -> bool:
    """Whether Redis answered and refused (a wrong key type, an ACL, a wrong password),
    rather than failed to answer."""
    if isinstance(exc, AuthenticationError):
        return True
    if not isinstance(exc, ResponseError) or isinstance(exc, ReadOnlyError):
        return False
    return str(exc).split(" ", 1)[0] not in _PASSING


def connect(redis: str | aioredis.Redis, timeout: float) -> tuple[aioredis.Redis, bool]:
    """The Redis client to use, and whether the SDK opened it (and so closes it)."""
    if isinstance(redis, str):
        if not redis.startswith(("redis://", "rediss://", "unix://")):
            raise ValidationError("redis", "expected a redis://, rediss:// or unix:// URL")
        try:
            client = aioredis.Redis.from_url(
                redis, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:  # a port out of range or not a number, a bad option
            raise ValidationError("redis", f"not a usable Redis URL ({exc})") from None
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
    A call cut off (by the timeout or a cancellation) has ended when this returns: its
    connection is back in the pool or closed, so closing the client right after leaves
    no socket behind.
    """
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        await stop_task(task)
        raise
    if not done:
        await stop_task(task)
        if task.cancelled():
            raise asyncio.TimeoutError
    return task.result()  # also the answer that came as the call was cut off


async def what_refuses(redis: aioredis.Redis, expected: dict[str, str], timeout: float) -> str:
    """Why Redis may refuse the fleet's commands on the keys of ``expected`` (key -> the
    Redis type it must hold): the keys holding another type, or else the rights to check."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for key in expected:
                pipe.type(key)
            found = await bounded(pipe.execute(), timeout)
    except UNAVAILABLE:
        found = ["none"] * len(expected)
    wrong = []
    for (key, wanted), held in zip(expected.items(), found, strict=True):
        if text(held) not in (wanted, "none"):
            wrong.append(f"key {key!r} holds a {text(held)}, not a {wanted}: delete or repair it")
    if wrong:
        return "; ".join(wrong)
    keys = ", ".join(repr(key) for key in expected)
    return f"check the Redis user's rights on {keys} and on scripting and TIME"


def text(value: object) -> str:
    """A string from a Redis reply (bytes, unless the client decodes), as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(exc: BaseException) -> str:
    """The error's type, and Redis's own words when it answered (say, an ACL refusal)."""
    if isinstance(exc, RedisError) and str(exc):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__
