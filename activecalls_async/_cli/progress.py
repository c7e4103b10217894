"""A progress display on stderr while listings load: rich on a terminal, one plain line
otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from .output import is_terminal, rich_available

__all__ = ["ListingProgress"]


class ListingProgress:
    """Counts calls as they arrive and shows the count; ``done()`` prints the summary line.

    With rich on a terminal it is a spinner with a live count; on a plain terminal one
    line rewritten in place; elsewhere (a pipe, a log file) a line per second at most,
    so logs stay short. ``enabled=False`` shows nothing but the summary. ``throttled``
    tells how long requests have waited for the rate limit (None: they are not waiting);
    while they wait, the display says so, since no call arrives to show progress.
    """

    #: Waits for the rate limit shorter than this are not worth a word.
    SHOW_WAIT_AFTER = 1.0

    def __init__(
        self,
        description: str,
        *,
        stream: TextIO,
        enabled: bool = True,
        throttled: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.description = description
        self._throttled = throttled
        self.calls = 0
        self._stream = stream
        self._enabled = enabled
        self._terminal = is_terminal(stream)
        self._started = time.perf_counter()
        self._last_shown = self._started
        self._line_shown = False
        self._rich: Any = None
        self._task: Any = None
        # A terminal redraws cheaply; a log gets a line a second at most.
        self._every = 0.1 if self._terminal else 1.0

    @property
    def elapsed(self) -> float:
        """Seconds since the display started."""
        return time.perf_counter() - self._started

    def __enter__(self) -> ListingProgress:
        if self._enabled and self._terminal and rich_available():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("[bold]{task.completed:,}[/] calls"),
                TextColumn("{task.fields[waiting]}"),
                TimeElapsedColumn(),
                console=Console(file=self._stream),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=None, waiting="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._line_shown:
            self._stream.write("\r\x1b[K")  # clear the in-place line
            self._stream.flush()

    def waiting_note(self) -> str:
        """ "waiting for the rate limit (N s)" while requests wait long for it, else ""."""
        waited = self._throttled()
        if waited is None or waited < self.SHOW_WAIT_AFTER:
            return ""
        return f"waiting for the rate limit ({waited:.0f} s)"

    async def tick(self, every: float = 0.5) -> None:
        """Redraw every ``every`` seconds until cancelled, so that a wait shows."""
        while True:
            await asyncio.sleep(every)
            self.advance(0)

    def advance(self, calls: int = 1) -> None:
        """Count ``calls`` more calls loaded."""
        self.calls += calls
        if self._rich is not None:
            self._rich.update(self._task, completed=self.calls, waiting=self.waiting_note())
            return
        if not self._enabled:
            return
        now = time.perf_counter()
        if now - self._last_shown < self._every:
            return
        self._last_shown = now
        note = self.waiting_note()
        line = f"{self.description}: {self.calls:,} calls ({now - self._started:.1f} s)"
        if note:
            line = f"{line}, {note}"
        if self._terminal:
            self._stream.write(f"\r\x1b[K{line}")
            self._line_shown = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def done(self, summary: str) -> None:
        """Print the final line (after the display is closed)."""
        self._stream.write(f"{summary}\n")
        self._stream.flush()
