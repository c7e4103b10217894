"""The call table's columns: what each shows, and how they share a screen's width.

With no ``--columns``, :func:`layout` always shows ``ID`` (the handle), ``STATE``, ``WAIT``,
``TALK``, ``QUEUE``, ``AGENT`` and ``ANI``; then, while the names keep a readable width,
the whole ``UII`` and ``DNIS``; then the names widen up to a cap (a queue's or an agent's
name needs no more); then ``ENQUEUED``, ``ANSWERED``, ``CNAM`` and ``EXTERNAL ID`` while
they fit. The handle and the uii are never cut: the uii is shown whole or not at all.
Names are cut to the width they get, with ``…``. With ``--columns``, those columns, in
that order, after ``ID``; the names share what is left.

Pure: no Textual here, so that the plain ``top`` lays out its snapshots the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import attrs

from ...models import ActiveCall
from ..output import duration, talk_seconds, wait_seconds
from .calls import state_of

__all__ = ["COLUMNS", "ColumnSpec", "Placed", "cell_text", "cut", "layout"]


@attrs.frozen
class ColumnSpec:
    """A column: its key (``--columns``), header, width (for a name: its least), how its
    cell reads a call at a time, and for a name the most it is widened to."""

    key: str
    header: str
    width: int
    cell: Callable[[ActiveCall, datetime], str]
    right: bool = False
    most: int = 0
    whole: bool = False
    #: Which names widen first (0) and which once those reached their caps (1).
    rank: int = 0

    @property
    def flexible(self) -> bool:
        """Whether the column takes a share of the width rather than a fixed one."""
        return self.most > 0


@attrs.frozen
class Placed:
    """A column as laid out: its spec and the width it got."""

    spec: ColumnSpec
    width: int


def _clock_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(timezone.utc).strftime("%H:%M:%S")


def _handle(call: ActiveCall, now: datetime) -> str:
    return ""  # filled from the handle table by the caller: see cell_text


#: Every column, by its ``--columns`` key (``destination`` is the queue's name).
COLUMNS: dict[str, ColumnSpec] = {
    spec.key: spec
    for spec in (
        ColumnSpec("id", "ID", 4, _handle, whole=True),
        ColumnSpec("uii", "UII", 30, lambda c, now: c.uii, whole=True),
        ColumnSpec("state", "STATE", 7, lambda c, now: state_of(c)),
        ColumnSpec("wait", "WAIT", 7, lambda c, now: duration(wait_seconds(c, now)), True),
        ColumnSpec("talk", "TALK", 7, lambda c, now: duration(talk_seconds(c, now)), True),
        ColumnSpec("destination", "QUEUE", 10, lambda c, now: c.destination_name or "", most=28),
        ColumnSpec("agent", "AGENT", 10, lambda c, now: c.agent_name or "", most=24),
        ColumnSpec("ani", "ANI", 12, lambda c, now: c.ani or ""),
        ColumnSpec("dnis", "DNIS", 12, lambda c, now: c.dnis or ""),
        ColumnSpec("enqueued", "ENQUEUED", 8, lambda c, now: _clock_time(c.enqueue_time)),
        ColumnSpec("answered", "ANSWERED", 8, lambda c, now: _clock_time(c.dequeue_time)),
        ColumnSpec("cnam", "CNAM", 8, lambda c, now: c.cnam or "", most=16, rank=1),
        ColumnSpec(
            "external-id", "EXTERNAL ID", 11, lambda c, now: c.external_id or "", most=20, rank=1
        ),
        ColumnSpec("archive", "ARCH", 4, lambda c, now: "yes" if c.archive else ""),
        ColumnSpec("account", "ACCOUNT", 10, lambda c, now: c.account_id or ""),
    )
}

#: The default columns' order on screen.
_ORDER = (
    "id",
    "uii",
    "state",
    "wait",
    "talk",
    "destination",
    "agent",
    "ani",
    "dnis",
    "enqueued",
    "answered",
    "cnam",
    "external-id",
)
_ALWAYS = ("id", "state", "wait", "talk", "destination", "agent")
#: Added in this order while each name keeps at least this many characters.
_WHILE_NAMES_KEEP = (("ani", 10), ("uii", 12), ("dnis", 14))
#: Added in this order, once the names reached their caps, while they fit.
_WHILE_ROOM = ("enqueued", "answered", "cnam", "external-id")
#: The narrowest a name is cut to when the screen is too narrow for the rest.
_NARROWEST = 4


def layout(
    width: int,
    *,
    keys: Sequence[str] | None = None,
    handle_width: int = 4,
    uii_width: int = 30,
    gap: int = 1,
) -> list[Placed]:
    """The columns for a screen ``width`` wide, ``gap`` characters between two (see the
    module docstring); ``handle_width`` fits the longest handle, ``uii_width`` the
    longest uii."""
    specs = {
        **COLUMNS,
        "id": attrs.evolve(COLUMNS["id"], width=max(handle_width, 2)),
        "uii": attrs.evolve(COLUMNS["uii"], width=uii_width),
    }
    if keys:
        chosen = [specs["id"], *(specs[k] for k in dict.fromkeys(keys) if k != "id")]
        return _share(chosen, width, gap, capped=False)
    chosen_keys = list(_ALWAYS)
    for key, keep in _WHILE_NAMES_KEEP:
        trial = [*chosen_keys, key]
        least = sum(
            max(specs[k].width, keep) if specs[k].flexible else specs[k].width for k in trial
        )
        if least + gap * (len(trial) - 1) <= width:
            chosen_keys = trial
    placed = _share(_ordered(chosen_keys, specs), width, gap, capped=True)
    used = sum(p.width for p in placed) + gap * (len(placed) - 1)
    for key in _WHILE_ROOM:
        if used + gap + specs[key].width <= width:
            chosen_keys.append(key)
            used += gap + specs[key].width
    return _share(_ordered(chosen_keys, specs), width, gap, capped=True)


def _ordered(keys: Sequence[str], specs: dict[str, ColumnSpec]) -> list[ColumnSpec]:
    return [specs[k] for k in _ORDER if k in keys]


def _share(columns: Sequence[ColumnSpec], width: int, gap: int, *, capped: bool) -> list[Placed]:
    """Fixed columns at their width; the names share what is left a character at a time,
    in turn: from their least width up (to their cap, if ``capped``: the queue and agent
    first, then the others), or down to :data:`_NARROWEST` when the rest leaves them less."""
    fixed = sum(c.width for c in columns if not c.flexible) + gap * (len(columns) - 1)
    names = [c for c in columns if c.flexible]
    widths = {c.key: c.width for c in names}
    spare = width - fixed - sum(widths.values())
    ranks = sorted({c.rank for c in names}) if capped else [None]
    for rank in ranks:
        group = [c for c in names if rank is None or c.rank == rank]
        while spare > 0:
            growing = [c for c in group if not (capped and widths[c.key] >= c.most)]
            for column in growing[:spare]:
                widths[column.key] += 1
            spare -= len(growing[:spare])
            if not growing:
                break
    while spare < 0:
        shrinking = [c for c in reversed(names) if widths[c.key] > _NARROWEST]
        if not shrinking:
            break
        for column in shrinking[:-spare]:
            widths[column.key] -= 1
        spare += len(shrinking[:-spare])
    return [Placed(c, widths.get(c.key, c.width)) for c in columns]


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in ``…`` when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def cell_text(placed: Placed, call: ActiveCall, now: datetime, handle: int | None) -> str:
    """What a cell shows, fitted to its width (the handle and the uii are never cut)."""
    spec = placed.spec
    if spec.key == "id":
        return "" if handle is None else f"@{handle}"
    text = spec.cell(call, now).replace("\n", " ")
    return text if spec.whole else cut(text, placed.width)
