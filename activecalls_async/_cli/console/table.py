"""The console's call table: one row per call, keyed by uii, and a highlighted row that
stays on its call (not on its row number) when the rows are refilled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.console import JustifyMethod
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from ...models import ActiveCall
from .columns import Placed, cell_text

__all__ = ["CallTable"]

#: Characters DataTable puts around each cell (``cell_padding`` on both sides).
CELL_GAP = 2

_QUEUED = "bold yellow"
_ENDED = "dim strike"


class CallTable(DataTable[Text]):
    """A row per call (its key is the uii), columns laid out by :mod:`.columns`."""

    DEFAULT_CSS = """
    CallTable { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id="calls")
        self.placed: list[Placed] = []
        self.calls: list[ActiveCall] = []
        self.ended: set[str] = set()

    def set_columns(self, placed: Sequence[Placed]) -> bool:
        """Lay the columns out anew (the rows go too); False when they are unchanged."""
        if [(p.spec.key, p.width) for p in placed] == [(p.spec.key, p.width) for p in self.placed]:
            return False
        self.placed = list(placed)
        self.clear(columns=True)
        for column in self.placed:
            justify: JustifyMethod = "right" if column.spec.right else "left"
            self.add_column(
                Text(column.spec.header, justify=justify), width=column.width, key=column.spec.key
            )
        self.calls = []
        return True

    def highlighted(self) -> ActiveCall | None:
        """The call under the cursor, or None when there is no row."""
        if not self.calls:
            return None
        return self.calls[min(self.cursor_row, len(self.calls) - 1)]

    def fill(
        self,
        calls: Sequence[ActiveCall],
        *,
        numbers: Mapping[str, int],
        now: datetime,
        ended: set[str],
        keep: str | None,
    ) -> None:
        """Show ``calls`` in order (those in ``ended`` struck out), the cursor on ``keep``
        when it is among them, at the same place on screen when it can be."""
        old_row, old_top = self.cursor_row, round(self.scroll_y)
        self.calls = list(calls)
        self.ended = set(ended)
        self.clear()
        for call in self.calls:
            self.add_row(*self._cells(call, numbers, now), key=call.uii)
        if not self.calls:
            return
        try:
            row = self.get_row_index(keep) if keep is not None else old_row
        except RowDoesNotExist:
            row = old_row
        row = min(row, len(self.calls) - 1)
        # The highlighted call keeps its line on screen while the others move around it.
        self.scroll_to(y=max(row - (old_row - old_top), 0), animate=False, immediate=True)
        self.move_cursor(row=row, animate=False)

    def on_screen(self) -> list[ActiveCall]:
        """The calls whose rows are on screen now, top to bottom."""
        header = self.header_height if self.show_header else 0
        room = max(self.scrollable_content_region.height - header, 0)
        top = round(self.scroll_y)
        return self.calls[top : top + room]

    def redraw(
        self, calls: Sequence[ActiveCall], numbers: Mapping[str, int], now: datetime
    ) -> None:
        """Rewrite the cells of ``calls`` (already shown): times move, handles appear."""
        for call in calls:
            for placed, text in zip(self.placed, self._cells(call, numbers, now), strict=True):
                if placed.spec.key in ("id", "wait", "talk"):
                    try:
                        self.update_cell(call.uii, placed.spec.key, text)
                    except (RowDoesNotExist, KeyError):
                        break  # refilled meanwhile

    def _cells(self, call: ActiveCall, numbers: Mapping[str, int], now: datetime) -> list[Text]:
        style = _ENDED if call.uii in self.ended else _QUEUED if call.dequeue_time is None else ""
        cells = []
        for placed in self.placed:
            text = cell_text(placed, call, now, numbers.get(call.uii))
            if placed.spec.key == "state" and call.uii in self.ended:
                text = "ENDED"
            justify: JustifyMethod = "right" if placed.spec.right else "left"
            cells.append(Text(text, style=style, justify=justify, no_wrap=True))
        return cells
