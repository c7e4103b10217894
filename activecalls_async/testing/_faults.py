"""Injectable server faults (latency, errors, throttling, drops, malformed bodies), seeded."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import attrs

from .._endpoints import ENDPOINTS

#: The SDK's operations (the thirteen Active Calls ones and accounts) and the simulator's
#: stub of another admin endpoint: authorized and rate limited; ``Faults.operations=None``
#: means these.
API_OPERATIONS = frozenset(ENDPOINTS) | {"users", "users.create"}

#: Fault names as recorded on :class:`RecordedRequest`, in the order a draw checks them.
FAULT_KINDS = ("drop", "error", "throttle", "malformed", "drop_after_effect")


def _probability(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


def _non_negative_int(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


def _error_status(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 400 <= value <= 599:
        raise ValueError(f"error_status must be a 4xx or 5xx status, got {value!r}")


def _cap(instance: Any, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"max_rows_cap must be at least 1, got {value!r}")


def _to_operations(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _reseed(instance: Faults, attribute: attrs.Attribute[int], value: int) -> int:
    instance.reseed(value)
    return value


@attrs.define
class Faults:
    """What the simulator gets wrong, and how often; change it between requests at will.

    Each request in scope takes one draw from the fault RNG (seeded by ``seed``) and gets
    at most one of: drop, error, throttle, malformed, drop_after_effect (rates are
    probabilities, checked in that order). Latency, ``max_rows_cap`` and ``ignore_page``
    apply to the same scope: ``operations=None`` means every API operation;
    name ``auth.jwt``/``auth.exchange``/``auth.refresh`` to include those.
    """

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    error_rate: float = attrs.field(default=0.0, validator=_probability)
    error_status: int = attrs.field(default=503, validator=_error_status)
    throttle_rate: float = attrs.field(default=0.0, validator=_probability)
    drop_rate: float = attrs.field(default=0.0, validator=_probability)
    malformed_rate: float = attrs.field(default=0.0, validator=_probability)
    max_rows_cap: int | None = attrs.field(default=None, validator=_cap)
    ignore_page: bool = False
    operations: frozenset[str] | None = attrs.field(default=None, converter=_to_operations)
    seed: int = attrs.field(
        default=0, on_setattr=attrs.setters.pipe(attrs.setters.validate, _reseed)
    )
    drop_after_effect_rate: float = attrs.field(default=0.0, validator=_probability)
    #: The ``Retry-After`` seconds a throttle fault sends.
    throttle_retry_after: int = attrs.field(default=0, validator=_non_negative_int)
    _rng: random.Random = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        self.reseed(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the fault RNG, so the same requests meet the same faults again."""
        self._rng = random.Random(seed)

    def applies_to(self, operation: str) -> bool:
        """Whether faults are injected into this operation."""
        if self.operations is None:
            return operation in API_OPERATIONS
        return operation in self.operations

    def draw(self, operation: str) -> str | None:
        """Pick this request's fault (one of :data:`FAULT_KINDS`) or None."""
        if not self.applies_to(operation):
            return None
        rates = (
            self.drop_rate,
            self.error_rate,
            self.throttle_rate,
            self.malformed_rate,
            self.drop_after_effect_rate,
        )
        if not any(rates):
            return None
        draw = self._rng.random()
        for kind, rate in zip(FAULT_KINDS, rates, strict=True):
            if draw < rate:
                return kind
            draw -= rate
        return None

    def choose(self, count: int) -> int:
        """A seeded index below ``count`` (used to vary malformed bodies)."""
        return int(self._rng.random() * count)
