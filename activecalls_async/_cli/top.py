"""``activecalls top``: a full-screen live view of the calls in flight, for a supervisor.

Every ``--interval`` it lists the chosen listings (one fan-out, largest pages) and draws:
a heading (calls in flight, how many wait, the time in UTC, the request budget used in
the client's rate-limit window), the calls per queue, and one row per call that fits the
screen, sorted by ``--sort`` (default: calls still waiting first, longest wait first),
queued calls highlighted. The ``ID`` column (``@1``, ``@2``...) is a handle the action
commands accept (``activecalls hangup @3``); the rows are saved for them, see
:mod:`.handles`. The table fits the terminal's width, 80 columns included; the full uii
column appears when there is room (or with ``--columns``).

On a terminal: rich's full-screen ``Live`` (a cleared screen redrawn in place without
rich); ``q`` quits (status 0), as does Ctrl-C (130). On a pipe: a plain snapshot per
refresh, until ``--duration`` or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

import attrs

from ..limits.ratelimit import RateLimit
from ..limits.stats import ClientStats
from ..models import ActiveCall
from .commands import Listing, default_target
from .config import open_client
from .failures import EXIT_OK, scrub
from .handles import save_view, view_path
from .output import (
    duration,
    is_terminal,
    rich_available,
    stdout,
    talk_seconds,
    wait_seconds,
)
from .serve import _stopped_by_signals

__all__ = ["Budget", "TopView", "run_top"]

#: Rows per request: the fewest requests per refresh (the server's cap is learnt if lower).
_PAGE_SIZE = 1000
#: How often the screen is redrawn between refreshes, so wait and talk times keep moving.
_REDRAW_EVERY = 1.0
#: Lines that are not call rows: heading, queues, blank, table header, footer.
_CHROME_LINES = 5


@attrs.frozen
class Budget:
    """The client's rate limit and how much of its window is in use (``client.stats``)."""

    stats: ClientStats
    requests: int
    per: float

    def used(self) -> int:
        """Requests counted in the limiter's current window, those in flight included."""
        return self.stats.in_window or 0


@attrs.frozen
class _Col:
    """A column of the top table: its header, width (0: shares what is left), cell."""

    key: str
    header: str
    width: int
    cell: Callable[[int, ActiveCall, datetime], str]
    right: bool = False


def _state(call: ActiveCall) -> str:
    if call.dequeue_time is None:
        return "QUEUED"
    return call.call_state or ""


_COLS: dict[str, _Col] = {
    "id": _Col("id", "ID", 4, lambda i, c, now: f"@{i}"),
    "uii": _Col("uii", "UII", 30, lambda i, c, now: c.uii),
    "state": _Col("state", "STATE", 7, lambda i, c, now: _state(c)),
    "wait": _Col("wait", "WAIT", 7, lambda i, c, now: duration(wait_seconds(c, now)), True),
    "talk": _Col("talk", "TALK", 7, lambda i, c, now: duration(talk_seconds(c, now)), True),
    "destination": _Col("destination", "QUEUE", 0, lambda i, c, now: c.destination_name or ""),
    "agent": _Col("agent", "AGENT", 0, lambda i, c, now: c.agent_name or ""),
    "ani": _Col("ani", "ANI", 12, lambda i, c, now: c.ani or ""),
    "dnis": _Col("dnis", "DNIS", 12, lambda i, c, now: c.dnis or ""),
    "enqueued": _Col("enqueued", "ENQUEUED", 8, lambda i, c, now: _clock_time(c.enqueue_time)),
    "answered": _Col("answered", "ANSWERED", 8, lambda i, c, now: _clock_time(c.dequeue_time)),
    "external-id": _Col("external-id", "EXTERNAL ID", 0, lambda i, c, now: c.external_id or ""),
    "cnam": _Col("cnam", "CNAM", 0, lambda i, c, now: c.cnam or ""),
    "archive": _Col("archive", "ARCH", 4, lambda i, c, now: "yes" if c.archive else ""),
    "account": _Col("account", "ACCOUNT", 10, lambda i, c, now: c.account_id or ""),
}

_DEFAULT = ("state", "wait", "talk", "destination", "agent", "ani")


def _clock_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(timezone.utc).strftime("%H:%M:%S")


def choose_columns(keys: Sequence[str] | None, width: int) -> list[_Col]:
    """``ID`` and then ``keys`` (the default set, plus the uii when it fits)."""
    chosen = list(keys) if keys else list(_DEFAULT)
    if not keys and _fixed_width(["id", "uii", *chosen]) + 2 * 12 <= width:
        chosen.insert(0, "uii")  # room for the full uii and both names
    return [_COLS["id"], *(_COLS[k] for k in chosen if k != "id")]


