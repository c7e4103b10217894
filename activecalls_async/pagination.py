"""Walk every page of a listing, and many listings at once, holding only a few pages.

This is the walk contract; ``iter_active_calls``, ``iter_active_call_pages`` and
``iter_active_calls_many`` point here.

**How a walk reads one listing** (``page`` is zero-based, ``maxRows`` is the page size).
``page_size`` is what the caller (or the client, by default 1000) asks for; a server may
silently send fewer rows per page (a *cap*) and the walk must still read every page.

* Page 0 is always asked at ``page_size``. A full page 0 settles the size: the walk asks
  the following pages at ``page_size`` and ends at the first short or empty page.
* **A short page proves the end only against a size this walk has seen the server
  send.** A cap can appear at any moment and differ from one listing to the next (a
  configuration change, a node behind a load balancer with another cap), so what the
  server sent earlier, on this listing or another, proves nothing about this answer. A
  short page 0 of ``n`` rows is therefore followed by page 1 at ``n`` rows (the
  *probe*): short or empty, it ends the walk. The one exception is a size the client
  was told (``server_max_rows``): a page 0 shorter than that is the whole listing.
* A full probe suggests a cap, but a call arriving between the two requests fills it
  just as well, so page 0 is asked again at ``page_size`` (the *check*). Still ``n``
  rows: the cap is proven, the client remembers it, and the walk goes on at ``n`` rows
  from page 2. Fewer: the listing shrank to that, and the walk ends. More: there was no
  cap; the walk goes on at the larger size the server just sent, from the page of that
  size holding the first row it has not read (rows read already come again, once).
  Faking a proof takes ``n`` calls arriving between two requests and ``n`` ending
  between the next two.
* A remembered cap only spares later walks the probe and the check (going on at the
  cap never loses a call): they still ask page 0 at ``page_size``, so the first answer
  holding more rows than the cap drops it. A walk paging below ``page_size`` also asks
  page 0 at ``page_size`` again every 64 pages, and goes on at the larger size the
  server then sends, if any.
* A full page past page 0 whose first call already seen is the first call of the answer
  before it means the server ignores ``page`` (it sends the listing's head again): the
  walk yields that page's new calls, if any, and stops rather than spin, with one
  warning per client, and is not ``complete``. Calls arriving push rows back by their
  number, so a genuine page repeats the *end* of the page before it, never its head,
  unless a whole page of calls arrived within one request (a pace at which no walk
  ends anyway).

**What a client remembers, and what a walk sends ahead.** A client remembers how many
rows each listing had when a walk last read it to its end (the last 1,024 listings it
walked). A walk of a listing it remembers asks at once for the pages it expects: every
page up to the one that should prove the end (a short last page, or the empty page
after a full one), or page 0 and the probe for a listing of one page; a steady listing
is read in one round trip at its minimum cost. That probe, sent before page 0's size is
known, asks two thirds of the rows the listing last had: a page 1 of ``m`` rows, ``m``
no more than page 0 brought, covers every row after them, so short it proves the end
whether the listing shrank or grew by up to a third meanwhile; otherwise (page 0 brought
fewer than ``m``, or the probe came back full) the probe proper is asked at page 0's
size. A walk of a listing it does not know asks page 0 first, and, only from slack, the
pages that would follow a full page 0.
An answer that contradicts what was expected sends the walk back to the rules above;
the requests it sent ahead and no longer needs are dropped.

**Prefetch spends slack, never budget.** How many requests a walk keeps in flight (its
*window*) is asked each time it sends more. With no rate limit, or while the client's
limiter says its window has room for more requests of the walk's priority to start at
once (beyond those already waiting and the reserve, see ``RateLimit.spare``), the
window is ``prefetch``: by default the client's ``max_concurrency``, shared evenly by
the walks of a fan-out. As soon as requests wait at the limiter, the window is two:
the page awaited and one more. So under pressure a walk sends **at most one request
past the end** of its listing; with slack, at most ``prefetch - 1``. An explicit
``prefetch`` is a ceiling in both regimes (``prefetch=1`` walks one page at a time).

**Cost.** An empty listing costs one request; a listing of ``N`` calls read at page size
``S`` costs ``⌊N/S⌋ + 1`` requests when it spans several pages and two (page 0 and the
probe) when it fits in one, or one when page 0 is shorter than ``server_max_rows``.
With a cap ``C`` below ``page_size``, the first walk that meets it costs one request
more than the ``⌊N/C⌋ + 1`` pages the listing needs (the check), later walks none
(one more per 64 pages). Requests sent ahead and dropped come on top, within the
window.

**Bound.** Let ``N`` be the most calls the listing holds during a walk and ``m`` the
smallest page size the walk asks for. Every request it uses but the last, the checks
(the first and the periodic ones) and the first page after a check that changed the size
(it may read again rows already read) reads at least ``m`` rows no other request of the
walk read, so a walk uses at most ``⌊N/m⌋ + 3 + 2⌊(⌊N/m⌋ + 1)/64⌋`` requests, besides
those past the end (above). Calls arriving raise ``N`` by at most their number, so a walk ends
whenever fewer calls arrive between two of its requests than the page size it walks at.
Calls only arriving cannot fake a cap, so with one call arriving per request a walk ends
whenever the server sends pages of two rows or more; a size proven by calls that came
and went is re-checked within 64 pages, and the walk then goes on at the size the server
sends.

**Guarantees while calls come and go.** Each ``uii`` is yielded at most once per walk.
Calls that start during a walk push later rows onto the next page; those rows are read
twice and yielded once; a call starting mid-walk may or may not be yielded. Calls that
end during a walk pull later rows back onto pages already read: a call in flight for the
whole walk is yielded unless a call ahead of it in the listing ended during the walk
(the *row shift*: the next walk sees it). A call may have ended by the time it is
yielded. A walk holds at most ``page_size`` times its window plus one pages' worth of
calls, plus the set of uiis it has yielded. ``complete`` says whether the walk read the
listing to its end; ``read_at_once`` whether one answer proved it (an empty page 0, or
one shorter than ``server_max_rows``); both are false after an early stop (a server
ignoring ``page``, ``max_items``, an error or ``aclose()``).

**Options.** ``page_size`` defaults to the client's (``server_max_rows`` when given,
else ``DEFAULT_PAGE_SIZE``); ``max_items`` stops the walk after that many calls, asking
no page it cannot use; ``prefetch`` is the ceiling on the window (above); pages are
handed out in order whatever the window.

**Many listings.** ``FanOut`` (``iter_active_calls_many``) walks several targets
concurrently, ``concurrency`` at a time (default: the client's ``max_concurrency``, at
most one per target), and yields each ``uii`` once across them, as pages arrive; every
request still shares the client's concurrency limit and rate limiter. ``sources`` maps
each uii to the targets that listed it. By default the client's concurrency slots are
shared evenly among the walks under way, each within the window above; an explicit
``prefetch`` caps each walk's share. With ``on_error="raise"`` (default) the first
failing target cancels the others and its error is raised; with ``"collect"`` failures
land in ``errors``, by target, and the others carry on. A bug (an exception that is no
``ActiveCallsError``) always fails the fan-out.

**Closing.** Every iterator here is also an async context manager: ``async with`` (or
``aclose()``) cancels and awaits whatever is still in flight. Leaving a plain ``async
for`` early cancels it too, as soon as the iterator is dropped; so do an error and
cancelling the consumer.
"""

from ._fanout import FanOut
from ._paging import CHECK_EVERY, DEFAULT_PAGE_SIZE, REMEMBERED_LISTINGS
from ._walk import ActiveCallPage, CallWalk, Fetch, PageWalk, Target, WalkShape, Window, as_target

__all__ = [
    "CHECK_EVERY",
    "DEFAULT_PAGE_SIZE",
    "REMEMBERED_LISTINGS",
    "ActiveCallPage",
    "CallWalk",
    "FanOut",
    "Fetch",
    "PageWalk",
    "Target",
    "WalkShape",
    "Window",
    "as_target",
]
