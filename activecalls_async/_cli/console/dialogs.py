"""The console's dialogs and panes: the confirmation every action asks, the forms some ask
first, the detail pane of one call and the list of keys. Each is a modal screen: while it
is open, the main screen's keys do nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...models import ActiveCall
from ..output import call_record, duration, talk_seconds, wait_seconds
from .calls import state_of
from .keys import KEYS
from .plans import Field, Plan, check_field

__all__ = ["ConfirmDialog", "DetailPane", "FormDialog", "KeysPane", "call_lines"]

DIALOG_CSS = """
ConfirmDialog, FormDialog, DetailPane, KeysPane {
    align: center middle;
    background: $background 60%;
}
#dialog {
    width: 66;
    max-width: 100%;
    height: auto;
    max-height: 96%;
    border: round $accent;
    border-title-style: bold;
    padding: 0 1;
    background: $surface;
}
KeysPane #dialog { width: 78; }
DetailPane #dialog { width: 72; }
#dialog Input { width: 100%; margin: 0; }
#dialog .label { color: $text-muted; }
#problem { color: $error; }
#hint { color: $text-muted; margin-top: 1; }
"""


def call_lines(call: ActiveCall, handle: int | None) -> list[tuple[str, str]]:
    """What names a call in a dialog: its handle and uii, agent and queue."""
    name = "" if handle is None else f"@{handle}  "
    return [
        ("call", f"{name}{call.uii}"),
        ("agent", call.agent_name or "(none: waiting in queue)"),
        ("queue", call.destination_name or "?"),
    ]


def _grid(rows: Sequence[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


class ConfirmDialog(ModalScreen[Plan | None]):
    """Asks before an action: the question, the call (handle, uii, agent, queue) and the
    plan's details; ``y``/Enter answers the plan, ``n``/Esc None. A plan with another
    state (recording, hold) switches to it, and back, with its own key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "confirm", priority=True),
        Binding("n,escape", "answer(False)", "cancel", priority=True),
    ]

    def __init__(self, plan: Plan, call: ActiveCall, handle: int | None) -> None:
        super().__init__()
        self.first = self.plan = plan
        self.call = call
        self.handle = handle

    def compose(self) -> ComposeResult:
        """The question as the border's title; the call and the details below."""
        with Vertical(id="dialog"):
            yield Static(id="body")
            yield Static(id="hint")

    def on_mount(self) -> None:
        """Draw the plan."""
        self._draw()

    def _draw(self) -> None:
        plan = self.plan
        self.query_one("#dialog").border_title = plan.question
        rows = [*call_lines(self.call, self.handle), *plan.details]
        self.query_one("#body", Static).update(_grid(rows))
        hint = "y/Enter: confirm   n/Esc: cancel"
        other = self._other()
        if other is not None:
            hint += f"   {self.first.switch_key}: {other.question.rstrip('?').lower()} instead"
        self.query_one("#hint", Static).update(hint)

    def _other(self) -> Plan | None:
        if self.first.other is None:
            return None
        return self.first.other if self.plan is self.first else self.first

    def on_key(self, event: Any) -> None:
        """The plan's switch key flips it to its other state."""
        other = self._other()
        if other is not None and event.key == self.first.switch_key:
            event.stop()
            self.plan = other
            self._draw()

    def action_answer(self, confirmed: bool) -> None:
        """Close with the plan (confirmed) or None (cancelled)."""
        self.dismiss(self.plan if confirmed else None)


class FormDialog(ModalScreen[dict[str, Any] | None]):
    """Asks for the values an action needs (a phone, a gate, a disposition...): Enter
    moves to the next field, and on the last one checks them all and answers their
    checked values; Esc answers None. A wrong value is named and nothing is answered."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel", priority=True)]

    def __init__(
        self, title: str, fields: Sequence[Field], about: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.about = list(about)

    def compose(self) -> ComposeResult:
        """The call (if any), then a label and an input per field."""
        with Vertical(id="dialog"):
            if self.about:
                yield Static(_grid(self.about))
            for field in self.fields:
                yield Label(field.label, classes="label")
                yield Input(field.value, placeholder=field.placeholder, id=f"field-{field.name}")
            yield Static(id="problem")
            yield Static("Enter: next / done   Esc: cancel", id="hint")

    def on_mount(self) -> None:
        """Title the dialog and put the cursor in the first field."""
        self.query_one("#dialog").border_title = self.title_text
        self.query_one(f"#field-{self.fields[0].name}", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: check this field, then go to the next, or answer after the last."""
        event.stop()
        names = [f"field-{f.name}" for f in self.fields]
        at = names.index(event.input.id or "")
        values: dict[str, Any] = {}
        for field in self.fields[: at + 1]:
            text = self.query_one(f"#field-{field.name}", Input).value
            try:
                values[field.name] = check_field(field, text)
            except ValueError as exc:
                self.query_one("#problem", Static).update(str(exc))
                self.query_one(f"#field-{field.name}", Input).focus()
                return
        self.query_one("#problem", Static).update("")
        if at + 1 < len(names):
            self.query_one(f"#{names[at + 1]}", Input).focus()
        else:
            self.dismiss(values)

    def action_cancel(self) -> None:
        """Close, answering None."""
        self.dismiss(None)


def detail_rows(call: ActiveCall, handle: int | None, now: datetime) -> list[tuple[str, str]]:
    """The call's handle, state, wait and talk, then every field under the API's names."""
    rows = [
        ("handle", "" if handle is None else f"@{handle}"),
        ("state", state_of(call)),
        ("wait", duration(wait_seconds(call, now))),
        ("talk", duration(talk_seconds(call, now))),
    ]
    for name, value in call_record(call).items():
        text = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
        rows.append((name, text))
    return rows


class DetailPane(ModalScreen[None]):
    """Every field of one call and its whole uii; Esc, Enter or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss_pane", "close", priority=True)
    ]

    def __init__(self, call: ActiveCall, handle: int | None, now: datetime) -> None:
        super().__init__()
        self.call = call
        self.rows = detail_rows(call, handle, now)

    def compose(self) -> ComposeResult:
        """The fields, and how to close."""
        with Vertical(id="dialog"):
            yield Static(_grid(self.rows), id="body")
            yield Static("Esc / Enter / q: close", id="hint")

    def on_mount(self) -> None:
        """Title the pane with the call's handle."""
        self.query_one("#dialog").border_title = f"call {self.rows[0][1]} {self.call.uii}"

    def action_dismiss_pane(self) -> None:
        """Close the pane."""
        self.dismiss(None)


class KeysPane(ModalScreen[None]):
    """The keys of the console; Esc, Enter, ``?`` or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,question_mark,q", "dismiss_pane", "close", priority=True)
    ]

    def compose(self) -> ComposeResult:
        """The keys, one a line."""
        with Vertical(id="dialog"):
            yield Static(_grid([(key.shown, key.does) for key in KEYS]), id="body")
            yield Static(
                Text("Every action asks first: y/Enter confirms, n/Esc cancels."), id="hint"
            )

    def on_mount(self) -> None:
        """Title the pane."""
        self.query_one("#dialog").border_title = "keys"

    def action_dismiss_pane(self) -> None:
        """Close the pane."""
        self.dismiss(None)