def _fixed_width(keys: Sequence[str]) -> int:
    return sum(_COLS[k].width for k in keys) + len(keys) - 1


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _sort_key(sort: str, now: datetime) -> Callable[[ActiveCall], Any]:
    if sort == "talk":
        return lambda c: (-(talk_seconds(c, now) or -1.0), c.uii)
    if sort == "queue":
        return lambda c: (c.destination_name or "", -(wait_seconds(c, now) or 0.0), c.uii)
    if sort == "agent":
        return lambda c: (c.agent_name or "~", c.uii)
    if sort == "state":
        return lambda c: (_state(c), -(wait_seconds(c, now) or 0.0), c.uii)
    # wait: the calls still waiting first, then the longest wait first.
    return lambda c: (c.dequeue_time is not None, -(wait_seconds(c, now) or 0.0), c.uii)


@attrs.define
class TopView:
    """What ``top`` shows: the calls of the last refresh, laid out for a screen size."""

    label: str
    sort: str
    keys: Sequence[str] | None
    budget: Budget
    interval: float
    calls: list[ActiveCall] = attrs.field(factory=list)
    refreshed: datetime | None = None
    problem: str | None = None
    simulated: bool = False

    def rows(self, now: datetime) -> list[ActiveCall]:
        """Every call in display order."""
        return sorted(self.calls, key=_sort_key(self.sort, now))

    def lines(self, width: int, height: int, now: datetime) -> list[tuple[str, str | None]]:
        """The screen as (text, style) lines, each at most ``width`` characters; the style
        is ``"queued"``, ``"header"``, ``"heading"``, ``"problem"`` or None."""
        queued = sum(1 for c in self.calls if c.dequeue_time is None)
        when = f"{self.refreshed:%H:%M:%S} UTC" if self.refreshed else "loading"
        sim = "SIMULATED " if self.simulated else ""
        heading = f"{sim}{self.label}: {len(self.calls):,} calls, {queued:,} queued at {when}"
        status = (
            f"budget {self.budget.used()}/{self.budget.requests} requests per "
            f"{self.budget.per:g}s | every {self.interval:g}s | q quits"
        )
        out: list[tuple[str, str | None]] = [
            (_cut(heading, width), "heading"),
            (_cut(self.problem, width), "problem") if self.problem else (_cut(status, width), None),
            (_cut(self._queues(), width), None),
        ]
        columns = choose_columns(self.keys, width)
        widths = self._widths(columns, width)
        out.append((self._line(columns, widths, [c.header for c in columns]), "header"))
        rows = self.rows(now)
        room = max(height - _CHROME_LINES, 1)
        shown = rows[:room]
        for index, call in enumerate(shown, start=1):
            cells = [col.cell(index, call, now) for col in columns]
            style = "queued" if call.dequeue_time is None else None
            out.append((self._line(columns, widths, cells), style))
        more = len(rows) - len(shown)
        out.append((f"… and {more:,} more (sort: {self.sort})" if more > 0 else "", None))
        return out

    def shown_uiis(self, height: int, now: datetime) -> list[str]:
        """The uiis of the rows on screen, in order (what ``@N`` refers to)."""
        return [c.uii for c in self.rows(now)[: max(height - _CHROME_LINES, 1)]]

    def _queues(self) -> str:
        counts: collections.Counter[str] = collections.Counter()
        waiting: collections.Counter[str] = collections.Counter()
        for call in self.calls:
            name = call.destination_name or "?"
            counts[name] += 1
            if call.dequeue_time is None:
                waiting[name] += 1
        parts = [
            f"{name} {count}" + (f" ({waiting[name]} waiting)" if waiting[name] else "")
            for name, count in sorted(counts.items(), key=lambda kv: (-waiting[kv[0]], -kv[1]))
        ]
        return "queues: " + (" · ".join(parts) if parts else "none")

    @staticmethod
    def _widths(columns: Sequence[_Col], width: int) -> list[int]:
        fixed = sum(c.width for c in columns) + len(columns) - 1
        flexible = [c for c in columns if c.width == 0]
        spare = max(width - fixed, 4 * len(flexible))
        share, extra = divmod(spare, max(len(flexible), 1))
        widths = []
        for col in columns:
            if col.width:
                widths.append(col.width)
            else:
                widths.append(share + (1 if extra > 0 else 0))
                extra -= 1
        return widths

    @staticmethod
    def _line(columns: Sequence[_Col], widths: Sequence[int], cells: Sequence[str]) -> str:
        parts = []
        for col, w, text in zip(columns, widths, cells, strict=True):
            # The handle is never cut: a cut handle would act on another call.
            text = text if col.key in ("id", "uii") else _cut(text, w)
            parts.append(text.rjust(w) if col.right else text.ljust(w))
        return " ".join(parts).rstrip()


_STYLES = {"queued": "bold yellow", "header": "bold reverse", "heading": "bold", "problem": "red"}


