"""``ClientStats``, where it has always been imported from (its home is
``activecalls_async.limits``)."""

from .limits.stats import ClientStats

__all__ = ["ClientStats"]
