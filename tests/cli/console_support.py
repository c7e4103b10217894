"""Driving the console headless: an app bound to a simulator's client, its screen as text,
and waits on conditions (never fixed sleeps)."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console as RichConsole
from textual.pilot import Pilot

from activecalls_async import ActiveCallsClient, RateLimit
from activecalls_async._cli.console import ConsoleOptions, fetch_calls
from activecalls_async._cli.console.app import ConsoleApp
from activecalls_async._cli.console.calls import Budget
from activecalls_async._cli.console.feed import CallFeed
from activecalls_async._cli.handles import HandleTable
from activecalls_async.models import Product
from activecalls_async.testing import RecordedRequest, Simulator

SUPERVISOR = "+15554150123"
ACTIONS = frozenset(
    {
        "addSessionToCall",
        "dispositionCall",
        "hangupCall",
        "hangupSession",
        "toggleCallRecording",
        "toggleCallHold",
        "requeueCall",
    }
)


def screen_text(app: ConsoleApp) -> str:
    """What the terminal shows now, as plain text (dialogs over the main screen included),
    rendered as ``App.export_screenshot`` renders it."""
    width, height = app.size
    console = RichConsole(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text()


@attrs.define
class Console:
    """A running console and the simulator behind it."""

    app: ConsoleApp
    pilot: Pilot[None]
    sim: Simulator
    handles: HandleTable

    async def until(self, check: Callable[[], Any], timeout: float = 10.0) -> None:
        """Wait until ``check()`` is true; fail with the screen when it never is."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"never came true; the screen:\n{screen_text(self.app)}")
            await self.pilot.pause(0.02)

    async def press(self, *keys: str) -> None:
        """Press ``keys`` and let the app handle them."""
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def type(self, text: str) -> None:
        """Type ``text`` into the focused input."""
        await self.press(*text)

    async def refresh(self) -> None:
        """Refresh now and wait until the table shows it."""
        await self.app.refresh_calls()
        await self.pilot.pause()

    def text(self) -> str:
        """The screen as text."""
        return screen_text(self.app)

    def status(self) -> str:
        """The status line."""
        return self.app.status

    def highlighted(self) -> str:
        """The uii of the highlighted call."""
        call = self.app.table.highlighted()
        assert call is not None
        return call.uii

    def rows(self) -> list[str]:
        """The uiis of the table's rows, in order."""
        return [call.uii for call in self.app.table.calls]

    def actions(self) -> list[RecordedRequest]:
        """The action requests the simulator received so far."""
        return [r for r in self.sim.requests if r.operation in ACTIONS]

    async def highlight(self, uii: str) -> None:
        """Move the highlight to ``uii`` with the arrow keys."""
        target = self.rows().index(uii)
        step = "down" if target > self.app.table.cursor_row else "up"
        while self.app.table.cursor_row != target:
            await self.press(step)


@contextlib.asynccontextmanager
async def running_console(
    sim: Simulator,
    state: Path,
    *,
    size: tuple[int, int] = (100, 30),
    limit: RateLimit | None = None,
    feed: Callable[[ActiveCallsClient], CallFeed] | None = None,
    **options: Any,
) -> AsyncIterator[Console]:
    """A console of the simulator's whole account, in a terminal of ``size``; its client
    spends the API's budget (``limit``: 120 requests a minute)."""
    limit = limit or RateLimit(120, per=60.0)
    async with ActiveCallsClient(
        account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=limit
    ) as client:
        targets = [(Product.ACCOUNT, int(sim.account_id))]
        settings: dict[str, Any] = {
            "label": f"ACCOUNT:{sim.account_id}",
            "targets": targets,
            "budget": Budget(client.stats, limit.requests, limit.per),
            "interval": 3600.0,  # tests refresh when they choose, unless they ask otherwise
            "simulated": True,
            **options,
        }
        handles = HandleTable(state, base_url=sim.base_url, account_id=sim.account_id)
        app = ConsoleApp(
            client,
            ConsoleOptions(**settings),
            handles,
            calls=await fetch_calls(client, targets),
            feed=None if feed is None else feed(client),
        )
        async with app.run_test(size=size) as pilot:
            console = Console(app, pilot, sim, handles)
            await console.until(lambda: app.refreshes >= 1 and bool(app.numbers))
            yield console
