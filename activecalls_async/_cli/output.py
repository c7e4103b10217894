"""Render rows as a table (rich when present on a terminal, plain text otherwise), JSON,
CSV or NDJSON, and write notices to stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

import attrs

from .._wire.convert import WIRE_NAMES, wire_record
from ..models import ActiveCall

__all__ = [
    "ACTION_FORMATS",
    "CALL_COLUMNS",
    "CALL_COLUMN_KEYS",
    "CALL_FIELDS",
    "FORMATS",
    "Column",
    "Symbols",
    "call_columns",
    "call_fields_record",
    "call_record",
    "duration",
    "is_terminal",
    "rich_available",
    "select_fields",
    "stderr",
    "stdout",
    "write_rows",
]

#: The ``--format`` choices of commands that print rows.
FORMATS = ("table", "json", "csv", "ndjson")
#: The ``--format`` choices of the call actions: a sentence, or one JSON object.
ACTION_FORMATS = ("text", "json")


def stdout() -> TextIO:
    """The current standard output (looked up on each use, so capture and redirection work)."""
    return sys.stdout


def stderr() -> TextIO:
    """The current standard error."""
    return sys.stderr


def rich_available() -> bool:
    """Whether the optional ``rich`` package (the ``cli`` extra) can be imported."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (pipes and files get plain text)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@attrs.frozen
