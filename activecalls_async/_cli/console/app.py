"""The console's Textual app: the main screen, the refresh loop and the action flow (the
contract is in the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...client import ActiveCallsClient
from ...errors import ActionRejectedError, ActiveCallsError
from ...models import ActiveCall
from ..failures import scrub
from ..handles import HandleTable
from .calls import budget_line, heading, matches, next_sort, queues_line, sort_key
from .columns import layout
from .dialogs import DIALOG_CSS, ConfirmDialog, DetailPane, FormDialog, KeysPane, call_lines
from .feed import CallFeed, ListingFeed
from .keys import ACTION_KEYS, KEYS, hint
from .options import ConsoleOptions
from .plans import FORM_TITLES, Field, Plan, form_for, plan_for
from .table import CELL_GAP, CallTable

__all__ = ["ConsoleApp", "MainScreen"]

#: How often the times on screen move and newly shown calls get their handles.
TICK = 1.0
#: The most rows the table holds (in order: the first ones of the sort).
MAX_ROWS = 500


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MainScreen(Screen[None]):
    """The lines above the table, the table, the status line and the keys; the keys act
    only here, never while a dialog is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key.keys, f"app.{key.action}", key.short, show=False)
        for key in KEYS
        if key.action != "interrupt"
    ]

    def compose(self) -> ComposeResult:
        """The console's widgets, top to bottom."""
        for name in ("heading", "budget", "queues"):
            yield Static(id=name, classes="line")
        yield CallTable()
        yield Static(id="status", classes="line")
        yield Static(id="keys", classes="line")


