"""How urgent a request is: the order in which waiting requests get the budget."""

from __future__ import annotations

import enum

__all__ = ["Priority"]


class Priority(enum.IntEnum):
    """A request's claim on the rate limit and the concurrency slots; higher goes first.

    ``ACTION`` (call control) > ``READ`` (one-off reads) > ``WATCH`` (a watch's polls) >
    ``BULK`` (walks and fan-outs).
    """

    BULK = 0
    WATCH = 1
    READ = 2
    ACTION = 3