class Symbols:
    """The marks printed for success and failure, plain ASCII where the stream needs it."""

    ok: str
    fail: str
    arrow: str

    @classmethod
    def for_stream(cls, stream: TextIO) -> Symbols:
        """Unicode marks when the stream can encode them, ASCII otherwise."""
        try:
            "✓✗→".encode(stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            return cls(ok="OK", fail="FAIL", arrow="->")
        return cls(ok="✓", fail="✗", arrow="→")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds")


def call_record(call: ActiveCall) -> dict[str, Any]:
    """The call as a JSON-ready object under the API's own field names (plus unknown extras)."""
    return {
        key: _iso(value) if isinstance(value, datetime) else value
        for key, value in wire_record(call).items()
    }


def call_fields_record(call: ActiveCall, fields: Sequence[str]) -> dict[str, Any]:
    """Only ``fields`` of the call's record (``waitSeconds``/``talkSeconds`` computed now)."""
    full = call_record(call)
    full["waitSeconds"] = _rounded(wait_seconds(call))
    full["talkSeconds"] = _rounded(talk_seconds(call))
    return {field: full.get(field) for field in fields}


@attrs.frozen
class Column:
    """A table column: its header, and how to turn a row into the cell's text."""

    header: str
    cell: Callable[[Any], str]
    justify: str = "left"
    #: Widest the cell may be in a plain-text table before it is cut (never wrapped).
    max_width: int = 40
    #: Never cut, however narrow the screen (a uii: a cut one names no call).
    whole: bool = False


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


#: The fields of a call in JSON, CSV and NDJSON: the API's names, in the API's order.
CALL_FIELDS: tuple[str, ...] = tuple(
    WIRE_NAMES.get(f.name, f.name) for f in attrs.fields(ActiveCall) if f.name != "extra"
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def wait_seconds(call: ActiveCall, now: datetime | None = None) -> float | None:
    """How long the call waited (or has been waiting, while queued) before an agent took it."""
    if call.enqueue_time is None:
        return None
    end = call.dequeue_time or now or _utcnow()
    return max(0.0, (end - call.enqueue_time).total_seconds())


def talk_seconds(call: ActiveCall, now: datetime | None = None) -> float | None:
    """How long the call has been connected (None while it waits)."""
    if call.dequeue_time is None:
        return None
    return max(0.0, ((now or _utcnow()) - call.dequeue_time).total_seconds())


def duration(seconds: float | None) -> str:
    """``42s``, ``3:07``, ``1:02:09``: short enough for a narrow column."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"


def _rounded(value: float | None) -> int | None:
    return None if value is None else int(value)


#: Every column a call table can show, by its ``--columns`` key: the table column, and the
#: fields it stands for in JSON, CSV and NDJSON (the wait and talk times are computed).
_CALL_COLUMN_SET: dict[str, tuple[Column, tuple[str, ...]]] = {
    "uii": (Column("UII", lambda c: c.uii, whole=True), ("uii",)),
    "state": (Column("STATE", lambda c: _text(c.call_state)), ("callState",)),
    "enqueued": (Column("ENQUEUED (UTC)", lambda c: _when(c.enqueue_time)), ("enqueueTime",)),
    "answered": (Column("ANSWERED (UTC)", lambda c: _when(c.dequeue_time)), ("dequeueTime",)),
    "wait": (Column("WAIT", lambda c: duration(wait_seconds(c)), "right"), ("waitSeconds",)),
    "talk": (Column("TALK", lambda c: duration(talk_seconds(c)), "right"), ("talkSeconds",)),
    "agent": (
        Column("AGENT", lambda c: _text(c.agent_name)),
        ("agentFirstName", "agentLastName"),
    ),
    "ani": (Column("ANI", lambda c: _text(c.ani)), ("ani",)),
    "dnis": (Column("DNIS", lambda c: _text(c.dnis)), ("dnis",)),
    "destination": (
        Column("DESTINATION", lambda c: _text(c.destination_name)),
        ("destinationName",),
    ),
    "external-id": (Column("EXTERNAL ID", lambda c: _text(c.external_id)), ("externalId",)),
    "cnam": (Column("CNAM", lambda c: _text(c.cnam)), ("cnam",)),
    "archive": (Column("ARCHIVE", lambda c: "yes" if c.archive else ""), ("archive",)),
    "account": (Column("ACCOUNT", lambda c: _text(c.account_id)), ("accountId",)),
}

#: The ``--columns`` names, in their default order.
CALL_COLUMN_KEYS: tuple[str, ...] = tuple(_CALL_COLUMN_SET)

#: The columns of a call table when ``--columns`` is not given (the machine formats carry
#: every field instead).
_DEFAULT_KEYS = ("uii", "state", "enqueued", "answered", "agent", "ani", "dnis", "destination")


def call_columns(keys: Sequence[str] | None = None) -> tuple[Column, ...]:
    """The table columns for ``--columns`` keys (the default set when None)."""
    return tuple(_CALL_COLUMN_SET[key][0] for key in (keys or _DEFAULT_KEYS))


def select_fields(keys: Sequence[str]) -> tuple[str, ...]:
    """The record fields ``--columns`` keys stand for, in order."""
    return tuple(field for key in keys for field in _CALL_COLUMN_SET[key][1])


CALL_COLUMNS: tuple[Column, ...] = call_columns()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plain_table(rows: Sequence[Any], columns: Sequence[Column]) -> str:
    """A fixed-width text table with a header line; long cells are cut, never wrapped."""
    cells = [
        [_cut(col.cell(row).replace("\n", " "), col.max_width) for col in columns] for row in rows
    ]
    widths = [len(col.header) for col in columns]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]

    def render(line: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if col.justify == "right" else c.ljust(w)
            for c, w, col in zip(line, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([render([col.header for col in columns]), *map(render, cells)]) + "\n"


def rich_table(rows: Sequence[Any], columns: Sequence[Column], title: str | None = None) -> Any:
    """The same table as a ``rich.table.Table`` (only called when rich is installed)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold")
    cells = [[col.cell(row) for col in columns] for row in rows]
    for at, col in enumerate(columns):
        justify: Any = col.justify
        # rich shrinks every column to fit the screen: a whole one keeps its widest cell.
        widest = max((len(line[at]) for line in cells), default=0) if col.whole else None
        table.add_column(
            col.header, justify=justify, no_wrap=True, overflow="ellipsis", min_width=widest
        )
    for line in cells:
        table.add_row(*line)
    return table


def _csv_cell(value: object) -> object:
    """None as an empty cell, booleans as JSON spells them (``true``, not ``True``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _write_csv(records: Iterable[Mapping[str, Any]], fields: Sequence[str], stream: TextIO) -> None:
    # Fields not in ``fields`` (a call's unknown extras) have no column: CSV is rectangular.
    writer = csv.DictWriter(stream, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})


def write_rows(
    rows: Sequence[Any],
    *,
    fmt: str,
    columns: Sequence[Column],
    record: Callable[[Any], Mapping[str, Any]],
    fields: Sequence[str],
    stream: TextIO,
    title: str | None = None,
    annotate: Mapping[str, Any] | None = None,
) -> None:
    """Write ``rows`` to ``stream`` in ``fmt``: a table of ``columns``, or ``record`` objects
    (CSV has the columns ``fields``); JSON and NDJSON objects also carry ``annotate``
    (``{"simulated": true}`` from a simulator)."""
    extra = dict(annotate or {})

    def annotated(row: Any) -> Mapping[str, Any]:
        return {**record(row), **extra} if extra else record(row)

    if fmt == "json":
        json.dump([annotated(row) for row in rows], stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    elif fmt == "ndjson":
        for row in rows:
            stream.write(json.dumps(annotated(row), ensure_ascii=False, separators=(",", ":")))
            stream.write("\n")
    elif fmt == "csv":
        _write_csv(map(record, rows), fields, stream)
    elif rich_available() and is_terminal(stream):
        from rich.console import Console

        Console(file=stream).print(rich_table(rows, columns, title))
    else:
        stream.write(plain_table(rows, columns))
    stream.flush()
