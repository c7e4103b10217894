"""``activecalls top``: the calls in flight, live, for a supervisor.

Every ``--interval`` it lists the chosen listings (one fan-out, largest pages). On a
terminal (stdin, stdout and stderr all one, and Textual installed: the ``cli`` extra) it
runs the interactive console of :mod:`.console`. On a pipe, or with ``--once``, it prints
plain snapshots instead: a heading (calls in flight, how many wait, the time in UTC), the
request budget used in the client's rate-limit window, the calls per queue, and one row
per call that fits 24 lines, sorted by ``--sort`` (default: calls still waiting first,
longest wait first), laid out like the console's table (:mod:`.console.columns`). One
snapshot with ``--once``; else one per refresh until ``--duration`` or Ctrl-C.

Either way the ``ID`` column shows each call's handle from the handle table
(:mod:`.handles`): ``activecalls hangup @3`` acts on the call shown as ``@3``, or refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TextIO

import attrs

from .._aio import stop_task
from .._environ import Env
from ..errors import ActiveCallsError
from ..models import ActiveCall
from . import types
from .commands import Listing, default_target
from .config import configured_secrets, open_client, open_hub, uses_simulator
from .console import ConsoleOptions, textual_available
from .console.calls import Budget, budget_line, heading, queues_line, sort_key
from .console.columns import Placed, cell_text, cut, layout
from .console.feed import CallFeed, ListingFeed, Refresh, SharedFeed
from .console.options import PAGE_SIZE
from .failures import EXIT_OK, UsageError, scrub
from .handles import HandleTable, state_dir
from .output import is_terminal, stderr, stdout
from .signals import stopped_by_signals

__all__ = ["Budget", "TopView", "run_top", "supervisor_phone"]

#: A plain snapshot's size: a log or a pipe has no screen to fit.
_PLAIN_SIZE = (80, 24)
#: Lines of a snapshot that are not call rows: heading, budget, queues, header, footer.
_CHROME_LINES = 5


@attrs.define
class TopView:
    """What a plain snapshot shows: the calls of the last refresh, laid out for a size."""

    label: str
    sort: str
    keys: Sequence[str] | None
    budget: Budget
    interval: float
    calls: list[ActiveCall] = attrs.field(factory=list)
    refreshed: datetime | None = None
    problem: str | None = None
    simulated: bool = False
    #: Each call's handle (uii to number), from the handle table.
    numbers: dict[str, int] = attrs.field(factory=dict)
    #: Where the calls come from (says whether other processes share the view).
    feed: CallFeed | None = None

    def rows(self, now: datetime) -> list[ActiveCall]:
        """Every call in display order."""
        return sorted(self.calls, key=sort_key(self.sort, now))

    def shown_uiis(self, height: int, now: datetime) -> list[str]:
        """The uiis of the rows a snapshot ``height`` lines tall shows, in order."""
        return [c.uii for c in self.rows(now)[: max(height - _CHROME_LINES, 1)]]

    def lines(self, width: int, height: int, now: datetime) -> list[tuple[str, str | None]]:
        """The snapshot as (text, style) lines, each at most ``width`` characters; the
        style is ``"queued"``, ``"header"``, ``"heading"``, ``"problem"`` or None."""
        top = heading(self.label, self.calls, self.refreshed, simulated=self.simulated)
        second = (self.problem, "problem") if self.problem else (self._status(), None)
        out: list[tuple[str, str | None]] = [
            (cut(top, width), "heading"),
            (cut(second[0], width), second[1]),
            (cut(queues_line(self.calls), width), None),
        ]
        rows = self.rows(now)
        shown = rows[: max(height - _CHROME_LINES, 1)]
        biggest = max((self.numbers.get(c.uii, 0) for c in shown), default=0)
        placed = layout(
            width,
            keys=self.keys,
            handle_width=max(len(f"@{biggest}"), 4),
            uii_width=max((len(c.uii) for c in shown), default=30),
        )
        out.append((self._line(placed, [p.spec.header for p in placed], width), "header"))
        for call in shown:
            cells = [cell_text(p, call, now, self.numbers.get(call.uii)) for p in placed]
            out.append(
                (self._line(placed, cells, width), "queued" if not call.dequeue_time else None)
            )
        more = len(rows) - len(shown)
        out.append((f"… and {more:,} more (sort: {self.sort})" if more > 0 else "", None))
        return out

    def _status(self) -> str:
        shared = None if self.feed is None else self.feed.shared_with
        return budget_line(self.budget, self.interval, shared_with=shared)

    @staticmethod
    def _line(placed: Sequence[Placed], cells: Sequence[str], width: int) -> str:
        parts = [
            text.rjust(p.width) if p.spec.right else text.ljust(p.width)
            for p, text in zip(placed, cells, strict=True)
        ]
        line = " ".join(parts).rstrip()
        # The handle comes first and is never cut: a cut handle would name another call.
        return line if len(line) <= width else line[:width]


def supervisor_phone(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """``--supervisor-phone``, else ``ACTIVECALLS_SUPERVISOR_PHONE`` (checked), else None."""
    given: str | None = getattr(args, "supervisor_phone", None)
    if given:
        return given
    value = environ.get(Env.SUPERVISOR_PHONE, "").strip()
    if not value:
        return None
    try:
        return types.phone(value)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"invalid {Env.SUPERVISOR_PHONE}: {exc}") from None


def _interactive(args: argparse.Namespace) -> bool:
    """Whether to run the console: a terminal all round, Textual there, no ``--once``."""
    if getattr(args, "once", False):
        return False
    if not all(is_terminal(s) for s in (sys.stdin, stdout(), stderr())):
        return False
    if textual_available():
        return True
    print(
        "activecalls: the interactive console needs the cli extra "
        "(pip install 'activecalls-async[cli]'): printing plain snapshots",
        file=stderr(),
    )
    return False


async def run_top(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run the console, or print plain snapshots, until ``q``, Ctrl-C or ``--duration``."""
    phone = supervisor_phone(args, environ)
    interactive = _interactive(args)
    async with (
        open_client(args, environ, live=True) as client,
        open_hub(args, environ, client) as hub,
    ):
        targets: list[Listing] = list(dict.fromkeys(args.targets or [default_target(client)]))
        label = ", ".join(f"{p.value}:{i}" if i is not None else p.value for p, i in targets)
        requests, per = client.stats.limit or (0, 0.0)
        options = ConsoleOptions(
            label=label,
            targets=targets,
            budget=Budget(client.stats, requests, per),
            sort=args.sort,
            keys=getattr(args, "columns", None),
            interval=args.interval,
            duration=args.duration,
            simulated=uses_simulator(args, environ),
            supervisor_phone=phone,
            secrets=configured_secrets(args, environ),
        )
        feed: CallFeed = ListingFeed(client, targets)
        if hub is None:
            # A wrong address, token, account or product fails here, before the screen opens.
            calls = (await feed.next()).calls
        else:
            # One request proves the connection; the calls come from the fleet's watch.
            product, product_id = targets[0]
            await client.list_active_calls(product, product_id, page=0, max_rows=1)
            watch = client.watch_active_calls_many(
                targets, interval=args.interval, initial_events=False, page_size=PAGE_SIZE, hub=hub
            )
            from ..fleet.hub import SharedWatch

            assert isinstance(watch, SharedWatch)  # what a watch with a hub is
            feed = SharedFeed(watch)
            print(
                f"activecalls: sharing this view with the fleet {hub.key!r} through Redis",
                file=stderr(),
                flush=True,
            )
            calls = (await feed.next()).calls
        handles = HandleTable(
            state_dir(environ),
            base_url=client.base_url,
            account_id=await client.resolve_account_id(),
        )
        try:
            if interactive:
                from .console import run_console

                return await run_console(client, options, handles, calls, feed)
            return await _print_snapshots(options, handles, calls, feed, once=args.once)
        finally:
            await feed.aclose()


