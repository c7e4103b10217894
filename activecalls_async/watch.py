"""Watches: poll listings and turn what changed between polls into call events.

``client.watch_active_calls(product, product_id)`` watches one listing and yields
``CallEvent``s. ``client.watch_active_calls_many(targets)`` watches many listings
together and yields one ``Snapshot`` per poll. Both follow every rule below.

**Polls.** A poll reads each listing to its end. The listings of a multi-target watch
are read concurrently (``concurrency`` at once, by default the client's
``max_concurrency``), each with one page request in flight, so that no poll asks for a
page past the end. A call listed by several targets is one call, keyed by its uii.
Polls start ``interval`` seconds apart, or at once when the last poll (and the consumer,
which the watch waits for: it polls only when asked for more) took longer.

**Events.** The first poll yields ``started`` for every call in flight. A later poll
yields ``started`` for new calls, ``changed`` (with ``previous``) for calls whose fields
changed, and ``ended`` (with the last state seen) for calls gone: ``started`` and
``changed`` first, in listing order (for many listings, grouped by the first watched
target that lists each call), then ``ended``.

**When a missing call has ended.** The API has no snapshot: a walk over several pages
reads them one after another, and a call ending ahead of others moves every later row
up one place, so a call in flight throughout can slip from a page not yet read onto one
already read and be missed by that walk. A watch therefore trusts a missing call only as
far as the listings that held it allow:

* a listing read in one page (its walk ended on page 0) is atomic: a call it held and
  now misses has left it;
* a call missing from a listing read in several pages has left it only when the next
  poll misses it too (so ``ended`` may come one interval late for such listings); if it
  reappears, it was never gone: no ``ended``, no ``started``, at most ``changed``;
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
1) of the client's rate limit. Under a ``RateLimit(requests, per=seconds)`` its polls
start at most ``budget_share * requests`` requests in any window of ``per`` seconds
(polls ``(per + margin) / n`` seconds apart, n being how many polls that share holds,
``margin`` the limiter's own widening of its window; a poll that alone needs more is
spread to the share on average); under a limiter that tells only its ``rate``, at most
``budget_share * rate`` a second on average; a limiter that tells neither never
stretches a watch. When a poll costs more than ``interval`` allows, the
watch polls less often, says so once at WARNING, and ``Snapshot.interval`` shows the
interval actually achieved. The cost of the last poll sets the pace of the next.

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

import asyncio
import enum
import logging
import math
from collections import deque
from collections.abc import Callable, Container, Hashable, Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Generic, TypeVar

import attrs

from . import _validators as v
from ._aio import _Closing
from .errors import (
    ActiveCallsError,
    APIStatusError,
    ClientClosedError,
    ValidationError,
)
from .limits.ratelimit import Limiter
from .models import ActiveCall, CallEvent, CallEventType, Product
from .pagination import FanOut, PageWalk, Target

__all__ = ["CallWatch", "Snapshot", "SnapshotWatch", "diff_snapshots"]

logger = logging.getLogger("activecalls_async")

#: What a multi-target watch's caller may pass as one target.
TargetLike = Target | tuple[Product | str, int | str | None]


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


_K = TypeVar("_K", bound=Hashable)
_T = TypeVar("_T")


@attrs.frozen(repr=False)
class Snapshot:
    """One poll of a multi-target watch; the fields are described in this module's
    docstring."""

    calls: Mapping[str, ActiveCall] = attrs.field(hash=False)
    events: tuple[CallEvent, ...]
    taken_at: datetime
    requests: int
    interval: float
    sources: Mapping[str, tuple[Target, ...]] = attrs.field(
        factory=lambda: MappingProxyType({}), hash=False
    )
    errors: Mapping[Target, ActiveCallsError] = attrs.field(
        factory=lambda: MappingProxyType({}), hash=False
    )

    def __repr__(self) -> str:
        failed = f", {len(self.errors)} listings failed" if self.errors else ""
        return (
            f"<Snapshot {self.taken_at:%H:%M:%S} {len(self.calls)} calls, "
            f"{len(self.events)} events, {self.requests} requests, "
            f"interval {self.interval:.3g}s{failed}>"
        )


class _Reading(enum.Enum):
    """How one poll read one listing: what its misses prove."""

    WHOLE = "read in one page"  # a miss proves the call left the listing
    PAGED = "read to its end in several pages"  # a miss proves it only when repeated
    PARTIAL = "stopped early or failed"  # a miss proves nothing


def _reading(walk: PageWalk) -> _Reading:
    if not walk.complete:
        return _Reading.PARTIAL
    return _Reading.WHOLE if walk.pages_read == 1 else _Reading.PAGED


class _Believed(Generic[_K]):
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

    def advance(
        self,
        current: Mapping[str, ActiveCall],
        sources: Mapping[str, tuple[_K, ...]],
        readings: Mapping[_K, _Reading],
    ) -> list[CallEvent]:
        """Take in a poll (its calls, the listings that held each, how each listing was
        read) and return its events."""
        previous = self.calls
        missing = [uii for uii in previous if uii not in current]
        ending: set[str] = set()
        unconfirmed: set[str] = set()
        for uii in missing:
            proofs = {readings.get(key, _Reading.PARTIAL) for key in self.sources[uii]}
            if _Reading.PARTIAL in proofs:
                # No proof either way: an earlier miss stays waiting for its confirmation.
                if uii in self._unconfirmed:
                    unconfirmed.add(uii)
            elif proofs == {_Reading.WHOLE} or uii in self._unconfirmed:
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


def _budget_share(value: object) -> float:
    share = v.finite_number(value)
    if share is None or not 0 < share <= 1:
        raise ValidationError(
            "budget_share",
            f"expected the share of the rate limit a watch may use, above 0 and at most 1 "
            f"(0.5 is half); got {value!r}",
        )
    return share


class _Share:
    """The part of a rate limit a watch may use, and how often polls may come within it."""

    def __init__(self, budget_share: float, limiter: Limiter | None) -> None:
        self.fraction = _budget_share(budget_share)
        self.limiter = limiter
        requests = v.finite_number(getattr(limiter, "requests", None))
        per = v.finite_number(getattr(limiter, "per", None))
        rate = v.finite_number(getattr(limiter, "rate", None))
        # The limiter's own widening of its window (a RateLimit's ``margin``), for the
        # same reason: jitter must not squeeze one poll too many into the server's window.
        margin = max(0.0, v.finite_number(getattr(limiter, "margin", None)) or 0.0)
        #: The requests the watch may start in any window, and that window in seconds.
        self.window = (
            (self.fraction * requests, per + margin) if requests and per and per > 0 else None
        )
        #: The requests a second the watch may use, when the limiter tells only its rate.
        self.rate = self.fraction * rate if rate and rate > 0 else None

    def shortest_interval(self, requests: int) -> float:
        """The shortest interval at which polls costing ``requests`` stay within the share."""
        if requests <= 0:
            return 0.0
        if self.window is not None and self.window[0] > 0:
            allowed, per = self.window
            # Polls ``per / n`` apart put at most n of them in any window of ``per``
            # seconds, as the limiter counts; a poll that alone needs more than one
            # window's share is spread to that share on average.
            polls = math.floor(allowed / requests)
            return per / polls if polls else requests * per / allowed
        if self.rate is not None:
            return requests / self.rate
        return 0.0


class _Pace:
    """When the next poll may start: ``interval`` after the last one began, stretched so
    that the watch's requests keep within its share of the rate limit."""

    def __init__(
        self, interval: float, budget_share: float, limiter: Limiter | None, label: str
    ) -> None:
        self.interval = v.seconds("interval", interval)
        self.share = _Share(budget_share, limiter)
        self.label = label
        #: The interval planned until the next poll, stretched when polls cost too much.
        self.planned = self.interval
        self._started: float | None = None
        self._next: float | None = None
        self._warned = False

    async def wait(self) -> float | None:
        """Sleep until the next poll is due; return the seconds since the last one began."""
        loop = asyncio.get_running_loop()
        if self._next is not None:
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        now = loop.time()
        since = None if self._started is None else now - self._started
        self._started = now
        self._next = now + self.planned
        return since

    def spent(self, requests: int) -> None:
        """Take in what the poll begun last cost, and plan the next one to fit the budget."""
        planned = max(self.interval, self.share.shortest_interval(requests))
        if planned > self.interval and not self._warned:
            self._warned = True
            logger.warning(
                "%s: a poll costs %d requests, more than %g%% of %r allows every %gs; "
                "polling every %.3gs instead",
                self.label,
                requests,
                self.share.fraction * 100,
                self.share.limiter,
                self.interval,
                planned,
            )
        self.planned = planned
        if self._started is not None:
            self._next = self._started + planned


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


