"""The settings of a request-rate window, checked once for every limiter that has one.

``RateLimit`` (one process) and ``activecalls_async.fleet.RedisRateLimit`` (a fleet)
both count requests in a window of ``per`` seconds and share these rules for their
settings; ``WindowedLimit`` gives a limiter the settings as its own attributes.
"""

from __future__ import annotations

from typing import Any

import attrs

from .. import _validators as check
from ..errors import ValidationError

__all__ = ["WindowSettings", "WindowedLimit"]


def _count(minimum: int) -> Any:
    def count_check(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        check.count(attribute.name, value, minimum=minimum)

    return count_check


def _seconds(inclusive: bool) -> Any:
    def seconds_check(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
        check.seconds(attribute.name, value, inclusive=inclusive)

    return seconds_check


@attrs.frozen
class WindowSettings:
    """At most ``requests`` requests in any ``per`` seconds, with their headroom rules.

    ``margin`` widens the window for clock jitter between client and server;
    ``reserve`` slots at the end of the window are kept from ``WATCH`` and ``BULK``;
    ``age`` seconds of waiting raise a waiter's priority by one level. Each is checked
    when the settings are made: a bad one raises ``ValidationError`` naming it.
    ``WindowSettings.of`` fills in the defaults that depend on the others.
    """

    requests: int = attrs.field(validator=_count(1))
    per: float = attrs.field(validator=_seconds(inclusive=False))
    margin: float = attrs.field(validator=_seconds(inclusive=True))
    reserve: int = attrs.field(validator=_count(0))
    age: float = attrs.field(validator=_seconds(inclusive=False))

    def __attrs_post_init__(self) -> None:
        if self.reserve >= self.requests:
            raise ValidationError(
                "reserve", f"must leave WATCH and BULK at least one of {self.requests} slots"
            )

    @classmethod
    def of(
        cls,
        requests: int,
        per: float = 60.0,
        *,
        margin: float = 0.05,
        reserve: int | None = None,
        age: float | None = None,
    ) -> WindowSettings:
        """The settings, with ``reserve`` defaulting to ``max(1, requests // 50)`` (2 of
        120; none when ``requests`` is 1) and ``age`` to ``per``."""
        check.count("requests", requests, minimum=1)
        if reserve is None:
            reserve = max(1, requests // 50) if requests > 1 else 0
        return cls(requests, per, margin, reserve, per if age is None else age)

    @property
    def window(self) -> float:
        """Seconds a request counts after its answer: ``per + margin``."""
        return self.per + self.margin

    @property
    def slot(self) -> float:
        """The even spacing of the limit: ``per / requests`` seconds."""
        return self.per / self.requests

    @property
    def rate(self) -> float:
        """The limit in requests per second."""
        return self.requests / self.per


class WindowedLimit:
    """A limiter's window settings, read as its own attributes."""

    #: The limiter's window, checked when it was made.
    settings: WindowSettings

    @property
    def requests(self) -> int:
        """At most this many requests in any window."""
        return self.settings.requests

    @property
    def per(self) -> float:
        """The window's length in seconds."""
        return self.settings.per

    @property
    def margin(self) -> float:
        """Seconds the window is widened by, for clock jitter."""
        return self.settings.margin

    @property
    def reserve(self) -> int:
        """Slots at the end of the window that ``WATCH`` and ``BULK`` may not fill."""
        return self.settings.reserve

    @property
    def age(self) -> float:
        """Seconds of waiting that raise a waiter's priority by one level."""
        return self.settings.age

    @property
    def rate(self) -> float:
        """The limit in requests per second."""
        return self.settings.rate
