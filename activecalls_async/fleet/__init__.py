"""Fleet mode: one account budget and one RingCX login shared by many processes, in Redis.

Needs the optional extra ``activecalls-async[redis]`` (the official ``redis`` package).
Each part takes ``redis``: a URL (``redis://``, ``rediss://`` or ``unix://``; the SDK
opens and closes that client) or a ``redis.asyncio.Redis`` the caller owns (never
closed by the SDK), and a ``key`` that every process of the fleet gives alike. Every
Redis call has a ``timeout``: nothing waits on a slow Redis, and when Redis fails each
part falls back to what one process can do alone, and says so. A Redis that answers
but refuses (a fleet key of the wrong type, an ACL) is told from one that does not
answer, and a Redis that lost the fleet's keys (restarted empty, flushed) is noticed.

- ``RedisRateLimit`` (``fleet.ratelimit``): the account's window, shared.
- ``RedisTokenCache`` (``fleet.token_cache``): one login and one renewal at a time.
- ``RedisRefusedError``: raised by ``RedisRateLimit.acquire`` while Redis refuses and
  the process knows no share of the limit to keep to alone.
- ``WatchHub`` (``fleet.hub``): one poller for every process watching the same listings,
  and (``fleet.work``) call events that one member of a group takes, ``TakenEvent``.
"""

from ._redis import RedisRefusedError
from .hub import WatchHub
from .ratelimit import RedisRateLimit
from .token_cache import RedisTokenCache
from .work import TakenEvent

__all__ = ["RedisRateLimit", "RedisRefusedError", "RedisTokenCache", "TakenEvent", "WatchHub"]
