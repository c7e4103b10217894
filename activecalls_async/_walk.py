"""One listing walked page by page: ``PageWalk`` and ``CallWalk`` (the contract, and the
rules they follow, are ``activecalls_async.pagination``'s; the rules' logic is
``activecalls_async._paging``)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import attrs

from . import _validators as check
from ._aio import ClosingIterator, cancel_all, retrieve
from ._paging import (
    CHECK_EVERY,
    Answer,
    Decision,
    PageRequest,
    PagingMemo,
    Reason,
    Step,
    decide,
    predicted,
)
from .errors import ValidationError
from .limits.slack import MAX_WINDOW, PRESSED_WINDOW
from .models import ActiveCall, Product
from .telemetry._base import OFF, Recorder, ScopeTrace

__all__ = [
    "ActiveCallPage",
    "CallWalk",
    "Fetch",
    "PageWalk",
    "Room",
    "Target",
    "WalkShape",
    "Window",
    "as_target",
    "listing_label",
]

logger = logging.getLogger("activecalls_async")

#: Fetch one page: ``(page, max_rows) -> rows`` (a listing's request, built once, with
#: only its page varying).
Fetch = Callable[[int, int], Awaitable[Sequence[ActiveCall]]]

#: How many requests a walk may keep in flight now, asked each time it sends more.
Window = Callable[[], int]
#: How many more requests the budget could let start at once now (None: no limit).
Room = Callable[[], int | None]


def _product(value: Any) -> Product:
    return check.enum_member("product", value, Product)


def _product_id(value: Any) -> str | None:
    # The digit string list_active_calls sends: "0123456789" keeps its leading zero, and
    # 55 and "55" make the same target.
    return None if value is None else check.identifier("product_id", value)


@attrs.frozen
class Target:
    """One listing to walk: a product and its id (``Target("ACD", 55)``).

    ``product_id`` is kept as the digit string sent on the wire, so ``Target("ACD", 55)``
    and ``Target("ACD", "55")`` are the same target.
    """

    product: Product = attrs.field(converter=_product)
    product_id: str | None = attrs.field(default=None, converter=_product_id)

    def __str__(self) -> str:
        if self.product_id is None:
            return self.product.value
        return f"{self.product.value} {self.product_id}"


def as_target(value: Target | tuple[Product | str, int | str | None]) -> Target:
    """Return ``value`` as a Target; a ``(product, product_id)`` pair is converted."""
    if isinstance(value, Target):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return Target(value[0], value[1])
    raise ValidationError(
        "targets", f"expected a Target or a (product, product_id) pair; got {value!r}"
    )


def listing_label(product: object, product_id: object, external_id: object) -> str:
    """How logs name a listing (and how a client remembers its size): ``ACD 55``."""
    if external_id is not None:
        return f"externalId {external_id}"
    return " ".join(str(part) for part in (product, product_id) if part is not None) or "list"


@attrs.frozen
class ActiveCallPage:
    """One page of a walk: its number and the calls it brought that the walk had not yet seen.

    ``rows`` is how many rows the server sent (repeats of calls seen on earlier pages
    included); ``max_rows`` is the page size asked for. Page 0 asked again (the check,
    see the module docstring) comes as another page 0 when it brings new calls.
    """

    number: int
    calls: tuple[ActiveCall, ...]
    rows: int
    max_rows: int


def _prefetch(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        check.count("prefetch", value, minimum=1)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check.count(attribute.name, value, minimum=1)


def _max_items(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check.count("max_items", value, minimum=0, allow_none=True)


@attrs.frozen
class WalkShape:
    """How a walk asks for pages: ``page_size`` rows each; at most ``prefetch`` requests in
    flight on a guess (a number, or a ``Window`` asked each time); within the budget's
    ``room`` (see ``activecalls_async.limits.slack``; None: no limit); and no more than
    ``max_items`` calls in all."""

    page_size: int = attrs.field(validator=_positive)
    prefetch: int | Window = attrs.field(default=1, validator=_prefetch)
    room: Room | None = None
    max_items: int | None = attrs.field(default=None, validator=_max_items)


def _same(sent: PageRequest, wanted: PageRequest) -> bool:
    """Whether ``sent`` asks what ``wanted`` asks (the same page at the same size)."""
    return sent.page == wanted.page and sent.max_rows == wanted.max_rows


class PageWalk(ClosingIterator[ActiveCallPage]):
    """The pages of one listing, in order (rules: ``activecalls_async.pagination``);
    its span, from the first page asked for, is ``telemetry``'s."""

    def __init__(
        self,
        fetch: Fetch,
        shape: WalkShape,
        *,
        memo: PagingMemo | None = None,
        label: str = "listing",
        telemetry: Recorder = OFF,
    ) -> None:
        self.label = label
        """How logs name the listing; also the name its size is remembered under."""
        self.page_size = shape.page_size
        self._fetch = fetch
        self._shape = shape
        self._memo = memo if memo is not None else PagingMemo()
        self._known = self._memo.recall(label)
        self._remaining = shape.max_items
        self._seen: set[str] = set()
        #: The rows of the last answer the walk took in.
        self._previous: Sequence[ActiveCall] = ()
        #: Whether the server was seen to honour ``page`` (no page is suspect after that).
        self._verified = False
        #: The first call of the walk's first answer.
        self._first: str | None = None
        self.pages_read = 0
        """Answers the walk took in."""
        self.requests = 0
        """Requests the walk sent, those it asked ahead and did not need included."""
        self.complete = False
        """Whether the walk read the listing to its end (``activecalls_async.pagination``)."""
        self.read_at_once = False
        """Whether one answer proved the end (an empty page 0, or one shorter than
        ``server_max_rows``)."""
        self._in_flight: deque[tuple[PageRequest, asyncio.Future[Sequence[ActiveCall]]]] = deque()
        #: The request whose answer the walk needs next, and the size it walks at.
        self._cursor = PageRequest(Reason.FIRST, 0, shape.page_size)
        self._size = shape.page_size
        self._since_check = 0
        self._finished = shape.max_items == 0
        self._busy = False
        self._telemetry = telemetry
        #: The walk's span, once it has started (None: not yet, or untraced).
        self._trace: ScopeTrace | None = None
        self._began = False

    def __repr__(self) -> str:
        state = "finished" if self._finished else f"next page {self._cursor.page}"
        return f"<PageWalk {self.label} max_rows={self._size} {state}>"

    def __del__(self) -> None:
        # Dropped without aclose() (a plain ``async for`` left early): cancel at once.
        cancel_all(task for _, task in getattr(self, "_in_flight", ()))
        if getattr(self, "_trace", None) is not None:
            self._end_trace()

    async def aclose(self) -> None:
        """Cancel and await the requests in flight; the walk yields nothing more."""
        self._finished = True
        tasks = [task for _, task in self._in_flight]
        self._in_flight.clear()
        cancel_all(tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._trace is not None:
            self._end_trace()

    def _end_trace(self) -> None:
        trace, self._trace = self._trace, None
        if trace is not None:
            trace.end(
                {
                    "activecalls.pages": self.pages_read,
                    "activecalls.requests": self.requests,
                    "activecalls.complete": self.complete,
                }
            )

    async def __anext__(self) -> ActiveCallPage:
        if self._finished:
            raise StopAsyncIteration
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True
        if not self._began:
            self._began = True
            self._trace = self._telemetry.walk(self.label)
        try:
            while True:
                page, last = await self._next_answer()
                if last:
                    await self.aclose()  # drop any request past the end
                    if page is None:
                        raise StopAsyncIteration
                else:
                    self._schedule()  # before the consumer gets the page: keep requests going
                if page is not None:
                    return page
        except BaseException as exc:
            # A failed page, the consumer cancelled, or the end: nothing may outlive the walk.
            if self._trace is not None:
                self._trace.failed(exc)
            await self.aclose()
            raise
        finally:
            self._busy = False

    # -- sending -------------------------------------------------------------------------

    def _windows(self) -> tuple[int, int]:
        """How many requests may be in flight now: for pages the walk knows it needs, and
        for pages it only guesses at (the slack rule, ``activecalls_async.pagination``)."""
        shape = self._shape
        room = None if shape.room is None else shape.room()
        budget = MAX_WINDOW if room is None else PRESSED_WINDOW + room
        ceiling = shape.prefetch() if callable(shape.prefetch) else shape.prefetch
        known, guessed = budget, min(budget, ceiling)
        if self._remaining is not None:
            # No point asking for pages beyond what ``max_items`` can still take.
            useful = -(-self._remaining // self._size)
            known, guessed = min(known, useful), min(guessed, useful)
        return max(1, known), max(1, guessed)

    def _wanted(self) -> Iterator[tuple[PageRequest, bool]]:
        """The requests the walk needs, in order, each with whether it is known to be
        needed: the cursor's, then those it may send ahead (pages it expects when it
        knows the listing's size, guesses otherwise), up to the next periodic check."""
        cursor = self._cursor
        yield cursor, True
        ahead: Iterator[PageRequest] = predicted(cursor, self._known, self._memo.declared)
        if self._size < self.page_size:
            due = CHECK_EVERY - self._since_check  # the check goes alone, after these
            ahead = itertools.islice(ahead, max(0, due - 1))
        # Pages it expects are those of the size its listing was last read at; once the
        # walk settles on another size, what it sends ahead is a guess again.
        known = self._known
        planned = known is not None and (cursor.reason is Reason.FIRST or self._size == known.size)
        for request in ahead:
            yield request, planned

    def _schedule(self) -> None:
        """Drop requests sent ahead on an expectation the answers contradicted, and keep
        as many in flight as the windows allow."""
        if self._finished:
            return
        for_known, for_guesses = self._windows()
        in_flight = self._in_flight
        kept = 0
        for request, needed in self._wanted():
            if kept < len(in_flight):
                if _same(in_flight[kept][0], request):
                    kept += 1
                    continue
                # Asked ahead on an expectation the answers contradicted: not needed.
                cancel_all([in_flight.pop()[1] for _ in range(len(in_flight) - kept)])
            if len(in_flight) >= (for_known if needed else for_guesses):
                break
            self._send(request)
            kept += 1
        if kept < len(in_flight):
            cancel_all([in_flight.pop()[1] for _ in range(len(in_flight) - kept)])

    def _send(self, request: PageRequest) -> None:
        self.requests += 1
        fetch = self._fetch(request.page, request.max_rows)
        trace = self._trace  # its requests are its span's children
        task = asyncio.ensure_future(fetch) if trace is None else trace.spawn(fetch)
        task.add_done_callback(retrieve)
        self._in_flight.append((request, task))

    # -- taking answers in -----------------------------------------------------------------

    async def _next_answer(self) -> tuple[ActiveCallPage | None, bool]:
        """Await the next answer in order; return the page of new calls it brought (None
        when none) and whether the walk ends with it."""
        if not self._in_flight or not _same(self._in_flight[0][0], self._cursor):
            self._schedule()
        _, task = self._in_flight[0]
        rows = await task
        self._in_flight.popleft()
        self.pages_read += 1
        request = self._cursor
        memo = self._memo
        cap = memo.cap
        memo.saw_page(len(rows))
        seen = self._seen
        fresh = []
        for call in rows:
            if call.uii not in seen:
                seen.add(call.uii)
                fresh.append(call)
        repeats = len(rows) - len(fresh)
        echoes = False
        if rows and request.reason in (Reason.CHECK, Reason.VERIFY):
            first = rows[0].uii
            echoes = any(call.uii == first for call in self._previous)
        self._previous = rows
        if rows and self._first is None:
            self._first = rows[0].uii
        answer = Answer(len(rows), len(fresh), self._suspect(request, rows, repeats), echoes)
        decision = decide(
            request, answer, page_size=self.page_size, declared=memo.declared, cap=cap
        )
        last = self._follow(request, answer, decision)
        if self._remaining is not None:
            fresh = fresh[: self._remaining]
            self._remaining -= len(fresh)
            last = last or self._remaining == 0
        page = (
            ActiveCallPage(request.page, tuple(fresh), len(rows), request.max_rows)
            if fresh
            else None
        )
        return page, last

    def _suspect(self, request: PageRequest, rows: Sequence[ActiveCall], repeats: int) -> bool:
        """Whether a page past page 0 looks like page 0 again: half its rows already seen,
        or the walk's very first call first (until the server is seen to honour ``page``)."""
        if request.page == 0 or not rows or self._verified:
            return False
        return 2 * repeats >= len(rows) or rows[0].uii == self._first

    def _follow(self, request: PageRequest, answer: Answer, decision: Decision) -> bool:
        """Act on a decision: move the cursor; return whether the walk ends."""
        step = decision.step
        if decision.complete:
            self.complete = True
            self.read_at_once = request.reason is Reason.FIRST
            # Ended by a probe or a check, the listing fit in page 0 at ``page_size``: the
            # probe's size is no page size the walk settled on.
            paged = request.reason in (Reason.NEXT, Reason.VERIFY)
            self._memo.remember(
                self.label, len(self._seen), self._size if paged else self.page_size
            )
            return True
        if step is Step.PAGE_IGNORED:
            self._report_ignored_page(request.page, answer.rows - answer.fresh, answer.rows)
            return True
        if step is Step.PROBE:
            logger.debug(
                "%s: page 0 brought %d of %d rows; checking for a page-size cap",
                self.label,
                answer.rows,
                request.max_rows,
            )
            self._size = decision.size
            self._cursor = PageRequest(Reason.PROBE, 1, decision.size)
            ahead = self._in_flight[0][0] if self._in_flight else None
            if (
                request.reason is Reason.FIRST
                and ahead is not None
                and ahead.reason is Reason.PROBE
                and ahead.max_rows < decision.size
            ):
                # The probe sent ahead at a smaller size serves: short, it proves the end.
                self._cursor = PageRequest(Reason.PROBE, 1, ahead.max_rows, decision.size)
            return False
        if step is Step.CHECK:
            self._cursor = PageRequest(
                Reason.CHECK, 0, self.page_size, decision.size, decision.page, answer.suspect
            )
            return False
        if step is Step.VERIFY:
            self._cursor = PageRequest(
                Reason.VERIFY, 0, decision.size, decision.size, decision.page
            )
            return False
        if request.reason is Reason.VERIFY or request.verifies:
            self._verified = True  # page 0 now is not the suspect page: ``page`` is honoured
        if request.reason is Reason.CHECK:
            self._since_check = 0
        if step is Step.CAP_PROVEN:
            self._memo.prove_cap(decision.size)
            logger.info(
                "%s: the server caps pages at %d rows; walking with that size",
                self.label,
                decision.size,
            )
        elif request.reason is Reason.CHECK and decision.size != request.size:
            logger.info(
                "%s: the server sent %d rows where %d looked like its cap; walking with "
                "%d rows a page",
                self.label,
                answer.rows,
                request.size,
                decision.size,
            )
        self._size = decision.size
        self._cursor = PageRequest(Reason.NEXT, decision.page, decision.size)
        if request.reason in (Reason.NEXT, Reason.VERIFY):
            self._since_check += 1
        if self._size < self.page_size and self._since_check >= CHECK_EVERY:
            # Page 0 at ``page_size`` again, alone, before the walk goes on.
            self._cursor = PageRequest(Reason.CHECK, 0, self.page_size, self._size, decision.page)
        return False

    def _report_ignored_page(self, number: int, repeats: int, received: int) -> None:
        memo = self._memo
        level = logging.INFO if memo.warned_ignored_page else logging.WARNING
        memo.warned_ignored_page = True
        logger.log(
            level,
            "%s: page %d repeated the listing's first page (%d of %d rows already seen); "
            "the server seems to ignore 'page', so the walk stops here (%d calls)",
            self.label,
            number,
            repeats,
            received,
            len(self._seen),
        )


class CallWalk(ClosingIterator[ActiveCall]):
    """The calls of one listing, page by page, each ``uii`` once."""

    def __init__(self, pages: PageWalk) -> None:
        self.pages = pages
        self._buffer: deque[ActiveCall] = deque()

    def __repr__(self) -> str:
        return f"<CallWalk {self.pages!r}>"

    async def aclose(self) -> None:
        """Cancel and await the requests in flight; the walk yields nothing more."""
        self._buffer.clear()
        await self.pages.aclose()

    async def __anext__(self) -> ActiveCall:
        while not self._buffer:
            page = await self.pages.__anext__()
            self._buffer.extend(page.calls)
        return self._buffer.popleft()
