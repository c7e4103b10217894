"""The budget: how a client spends the account's requests.

``Priority`` orders waiting requests; ``RateLimit`` (behind the ``Limiter`` interface)
keeps them within the account's window, ``WindowSettings`` holding its rules; the
concurrency slots (``limits.slots``) bound what is on the wire at once; one wait line
(``limits.waitline``) serves both by priority; ``ClientStats`` counts what was spent.
The fleet's shared limiter is ``activecalls_async.fleet.RedisRateLimit``.
"""

from .priority import Priority
from .ratelimit import Limiter, RateLimit
from .stats import ClientStats
from .window import WindowSettings

__all__ = ["ClientStats", "Limiter", "Priority", "RateLimit", "WindowSettings"]