class ConsoleApp(App[None]):
    """``activecalls top``'s interactive view of one client's listings."""

    CSS = (
        DIALOG_CSS
        + """
    .line { height: 1; width: 100%; }
    #heading { text-style: bold; }
    #keys { color: $text-muted; }
    """
    )
    ENABLE_COMMAND_PALETTE = False
    TITLE = "activecalls top"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "quit at once", show=False, priority=True)
    ]

    def __init__(
        self,
        client: ActiveCallsClient,
        options: ConsoleOptions,
        handles: HandleTable,
        *,
        calls: Sequence[ActiveCall] | None = None,
        feed: CallFeed | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        super().__init__()
        self.client = client
        #: Where each refresh's calls come from (by default, a fan-out of the listings).
        self.feed: CallFeed = feed or ListingFeed(client, options.targets)
        self.options = options
        self.handles = handles
        self.clock = clock
        self.calls: dict[str, ActiveCall] = {}
        self.refreshed: datetime | None = None
        self.refreshes = 0
        self.problem: str | None = None
        self.sort = options.sort
        self.filter_text = ""
        #: How many calls pass the filter (the table holds at most MAX_ROWS of them).
        self.matching = 0
        self.numbers: dict[str, int] = {}
        #: The supervisor's phone: given, or asked once and kept for the run.
        self.phone = options.supervisor_phone
        #: The calls whose recording this run paused (``r`` then offers to resume it).
        self.paused: set[str] = set()
        self.status = "↑↓ j k move · Enter details · ? keys"
        self._first = None if calls is None else list(calls)
        self._wake = asyncio.Event()
        self._failed = False  # the last refresh raised: wait an interval before the next

    def get_default_screen(self) -> MainScreen:
        """The main screen (its keys are inactive while a dialog is open)."""
        return MainScreen()

    @property
    def table(self) -> CallTable:
        """The call table."""
        return self.screen_stack[0].query_one(CallTable)

    # -- refreshing ------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Start once the main screen is composed."""
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        """Show the first calls, then refresh every interval and tick every second."""
        if self._first is not None:
            self.apply(self._first)
        self.run_worker(self._refresh_loop(), name="refresh", group="refresh")
        self.set_interval(TICK, self._tick)
        if self.options.duration is not None:
            self.set_timer(self.options.duration, lambda: self.exit(return_code=0))
        self.table.focus()

    async def _refresh_loop(self) -> None:
        if self._first is None:
            await self.refresh_calls()
        while True:
            # A paced feed waits for its next snapshot itself; after a failure, wait anyway.
            if not self.feed.paced or self._failed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.options.interval)
                self._wake.clear()
            await self.refresh_calls()

    def refresh_soon(self) -> None:
        """Refresh now rather than at the end of the interval."""
        self._wake.set()

    async def refresh_calls(self) -> None:
        """List the calls again and show them; a failure is shown and tried again later."""
        try:
            refresh = await self.feed.next()
        except ActiveCallsError as exc:  # shown, and tried again at the next refresh
            reason = scrub(str(exc) or type(exc).__name__, self.options.secrets)
            self.problem = f"refresh failed: {reason}"
            self._failed = True
            self._draw_lines()
            return
        self._failed = False
        self.apply(refresh.calls)
        if refresh.problem:
            self.problem = scrub(refresh.problem, self.options.secrets)
            self._draw_lines()

    def apply(self, calls: Sequence[ActiveCall]) -> None:
        """Take ``calls`` as the complete listing now: handles, rows and lines."""
        self.calls = {call.uii: call for call in calls}
        self.refreshed = self.clock()
        self.problem = None
        self.refreshes += 1
        self.numbers.update(
            self.handles.update(
                listed=self.calls,
                scope=self.options.label,
                whole_account=self.options.whole_account,
            )
        )
        self.fill()

    @property
    def showing(self) -> bool:
        """Whether the main screen is up (not before it is composed, nor while quitting)."""
        return self.is_running and bool(self.screen_stack) and self.screen_stack[0].is_mounted

    def fill(self) -> None:
        """Lay out and refill the table from the calls, the sort and the filter."""
        if not self.showing:
            return
        table = self.table
        now = self.clock()
        self._lay_out()
        current = table.highlighted()
        rows = [c for c in self.calls.values() if matches(c, self.filter_text)]
        rows.sort(key=sort_key(self.sort, now))
        self.matching = len(rows)
        # Filling a table costs about 0.2 ms a row, all at once: past MAX_ROWS the view
        # would stall at each refresh, and nobody reads that far (the filter narrows).
        del rows[MAX_ROWS:]
        ended: set[str] = set()
        if current is not None and current.uii not in self.calls:
            # The highlighted call ended: its row stays, struck out, until the cursor leaves.
            rows.insert(min(table.cursor_row, len(rows)), current)
            ended.add(current.uii)
        table.fill(
            rows,
            numbers=self.numbers,
            now=now,
            ended=ended,
            keep=None if current is None else current.uii,
        )
        self._draw_lines()
        self.call_after_refresh(self._number_shown)

    def _lay_out(self) -> None:
        # DataTable pads both sides of every column: n columns take n gaps, not n - 1;
        # and the scrollbar takes a column.
        width = max(self.size.width - 1 - CELL_GAP, 20)
        handle_width = len(f"@{self.handles.last_number() + 1}")
        uii_width = max((len(uii) for uii in self.calls), default=30)
        placed = layout(
            width,
            keys=self.options.keys,
            handle_width=max(handle_width, 4),
            uii_width=uii_width,
            gap=CELL_GAP,
        )
        self.table.set_columns(placed)

    def _number_shown(self) -> None:
        """Give a handle to each call on screen that has none yet (top to bottom)."""
        if not self.showing:
            return
        table = self.table
        shown = table.on_screen()
        new = [c.uii for c in shown if c.uii not in self.numbers and c.uii not in table.ended]
        if new:
            self.numbers.update(self.handles.update(shown=new, scope=self.options.label))
            if len(f"@{self.handles.last_number()}") > table.placed[0].width:
                self.fill()  # the handles outgrew their column
                return
        table.redraw(shown, self.numbers, self.clock())

    def _tick(self) -> None:
        self._number_shown()
        self._draw_lines()

    def on_resize(self, event: events.Resize) -> None:
        """Lay the table out for the new size."""
        self.call_after_refresh(self.fill)

    def _draw_lines(self) -> None:
        if not self.showing:
            return
        screen = self.screen_stack[0]
        width = self.size.width
        calls = list(self.calls.values())
        simulated = self.options.simulated
        screen.query_one("#heading", Static).update(
            _line(heading(self.options.label, calls, self.refreshed, simulated=simulated))
        )
        second = self.problem or budget_line(
            self.options.budget, self.options.interval, shared_with=self.feed.shared_with
        )
        second += f" | sort {self.sort}"
        if self.filter_text:
            second += f" | filter '{self.filter_text}': {self.matching:,} of {len(calls):,}"
        if self.matching > MAX_ROWS:
            second += f" | the first {MAX_ROWS:,} shown (/ filters)"
        if self.handles.problem:
            second += f" | {self.handles.problem}"
        style = "red" if self.problem or self.handles.problem else ""
        screen.query_one("#budget", Static).update(_line(second, style))
        screen.query_one("#queues", Static).update(_line(queues_line(calls)))
        screen.query_one("#status", Static).update(_line(self.status))
        screen.query_one("#keys", Static).update(_line(hint(width)))

    def say(self, status: str) -> None:
        """Show ``status`` in the status line."""
        self.status = scrub(status, self.options.secrets)
        self._draw_lines()

    # -- keys ------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        """Highlight the call above."""
        self.table.action_cursor_up()

    def action_cursor_down(self) -> None:
        """Highlight the call below."""
        self.table.action_cursor_down()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: its detail pane."""
        event.stop()
        self.action_detail()

    def action_detail(self) -> None:
        """Open the detail pane of the highlighted call."""
        call = self.table.highlighted()
        if call is not None:
            self.push_screen(DetailPane(call, self._number(call.uii), self.clock()))

    def action_keys(self) -> None:
        """Show the keys."""
        self.push_screen(KeysPane())

    def action_sort(self) -> None:
        """Put the rows in the next order."""
        self.sort = next_sort(self.sort)
        self.say(f"sorted by {self.sort}")
        self.fill()

    def action_filter(self) -> None:
        """Ask for the filter, then show only the calls that match it."""
        field = Field(
            "filter",
            "queue, agent, state, ANI or uii start",
            self.filter_text,
            "empty: every call",
            optional=True,
        )
        self.push_screen(FormDialog("Filter the calls", [field]), self._filtered)

    def _filtered(self, answer: dict[str, Any] | None) -> None:
        if answer is None:
            return
        self.filter_text = answer["filter"] or ""
        self.fill()
        self.say(f"filter: {self.filter_text}" if self.filter_text else "no filter")

    def action_act(self, key: str) -> None:
        """Start the action of ``key`` on the highlighted call: its form, if it has one,
        then its confirmation; nothing is sent before ``y``."""
        call = self.table.highlighted()
        if call is None or key not in ACTION_KEYS:
            self.say("no call to act on")
            return
        handle = self._number(call.uii)
        name = f"@{handle} ({call.uii})"
        if call.uii not in self.calls:
            self.say(f"✗ {name} has ended: nothing sent")
            return
        fields = form_for(key, phone=self.phone)
        if not fields:
            self._confirm(key, call, handle, {})
            return
        self.push_screen(
            FormDialog(FORM_TITLES[key], fields, call_lines(call, handle)),
            lambda values: self._confirm(key, call, handle, values),
        )

    def _confirm(
        self, key: str, call: ActiveCall, handle: int | None, values: dict[str, Any] | None
    ) -> None:
        name = f"@{handle} ({call.uii})"
        if values is None:
            self.say(f"cancelled: nothing sent to {name}")
            return
        if key in ("m", "c", "b") and values:
            self.phone = values["phone"]  # asked once: kept for the run
        paused = call.uii in self.paused
        plan = plan_for(key, call, values, phone=self.phone, recording_paused=paused)
        self.push_screen(
            ConfirmDialog(plan, call, handle), lambda chosen: self._answered(chosen, call, name)
        )

    def _answered(self, chosen: Plan | None, call: ActiveCall, name: str) -> None:
        if chosen is None:
            self.say(f"cancelled: nothing sent to {name}")
        elif call.uii not in self.calls:
            self.say(f"✗ {name} ended before the confirmation: nothing sent")
        else:
            self.run_worker(self._send(chosen, call.uii, name), group="actions")

    def action_quit_console(self) -> None:
        """Quit with status 0."""
        self.exit(return_code=0)

    def action_interrupt(self) -> None:
        """Ctrl-C: quit at once with status 130, from any screen."""
        self.exit(return_code=130)

    # -- acting ----------------------------------------------------------------------------

    def _number(self, uii: str) -> int | None:
        if uii not in self.numbers:
            self.numbers.update(self.handles.update(shown=[uii], scope=self.options.label))
        return self.numbers.get(uii)

    async def _send(self, plan: Plan, uii: str, name: str) -> None:
        self.say(f"… {plan.doing} {name}")
        try:
            await plan.send(self.client, uii)
        except ActionRejectedError as exc:
            words = f": {exc.server_message}" if exc.server_message else " (it answered false)"
            self.say(f"✗ declined by the server{words} ({plan.doing} {name})")
            return
        except ActiveCallsError as exc:
            self.say(f"✗ {plan.doing} {name} failed: {exc}")
            return
        if plan.leaves == "paused":
            self.paused.add(uii)
        elif plan.leaves == "recording":
            self.paused.discard(uii)
        self.say(f"✓ {plan.done.format(call=name)}")
        self.refresh_soon()


def _line(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")
