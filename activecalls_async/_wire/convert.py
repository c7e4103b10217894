"""The SDK's own cattrs converters (never cattrs' global one) and the decoders built on them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ..models import ActiveCall, QueueCheck

__all__ = [
    "WIRE_NAMES",
    "configure_converter",
    "make_converter",
    "structure_calls",
    "structure_queue_check",
    "wire_record",
]

#: The API's name of each ``ActiveCall`` field whose name differs in snake case.
WIRE_NAMES = {
    "account_id": "accountId",
    "dnis_e164": "dnisE164",
    "enqueue_time": "enqueueTime",
    "dequeue_time": "dequeueTime",
    "call_state": "callState",
    "agent_first_name": "agentFirstName",
    "agent_last_name": "agentLastName",
    "destination_name": "destinationName",
    "external_id": "externalId",
}
_CALL_KEYS = frozenset(
    WIRE_NAMES.get(a.name, a.name) for a in attrs.fields(ActiveCall) if a.name != "extra"
)
# Epoch milliseconds beyond this are not plausible times: refuse rather than overflow.
_MAX_EPOCH_MS = 253_402_300_799_999


# RFC 3339 with the documented variant's colon-less offset (``+0000``): what the fast
# path (msgspec) reads. Python 3.10's fromisoformat reads none of ``Z``, ``+0000`` or a
# fraction other than 3 or 6 digits; no Python's rounds digits past the sixth.
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
    r"(?:[Zz]|([+-])(\d\d):?(\d\d))?",
    re.ASCII,
)
_ONE_MICROSECOND = timedelta(microseconds=1)


def _parse_rfc3339(text: str) -> datetime:
    """Read an RFC 3339 time, ``+0000`` offsets too; digits past the sixth round."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    tz = None
    if sign is not None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset) if offset else timezone.utc
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    parsed = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )
    # A seventh digit of 5 or more rounds up to the next microsecond, as msgspec does.
    if fraction and len(fraction) > 6 and fraction[6] >= "5":
        parsed += _ONE_MICROSECOND
    return parsed


def _parse_time_text(text: str) -> datetime:
    """Read an ISO 8601 time; one without an offset is UTC."""
    try:
        # C, and the documented format on 3.11+; other ISO forms as this Python reads them.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_rfc3339(text)
    else:
        dot = text.find(".")
        if dot != -1 and text[dot + 1 : dot + 8].isdigit():
            parsed = _parse_rfc3339(text)  # fromisoformat drops digits past the sixth
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_datetime(value: Any, _: Any = None) -> datetime:
    """Read a time sent as ``2020-05-08T14:40:47.000+0000``, epoch ms or ``{"millis": ms}``."""
    if isinstance(value, str):
        return _parse_time_text(value)
    if isinstance(value, dict) and "millis" in value:
        value = value["millis"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not -_MAX_EPOCH_MS <= value <= _MAX_EPOCH_MS:
            raise ValueError(f"epoch milliseconds out of range: {value!r}")
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    raise TypeError(f"expected a time string or epoch milliseconds, got {type(value).__name__}")


def _strict_str(value: Any, _: Any) -> str:
    """Accept a string, or an integer id sent as a number; refuse anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _strict_bool(value: Any, _: Any) -> bool:
    """Accept a JSON boolean only: ``"false"`` must not become ``True``."""
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _optional_str(value: Any, _: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return _strict_str(value, _)


def _optional_bool(value: Any, _: Any) -> bool | None:
    if value is None or value.__class__ is bool:
        return value
    return _strict_bool(value, _)


def _optional_datetime(value: Any, _: Any) -> datetime | None:
    return None if value is None else _parse_datetime(value)


def configure_converter(converter: cattrs.Converter) -> cattrs.Converter:
    """Teach ``converter`` the wire names and value formats of the Active Calls API."""
    converter.register_structure_hook(datetime, _parse_datetime)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    # Direct hooks for the optional fields: cattrs' generic Optional hook dispatches
    # on the inner type again for every field of every call (half the decode time).
    converter.register_structure_hook(str | None, _optional_str)
    converter.register_structure_hook(bool | None, _optional_bool)
    converter.register_structure_hook(datetime | None, _optional_datetime)
    overrides: dict[str, Any] = {name: override(rename=wire) for name, wire in WIRE_NAMES.items()}
    plain = make_dict_structure_fn(
        ActiveCall,
        converter,
        _cattrs_detailed_validation=converter.detailed_validation,
        extra=override(omit=True),
        **overrides,
    )

    def structure_call(value: Any, cls: type[ActiveCall]) -> ActiveCall:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        call = plain(value, cls)
        if len(value) > len(_CALL_KEYS) or not value.keys() <= _CALL_KEYS:
            extra = {k: v for k, v in value.items() if k not in _CALL_KEYS}
            if extra:
                call = attrs.evolve(call, extra=extra)
        return call

    converter.register_structure_hook(ActiveCall, structure_call)
    return converter


def make_converter(*, detailed: bool = False) -> cattrs.Converter:
    """Build a configured converter; ``detailed`` trades speed for precise error paths."""
    return configure_converter(cattrs.Converter(detailed_validation=detailed))


# Decoding runs on the fast converter; only a body that fails is decoded again by the
# detailed one, to say exactly which item and field was wrong.
_FAST = make_converter()
_DETAILED = make_converter(detailed=True)


def _explain(exc: Exception, decode: Callable[[cattrs.Converter], object]) -> str:
    try:
        decode(_DETAILED)
    except Exception as detailed:
        messages = cattrs.transform_error(detailed, path="body")
        return "; ".join(messages[:5]) or str(detailed)
    return str(exc) or type(exc).__name__


def structure_calls(data: object) -> list[ActiveCall]:
    """Structure a decoded ``list`` body; raise ``ValueError`` saying what is wrong."""
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON array of calls, got {type(data).__name__}")
    try:
        return _FAST.structure(data, list[ActiveCall])
    except Exception as exc:
        raise ValueError(_explain(exc, lambda c: c.structure(data, list[ActiveCall]))) from None


def structure_queue_check(data: object) -> QueueCheck:
    """Structure a decoded queue-check body; raise ``ValueError`` saying what is wrong."""
    if not isinstance(data, dict) or "status" not in data:
        raise ValueError('expected an object with a boolean "status"')
    try:
        return _FAST.structure(data, QueueCheck)
    except Exception as exc:
        raise ValueError(_explain(exc, lambda c: c.structure(data, QueueCheck))) from None


def wire_record(call: ActiveCall) -> dict[str, Any]:
    """The call's fields under the API's own names, in the API's order, then its extras."""
    record: dict[str, Any] = {
        WIRE_NAMES.get(field.name, field.name): getattr(call, field.name)
        for field in attrs.fields(ActiveCall)
        if field.name != "extra"
    }
    for key, value in call.extra.items():
        record.setdefault(key, value)
    return record
