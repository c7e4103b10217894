"""Poll a listing and turn the differences between snapshots into call events.

The API has no snapshot: a walk over several pages reads them one after another, and a
call ending ahead of others moves every later row up one place, so a call in flight
throughout can slip from a page not yet read onto one already read and be missed by
that walk. A watch therefore trusts a missing call only as far as its snapshot allows:

* a snapshot read in one page (the walk ended on page 0) is atomic: a call missing from
  it has ended;
* a call missing from a snapshot of several pages is ``ended`` only when the next
  snapshot misses it too (so ``ended`` may come one interval late for such listings);
  if it reappears, it was never gone: no ``ended``, no ``started``, at most ``changed``;
* a snapshot whose walk stopped early (a server ignoring ``page``) ends no call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Container, Mapping

from . import _validators as v
from ._aio import _Closing
from .errors import (
    ActiveCallsError,
    APIStatusError,
    ClientClosedError,
    ValidationError,
)
from .models import ActiveCall, CallEvent, CallEventType
from .pagination import PageWalk

__all__ = ["CallWatch", "diff_snapshots"]

logger = logging.getLogger("activecalls_async")


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


def _cannot_heal(exc: ActiveCallsError) -> bool:
    """Whether a failed poll would fail the same way on every later tick."""
    if isinstance(exc, APIStatusError):
        # The transport has already renewed an expired token where the credentials can
        # be renewed, so any 401 that gets here, like any other 4xx but 429 (and a
        # redirect), comes back on every tick.
        return exc.status < 500 and exc.status != 429
    return isinstance(exc, (ValidationError, ClientClosedError))


class CallWatch(_Closing[CallEvent]):
    """Call events for one listing, from a full walk every ``interval`` seconds.

    The first snapshot yields ``started`` for every call in flight. A later one yields
    ``started`` for new calls, ``changed`` (with ``previous``) for calls whose fields
    changed, and ``ended`` (with the last state seen) for calls gone: at once when the
    listing was read in one page, one poll late when it took several pages (a call
    missed by one walk of several pages and seen by the next was never gone, and yields
    no event), never from a walk that stopped early (a server ignoring ``page``).

    A poll failing in a way that may heal (no connection, a timeout, 429, 5xx, a
    malformed body) is logged and tried again on the next tick, never reported as calls
    ending. One that cannot heal by waiting (any other 4xx, a 401 included: credentials
    that can renew themselves already did so; a redirect; a ``ValidationError``) or a
    closed client ends the stream: the error is raised and iteration stops. Polls start
    ``interval`` seconds apart (at once when the last poll and its events took longer).
    Cancelling the consumer stops it cleanly.
    """

    def __init__(
        self, open_walk: Callable[[], PageWalk], *, interval: float, label: str = "listing"
    ) -> None:
        self.interval = v.seconds("interval", interval)
        self.label = label
        self._open_walk = open_walk
        #: The calls believed in flight (their last state seen), None before the first poll.
        self._previous: dict[str, ActiveCall] | None = None
        #: Calls believed in flight that the last complete walk of several pages missed.
        self._unconfirmed: set[str] = set()
        self._events: deque[CallEvent] = deque()
        self._next_poll: float | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._previous or ())} calls"
        return f"<CallWatch {self.label} every {self.interval:g}s {state}>"

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        self._events.clear()

    async def __anext__(self) -> CallEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            await self._poll_when_due()
        return self._events.popleft()

    async def _poll_when_due(self) -> None:
        loop = asyncio.get_running_loop()
        if self._next_poll is not None:
            delay = self._next_poll - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self._next_poll = loop.time() + self.interval
        try:
            async with self._open_walk() as walk:
                current = {call.uii: call async for page in walk for call in page.calls}
        except ActiveCallsError as exc:
            if _cannot_heal(exc):
                self._closed = True
                raise
            # A partial snapshot would report calls as ended: keep the last good one.
            logger.warning(
                "%s: poll failed, trying again in %gs: %s", self.label, self.interval, exc
            )
            return
        atomic = walk.complete and walk.pages_read == 1
        self._events.extend(self._advance(current, atomic=atomic, complete=walk.complete))

    def _advance(
        self, current: dict[str, ActiveCall], *, atomic: bool, complete: bool
    ) -> list[CallEvent]:
        """Take in a snapshot and return its events (pure bookkeeping, no I/O).

        ``atomic``: read in one response, so whatever it misses has ended. ``complete``:
        the walk reached the end of the listing (an early stop proves no call ended).
        """
        previous = self._previous or {}
        missing = [uii for uii in previous if uii not in current]
        if not complete:
            ending: set[str] = set()
            unconfirmed = self._unconfirmed.intersection(missing)
        elif atomic:
            ending = set(missing)
            unconfirmed = set()
        else:
            # Missed by two complete walks in a row: ended. Missed once: wait and see.
            ending = self._unconfirmed.intersection(missing)
            unconfirmed = set(missing) - ending
        events = diff_snapshots(previous, current, may_end=ending)
        # Calls not (yet) ended stay believed in flight, with the last state seen, so
        # that seeing one again yields no ``started`` (only ``changed`` if it changed).
        believed = dict(current)
        believed.update((uii, previous[uii]) for uii in missing if uii not in ending)
        self._previous = believed
        self._unconfirmed = unconfirmed
        return events
