"""A sliding window's count of request starts, as the server keeps it, for the figures."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


def count(starts: Sequence[float], window: float, at: Sequence[float]) -> list[int]:
    """How many of ``starts`` (sorted) lie in the ``window`` seconds up to each moment of
    ``at``: those at or before it, and after it less ``window``."""
    return [bisect.bisect_right(starts, t) - bisect.bisect_right(starts, t - window) for t in at]


def changes(starts: Sequence[float], window: float) -> list[float]:
    """Every moment the count of ``starts`` in the last ``window`` seconds changes, and 0."""
    return sorted({0.0, *starts, *(s + window for s in starts)})


def sampled(
    series: Sequence[Sequence[float]], window: float, end: float, step: float
) -> tuple[list[float], list[list[int]]]:
    """The count of each series of starts in the last ``window`` seconds, every ``step``
    seconds from 0 to ``end``, keeping only the moments at which some count changes.

    For a run of thousands of requests: drawn at every change, its steps would be finer
    than the picture's pixels and its file megabytes; ``step`` should be about a pixel.
    """
    grid = [i * step for i in range(int(end / step) + 2)]
    counts = [count(starts, window, grid) for starts in series]
    keep = [
        i
        for i in range(len(grid))
        if i == 0 or i == len(grid) - 1 or any(c[i] != c[i - 1] for c in counts)
    ]
    return [grid[i] for i in keep], [[c[i] for i in keep] for c in counts]
