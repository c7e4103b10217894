"""Watches: poll listings and turn what changed between polls into call events.

``client.watch_active_calls(product, product_id)`` watches one listing and yields
``CallEvent``s. ``client.watch_active_calls_many(targets)`` watches many listings
together and yields one ``Snapshot`` per poll. Both follow every rule below.

**Polls.** A poll reads each listing to its end, by the walk's rules
(``activecalls_async.pagination``): a listing the client remembers is read in one round
trip, every page it expects asked at once, and within the slack rule. The listings of a
multi-target watch are read concurrently (``concurrency`` at once, by default the
client's ``max_concurrency``). A call listed by several targets is one call, keyed by
its uii. Polls start ``interval`` seconds apart, or at once when the last poll (and the
consumer, which the watch waits for: it polls only when asked for more) took longer.

**Events** (``CallEvent``, of a ``CallEventType``). The first poll yields ``started`` for
every call in flight, unless ``initial_events=False``: then the first poll only takes
stock, and the first events are the changes after it. A later poll yields ``started``
for new calls, ``changed`` (with ``previous``) for calls whose fields changed, and
``ended`` (with the last state seen) for calls gone: ``started`` and ``changed`` first,
in listing order (for many listings, grouped by the first watched target that lists
each call), then ``ended``.

**When a missing call has ended.** The API has no snapshot: a walk over several pages
reads them one after another, and a call ending ahead of others moves every later row
up one place, so a call in flight throughout can slip from a page not yet read onto one
already read and be missed by that walk. A watch therefore trusts a missing call only as
far as the listings that held it allow:

* a listing read in one answer (an empty page 0, or one shorter than the client's
  ``server_max_rows``: the walk's ``read_at_once``) is atomic: a call it held and now
  misses has left it;
* a call missing from a listing read in several answers has left it only when the next
  poll misses it too (so ``ended`` may come one interval late for such listings); if it
  reappears, it was never gone: no ``ended``, no ``started``, at most ``changed``. A
  listing that fits in one page is read in two answers (page 0 and the probe that
  proves its end), since a cap that appeared since the last poll would look just the
  same: give the client ``server_max_rows`` when the server's page size is known, and
  such listings are read in one;
* a listing whose walk stopped early (a server ignoring ``page``) or failed proves
  nothing: it ends no call, and neither confirms nor clears an earlier miss.

A call listed by several targets has ended when it is missing from all of them and
each of them proves it (a call moving from one watched listing to another never ends).
Until then it stays in flight with the last state seen.

**Failures.** A failure that may heal (no connection, a timeout, 429, 5xx, a malformed
body) is logged at WARNING and the listing is read again on the next poll; it is never
taken as calls ending. ``watch_active_calls`` yields nothing for such a poll; a
multi-target watch still yields its snapshot, with the failed listings' calls as last
seen and their errors in ``Snapshot.errors``. A failure that waiting cannot heal (any
other 4xx, a 401 included: credentials that can renew themselves already did so; a
redirect; a ``ValidationError``) or a closed client ends the stream: the error is
raised and iteration stops.

**The budget.** A watch uses at most ``budget_share`` (default 0.5, above 0 and at most
1) of the client's rate limit. A poll is expected to cost the most any of the last three
cost. Under a ``RateLimit(requests, per=seconds)`` its polls start at most
``budget_share * requests`` requests in any window of ``per`` seconds: polls come
``(per + margin) / n`` seconds apart, n being how many polls of the expected cost that
share holds (``margin`` is the limiter's own widening of its window), and never before
the polls that ended within the last ``per + margin`` seconds leave room for one more
(so slow polls, or costs that vary, cannot crowd a window); a poll that alone needs more
than the share is spread to it on average. Only a poll costing more than expected can
overstep, by the difference. Under a limiter that tells only its ``rate``, at most
``budget_share * rate`` a second on average; a limiter that tells neither never
stretches a watch. When polls cost more than ``interval`` allows, the watch polls less
often, says so once at WARNING, and ``Snapshot.interval`` shows the interval actually
achieved.

**Snapshots.** ``calls`` holds every call in flight by uii (a read-only mapping), those
whose end is still unproven included; ``events`` the events since the previous
snapshot; ``taken_at`` when the poll finished (UTC); ``requests`` how many requests the
poll cost (each page asked for, and each attempt of a page that failed; retries of a
page that then succeeded are not seen here); ``interval`` the seconds since the previous
poll started (for the first snapshot, the interval planned); ``sources`` the targets
that listed each call; ``errors`` the listings that failed in this poll.

**Closing.** Use ``async with`` or ``aclose()``; iteration then stops at once (a watch
holds nothing in flight between polls). Cancelling the consumer cancels the poll in
flight, with every request it had started. A watch is iterated by one task at a time.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Generic, TypeVar

import attrs

from ._aio import ClosingIterator
from ._fanout import FanOut
from ._pace import WatchPace
from ._walk import PageWalk, Target
from ._watchbook import CallBook, Reading, diff_snapshots, reading
from .errors import (
    ActiveCallsError,
    APIStatusError,
    ClientClosedError,
    ValidationError,
)
from .models import ActiveCall, CallEvent

__all__ = ["CallWatch", "Snapshot", "SnapshotWatch", "WatchPace", "diff_snapshots"]

logger = logging.getLogger("activecalls_async")

_K = TypeVar("_K")
_T = TypeVar("_T")


@attrs.frozen(repr=False)
class Snapshot:
    """One poll of a multi-target watch (the rules: this module's docstring)."""

    calls: Mapping[str, ActiveCall] = attrs.field(hash=False)
    """Every call in flight, by uii (those whose end is still unproven included)."""
    events: tuple[CallEvent, ...]
    """The events since the previous snapshot (none for a first poll that only takes
    stock, with ``initial_events=False``)."""
    taken_at: datetime
    """When the poll finished (UTC)."""
    requests: int
    """The requests the poll sent (those its walks sent ahead and did not need included,
    and the retries of a page that failed)."""
    interval: float
    """Seconds since the previous poll started (for the first, the interval planned)."""
    sources: Mapping[str, tuple[Target, ...]] = attrs.field(
        factory=lambda: MappingProxyType({}), hash=False
    )
    """The targets that listed each call."""
    errors: Mapping[Target, ActiveCallsError] = attrs.field(
        factory=lambda: MappingProxyType({}), hash=False
    )
    """The listings that failed in this poll, and how."""

    def __repr__(self) -> str:
        failed = f", {len(self.errors)} listings failed" if self.errors else ""
        return (
            f"<Snapshot {self.taken_at:%H:%M:%S} {len(self.calls)} calls, "
            f"{len(self.events)} events, {self.requests} requests, "
            f"interval {self.interval:.3g}s{failed}>"
        )


def _cannot_heal(exc: Exception) -> bool:
    """Whether a failed poll would fail the same way on every later tick."""
    if isinstance(exc, APIStatusError):
        # The transport has already renewed an expired token where the credentials can
        # be renewed, so any 401 that gets here, like any other 4xx but 429 (and a
        # redirect), comes back on every tick.
        return exc.status < 500 and exc.status != 429
    return isinstance(exc, (ValidationError, ClientClosedError)) or not isinstance(
        exc, ActiveCallsError
    )


def _retries(exc: Exception) -> int:
    """The requests a failed page cost besides the one its walk sent: its retries."""
    return int(getattr(exc, "retries", 0))


class _Watch(ClosingIterator[_T], Generic[_T, _K]):
    """What both watches share: the pace, the bookkeeping, one task at a time."""

    def __init__(self, pace: WatchPace, *, initial_events: bool, label: str) -> None:
        self.label = pace.label = label
        #: Whether the first poll yields events (``started`` for every call in flight).
        self.initial_events = initial_events
        self._pace = pace
        self._book: CallBook[_K] = CallBook()
        #: Whether the next poll's events are yielded (the first one's only when asked).
        self._telling = initial_events
        self._closed = False
        self._busy = False

    @property
    def interval(self) -> float:
        """The interval asked for (polls may come less often to keep within the budget)."""
        return self._pace.interval

    @property
    def budget_share(self) -> float:
        """The share of the client's rate limit this watch may use."""
        return self._pace.share.fraction

    def _enter(self) -> None:
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True

    def _events(
        self,
        current: Mapping[str, ActiveCall],
        sources: Mapping[str, tuple[_K, ...]],
        readings: Mapping[_K, Reading],
    ) -> list[CallEvent]:
        """Take in one poll; return its events (none for a first poll taking stock)."""
        events = self._book.advance(current, sources, readings)
        telling, self._telling = self._telling, True
        return events if telling else []

    def _fail(self, exc: Exception) -> None:
        """Raise ``exc`` if waiting cannot heal it, ending the watch; else log it."""
        if _cannot_heal(exc):
            self._closed = True
            raise exc
        logger.warning(
            "%s: poll failed, trying again in %.3gs: %s", self.label, self._pace.planned, exc
        )


#: The key of a single-listing watch's one listing, for the bookkeeping.
_LISTING = "listing"


class CallWatch(_Watch[CallEvent, str]):
    """``CallEvent``s for one listing, from a full walk per poll (see this module's
    docstring); ``open_walk()`` opens each poll's walk."""

    def __init__(
        self,
        open_walk: Callable[[], PageWalk],
        pace: WatchPace,
        *,
        initial_events: bool = True,
        label: str = "listing",
    ) -> None:
        super().__init__(pace, initial_events=initial_events, label=label)
        self._open_walk = open_walk
        self._queue: deque[CallEvent] = deque()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._book.calls)} calls"
        return f"<CallWatch {self.label} every {self.interval:g}s {state}>"

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        self._queue.clear()

    async def __anext__(self) -> CallEvent:
        self._enter()
        try:
            while not self._queue:
                if self._closed:
                    raise StopAsyncIteration
                await self._poll()
        finally:
            self._busy = False
        return self._queue.popleft()

    async def _poll(self) -> None:
        await self._pace.wait()
        walk = self._open_walk()
        current: dict[str, ActiveCall] = {}
        try:
            async with walk:
                async for page in walk:
                    current.update((call.uii, call) for call in page.calls)
        except Exception as exc:
            self._pace.spent(walk.requests + _retries(exc))
            # A partial snapshot would report calls as ended: keep the last good one.
            self._fail(exc)
            return
        self._pace.spent(walk.requests)
        sources = dict.fromkeys(current, (_LISTING,))
        self._queue.extend(self._events(current, sources, {_LISTING: reading(walk)}))


