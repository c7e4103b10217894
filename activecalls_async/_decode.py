"""Decode a ``list`` body from bytes into ``ActiveCall`` objects, fast when it can.

Two paths give the same result:

- **Fast** (msgspec, in C): a body in the documented shape (every field a JSON string
  or null, ``archive`` a boolean, times in RFC 3339 with an offset, the documented
  ``2020-05-08T14:40:47.000+0000`` included, no undocumented field) is decoded into
  wire structs with the API's camelCase names, then into ``ActiveCall`` by attribute
  name.
- **Reference** (``_convert``, cattrs): every other body. It takes ids sent as
  numbers, times in epoch milliseconds, keeps undocumented fields in ``extra`` and
  names the item and field of a body that is wrong.

The fast path only ever declines (msgspec refuses what it does not cover); it never
accepts a body the reference path would read differently, which
``tests/core/test_fast_decode.py`` checks property by property.
"""

from __future__ import annotations

import json
import typing
from datetime import datetime
from typing import Annotated, Any

import attrs
import msgspec

from ._convert import _WIRE_NAMES, structure_calls
from .models import ActiveCall

__all__ = ["decode_calls"]

# A time must carry its offset here: a naive one is read as UTC by the reference path.
_Time = Annotated[datetime, msgspec.Meta(tz=True)]
# The wire type of each ActiveCall annotation: strictly what the API documents.
_WIRE_TYPES: dict[Any, Any] = {
    str: str,
    str | None: str | None,
    bool | None: bool | None,
    datetime | None: _Time | None,
}


def _wire_struct() -> type[msgspec.Struct]:
    """A struct with ActiveCall's attribute names, read under the API's wire names."""
    hints = typing.get_type_hints(ActiveCall)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for field in attrs.fields(ActiveCall):
        if field.name == "extra":
            continue
        wire_type = _WIRE_TYPES[hints[field.name]]
        if field.default is attrs.NOTHING:
            fields.append((field.name, wire_type))
        else:
            fields.append((field.name, wire_type, field.default))
    return msgspec.defstruct(
        "_WireCall",
        fields,
        rename=_WIRE_NAMES,
        # An undocumented field is left to the reference path, which keeps it in ``extra``.
        forbid_unknown_fields=True,
        # Strings, times, booleans and None only: no reference cycles to track.
        gc=False,
    )


_WIRE_DECODER = msgspec.json.Decoder(list[_wire_struct()])  # type: ignore[misc]
_CALLS = list[ActiveCall]


def _fast(body: bytes) -> list[ActiveCall]:
    """The documented shape, decoded in C; raise ``msgspec.MsgspecError`` for anything else."""
    result: list[ActiveCall] = msgspec.convert(
        _WIRE_DECODER.decode(body), _CALLS, from_attributes=True
    )
    return result


def decode_calls(body: bytes) -> list[ActiveCall]:
    """Decode a ``list`` body; raise ``ValueError`` saying what is wrong (item and field)."""
    try:
        return _fast(body)
    except msgspec.MsgspecError:
        pass
    try:
        data = json.loads(body)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"invalid JSON ({exc})") from None
    return structure_calls(data)
