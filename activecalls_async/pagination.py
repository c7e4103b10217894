"""Walk every page of a listing, and many listings at once, holding only a few pages.

How a walk reads one listing (``page`` is zero-based, ``maxRows`` is the page size):

* Page 0 is asked alone. When it comes back full, up to ``prefetch`` further pages
  are kept in flight and handed out in page order.
* A short page 0 is not proof of the end, because a server may cap ``maxRows``
  silently. Page 1 is then asked with the number of rows page 0 brought: if it comes
  back full of new calls, the server caps pages at that size and the walk carries on
  with it. A client remembers what its walks learnt, so later walks skip the check.
* After that, a short page or an empty one ends the walk: the walk is ``complete``.
* A full page past page 0 that repeats page 0 means the server ignores ``page``: the
  walk yields that page's new calls, if any, and stops rather than spin, with one
  warning per client, and is not ``complete``. Such a page is one that brings nothing
  new, starts with page 0's first call, or brings at least half its rows already seen.
  (Calls ending between requests move unseen rows into a repeated page 0, so "nothing
  new" alone is not enough; a genuine page repeats a row only when a call arrived
  ahead of it since the previous page was asked, so half a page of repeats would take
  half a page of arrivals within one request.)

Each ``uii`` is yielded at most once per walk. Calls that start during a walk push
later rows onto the next page; those rows are read twice and yielded once. Calls that
end during a walk pull later rows back onto pages already read; such a call can be
missed by that walk (the next walk sees it). A walk holds at most ``page_size *
(prefetch + 1)`` calls, plus the set of uiis it has yielded.

Every iterator here is also an async context manager: ``async with`` (or ``aclose()``)
cancels and awaits whatever is still in flight. Leaving a plain ``async for`` early
cancels it too, as soon as the iterator is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import attrs

from . import _validators as v
from .errors import ActiveCallsError, ValidationError
from .models import ActiveCall, Product

__all__ = [
    "ActiveCallPage",
    "CallWalk",
    "FanOut",
    "Fetch",
    "PageWalk",
    "PagingMemo",
    "Target",
    "as_target",
]

logger = logging.getLogger("activecalls_async")

#: Fetch one page: ``(page, max_rows) -> rows`` (``client.list_active_calls`` bound to a
#: listing).
Fetch = Callable[[int, int], Awaitable[Sequence[ActiveCall]]]

_T = TypeVar("_T")


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
    included); ``max_rows`` is the page size asked for.
    """

    number: int
    calls: tuple[ActiveCall, ...]
    rows: int
    max_rows: int


class PagingMemo:
    """What walks have learnt about the server's page sizes; shared by one client's walks."""

    def __init__(self) -> None:
        #: The most rows the server has sent in one page: it caps pages no lower.
        self.floor = 0
        #: The most rows the server sends whatever is asked, once proven.
        self.cap: int | None = None
        #: Whether the server has been caught ignoring ``page`` (warned about once).
        self.warned_ignored_page = False

    def __repr__(self) -> str:
        return f"<PagingMemo floor={self.floor} cap={self.cap}>"

    def start_size(self, page_size: int) -> int:
        """The ``maxRows`` to ask for first: the requested size, or the cap when smaller."""
        return page_size if self.cap is None else min(page_size, self.cap)

    def saw_page(self, max_rows: int, rows: int) -> None:
        """Record a page of ``rows`` rows answered to ``maxRows=max_rows``."""
        self.floor = max(self.floor, min(rows, max_rows))
        if self.cap is not None and rows > self.cap:
            self.cap = None  # calls arriving mid-walk once passed for a cap; this disproves it

    def prove_cap(self, size: int) -> None:
        """Record that the server sends at most ``size`` rows per page."""
        self.cap = size
        self.floor = max(self.floor, size)


def _consume_result(task: asyncio.Future[Any]) -> None:
    # Mark an abandoned page's exception as retrieved, so a page fetched past the end
    # or dropped with its walk never logs "exception was never retrieved".
    if not task.cancelled():
        task.exception()


def _cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    for task in tasks:
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            task.cancel()


_Self = TypeVar("_Self", bound="_Closing[Any]")


