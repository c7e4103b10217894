"""Walk every page of a listing, and many listings at once, holding only a few pages.

This is the walk contract; ``iter_active_calls``, ``iter_active_call_pages`` and
``iter_active_calls_many`` point here.

**How a walk reads one listing** (``page`` is zero-based, ``maxRows`` is the page size).
``page_size`` is what the caller (or the client, by default 1000) asks for; a server may
silently send fewer rows per page (a *cap*) and the walk must still read every page.

* Page 0 is always asked at ``page_size``, alone. A full page 0 settles the size: the
  walk asks the following pages at ``page_size``, up to ``prefetch`` of them in flight,
  handed out in page order, and ends at the first short or empty page.
* A short page 0 of ``n`` rows is the whole listing when the server is known to send
  pages of more than ``n`` rows: it has sent a larger page to this client before, or the
  client was told so (``server_max_rows``). One request, then.
* Otherwise ``n`` may be a cap. Page 1 is asked at ``n`` rows (the *probe*): short or
  empty, it ends the walk. Full, it suggests a cap, but a call arriving between the two
  requests fills it just as well, so page 0 is asked again at ``page_size`` (the
  *check*). Still ``n`` rows: the cap is proven, the client remembers it, and the walk
  goes on at ``n`` rows from page 2. Fewer: the listing shrank to that, and the walk
  ends. More: there was no cap; the walk goes on at the larger size the server just
  sent, from where it stands. Faking a proof takes ``n`` calls arriving between two
  requests and ``n`` ending between the next two, and the client never believes a cap
  smaller than a page the server has already sent it.
* A remembered cap only spares later walks the probe and the check: they still ask page
  0 at ``page_size``, so the first answer holding more rows than the cap drops it. A walk
  paging below ``page_size`` also asks page 0 at ``page_size`` again every 64 pages, and
  goes on at the larger size the server then sends, if any.
* A full page past page 0 that repeats page 0 means the server ignores ``page``: the
  walk yields that page's new calls, if any, and stops rather than spin, with one
  warning per client, and is not ``complete``. Such a page is one that brings nothing
  new, starts with page 0's first call, or brings at least half its rows already seen.
  (Calls ending between requests move unseen rows into a repeated page 0, so "nothing
  new" alone is not enough; a genuine page repeats a row only when a call arrived ahead
  of it since the previous page was asked, so half a page of repeats would take half a
  page of arrivals within one request.)

**Cost.** A listing read in one page costs one request once the client knows the server
sends larger pages, two before. With a cap ``C`` below ``page_size``, the first walk
that meets it costs one request more than the ``⌊N/C⌋ + 1`` pages the listing needs,
later walks none (one more per 64 pages). Each walk stops at its first short page, so at
most ``prefetch - 1`` requests go past the end; a fan-out's shared slots keep at most
one past the end of each listing.

**Bound.** Let ``N`` be the most calls the listing holds during a walk and ``m`` the
smallest page size the walk asks for. Every request but the last, the check and the
periodic re-checks reads rows no other request of the walk read, at least ``m`` of
them, so a walk sends at most ``⌊N/m⌋ + 2 + ⌊(⌊N/m⌋ + 1)/64⌋`` requests. Calls arriving
raise ``N`` by at most their number, so a walk ends whenever fewer calls arrive between
two of its requests than the page size it walks at. Calls only arriving cannot fake a
cap, so with one call arriving per request a walk ends whenever the server sends pages
of two rows or more; a size proven by calls that came and went is re-checked within 64
pages.

**Guarantees while calls come and go.** Each ``uii`` is yielded at most once per walk.
Calls that start during a walk push later rows onto the next page; those rows are read
twice and yielded once; a call starting mid-walk may or may not be yielded. Calls that
end during a walk pull later rows back onto pages already read: a call in flight for the
whole walk is yielded unless a call ahead of it in the listing ended during the walk
(the *row shift*: the next walk sees it). A call may have ended by the time it is
yielded. A walk holds at most ``page_size * (prefetch + 1)`` calls, plus the set of uiis
it has yielded. ``complete`` says whether the walk read the listing to its end (an empty
page, or a short one at a size the server honours); it is false after an early stop (a
server ignoring ``page``, ``max_items``, an error or ``aclose()``).

**Options.** ``page_size`` defaults to the client's (``server_max_rows`` when given,
else ``DEFAULT_PAGE_SIZE``); ``max_items`` stops the walk after that many calls, asking
no page it cannot use; ``prefetch`` pages are kept in flight once the size is settled,
still handed out in order (page 0, the probe and the checks go one at a time).

**Many listings.** ``FanOut`` (``iter_active_calls_many``) walks several targets
concurrently, ``concurrency`` at a time (default: the client's ``max_concurrency``, at
most one per target), and yields each ``uii`` once across them, as pages arrive; every
request still shares the client's concurrency limit and rate limiter. ``sources`` maps
each uii to the targets that listed it. By default (``prefetch=None``) the client's
concurrency slots are shared among the walks under way, at most two requests in flight
per walk, so that none sends more than one request past its end; an explicit
``prefetch`` fixes each walk's window instead. With ``on_error="raise"`` (default) the
first failing target cancels the others and its error is raised; with ``"collect"``
failures land in ``errors``, by target, and the others carry on. A bug (an exception
that is no ``ActiveCallsError``) always fails the fan-out.

**Closing.** Every iterator here is also an async context manager: ``async with`` (or
``aclose()``) cancels and awaits whatever is still in flight. Leaving a plain ``async
for`` early cancels it too, as soon as the iterator is dropped; so do an error and
cancelling the consumer.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from . import _validators as v
from ._aio import _Closing, cancel_all, retrieve
from .errors import ActiveCallsError, ValidationError
from .models import ActiveCall, Product

__all__ = [
    "CHECK_EVERY",
    "DEFAULT_PAGE_SIZE",
    "ActiveCallPage",
    "Answer",
    "Ask",
    "Asked",
    "CallWalk",
    "Decision",
    "FanOut",
    "Fetch",
    "PageWalk",
    "PagingMemo",
    "Step",
    "Target",
    "Window",
    "as_target",
    "decide",
]

logger = logging.getLogger("activecalls_async")

#: Fetch one page: ``(page, max_rows) -> rows`` (``client.list_active_calls`` bound to a
#: listing, and to the priority its requests carry).
Fetch = Callable[[int, int], Awaitable[Sequence[ActiveCall]]]

#: The ``maxRows`` walks ask for unless told otherwise: large, so that a listing costs few
#: requests; a server sending fewer rows per page is detected and followed.
DEFAULT_PAGE_SIZE = 1000

#: How many pages a walk may keep in flight, asked each time it schedules requests.
Window = Callable[[], int]

#: A walk paging below ``page_size`` asks page 0 at ``page_size`` again every this many
#: pages, so that a cap proven by calls that came and went cannot hold it back for long.
CHECK_EVERY = 64

#: The most requests a walk keeps in flight when a fan-out shares its slots: a walk ends
#: at the first short page, so the one beyond it is the only request past its end.
_SHARED_WINDOW = 2


def _product(value: Any) -> Product:
    return v.enum_member("product", value, Product)


def _product_id(value: Any) -> str | None:
    # The digit string list_active_calls sends: "0123456789" keeps its leading zero, and
    # 55 and "55" make the same target.
    return None if value is None else v.identifier("product_id", value)


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


class PagingMemo:
    """What walks have learnt about the server's page sizes; shared by one client's walks."""

    def __init__(self, *, server_max_rows: int | None = None) -> None:
        v.count("server_max_rows", server_max_rows, minimum=1, allow_none=True)
        #: The server sends pages of at least this many rows: the most it has sent in one
        #: page, or what the client was told (``server_max_rows``). Unfakeable: one answer.
        self.floor = server_max_rows or 0
        #: The most rows the server sends whatever is asked, once proven.
        self.cap: int | None = None
        #: Whether the server has been caught ignoring ``page`` (warned about once).
        self.warned_ignored_page = False

    def __repr__(self) -> str:
        return f"<PagingMemo floor={self.floor} cap={self.cap}>"

    def saw_page(self, max_rows: int, rows: int) -> None:
        """Record a page of ``rows`` rows answered to ``maxRows=max_rows``."""
        self.floor = max(self.floor, min(rows, max_rows))
        if self.cap is not None and rows > self.cap:
            self.cap = None  # a larger page disproves it, whatever made it look proven

    def prove_cap(self, size: int) -> None:
        """Record that the server sends at most ``size`` rows per page, unless it has
        already sent more (then calls coming and going faked the proof)."""
        if size >= self.floor:
            self.cap = size
            self.floor = size


class Ask(enum.Enum):
    """Why a walk asked for a page."""

    #: Page 0 at ``page_size``: every walk starts here.
    FIRST = "first"
    #: Page 1 at the size a short page 0 brought: is there more?
    PROBE = "probe"
    #: Page 0 at ``page_size`` again: does the server still send only ``size`` rows?
    CHECK = "check"
    #: The next page at the walk's size.
    NEXT = "next"


@attrs.frozen
class Asked:
    """One request of a walk: why, which page, and the ``maxRows`` sent.

    For a ``CHECK``, ``size`` is the page size under test and ``resume`` the page at that
    size the walk goes on from; for the others ``size`` is ``max_rows``.
    """

    ask: Ask
    page: int
    max_rows: int
    size: int = attrs.field()
    resume: int = 0

    @size.default
    def _size(self) -> int:
        return self.max_rows


@attrs.frozen
class Answer:
    """What came back: ``rows`` sent, how many were ``fresh`` (new to the walk), and
    whether the first row is page 0's first call."""

    rows: int
    fresh: int
    starts_like_page_zero: bool = False


