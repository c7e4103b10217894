"""A watch's bookkeeping, pure (no I/O): the calls it believes in flight, the misses it
waits to see confirmed, and the events each poll brings (the rules are
``activecalls_async.watch``'s, under "When a missing call has ended")."""

from __future__ import annotations

import enum
from collections.abc import Container, Hashable, Mapping
from typing import Generic, TypeVar

from ._walk import PageWalk
from .models import ActiveCall, CallEvent, CallEventType

__all__ = ["CallBook", "Reading", "diff_snapshots", "reading"]

_K = TypeVar("_K", bound=Hashable)


def diff_snapshots(
    previous: Mapping[str, ActiveCall],
    current: Mapping[str, ActiveCall],
    *,
    may_end: Container[str] | None = None,
) -> list[CallEvent]:
    """Events turning ``previous`` into ``current`` (both keyed by uii): ``started`` and
    ``changed`` in the current listing order, then ``ended`` in the previous one for the
    calls missing from ``current`` (only those in ``may_end``, when it is given)."""
    events = []
    for uii, call in current.items():
        before = previous.get(uii)
        if before is None:
            events.append(CallEvent(CallEventType.STARTED, call))
        elif before != call:
            events.append(CallEvent(CallEventType.CHANGED, call, before))
    events.extend(
        CallEvent(CallEventType.ENDED, call)
        for uii, call in previous.items()
        if uii not in current and (may_end is None or uii in may_end)
    )
    return events


class Reading(enum.Enum):
    """How one poll read one listing: what its misses prove."""

    WHOLE = "read in one answer"  # a miss proves the call left the listing
    PAGED = "read to its end in several answers"  # a miss proves it only when repeated
    PARTIAL = "stopped early or failed"  # a miss proves nothing


def reading(walk: PageWalk) -> Reading:
    """How ``walk`` read its listing: what its misses prove."""
    if not walk.complete:
        return Reading.PARTIAL
    return Reading.WHOLE if walk.read_at_once else Reading.PAGED


class CallBook(Generic[_K]):
    """The calls a watch believes in flight, and the misses it waits to see confirmed.

    Pure bookkeeping, no I/O: ``advance`` takes in one poll and returns its events.
    """

    def __init__(self) -> None:
        #: The calls believed in flight (their last state seen), in listing order.
        self.calls: dict[str, ActiveCall] = {}
        #: The listings (any hashable key) that last listed each believed call.
        self.sources: dict[str, tuple[_K, ...]] = {}
        #: Calls believed in flight that a complete walk of several pages missed once.
        self._unconfirmed: set[str] = set()

    def believe(
        self, calls: Mapping[str, ActiveCall], sources: Mapping[str, tuple[_K, ...]]
    ) -> None:
        """Believe ``calls`` in flight, listed by ``sources``; misses awaiting confirmation
        are forgotten (they wait once more)."""
        self.calls, self.sources, self._unconfirmed = dict(calls), dict(sources), set()

    def advance(
        self,
        current: Mapping[str, ActiveCall],
        sources: Mapping[str, tuple[_K, ...]],
        readings: Mapping[_K, Reading],
    ) -> list[CallEvent]:
        """Take in a poll (its calls, the listings that held each, how each listing was
        read) and return its events."""
        previous = self.calls
        missing = [uii for uii in previous if uii not in current]
        ending: set[str] = set()
        unconfirmed: set[str] = set()
        for uii in missing:
            proofs = {readings.get(key, Reading.PARTIAL) for key in self.sources[uii]}
            if Reading.PARTIAL in proofs:
                # No proof either way: an earlier miss stays waiting for its confirmation.
                if uii in self._unconfirmed:
                    unconfirmed.add(uii)
            elif proofs == {Reading.WHOLE} or uii in self._unconfirmed:
                ending.add(uii)
            else:
                unconfirmed.add(uii)  # missed once by a walk of several pages: wait and see
        events = diff_snapshots(previous, current, may_end=ending)
        # Calls not (yet) ended stay believed in flight, with the last state seen, so
        # that seeing one again yields no ``started`` (only ``changed`` if it changed).
        kept = [uii for uii in missing if uii not in ending]
        calls = dict(current)
        calls.update((uii, previous[uii]) for uii in kept)
        held = {uii: sources[uii] for uii in current}
        held.update((uii, self.sources[uii]) for uii in kept)
        self.calls, self.sources, self._unconfirmed = calls, held, unconfirmed
        return events
