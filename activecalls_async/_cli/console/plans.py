"""What each action key does to the highlighted call: the form it asks first (if any), the
question its confirmation asks, and the one request it sends, always at
``Priority.ACTION`` (pure: no Textual here)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ...client import ActiveCallsClient
from ...models import ActiveCall, SessionType
from ...priority import Priority
from .. import types
from .calls import state_of

__all__ = ["FORM_TITLES", "Field", "Plan", "check_field", "form_for", "plan_for"]

Send = Callable[[ActiveCallsClient, str], Awaitable[None]]


@attrs.frozen
class Field:
    """One entry of a form: its name, label and first value, and the check that turns the
    text typed into a value (raising ``ArgumentTypeError`` or ``ValueError`` with the
    reason); an optional field may be left empty."""

    name: str
    label: str
    value: str = ""
    placeholder: str = ""
    check: Callable[[str], Any] = str
    optional: bool = False


def check_field(field: Field, text: str) -> Any:
    """The checked value of ``text`` (None for an empty optional field); ``ValueError``
    with a one-line reason otherwise."""
    text = text.strip()
    if not text:
        if field.optional:
            return None
        raise ValueError(f"{field.label}: required")
    try:
        return field.check(text)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise ValueError(f"{field.label}: {exc}") from None


@attrs.frozen
class Plan:
    """A confirmed action: the dialog's question and details, the words of the status
    line while it runs and once done (``{call}`` names the call), and the request;
    ``other`` is the opposite state (recording, hold), which the dialog switches to and
    back with ``switch_key``."""

    question: str
    doing: str
    done: str
    send: Send
    details: tuple[tuple[str, str], ...] = ()
    other: Plan | None = None
    switch_key: str = ""
    #: What a done plan leaves for the console to remember: ``paused`` or ``recording``.
    leaves: str = ""


def _phone_field(value: str | None, label: str = "supervisor phone") -> Field:
    return Field("phone", label, value or "", "+15554150123 or 6505550100", types.phone)


_PHONE_ONCE = "The supervisor's phone (asked once for this run)"
#: The title of each key's form.
FORM_TITLES = {
    "m": _PHONE_ONCE,
    "c": _PHONE_ONCE,
    "b": _PHONE_ONCE,
    "s": "End a supervisor's session",
    "g": "Requeue the call",
    "d": "Disposition of the call",
}


def form_for(key: str, *, phone: str | None) -> list[Field]:
    """The form a key asks before its confirmation (empty: none). ``phone`` is the run's
    supervisor phone: monitor, coach and barge ask for it only while it is unknown."""
    if key in ("m", "c", "b"):
        return [] if phone else [_phone_field(None)]
    if key == "s":
        return [_phone_field(phone, "phone whose session ends")]
    if key == "g":
        return [Field("gate", "gate (queue) id", "", "e.g. 55", types.non_negative_int)]
    if key == "d":
        return [
            Field("disposition", "disposition", "", "e.g. SALE"),
            Field("notes", "notes", "", "optional", optional=True),
            Field(
                "callback",
                "callback at",
                "",
                "optional: 2026-12-01T15:30 or yyyyMMddHHmmss",
                types.callback_time,
                optional=True,
            ),
        ]
    return []


_SESSIONS = {
    "m": (SessionType.MONITOR, "Monitor this call?", "adding a monitor", "monitoring"),
    "c": (SessionType.COACHING, "Coach the agent on this call?", "adding a coach", "coaching"),
    "b": (SessionType.BARGEIN, "Barge in on this call?", "barging in on", "barged in on"),
}


def plan_for(
    key: str,
    call: ActiveCall,
    values: Mapping[str, Any],
    *,
    phone: str | None,
    recording_paused: bool,
) -> Plan:
    """The plan of an action key on ``call``, with the form's checked ``values``."""
    if key in _SESSIONS:
        kind, question, doing, done = _SESSIONS[key]
        who = values.get("phone") or phone or ""
        return Plan(
            question,
            doing,
            f"{done} {{call}} from {who}",
            _session(who, kind),
            (("supervisor phone", who),),
        )
    if key == "r":
        pause, resume = _recording(False), _recording(True)
        first, second = (resume, pause) if recording_paused else (pause, resume)
        return attrs.evolve(first, other=second, switch_key="r")
    if key == "h":
        hold, release = _hold(True), _hold(False)
        first, second = (release, hold) if state_of(call) == "HOLD" else (hold, release)
        return attrs.evolve(first, other=second, switch_key="h")
    if key == "g":
        gate = int(values["gate"])
        return Plan(
            f"Send this call back to queue (gate) {gate}?",
            "requeueing",
            f"{{call}} sent back to queue {gate}",
            lambda client, uii: client.requeue_call(uii, gate_id=gate, priority=Priority.ACTION),
            (("gate", str(gate)),),
        )
    if key == "d":
        return _disposition(values["disposition"], values.get("notes"), values.get("callback"))
    if key == "x":
        return Plan(
            "Hang up this call?",
            "hanging up",
            "hung up {call}",
            lambda client, uii: client.hangup_call(uii, priority=Priority.ACTION),
        )
    if key == "s":
        who = values["phone"]
        return Plan(
            f"End the session of {who} on this call?",
            "ending a session on",
            f"ended the session of {who} on {{call}}",
            lambda client, uii: client.hangup_session(uii, phone=who, priority=Priority.ACTION),
            (("phone", who),),
        )
    raise KeyError(key)


def _session(phone: str, kind: SessionType) -> Send:
    async def send(client: ActiveCallsClient, uii: str) -> None:
        await client.add_session_to_call(
            uii, destination=phone, session_type=kind, priority=Priority.ACTION
        )

    return send


def _recording(on: bool) -> Plan:
    async def send(client: ActiveCallsClient, uii: str) -> None:
        await client.toggle_call_recording(uii, record=on, priority=Priority.ACTION)

    if on:
        return Plan(
            "Resume the recording of this call?",
            "resuming the recording of",
            "recording resumed on {call}",
            send,
            leaves="recording",
        )
    return Plan(
        "Pause the recording of this call?",
        "pausing the recording of",
        "recording paused on {call}",
        send,
        leaves="paused",
    )


def _hold(on: bool) -> Plan:
    async def send(client: ActiveCallsClient, uii: str) -> None:
        await client.set_call_hold(uii, hold=on, priority=Priority.ACTION)

    if on:
        return Plan("Put this call on hold?", "putting on hold", "{call} on hold", send)
    return Plan("Take this call off hold?", "taking off hold", "{call} taken off hold", send)


def _disposition(disposition: str, notes: str | None, callback: datetime | None) -> Plan:
    async def send(client: ActiveCallsClient, uii: str) -> None:
        await client.disposition_call(
            uii,
            disposition=disposition,
            callback=callback is not None,
            callback_at=callback,
            notes=notes,
            priority=Priority.ACTION,
        )

    details = [("disposition", disposition)]
    if notes:
        details.append(("notes", notes))
    if callback is not None:
        details.append(("callback at", f"{callback:%Y-%m-%d %H:%M}"))
    return Plan(
        f"Set this call's disposition to {disposition}?",
        "dispositioning",
        f"{{call}} dispositioned {disposition}",
        send,
        tuple(details),
    )
