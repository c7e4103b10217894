"""``activecalls watch``: a live table of the calls in flight, or a stream of call events."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TextIO

from .._aio import stop_task
from ..models import ActiveCall, CallEvent, CallEventType
from .commands import default_target
from .config import open_client, open_hub, output_annotations
from .failures import EXIT_OK
from .output import (
    CALL_COLUMNS,
    Column,
    call_columns,
    call_record,
    is_terminal,
    plain_table,
    rich_available,
    rich_table,
    stderr,
    stdout,
)

__all__ = ["CallBoard", "run_watch"]

#: How often the table is redrawn when something changed (polls are usually slower).
_REDRAW_EVERY = 0.25
_FAR_PAST = datetime.min.replace(tzinfo=timezone.utc)


class CallBoard:
    """The calls in flight as events report them, drawn as a table on ``stream``.

    Rich draws it in place on a terminal; a plain terminal is cleared and redrawn; a pipe
    gets a new snapshot after each change, so a log shows how the calls moved.
    """

    def __init__(
        self,
        title: str,
        *,
        stream: TextIO,
        rows: int,
        interval: float,
        columns: tuple[Column, ...] = CALL_COLUMNS,
        shared_with: Callable[[], int] | None = None,
    ) -> None:
        self.title = title
        #: How many other processes share the watch (a fleet's ``WatchHub``), if any do.
        self.shared_with = shared_with
        self.columns = columns
        self.calls: dict[str, ActiveCall] = {}
        self.counts = dict.fromkeys(CallEventType, 0)
        self._stream = stream
        self._rows = rows
        self._interval = interval
        self._terminal = is_terminal(stream)
        self._updated: datetime | None = None
        self._dirty = False
        self._live: Any = None

    def __enter__(self) -> CallBoard:
        if self._terminal and rich_available():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self._stream), auto_refresh=False)
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._dirty:
            self.draw()
        if self._live is not None:
            self._live.stop()

    def apply(self, event: CallEvent) -> None:
        """Record one event; the next redraw shows it."""
        self.counts[event.type] += 1
        if event.type is CallEventType.ENDED:
            self.calls.pop(event.call.uii, None)
        else:
            self.calls[event.call.uii] = event.call
        self._updated = datetime.now(timezone.utc)
        self._dirty = True

    def heading(self) -> str:
        """The line above the table: the count in flight and what has happened so far."""
        counts = self.counts
        when = f"updated {self._updated:%H:%M:%S} UTC, " if self._updated else ""
        shared = "" if self.shared_with is None else f", shared with {self.shared_with()}"
        return (
            f"{self.title}: {len(self.calls):,} calls in flight "
            f"(+{counts[CallEventType.STARTED]:,} started, "
            f"~{counts[CallEventType.CHANGED]:,} changed, "
            f"-{counts[CallEventType.ENDED]:,} ended; {when}polling every {self._interval:g} s"
            f"{shared})"
        )

    def shown(self) -> list[ActiveCall]:
        """The calls on screen: the longest in flight first."""
        return sorted(self.calls.values(), key=lambda c: (c.enqueue_time or _FAR_PAST, c.uii))[
            : self._rows
        ]

    def draw(self) -> None:
        """Render the table now."""
        self._dirty = False
        rows = self.shown()
        more = len(self.calls) - len(rows)
        footer = f"… and {more:,} more" if more > 0 else ""
        if self._live is not None:
            from rich.console import Group
            from rich.text import Text

            table = rich_table(rows, self.columns, title=self.heading())
            self._live.update(Group(table, Text(footer)), refresh=True)
            return
        text = f"{self.heading()}\n{plain_table(rows, self.columns)}{footer}\n"
        if self._terminal:
            text = "\x1b[H\x1b[2J" + text  # clear the screen, then draw from the top
        self._stream.write(text if self._terminal else text + "\n")
        self._stream.flush()

    async def redraw_while_changing(self) -> None:
        """Redraw whenever something changed, at most every ``_REDRAW_EVERY`` seconds."""
        while True:
            await asyncio.sleep(_REDRAW_EVERY)
            if self._dirty:
                self.draw()


def event_record(event: CallEvent) -> dict[str, Any]:
    """A call event as one JSON object."""
    record: dict[str, Any] = {"event": event.type.value, "call": call_record(event.call)}
    if event.previous is not None:
        record["previous"] = call_record(event.previous)
    return record


async def _print_events(events: Any, stream: TextIO, annotate: Mapping[str, Any]) -> None:
    async for event in events:
        record = {**event_record(event), **annotate}
        stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        stream.flush()


async def _show_board(events: Any, board: CallBoard) -> None:
    redraw = asyncio.ensure_future(board.redraw_while_changing())
    try:
        async for event in events:
            board.apply(event)
    finally:
        await stop_task(redraw)


async def run_watch(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Watch one listing until ``--duration`` runs out or Ctrl-C."""
    async with (
        open_client(args, environ, live=True) as client,
        open_hub(args, environ, client) as hub,
    ):
        product, product_id = args.target or default_target(client)
        # A watch polls again after a failure that may heal, an unreachable server among
        # them; one request first makes a wrong address, token, account or product fail
        # now, with its own message and exit status.
        await client.list_active_calls(product, product_id, page=0, max_rows=1)
        label = product.value if product_id is None else f"{product.value}:{product_id}"
        out = stdout()
        watch = client.watch_active_calls(product, product_id, interval=args.interval, hub=hub)
        shared_with: Callable[[], int] | None = None
        if hub is not None:
            from ..fleet.hub import SharedCallWatch

            assert isinstance(watch, SharedCallWatch)
            shared = watch
            shared_with = lambda: shared.shared_with  # noqa: E731
            # A console beside the bots polls nothing of its own: say so once.
            print(
                f"activecalls: sharing this watch with the fleet {hub.key!r} through Redis",
                file=stderr(),
                flush=True,
            )
        async with watch as events:
            if args.format == "ndjson":
                job = _print_events(events, out, output_annotations(args, environ))
                with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                    await asyncio.wait_for(job, args.duration)
            else:
                board = CallBoard(
                    label,
                    stream=out,
                    rows=args.rows,
                    interval=args.interval,
                    columns=call_columns(getattr(args, "columns", None)),
                    shared_with=shared_with,
                )
                with board, contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                    await asyncio.wait_for(_show_board(events, board), args.duration)
    return EXIT_OK