class _Closing(Generic[_T]):
    """An async iterator that is also an async context manager closing it on exit."""

    def __aiter__(self) -> _Closing[_T]:
        return self

    async def __anext__(self) -> _T:
        raise NotImplementedError

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel and await whatever is in flight; further iteration stops at once."""
        raise NotImplementedError


class PageWalk(_Closing[ActiveCallPage]):
    """The pages of one listing, in order, with up to ``prefetch`` requests in flight."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        page_size: int,
        prefetch: int = 1,
        max_items: int | None = None,
        memo: PagingMemo | None = None,
        label: str = "listing",
    ) -> None:
        v.count("page_size", page_size, minimum=1)
        v.count("prefetch", prefetch, minimum=1)
        v.count("max_items", max_items, minimum=0, allow_none=True)
        self.label = label
        self._fetch = fetch
        self._prefetch = prefetch
        self._memo = memo if memo is not None else PagingMemo()
        self._max_rows = self._memo.start_size(page_size)
        self._remaining = max_items
        self._seen: set[str] = set()
        self._first_uii: str | None = None
        #: Pages answered so far (a walk that ended on page 0 read the listing at once).
        self.pages_read = 0
        #: Whether the walk read the listing to its end (an empty page, or a short one at
        #: a size the server honours). False while walking and after an early stop: a
        #: server ignoring ``page``, ``max_items``, an error or ``aclose()``.
        self.complete = False
        self._in_flight: deque[tuple[int, int, asyncio.Future[Sequence[ActiveCall]]]] = deque()
        self._next_number = 0
        self._size_known = False
        self._probing = False
        self._finished = max_items == 0
        self._busy = False
        #: When set (by a fan-out sharing its request slots), asked for the prefetch
        #: window each time requests are scheduled.
        self.window: Callable[[], int] | None = None

    def __repr__(self) -> str:
        state = "finished" if self._finished else f"next page {self._next_number}"
        return f"<PageWalk {self.label} max_rows={self._max_rows} {state}>"

    def __del__(self) -> None:
        # Dropped without aclose() (a plain ``async for`` left early): cancel at once.
        _cancel_all(task for _, _, task in getattr(self, "_in_flight", ()))

    async def aclose(self) -> None:
        """Cancel and await the requests in flight; the walk yields nothing more."""
        self._finished = True
        tasks = [task for _, _, task in self._in_flight]
        self._in_flight.clear()
        _cancel_all(tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __anext__(self) -> ActiveCallPage:
        if self._finished:
            raise StopAsyncIteration
        if self._busy:
            raise RuntimeError(f"{self!r} is already being iterated by another task")
        self._busy = True
        try:
            page, last = await self._next_page()
        except BaseException:
            # A failed page, or the consumer cancelled: nothing may outlive the walk.
            await self.aclose()
            raise
        finally:
            self._busy = False
        if page is None:
            await self.aclose()
            raise StopAsyncIteration
        if last:
            await self.aclose()  # drop any request past the end
        else:
            self._schedule()
        return page

    def _schedule(self) -> None:
        """Keep enough page requests in flight: one until the page size is known."""
        prefetch = self._prefetch if self.window is None else self.window()
        window = prefetch if self._size_known else 1
        if self._remaining is not None:
            # No point asking for pages beyond what ``max_items`` can still take.
            window = min(window, -(-self._remaining // self._max_rows))
        while len(self._in_flight) < window:
            number, max_rows = self._next_number, self._max_rows
            task = asyncio.ensure_future(self._fetch(number, max_rows))
            task.add_done_callback(_consume_result)
            self._in_flight.append((number, max_rows, task))
            self._next_number += 1

    async def _next_page(self) -> tuple[ActiveCallPage | None, bool]:
        """Await the next page in order; return it (None past the end) and whether it is
        the last."""
        if not self._in_flight:
            self._schedule()
        number, max_rows, task = self._in_flight[0]
        rows = await task
        self._in_flight.popleft()
        self.pages_read += 1
        received = len(rows)
        last = False
        memo = self._memo
        memo.saw_page(max_rows, received)
        if received == 0:
            self.complete = True
            return None, True
        if number == 0:
            self._first_uii = rows[0].uii
        seen = self._seen
        fresh = []
        for call in rows:
            if call.uii not in seen:
                seen.add(call.uii)
                fresh.append(call)
        repeats = received - len(fresh)
        if (
            number > 0
            and received >= max_rows
            and (not fresh or rows[0].uii == self._first_uii or 2 * repeats >= received)
        ):
            # Page 0 again (see the module docstring). Its new calls are real: keep them.
            self._report_ignored_page(number, repeats, received)
            last = True
        elif received >= max_rows:
            if self._probing:
                # Page 0 was short, yet page 1 is full of new calls: the server caps.
                self._probing = False
                memo.prove_cap(max_rows)
                logger.info(
                    "%s: the server caps pages at %d rows; walking with that size",
                    self.label,
                    max_rows,
                )
            self._size_known = True
        elif number == 0 and received >= memo.floor:
            # Short, but the server may cap pages at this size: ask page 1 at that size.
            # (Fewer rows than the server has sent in one page before prove the end.)
            logger.debug(
                "%s: page 0 brought %d of %d rows; checking for a page-size cap",
                self.label,
                received,
                max_rows,
            )
            self._max_rows = received
            self._probing = True
        else:
            # A short page at a size the server honours: the end. (Even from a server
            # ignoring ``page``, a short page 0 is the whole listing at that moment.)
            last = self.complete = True
        if self._remaining is not None:
            fresh = fresh[: self._remaining]
            self._remaining -= len(fresh)
            last = last or self._remaining == 0
        if not fresh:
            return None, True
        return ActiveCallPage(number, tuple(fresh), received, max_rows), last

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
    open_walk: Callable[[Target], PageWalk]
    on_error: str
    queue: asyncio.Queue[tuple[Target, ActiveCallPage] | None]
    errors: dict[Target, Exception] = attrs.field(factory=dict)
    failure: BaseException | None = None
    workers_left: int = 0
    #: Request slots shared among the walks in progress (0: each keeps its own prefetch).
    slots: int = 0
    walking: int = 0

    def share(self) -> int:
        """Each walk's fair share of the request slots, so that a long listing speeds up
        as the short ones finish."""
        return max(1, -(-self.slots // max(1, self.walking)))

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
        walk = state.open_walk(target)
        if state.slots:
            walk.window = state.share
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
    """The calls of many listings, walked concurrently and yielded as pages arrive.

    Each ``uii`` is yielded once across all targets; ``sources`` maps every uii seen so
    far to the targets it was listed under (complete once iteration ends). With
    ``on_error="raise"`` the first failing target cancels the others and its error is
    raised; with ``"collect"`` failures land in ``errors`` and the other targets carry on.
    """

    def __init__(
        self,
        open_walk: Callable[[Target], PageWalk],
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
        _cancel_all(getattr(self, "_workers", ()))

    async def aclose(self) -> None:
        """Cancel and await every worker and request in flight; iteration stops at once."""
        self._closed = True
        self._buffer.clear()
        workers, self._workers = self._workers, []
        _cancel_all(workers)
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
