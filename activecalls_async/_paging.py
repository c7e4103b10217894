"""The walk's rules, pure (no I/O): what an answer proves, what to ask next, what is known.

``activecalls_async.pagination`` states the walk contract; this module is its logic, so
that it can be tested without an event loop: ``decide`` turns one answer into the walk's
next step, ``PagingMemo`` keeps what a client's walks have learnt of the server (a
proven cap, and how large each listing was when last read), and ``predicted`` lists the
requests a walk can send ahead when it knows how large its listing was.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterator

import attrs

from . import _validators as check

__all__ = [
    "CHECK_EVERY",
    "DEFAULT_PAGE_SIZE",
    "REMEMBERED_LISTINGS",
    "Answer",
    "Decision",
    "PageRequest",
    "PagingMemo",
    "Reason",
    "Step",
    "decide",
    "predicted",
    "probe_size",
]

#: The ``maxRows`` walks ask for unless told otherwise: large, so that a listing costs few
#: requests; a server sending fewer rows per page is detected and followed.
DEFAULT_PAGE_SIZE = 1000

#: A walk paging below ``page_size`` asks page 0 at ``page_size`` again every this many
#: pages, so that a cap proven by calls that came and went cannot hold it back for long.
CHECK_EVERY = 64

#: How many listings' sizes a client remembers (the least recently walked are forgotten).
REMEMBERED_LISTINGS = 1024


class Reason(enum.Enum):
    """Why a walk asks for a page."""

    #: Page 0 at ``page_size``: every walk starts here.
    FIRST = "first"
    #: Page 1 at the size a short page 0 brought: is there more?
    PROBE = "probe"
    #: Page 0 at ``page_size`` again: does the server still send only ``size`` rows?
    CHECK = "check"
    #: The next page at the walk's size.
    NEXT = "next"
    #: Page 0 again at the size of a page that repeated half its rows: does the server
    #: honour ``page`` (its head now is elsewhere), or send its head whatever is asked?
    VERIFY = "verify"


@attrs.frozen
class PageRequest:
    """One request of a walk: why, which page, and the ``maxRows`` sent.

    For a ``CHECK`` or a ``VERIFY``, ``size`` is the page size the walk goes on at and
    ``resume`` the page at that size it goes on from; for the others ``size`` is
    ``max_rows``. A ``CHECK`` that follows a probe repeating half its rows also
    ``verifies`` that the server honours ``page``.
    """

    reason: Reason
    page: int
    max_rows: int
    size: int = attrs.field()
    resume: int = 0
    verifies: bool = False

    @size.default
    def _size(self) -> int:
        return self.max_rows


@attrs.frozen
class Answer:
    """What came back: ``rows`` sent, how many were ``fresh`` (new to the walk), whether
    the page is ``suspect`` (it looks like page 0 again: half its rows or more already
    seen, or the walk's first call first, while the walk has not yet seen the server
    honour ``page``), and whether its first row ``echoes`` the answer before it (was
    among that answer's rows)."""

    rows: int
    fresh: int
    suspect: bool = False
    echoes: bool = False


class Step(enum.Enum):
    """What a walk does after an answer."""

    #: The listing is read: stop, complete.
    END = "end"
    #: Ask the following pages at ``size`` from ``page``.
    CONTINUE = "continue"
    #: Page 0 was short and may be capped: ask page ``1`` at its size.
    PROBE = "probe"
    #: Ask page 0 again at ``page_size``, alone, to test the size ``size``.
    CHECK = "check"
    #: Page 0 asked again still brought ``size`` rows: remember the cap, continue at it.
    CAP_PROVEN = "cap proven"
    #: A page repeated half its rows: ask page 0 again at its size before going on.
    VERIFY = "verify"
    #: The server sends its head whatever ``page`` says; stop, not complete.
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


def _resized(request: PageRequest, rows: int, page_size: int) -> Decision:
    """Go on at the larger size a check found (``rows``, at most ``page_size``) without
    skipping a row: after what this page 0 brought when that reaches past the rows read
    so far, else from the page of the new size holding the first row not yet read (the
    rows of it already read come again and are not yielded twice)."""
    limit = min(rows, page_size)
    read = request.resume * request.size
    if limit >= read:
        return Decision(Step.CONTINUE, limit, 1)
    return Decision(Step.CONTINUE, limit, read // limit)


def decide(
    request: PageRequest, answer: Answer, *, page_size: int, declared: int, cap: int | None
) -> Decision:
    """The walk's next step after ``answer`` to ``request`` (the module docstring of
    ``pagination`` states the rules). ``declared`` is a page size the client was told the
    server honours (0: none); ``cap`` the cap believed before this answer."""
    rows = answer.rows
    if request.reason is Reason.FIRST:
        if rows == 0:
            return Decision(Step.END)
        if rows >= request.max_rows:
            return Decision(Step.CONTINUE, request.max_rows, 1)
        if rows < declared:
            return Decision(Step.END)  # the server was declared to send more: the end
        if rows == cap:
            return Decision(Step.CONTINUE, rows, 1)  # continuing never loses a call
        return Decision(Step.PROBE, rows, 1)
    if request.reason is Reason.CHECK:
        if request.verifies and answer.echoes:
            return Decision(Step.PAGE_IGNORED)  # page 0 is what the probe brought
        if rows < request.size:
            return Decision(Step.END)  # the listing shrank to what page 0 holds now
        if rows == request.size:
            return Decision(Step.CAP_PROVEN, request.size, request.resume)
        return _resized(request, rows, page_size)
    if request.reason is Reason.VERIFY:
        if rows == 0:
            return Decision(Step.END)  # the listing emptied meanwhile
        if answer.echoes:
            return Decision(Step.PAGE_IGNORED)  # page 0 is what the suspect page brought
        return Decision(Step.CONTINUE, request.size, request.resume)
    # A page past page 0: PROBE or NEXT.
    if rows < request.max_rows:
        # Short at a size this walk has seen the server send: the end.
        return Decision(Step.END)
    if request.reason is Reason.PROBE and request.max_rows < request.size:
        # A probe sent ahead, smaller than page 0 turned out, came back full: it proves
        # nothing about a cap at page 0's size; ask the probe proper.
        return Decision(Step.PROBE, request.size, 1)
    if request.reason is Reason.PROBE:
        return Decision(Step.CHECK, request.max_rows, 2)
    if answer.suspect:
        return Decision(Step.VERIFY, request.max_rows, request.page + 1)
    return Decision(Step.CONTINUE, request.max_rows, request.page + 1)


@attrs.frozen
class ListingSize:
    """How large a listing was at its last complete walk, and the page size that walk
    settled on."""

    rows: int
    size: int


class PagingMemo:
    """What one client's walks have learnt of the server; shared by its walks.

    Nothing in it can make a walk end early: a proven ``cap`` only lets a walk go on at
    that size without the probe (a larger page drops it), and a listing's remembered
    size only lets a walk ask the pages it expects at once. A walk ends on its own
    answers alone, or on ``server_max_rows`` when the client was told it.
    """

    def __init__(self, *, server_max_rows: int | None = None) -> None:
        check.count("server_max_rows", server_max_rows, minimum=1, allow_none=True)
        #: The page size the client was told the server honours (0: not told).
        self.declared = server_max_rows or 0
        #: The most rows the server sends whatever is asked, once proven.
        self.cap: int | None = None
        #: Whether the server has been caught ignoring ``page`` (warned about once).
        self.warned_ignored_page = False
        self._sizes: OrderedDict[str, ListingSize] = OrderedDict()

    def __repr__(self) -> str:
        return f"<PagingMemo cap={self.cap} listings={len(self._sizes)}>"

    def saw_page(self, rows: int) -> None:
        """Take in a page of ``rows`` rows: one larger than the cap disproves it."""
        if self.cap is not None and rows > self.cap:
            self.cap = None

    def prove_cap(self, size: int) -> None:
        """Record that the server sends at most ``size`` rows per page."""
        self.cap = size

    def remember(self, listing: str, rows: int, size: int) -> None:
        """Record how many rows ``listing`` had when a walk read it whole, at ``size``."""
        sizes = self._sizes
        sizes[listing] = ListingSize(rows, size)
        sizes.move_to_end(listing)
        if len(sizes) > REMEMBERED_LISTINGS:
            sizes.popitem(last=False)

    def recall(self, listing: str) -> ListingSize | None:
        """How large ``listing`` was when last read whole, if this client remembers."""
        return self._sizes.get(listing)


def predicted(
    after: PageRequest, known: ListingSize | None, declared: int = 0
) -> Iterator[PageRequest]:
    """The requests a walk may send ahead of the answer to ``after``, the one it awaits:
    after page 0, the pages that follow if the listing is as large as ``known`` says (up
    to the page proving its end), and nothing when its size is not known; after a page
    at the settled size, the pages after it. A walk never sends one ahead of a probe or
    a check, nor a probe where a ``declared`` page size proves the end by itself."""
    if after.reason is Reason.FIRST:
        if known is None:
            return
        if known.rows >= known.size:
            yield from _following(PageRequest(Reason.NEXT, 1, known.size), known)
        elif known.rows > 0 and known.rows >= declared:
            yield PageRequest(Reason.PROBE, 1, probe_size(known.rows))
    elif after.reason is Reason.NEXT:
        yield from _following(PageRequest(Reason.NEXT, after.page + 1, after.max_rows), known)


def probe_size(rows: int) -> int:
    """The size of the probe a walk sends ahead of page 0 when its listing had ``rows``
    rows (fewer than a page): two thirds of them, so that the probe still proves the end
    when the listing has shrunk by a third or grown by a third meanwhile (a probe at
    ``n`` or fewer rows, short, proves a page 0 of ``n`` rows whole; one at more does not,
    and is asked again at page 0's size)."""
    return rows - rows // 3


def _following(first: PageRequest, known: ListingSize | None) -> Iterator[PageRequest]:
    """``first`` and the pages after it at its size: up to the page that should prove
    the listing's end when its size is known, else without end."""
    last = None if known is None else known.rows // first.max_rows
    page = first.page
    while last is None or page <= last:
        yield PageRequest(Reason.NEXT, page, first.max_rows)
        page += 1
