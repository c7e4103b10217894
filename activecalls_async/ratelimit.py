"""``RateLimit`` and the ``Limiter`` interface, where they have always been imported from
(their home is ``activecalls_async.limits``)."""

from .limits.ratelimit import Limiter, RateLimit

__all__ = ["Limiter", "RateLimit"]