class SnapshotWatch(_Watch[Snapshot, Target]):
    """One ``Snapshot`` per poll of many listings (see this module's docstring);
    ``open_fan_out()`` opens each poll's fan-out, its failures collected."""

    def __init__(
        self,
        open_fan_out: Callable[[], FanOut],
        pace: WatchPace,
        *,
        initial_events: bool = True,
    ) -> None:
        # The first poll is opened now, so that bad targets and options are refused
        # before any request (a fan-out sends nothing until it is iterated).
        self._first: FanOut | None = open_fan_out()
        #: The distinct targets, in the order given.
        self.targets: tuple[Target, ...] = self._first.targets
        if not self.targets:
            raise ValidationError("targets", "expected at least one target")
        names = [str(target) for target in self.targets[:3]]
        more = len(self.targets) - len(names)
        label = ", ".join(names) + (f" and {more} more" if more else "")
        super().__init__(pace, initial_events=initial_events, label=label)
        self._open_fan_out = open_fan_out
        self._order = {target: index for index, target in enumerate(self.targets)}

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._book.calls)} calls"
        return (
            f"<SnapshotWatch {len(self.targets)} listings ({self.label}) "
            f"every {self.interval:g}s {state}>"
        )

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        first, self._first = self._first, None
        if first is not None:
            await first.aclose()

    def continue_from(self, snapshot: Snapshot) -> None:
        """Believe ``snapshot``'s calls in flight (misses awaiting confirmation are
        forgotten: they wait once more), so that the next poll's events follow on from it;
        how a fleet's next poller carries on from the last snapshot published."""
        self._book.believe(snapshot.calls, snapshot.sources)

    async def __anext__(self) -> Snapshot:
        if self._closed:
            raise StopAsyncIteration
        self._enter()
        try:
            return await self._poll()
        finally:
            self._busy = False

    async def _poll(self) -> Snapshot:
        since = await self._pace.wait()
        first, self._first = self._first, None
        fan_out = first or self._open_fan_out()
        current: dict[str, ActiveCall] = {}
        try:
            async with fan_out:
                async for call in fan_out:
                    current[call.uii] = call
        except Exception:  # a bug in a worker (listing failures are collected)
            self._closed = True
            raise
        walks = fan_out.walks
        errors = {t: e for t, e in fan_out.errors.items() if isinstance(e, ActiveCallsError)}
        requests = sum(walk.requests for walk in walks.values())
        requests += sum(_retries(exc) for exc in errors.values())
        self._pace.spent(requests)
        failed = [errors[target] for target in self.targets if target in errors]
        for exc in failed:
            if _cannot_heal(exc):
                self._closed = True
                raise exc
        if failed:
            logger.warning(
                "%s: %d of %d listings failed, their calls kept as last seen; reading them "
                "again in %.3gs: %s",
                self.label,
                len(failed),
                len(self.targets),
                self._pace.planned,
                "; ".join(f"{target}: {errors[target]}" for target in errors),
            )
        readings = {
            target: Reading.PARTIAL
            if target in errors or target not in walks
            else reading(walks[target])
            for target in self.targets
        }
        sources = fan_out.sources
        # Listing order: by the first watched target listing each call, then as it came.
        order = self._order
        ranked = sorted(current, key=lambda uii: min(order[t] for t in sources[uii]))
        current = {uii: current[uii] for uii in ranked}
        events = self._events(current, sources, readings)
        book = self._book
        # Read-only views: the bookkeeping replaces these dicts on each poll, never
        # changes them.
        return Snapshot(
            calls=MappingProxyType(book.calls),
            events=tuple(events),
            taken_at=datetime.now(timezone.utc),
            requests=requests,
            interval=self._pace.planned if since is None else since,
            sources=MappingProxyType(book.sources),
            errors=MappingProxyType(errors),
        )