async def _print_snapshots(
    options: ConsoleOptions,
    handles: HandleTable,
    calls: list[ActiveCall],
    feed: CallFeed,
    *,
    once: bool,
) -> int:
    """A plain snapshot per refresh (one with ``once``) until ``--duration`` or a signal."""
    view = TopView(
        label=options.label,
        sort=options.sort,
        keys=options.keys,
        budget=options.budget,
        interval=options.interval,
        simulated=options.simulated,
        feed=feed,
    )
    signals: list[int] = []
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        signals.append(signum)
        stop.set()

    out = stdout()
    deadline = None if options.duration is None else time.monotonic() + options.duration

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.0)

    said = None
    failed = False  # the last refresh raised: wait an interval before the next
    with stopped_by_signals(on_signal):
        while True:
            view.calls, view.refreshed = calls, datetime.now(timezone.utc)
            _snapshot(view, handles, options, out)
            if handles.problem and handles.problem != said:
                said = handles.problem  # once, not under every snapshot
                print(f"activecalls: {said}", file=stderr(), flush=True)
            if once:
                break
            # A paced feed waits for its next snapshot itself; after a failure, wait anyway.
            if not feed.paced or failed:
                wait = options.interval if deadline is None else min(options.interval, left() or 0)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set() or left() == 0.0:
                break
            try:
                refresh = await _unless_stopped(feed.next(), stop, left())
            except ActiveCallsError as exc:  # shown, and tried again at the next refresh
                view.problem = f"refresh failed: {scrub(str(exc), options.secrets)}"
                failed = True
                continue
            if refresh is None:
                break
            failed = False
            calls = refresh.calls
            view.problem = refresh.problem and scrub(refresh.problem, options.secrets)
    return 128 + signals[0] if signals else EXIT_OK


async def _unless_stopped(
    step: Awaitable[Refresh], stop: asyncio.Event, timeout: float | None
) -> Refresh | None:
    """``step``'s result, or None once ``stop`` is set or ``timeout`` passes (it is cancelled)."""
    task = asyncio.ensure_future(step)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            await stop_task(task)
    return task.result() if not task.cancelled() else None


def _snapshot(view: TopView, handles: HandleTable, options: ConsoleOptions, out: TextIO) -> None:
    """Number the calls the snapshot shows, then print it and a blank line."""
    width, height = _PLAIN_SIZE
    now = datetime.now(timezone.utc)
    listed = None if view.problem else [c.uii for c in view.calls]
    view.numbers = handles.update(
        shown=view.shown_uiis(height, now),
        listed=listed,
        scope=options.label,
        whole_account=options.whole_account,
    )
    body = "\n".join(text for text, _ in view.lines(width, height, now)).rstrip("\n")
    out.write(body + "\n\n")
    out.flush()
