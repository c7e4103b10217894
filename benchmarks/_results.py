"""Result records: medians with min and max, ratios against a baseline, target checks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any, Literal

import attrs


@attrs.frozen
class Stat:
    """The median of several repetitions, with their min and max."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        """Summarise repeated measurements (at least one)."""
        if not values:
            raise ValueError("no measurements")
        return cls(statistics.median(values), min(values), max(values), tuple(values))

    def as_dict(self) -> dict[str, Any]:
        """The figure as JSON-ready data."""
        return {
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "samples": list(self.samples),
        }


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Stat:
    """Ratios of measurements taken side by side in the same repetition, summarised.

    Pairing by repetition cancels slow drifts of a noisy machine that a ratio of two
    medians would keep.
    """
    return Stat.of([v / b for v, b in zip(values, baseline, strict=True)])


#: ``cost``: value ÷ baseline (lower is better); ``speedup``: baseline ÷ value.
Sense = Literal["cost", "speedup"]


@attrs.frozen
class Row:
    """One contender's figure in a scenario, with its ratio to that scenario's baseline."""

    contender: str
    metric: str
    unit: str
    value: Stat | None
    ratio: Stat | None = None
    baseline: str | None = None
    sense: Sense = "cost"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {
            "contender": self.contender,
            "metric": self.metric,
            "unit": self.unit,
            "value": None if self.value is None else self.value.as_dict(),
            "ratio": None if self.ratio is None else self.ratio.as_dict(),
            "baseline": self.baseline,
            "sense": self.sense,
            "note": self.note,
        }


@attrs.frozen
class Check:
    """A target from the issue, judged on a median ratio."""

    name: str
    value: float
    op: Literal["<=", ">="]
    limit: float

    @property
    def met(self) -> bool:
        """Whether the measured median meets the target."""
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data."""
        return {
            "name": self.name,
            "value": self.value,
            "op": self.op,
            "limit": self.limit,
            "met": self.met,
        }


@attrs.define
class ScenarioResult:
    """Everything one scenario measured, and the parameters it ran with."""

    name: str
    title: str
    params: dict[str, Any]
    rows: list[Row] = attrs.field(factory=list)
    checks: list[Check] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready data."""
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "seconds": self.seconds,
            "rows": [row.as_dict() for row in self.rows],
            "checks": [check.as_dict() for check in self.checks],
            "notes": self.notes,
        }


@attrs.frozen
class Config:
    """Run-wide settings from the command line."""

    quick: bool = False
    #: Repetitions per scenario; None lets each scenario use its own default.
    repeat: int | None = None
    profile: bool = False

    def repetitions(self, full: int, quick: int) -> int:
        """The repetitions to run: ``--repeat`` if given, else the scenario's default."""
        if self.repeat is not None:
            return self.repeat
        return quick if self.quick else full
