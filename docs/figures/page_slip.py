"""The page-slip race, drawn: a listing that changes between page 0 and page 1 of a walk.

A drawing, not a run: six calls, pages of four rows. On the left a call starts between
the two requests, listed ahead of the others: every later row moves down one place and
page 1 repeats the last row of page 0. On the right a call ends between them: every
later row moves up one place, and the first row of page 1 slips onto page 0, already
read. What each reader makes of it is what ``activecalls_async.pagination`` and
``activecalls_async.watch`` promise: a walk yields each uii once (the repeat is
dropped) and may miss a call that slipped (the next walk lists it); a watch does not
call a slipped call ended unless its next poll misses it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import _style
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

NAME = "page-slip"
TITLE = "The page slip: the listing changes between page 0 and page 1"

PAGE_ROWS = 4
WIDTH = 1.0  # one row's box, in data units
GAP = 0.12
PAGE_COLOURS = {0: "#CFE3F3", 1: "#FBE0C8"}  # page 0 read, page 1 read
PAGE_EDGES = {0: _style.SDK, 1: "#C86A1A"}
FADED = "#F2F2F2"
NEW = _style.GOOD
LOST = _style.WARNING


def _x(position: int) -> float:
    # Pages are drawn with a wider gap between them, so that the boundary shows.
    return position * (WIDTH + GAP) + (position // PAGE_ROWS) * 0.45


def _row(
    ax: Axes,
    y: float,
    calls: Sequence[str],
    *,
    reading: int,
    marks: dict[str, str],
) -> dict[str, float]:
    """Draw one listing as the server holds it when page ``reading`` is asked; return
    each call's box centre."""
    centres: dict[str, float] = {}
    for position, call in enumerate(calls):
        page = position // PAGE_ROWS
        x = _x(position)
        read = page == reading
        face = PAGE_COLOURS[page] if read else FADED
        edge = marks.get(call, PAGE_EDGES[page] if read else "#BBBBBB")
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                WIDTH,
                WIDTH,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=face,
                edgecolor=edge,
                lw=2.2 if call in marks else 1.2,
            )
        )
        colour = marks.get(call, "#222222" if read else "#888888")
        ax.text(
            x + WIDTH / 2,
            y + WIDTH / 2,
            call,
            ha="center",
            va="center",
            fontsize=13,
            color=colour,
            fontweight="bold",
        )
        centres[call] = x + WIDTH / 2
    # The pages, bracketed under the rows.
    for page in range((len(calls) + PAGE_ROWS - 1) // PAGE_ROWS):
        first = _x(page * PAGE_ROWS)
        last = _x(min(len(calls), (page + 1) * PAGE_ROWS) - 1) + WIDTH
        colour = PAGE_EDGES[page] if page == reading else "#999999"
        ax.plot(
            [first, first, last, last], [y - 0.1, y - 0.22, y - 0.22, y - 0.1], color=colour, lw=1.2
        )
        label = f"page {page}" + (" (asked now)" if page == reading else " (read before)")
        if page > reading:
            label = f"page {page}"
        ax.text(
            (first + last) / 2,
            y - 0.32,
            label,
            ha="center",
            va="top",
            fontsize=9,
            color=colour,
            fontweight="bold" if page == reading else "normal",
        )
    return centres


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour: str) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            color=colour,
            lw=1.6,
            connectionstyle="arc3,rad=-0.25",
        )
    )


def _yields(
    ax: Axes, y: float, who: str, calls: Sequence[str], verdict: str, marks: dict[str, str]
) -> None:
    """One reader's output: the calls it hands out, and what that means."""
    ax.text(-0.1, y + 0.3, who, ha="right", va="center", fontsize=10, fontweight="bold")
    for i, call in enumerate(calls):
        x = i * 0.72
        missing = call.endswith("?")
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                0.6,
                0.6,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor="white",
                edgecolor=marks.get(call.rstrip("?"), "#888888"),
                ls="--" if missing else "-",
                lw=1.8 if call.rstrip("?") in marks else 1.0,
            )
        )
        ax.text(
            x + 0.3,
            y + 0.3,
            call.rstrip("?"),
            ha="center",
            va="center",
            fontsize=10,
            color=marks.get(call.rstrip("?"), "#222222"),
            alpha=0.5 if missing else 1,
        )
    ax.text(len(calls) * 0.72 + 0.1, y + 0.3, verdict, ha="left", va="center", fontsize=9.5)


