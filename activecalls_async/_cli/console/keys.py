"""The console's keys: one list, from which the bindings, the ``?`` screen and the hint
line are all made (pure: no Textual here)."""

from __future__ import annotations

import attrs

__all__ = ["ACTION_KEYS", "KEYS", "Key", "hint"]


@attrs.frozen
class Key:
    """A key of the main screen: what is pressed, the app's action it runs, what it does,
    and the short word of the hint line (empty: not in the hint line)."""

    keys: str
    action: str
    does: str
    short: str = ""

    @property
    def shown(self) -> str:
        """The keys as the help writes them (``up,k`` is ``↑ k``)."""
        names = {
            "up": "↑",
            "down": "↓",
            "enter": "Enter",
            "slash": "/",
            "question_mark": "?",
            "ctrl+c": "Ctrl-C",
        }
        return " ".join(names.get(k, k) for k in self.keys.split(","))


#: The keys that act on the highlighted call (each one opens a dialog before anything is sent).
ACTION_KEYS = {
    "m": "monitor",
    "c": "coach",
    "b": "barge",
    "r": "recording",
    "h": "hold",
    "g": "requeue",
    "d": "disposition",
    "x": "hangup",
    "s": "end_session",
}

KEYS: tuple[Key, ...] = (
    Key("up,k", "cursor_up", "highlight the call above"),
    Key("down,j", "cursor_down", "highlight the call below"),
    Key("enter", "detail", "every field of the highlighted call, and its whole uii", "detail"),
    Key("m", "act('m')", "monitor: listen to the call on the supervisor's phone", "monitor"),
    Key("c", "act('c')", "coach: speak to the agent only", "coach"),
    Key("b", "act('b')", "barge in: join the call", "barge"),
    Key("r", "act('r')", "pause or resume the call's recording", "rec"),
    Key("h", "act('h')", "put the call on hold, or take it off", "hold"),
    Key("g", "act('g')", "requeue: send the call back to a queue (asks for the gate)", "requeue"),
    Key("d", "act('d')", "disposition (asks for it, notes and an optional callback)", "dispo"),
    Key("x", "act('x')", "hang up the call", "hang up"),
    Key("s", "act('s')", "end a supervisor's session on the call (asks for the phone)", "end"),
    Key("slash", "filter", "filter by queue, agent, state, ANI or the start of a uii", "filter"),
    Key("o", "sort", "the next order: wait, talk, queue, agent, state", "sort"),
    Key("question_mark", "keys", "show the keys", "keys"),
    Key("q", "quit_console", "quit (status 0)", "quit"),
    Key("ctrl+c", "interrupt", "quit at once (status 130)"),
)


def hint(width: int) -> str:
    """The keys line under the table: as many keys as fit ``width``, ``? keys`` always."""
    words = [f"{k.shown} {k.short}" for k in KEYS if k.short and k.action != "keys"]
    tail = "? keys"
    line = ""
    for word in words:
        trial = f"{line}  {word}" if line else word
        if len(trial) + 2 + len(tail) > width:
            break
        line = trial
    return f"{line}  {tail}" if line else tail