class Step(enum.Enum):
    """What a walk does after an answer."""

    #: The listing is read: stop, complete.
    END = "end"
    #: Ask the following pages at ``size`` from ``page``; prefetching is safe.
    CONTINUE = "continue"
    #: Page 0 was short and may be capped: ask page ``1`` at its size, alone.
    PROBE = "probe"
    #: Ask page 0 again at ``page_size``, alone, to test the size ``size``.
    CHECK = "check"
    #: Page 0 asked again still brought ``size`` rows: remember the cap, continue at it.
    CAP_PROVEN = "cap proven"
    #: The page repeated page 0: the server ignores ``page``; stop, not complete.
    PAGE_IGNORED = "page ignored"


@attrs.frozen
class Decision:
    """A step and, for those that ask more, the page size and the page to ask next."""

    step: Step
    size: int = 0
    page: int = 0

    @property
    def complete(self) -> bool:
        """Whether the walk read the listing to its end."""
        return self.step is Step.END


def _repeats_page_zero(answer: Answer) -> bool:
    # See the module docstring: nothing new, page 0's first call, or half the rows seen.
    repeats = answer.rows - answer.fresh
    return not answer.fresh or answer.starts_like_page_zero or 2 * repeats >= answer.rows


def _resized(asked: Asked, rows: int, page_size: int) -> Decision:
    """Go on at a larger size after a check found more than ``asked.size`` rows, without
    skipping a row: from right after what this page 0 brought, or aligned on the rows
    already read when those reach further."""
    limit = min(rows, page_size)
    read = asked.resume * asked.size
    if limit >= read:
        return Decision(Step.CONTINUE, limit, 1)
    factor = max(
        d for d in range(1, asked.resume + 1) if asked.resume % d == 0 and asked.size * d <= limit
    )
    return Decision(Step.CONTINUE, asked.size * factor, asked.resume // factor)


def decide(
    asked: Asked, answer: Answer, *, page_size: int, floor: int, cap: int | None
) -> Decision:
    """The walk's next step after ``answer`` to ``asked`` (pure; the rules are the module
    docstring's). ``floor`` and ``cap`` are the memo's knowledge before this answer."""
    rows = answer.rows
    if asked.ask is Ask.FIRST:
        if rows == 0:
            return Decision(Step.END)
        if rows >= asked.max_rows:
            return Decision(Step.CONTINUE, asked.max_rows, 1)
        if rows < floor:
            return Decision(Step.END)  # the server would have sent more rows: the end
        if rows == cap:
            return Decision(Step.CONTINUE, rows, 1)
        return Decision(Step.PROBE, rows, 1)
    if asked.ask is Ask.CHECK:
        if rows < asked.size:
            return Decision(Step.END)  # the listing shrank to what page 0 holds now
        if rows == asked.size:
            return Decision(Step.CAP_PROVEN, asked.size, asked.resume)
        return _resized(asked, rows, page_size)
    # A page past page 0: PROBE or NEXT.
    if rows >= asked.max_rows and _repeats_page_zero(answer):
        return Decision(Step.PAGE_IGNORED)
    if rows < asked.max_rows:
        return Decision(Step.END)  # short at a size the server has sent: the end
    if asked.ask is Ask.PROBE:
        return Decision(Step.CHECK, asked.max_rows, 2)
    return Decision(Step.CONTINUE, asked.max_rows, asked.page + 1)


class PageWalk(_Closing[ActiveCallPage]):
    """The pages of one listing, in order, with up to ``prefetch`` requests in flight."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        page_size: int,
        prefetch: int = 1,
        window: Window | None = None,
        max_items: int | None = None,
        memo: PagingMemo | None = None,
        label: str = "listing",
    ) -> None:
        v.count("page_size", page_size, minimum=1)
        v.count("prefetch", prefetch, minimum=1)
        v.count("max_items", max_items, minimum=0, allow_none=True)
        self.label = label
        self.page_size = page_size
        self._fetch = fetch
        self._prefetch = prefetch
        #: When given (a fan-out sharing its request slots), asked for the prefetch
        #: window each time requests are scheduled, instead of ``prefetch``.
        self._window = window
        self._memo = memo if memo is not None else PagingMemo()
        self._remaining = max_items
        self._seen: set[str] = set()
        self._first_uii: str | None = None
        #: Pages answered so far (a walk that ended on page 0 read the listing at once).
        self.pages_read = 0
        #: Whether the walk read the listing to its end (see the module docstring).
        self.complete = False
        self._in_flight: deque[tuple[Asked, asyncio.Future[Sequence[ActiveCall]]]] = deque()
        #: The page size asked for past page 0, and the next page to ask at that size.
        self._size = page_size
        self._next_number = 1
        #: A request to send alone once nothing is in flight (page 0, a probe, a check).
        self._alone: Asked | None = Asked(Ask.FIRST, 0, page_size)
        #: Whether pages may be prefetched (the size is one the server honours).
        self._open = False
        self._since_check = 0
        self._finished = max_items == 0
        self._busy = False

    def __repr__(self) -> str:
        state = "finished" if self._finished else f"next page {self._next_number}"
        return f"<PageWalk {self.label} max_rows={self._size} {state}>"

    def __del__(self) -> None:
        # Dropped without aclose() (a plain ``async for`` left early): cancel at once.
        cancel_all(task for _, task in getattr(self, "_in_flight", ()))

    async def aclose(self) -> None:
        """Cancel and await the requests in flight; the walk yields nothing more."""
        self._finished = True
        tasks = [task for _, task in self._in_flight]
        self._in_flight.clear()
        cancel_all(tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __anext__(self) -> ActiveCallPage:
        if self._finished:
            raise StopAsyncIteration
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True
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
        except BaseException:
            # A failed page, the consumer cancelled, or the end: nothing may outlive the walk.
            await self.aclose()
            raise
        finally:
            self._busy = False

    def _send(self, asked: Asked) -> None:
        task = asyncio.ensure_future(self._fetch(asked.page, asked.max_rows))
        task.add_done_callback(retrieve)
        self._in_flight.append((asked, task))

    def _schedule(self) -> None:
        """Keep enough requests in flight: one at a time until the size is settled."""
        if self._finished:
            return
        if self._alone is not None:
            if not self._in_flight:
                self._send(self._alone)
                self._alone = None
            return
        window = 1
        if self._open:
            window = self._prefetch if self._window is None else self._window()
        if self._remaining is not None:
            # No point asking for pages beyond what ``max_items`` can still take.
            window = min(window, -(-self._remaining // self._size))
        while len(self._in_flight) < window:
            if self._size < self.page_size and self._since_check >= CHECK_EVERY:
                if self._in_flight:
                    return  # the check goes alone, once the pages before it are in
                self._since_check = 0
                self._send(Asked(Ask.CHECK, 0, self.page_size, self._size, self._next_number))
                return
            self._send(Asked(Ask.NEXT, self._next_number, self._size))
            self._next_number += 1
            self._since_check += 1

    async def _next_answer(self) -> tuple[ActiveCallPage | None, bool]:
        """Await the next answer in order; return the page of new calls it brought (None
        when none) and whether the walk ends with it."""
        if not self._in_flight:
            self._schedule()
        asked, task = self._in_flight[0]
        rows = await task
        self._in_flight.popleft()
        self.pages_read += 1
        memo = self._memo
        floor, cap = memo.floor, memo.cap
        memo.saw_page(asked.max_rows, len(rows))
        if rows and asked.page == 0:
            self._first_uii = rows[0].uii
        seen = self._seen
        fresh = []
        for call in rows:
            if call.uii not in seen:
                seen.add(call.uii)
                fresh.append(call)
        answer = Answer(
            len(rows), len(fresh), bool(rows) and asked.page > 0 and rows[0].uii == self._first_uii
        )
        decision = decide(asked, answer, page_size=self.page_size, floor=floor, cap=cap)
        last = self._follow(asked, answer, decision)
        if self._remaining is not None:
            fresh = fresh[: self._remaining]
            self._remaining -= len(fresh)
            last = last or self._remaining == 0
        page = (
            ActiveCallPage(asked.page, tuple(fresh), len(rows), asked.max_rows) if fresh else None
        )
        return page, last

    def _follow(self, asked: Asked, answer: Answer, decision: Decision) -> bool:
        """Act on a decision; return whether the walk ends."""
        step = decision.step
        if decision.complete:
            self.complete = True
            return True
        if step is Step.PAGE_IGNORED:
            self._report_ignored_page(asked.page, answer.rows - answer.fresh, answer.rows)
            return True
        if step is Step.PROBE:
            logger.debug(
                "%s: page 0 brought %d of %d rows; checking for a page-size cap",
                self.label,
                answer.rows,
                asked.max_rows,
            )
            self._size = decision.size
            self._alone = Asked(Ask.PROBE, 1, decision.size)
            return False
        if step is Step.CHECK:
            self._alone = Asked(Ask.CHECK, 0, self.page_size, decision.size, decision.page)
            return False
        if asked.ask is not Ask.NEXT:  # a new settled size (pages in flight keep theirs)
            if step is Step.CAP_PROVEN:
                self._memo.prove_cap(decision.size)
                logger.info(
                    "%s: the server caps pages at %d rows; walking with that size",
                    self.label,
                    decision.size,
                )
            elif asked.ask is Ask.CHECK:
                logger.info(
                    "%s: the server sent %d rows where %d looked like its cap; walking with "
                    "%d rows a page",
                    self.label,
                    answer.rows,
                    asked.size,
                    decision.size,
                )
            self._size, self._next_number = decision.size, decision.page
            self._open = True
        return False

    def _report_ignored_page(self, number: int, repeats: int, received: int) -> None:
        memo = self._memo
        level = logging.INFO if memo.warned_ignored_page else logging.WARNING
        memo.warned_ignored_page = True
        logger.log(
            level,
            "%s: page %d repeated page 0 (%d of %d rows already seen); the server seems to "
            "ignore 'page', so the walk stops here (%d calls)",
            self.label,
            number,
            repeats,
            received,
            len(self._seen),
        )


class CallWalk(_Closing[ActiveCall]):
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


@attrs.define(eq=False)
class _FanOutState:
    """What a fan-out's workers share; they never reference the FanOut itself, so that
    dropping it can cancel them."""

    todo: deque[Target]
    open_walk: Callable[[Target, Window | None], PageWalk]
    on_error: str
    queue: asyncio.Queue[tuple[Target, ActiveCallPage] | None]
    errors: dict[Target, Exception] = attrs.field(factory=dict)
    failure: BaseException | None = None
    workers_left: int = 0
    #: Request slots shared among the walks in progress (0: each keeps its own prefetch).
    slots: int = 0
    walking: int = 0

    def share(self) -> int:
        """Each walk's share of the request slots: a fair share, and never more than one
        request beyond the page it awaits (the only one that can go past its end)."""
        return min(_SHARED_WINDOW, max(1, -(-self.slots // max(1, self.walking))))

    def fail(self, exc: Exception) -> None:
        """Record the fan-out's failure; the first one recorded is the one raised."""
        if self.failure is None:
            self.failure = exc

    def wake(self) -> None:
        """Wake a consumer waiting on an empty queue (a full queue needs no wake-up)."""
        if not self.queue.full():
            self.queue.put_nowait(None)


async def _walk_targets(state: _FanOutState) -> None:
    """Worker: walk targets one after another until none is left or the fan-out fails.

    A worker never dies silently: anything it raises, other than being cancelled, is
    recorded as the fan-out's failure, which the consumer raises.
    """
    try:
        while state.todo and state.failure is None:
            await _walk_target(state, state.todo.popleft())
    except Exception as exc:  # a bug in the worker itself: fail the fan-out with it
        state.fail(exc)
    finally:
        state.workers_left -= 1
        state.wake()


async def _walk_target(state: _FanOutState, target: Target) -> None:
    """Walk one target into the queue; record its failure as ``on_error`` says."""
    walk: PageWalk | None = None
    state.walking += 1
    try:
        walk = state.open_walk(target, state.share if state.slots else None)
        async for page in walk:
            await state.queue.put((target, page))
    except ActiveCallsError as exc:
        state.errors[target] = exc
        if state.on_error == "raise":
            state.fail(exc)
        else:
            logger.warning("%s: listing failed, carrying on without it: %s", target, exc)
    except Exception as exc:  # a bug is never collected: it fails the fan-out
        state.errors[target] = exc
        state.fail(exc)
    finally:
        state.walking -= 1
        if walk is not None:
            await walk.aclose()


class FanOut(_Closing[ActiveCall]):
    """The calls of many listings, walked concurrently, each uii once (see the module
    docstring); ``open_walk(target, window)`` opens each target's walk."""

    def __init__(
        self,
        open_walk: Callable[[Target, Window | None], PageWalk],
        targets: Iterable[Target | tuple[Product | str, int | str | None]],
        *,
        concurrency: int,
        on_error: Literal["raise", "collect"] = "raise",
        slots: int = 0,
    ) -> None:
        v.count("concurrency", concurrency, minimum=1)
        v.count("slots", slots, minimum=0)
        if on_error not in ("raise", "collect"):
            raise ValidationError("on_error", f"expected 'raise' or 'collect'; got {on_error!r}")
        if isinstance(targets, (str, bytes, Target)) or not isinstance(targets, Iterable):
            raise ValidationError("targets", "expected an iterable of targets")
        #: The distinct targets, in the order given.
        self.targets: tuple[Target, ...] = tuple(dict.fromkeys(as_target(t) for t in targets))
        self.concurrency = min(concurrency, len(self.targets)) or 1
        self._state = _FanOutState(
            deque(self.targets),
            open_walk,
            on_error,
            asyncio.Queue(maxsize=self.concurrency),
            slots=slots,
        )
        self._sources: dict[str, tuple[Target, ...]] = {}
        self._buffer: deque[ActiveCall] = deque()
        self._workers: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<FanOut {len(self.targets)} targets concurrency={self.concurrency} "
            f"on_error={self._state.on_error!r} errors={len(self.errors)}>"
        )

    @property
    def errors(self) -> Mapping[Target, Exception]:
        """The error of each target whose listing failed."""
        return self._state.errors

    @property
    def sources(self) -> Mapping[str, tuple[Target, ...]]:
        """For each uii seen so far, the targets that listed it, in the order seen."""
        return self._sources

    def __del__(self) -> None:
        cancel_all(getattr(self, "_workers", ()))

    async def aclose(self) -> None:
        """Cancel and await every worker and request in flight; iteration stops at once."""
        self._closed = True
        self._buffer.clear()
        workers, self._workers = self._workers, []
        cancel_all(workers)
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    def _start(self) -> None:
        self._started = True
        state = self._state
        state.workers_left = min(self.concurrency, len(self.targets))
        self._workers = [
            asyncio.ensure_future(_walk_targets(state)) for _ in range(state.workers_left)
        ]

    async def __anext__(self) -> ActiveCall:
        if self._closed:
            raise StopAsyncIteration
        if not self._started:
            self._start()
        try:
            return await self._next_call()
        except BaseException:
            await self.aclose()
            raise

    async def _next_call(self) -> ActiveCall:
        state = self._state
        sources = self._sources
        while True:
            if state.failure is not None:
                raise state.failure
            if self._buffer:
                return self._buffer.popleft()
            if state.workers_left == 0 and state.queue.empty():
                await self.aclose()
                raise StopAsyncIteration
            item = await state.queue.get()
            if item is None:
                continue  # a wake-up: look at the state again
            target, page = item
            for call in page.calls:
                known = sources.get(call.uii)
                if known is None:
                    sources[call.uii] = (target,)
                    self._buffer.append(call)
                elif target not in known:
                    sources[call.uii] = (*known, target)