class _Screen:
    """Where the view is drawn: rich's full-screen Live, a cleared terminal, or a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.terminal = is_terminal(stream)
        self._live: Any = None
        self._console: Any = None

    def __enter__(self) -> _Screen:
        if self.terminal and rich_available():
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream)
            self._live = Live(console=self._console, screen=True, auto_refresh=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def size(self) -> tuple[int, int]:
        """Columns and lines: the terminal's, or 80 by 24 on a pipe."""
        if self._console is not None:
            return self._console.size.width, self._console.size.height
        if self.terminal:
            size = shutil.get_terminal_size((80, 24))
            return size.columns, size.lines
        return 80, 24

    def draw(self, lines: Sequence[tuple[str, str | None]]) -> None:
        """Show one frame."""
        if self._live is not None:
            from rich.text import Text

            text = Text(no_wrap=True, overflow="ellipsis")
            for number, (line, style) in enumerate(lines):
                if number:
                    text.append("\n")
                text.append(line, style=_STYLES.get(style or "", ""))
            self._live.update(text, refresh=True)
            return
        body = "\n".join(line for line, _ in lines).rstrip("\n") + "\n"
        if self.terminal:
            body = "\x1b[H\x1b[2J" + body  # clear the screen, then draw from the top
        else:
            body += "\n"  # a blank line between snapshots in a log
        self.stream.write(body)
        self.stream.flush()


@contextlib.contextmanager
def _keys(on_quit: Callable[[], None]) -> Iterator[None]:
    """Call ``on_quit`` when ``q`` is typed (stdin a terminal; nothing otherwise)."""
    try:
        import termios
        import tty
    except ImportError:  # pragma: no cover - Windows: Ctrl-C still quits
        yield
        return
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            raise OSError
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, AttributeError, termios.error):
        yield
        return
    loop = asyncio.get_running_loop()

    def readable() -> None:
        with contextlib.suppress(OSError):
            if b"q" in os.read(fd, 64).lower():
                on_quit()

    tty.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still sends SIGINT
    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _fetch(client: Any, targets: list[Listing]) -> list[ActiveCall]:
    calls: list[ActiveCall] = []
    async with client.iter_active_calls_many(targets, page_size=_PAGE_SIZE) as fanout:
        async for call in fanout:
            calls.append(call)
    return calls


async def run_top(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Show the live view until ``q``, Ctrl-C or ``--duration``."""
    from .config import configured_secrets, uses_simulator

    limit = RateLimit(120, per=60.0)
    stop = asyncio.Event()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        stop.set()

    async with open_client(args, environ, live=True, rate_limit=limit) as client:
        budget = Budget(client.stats, limit.requests, limit.per)
        targets: list[Listing] = list(dict.fromkeys(args.targets or [default_target(client)]))
        label = ", ".join(f"{p.value}:{i}" if i is not None else p.value for p, i in targets)
        view = TopView(
            label=label,
            sort=args.sort,
            keys=getattr(args, "columns", None),
            budget=budget,
            interval=args.interval,
            simulated=uses_simulator(args, environ),
        )
        # A wrong address, token, account or product fails here, before the screen opens.
        view.calls = await _fetch(client, targets)
        view.refreshed = datetime.now(timezone.utc)
        path = view_path(environ)
        secrets = configured_secrets(args, environ)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        with _stopped_by_signals(on_signal), _Screen(stdout()) as screen, _keys(stop.set):
            await _show(view, screen, client, targets, stop, path, secrets, deadline)
    return 128 + signals[0] if signals else EXIT_OK


async def _show(
    view: TopView,
    screen: _Screen,
    client: Any,
    targets: list[Listing],
    stop: asyncio.Event,
    path: Any,
    secrets: list[str],
    deadline: float | None,
) -> None:
    """Redraw, and refresh every interval, until ``stop`` is set or ``deadline`` passes.

    A refresh runs as a task beside the wait for ``q``, so quitting never waits for one.
    """
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    fetch: asyncio.Future[list[ActiveCall]] | None = None
    next_refresh = time.monotonic() + view.interval
    fresh = True  # a pipe gets a snapshot per refresh; a terminal is redrawn every second
    try:
        while not stop.is_set():
            if screen.terminal or fresh:
                now = datetime.now(timezone.utc)
                width, height = screen.size()
                screen.draw(view.lines(width, height, now))
                save_view(
                    path,
                    base_url=client.base_url,
                    account_id=client.account_id,
                    uiis=view.shown_uiis(height, now),
                )
                fresh = False
            clock = time.monotonic()
            if deadline is not None and clock >= deadline:
                return
            if fetch is None and clock >= next_refresh:
                fetch = asyncio.ensure_future(_fetch(client, targets))
            wakes = [] if fetch is not None else [next_refresh]
            if screen.terminal:
                wakes.append(clock + _REDRAW_EVERY)
            if deadline is not None:
                wakes.append(deadline)
            waiting: list[asyncio.Future[Any]] = [stopped] if fetch is None else [stopped, fetch]
            await asyncio.wait(
                waiting,
                timeout=max(min(wakes) - clock, 0.0) if wakes else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if fetch is not None and fetch.done():
                done, fetch = fetch, None
                next_refresh = time.monotonic() + view.interval
                fresh = True
                try:
                    view.calls = done.result()
                    view.refreshed = datetime.now(timezone.utc)
                    view.problem = None
                except Exception as exc:  # shown, and tried again at the next refresh
                    reason = scrub(str(exc) or type(exc).__name__, secrets)
                    view.problem = f"refresh failed: {reason}"
    finally:
        for task in (stopped, fetch):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