def _scenario(ax: Axes, *, starts: bool) -> None:
    before = ["A", "B", "C", "D", "E", "F"]
    ax.set_xlim(-2.6, 8.6)
    ax.set_ylim(-3.2, 7.4)
    ax.set_axis_off()
    ax.text(-2.6, 7.1, "1. page 0 is asked", fontsize=10, va="center", fontweight="bold")
    top = _row(ax, 5.6, before, reading=0, marks={})
    if starts:
        ax.set_title("A call starts between the two requests", loc="left")
        after = ["X", *before]
        event = "X starts, listed first: later rows move down one place"
        marks = {"X": NEW, "D": LOST}
    else:
        ax.set_title("A call ends between the two requests", loc="left")
        after = [c for c in before if c != "B"]
        event = "B ends: later rows move up one place"
        marks = {"E": LOST}
    ax.text(-2.6, 4.55, event, fontsize=9.5, va="center", color=NEW if starts else "#555555")
    ax.text(-2.6, 3.95, "2. page 1 is asked", fontsize=10, va="center", fontweight="bold")
    bottom = _row(ax, 2.45, after, reading=1, marks=marks)
    if not starts:
        ax.text(top["B"], 6.75, "ends", ha="center", va="bottom", fontsize=9, color=LOST)
    moved = "D" if starts else "E"
    _arrow(ax, (top[moved], 5.5), (bottom[moved], 3.5), LOST)
    ax.text(-2.6, 0.95, "What each reader hands out", fontsize=10, va="center", fontweight="bold")
    if starts:
        _yields(
            ax, -0.1, "a page loop", ["A", "B", "C", "D", "D", "E", "F"], "D twice", {"D": LOST}
        )
        _yields(
            ax,
            -1.1,
            "the SDK's walk",
            ["A", "B", "C", "D", "E", "F"],
            "D once: its uii was seen already",
            {"D": _style.SDK},
        )
        ax.text(
            -2.6,
            -2.25,
            "X started after page 0 was read: the next walk lists it.",
            fontsize=9.5,
            va="center",
        )
        ax.text(
            -2.6, -2.85, "A watch reports X started on its next poll.", fontsize=9.5, va="center"
        )
    else:
        _yields(ax, -0.1, "a page loop", ["A", "B", "C", "D", "E?", "F"], "E lost", {"E": LOST})
        _yields(
            ax, -1.1, "the SDK's walk", ["A", "B", "C", "D", "E?", "F"], "E missed too", {"E": LOST}
        )
        ax.text(
            -2.6,
            -2.25,
            "E slipped onto page 0, already read; the next walk lists it.",
            fontsize=9.5,
            va="center",
        )
        ax.text(
            -2.6,
            -2.85,
            "A watch reports E ended only if its next poll misses E too.",
            fontsize=9.5,
            va="center",
        )


def draw(path: Path) -> Path:
    """Draw the two cases side by side into ``path``."""
    fig = _style.figure(12, 5.6)
    left, right = fig.subplots(1, 2)
    _scenario(left, starts=True)
    _scenario(right, starts=False)
    fig.suptitle(f"{TITLE} (pages of {PAGE_ROWS} rows)")
    return _style.save(fig, path, title=TITLE)


def make(out: Path, *, quick: bool) -> list[Path]:
    """Draw the figure into ``out`` (the same with ``quick``: nothing runs)."""
    return [draw(out / f"{NAME}.svg")]
