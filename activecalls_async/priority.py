"""``Priority``, where it has always been imported from (its home is
``activecalls_async.limits``)."""

from .limits.priority import Priority

__all__ = ["Priority"]