def _attempts(exc: Exception) -> int:
    """The requests a page that failed with ``exc`` cost."""
    if isinstance(exc, (ValidationError, ClientClosedError)):
        return 0  # refused before anything was sent
    return 1 + int(getattr(exc, "retries", 0))


class _Watch(_Closing[_T], Generic[_T, _K]):
    """What both watches share: the pace, the bookkeeping, one task at a time."""

    def __init__(
        self, *, interval: float, budget_share: float, limiter: Limiter | None, label: str
    ) -> None:
        self.label = label
        self._pace = _Pace(interval, budget_share, limiter, label)
        self._believed: _Believed[_K] = _Believed()
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
    docstring)."""

    def __init__(
        self,
        open_walk: Callable[[], PageWalk],
        *,
        interval: float,
        budget_share: float = 0.5,
        limiter: Limiter | None = None,
        label: str | None = None,
    ) -> None:
        # The first poll's walk is opened now, so that bad arguments are refused before
        # any request (a walk sends nothing until it is iterated).
        first = open_walk()
        super().__init__(
            interval=interval,
            budget_share=budget_share,
            limiter=limiter,
            label=first.label if label is None else label,
        )
        self._open_walk = open_walk
        self._first: PageWalk | None = first
        self._events: deque[CallEvent] = deque()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._believed.calls)} calls"
        return f"<CallWatch {self.label} every {self.interval:g}s {state}>"

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        self._events.clear()
        first, self._first = self._first, None
        if first is not None:
            await first.aclose()

    async def __anext__(self) -> CallEvent:
        self._enter()
        try:
            while not self._events:
                if self._closed:
                    raise StopAsyncIteration
                await self._poll()
        finally:
            self._busy = False
        return self._events.popleft()

    async def _poll(self) -> None:
        await self._pace.wait()
        walk, self._first = self._first or self._open_walk(), None
        current: dict[str, ActiveCall] = {}
        try:
            async with walk:
                async for page in walk:
                    current.update((call.uii, call) for call in page.calls)
        except Exception as exc:
            self._pace.spent(walk.pages_read + _attempts(exc))
            # A partial snapshot would report calls as ended: keep the last good one.
            self._fail(exc)
            return
        self._pace.spent(walk.pages_read)
        sources = dict.fromkeys(current, (_LISTING,))
        readings = {_LISTING: _reading(walk)}
        self._events.extend(self._believed.advance(current, sources, readings))


def _open_poll(
    open_walk: Callable[[Target], PageWalk], targets: Iterable[TargetLike], concurrency: int
) -> tuple[FanOut, dict[Target, PageWalk]]:
    """One poll of many listings: a fan-out over the client's walks, one page in flight
    each, and the walks it opened (what they read tells what their misses prove)."""
    walks: dict[Target, PageWalk] = {}

    def open_and_keep(target: Target, window: object = None) -> PageWalk:
        # No request slots are shared (``slots`` is 0), so no ``window`` comes with a
        # target: each walk keeps its one page in flight.
        walk = walks[target] = open_walk(target)
        return walk

    # The closure holds the walks, never the fan-out, so that dropping the fan-out
    # still cancels its workers at once.
    return FanOut(open_and_keep, targets, concurrency=concurrency, on_error="collect"), walks


class SnapshotWatch(_Watch[Snapshot, Target]):
    """One ``Snapshot`` per poll of many listings (see this module's docstring)."""

    def __init__(
        self,
        open_walk: Callable[[Target], PageWalk],
        targets: Iterable[TargetLike],
        *,
        interval: float,
        budget_share: float = 0.5,
        limiter: Limiter | None = None,
        concurrency: int,
    ) -> None:
        # The first poll is opened now, so that bad targets and options are refused
        # before any request (a fan-out sends nothing until it is iterated).
        self._first: tuple[FanOut, dict[Target, PageWalk]] | None = _open_poll(
            open_walk, targets, concurrency
        )
        #: The distinct targets, in the order given.
        self.targets: tuple[Target, ...] = self._first[0].targets
        if not self.targets:
            raise ValidationError("targets", "expected at least one target")
        names = [str(target) for target in self.targets[:3]]
        more = len(self.targets) - len(names)
        label = ", ".join(names) + (f" and {more} more" if more else "")
        super().__init__(interval=interval, budget_share=budget_share, limiter=limiter, label=label)
        self._open_walk = open_walk
        self._concurrency = concurrency
        self._order = {target: index for index, target in enumerate(self.targets)}

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._believed.calls)} calls"
        return (
            f"<SnapshotWatch {len(self.targets)} listings ({self.label}) "
            f"every {self.interval:g}s {state}>"
        )

    async def aclose(self) -> None:
        """Stop: iteration ends at once (a watch holds nothing in flight between polls)."""
        self._closed = True
        first, self._first = self._first, None
        if first is not None:
            await first[0].aclose()

    # -- shared watches (activecalls_async.fleet.hub) begin --
    def continue_from(self, snapshot: Snapshot) -> None:
        """Believe ``snapshot``'s calls in flight (misses awaiting confirmation are
        forgotten: they wait once more), so that the next poll's events follow on from it."""
        self._believed.calls = dict(snapshot.calls)
        self._believed.sources = dict(snapshot.sources)
        self._believed._unconfirmed = set()

    # -- shared watches end --

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
        fan_out, walks = first or _open_poll(self._open_walk, self.targets, self._concurrency)
        current: dict[str, ActiveCall] = {}
        try:
            async with fan_out:
                async for call in fan_out:
                    current[call.uii] = call
        except Exception:  # a bug in a worker (listing failures are collected)
            self._closed = True
            raise
        errors = {t: e for t, e in fan_out.errors.items() if isinstance(e, ActiveCallsError)}
        requests = sum(walk.pages_read for walk in walks.values())
        requests += sum(_attempts(exc) for exc in errors.values())
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
            target: _Reading.PARTIAL
            if target in errors or target not in walks
            else _reading(walks[target])
            for target in self.targets
        }
        sources = fan_out.sources
        # Listing order: by the first watched target listing each call, then as it came.
        order = self._order
        ranked = sorted(current, key=lambda uii: min(order[t] for t in sources[uii]))
        current = {uii: current[uii] for uii in ranked}
        events = self._believed.advance(current, sources, readings)
        # Read-only views: the bookkeeping replaces these dicts on each poll, never
        # changes them.
        return Snapshot(
            calls=MappingProxyType(self._believed.calls),
            events=tuple(events),
            taken_at=datetime.now(timezone.utc),
            requests=requests,
            interval=self._pace.planned if since is None else since,
            sources=MappingProxyType(self._believed.sources),
            errors=MappingProxyType(errors),
        )
