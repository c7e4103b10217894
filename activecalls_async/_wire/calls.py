"""Decode a ``list`` body from bytes into ``ActiveCall`` objects, fast when it can.

Two paths give the same result:

- **Fast** (msgspec, in C): every field a JSON string or null, ``archive`` a boolean,
  times in RFC 3339 with an offset (the documented ``2020-05-08T14:40:47.000+0000``
  included). The bytes are decoded into wire structs under the API's camelCase names,
  then into ``ActiveCall`` by attribute name.
- **Reference** (``_convert``, cattrs): every other body. It takes ids sent as numbers
  and times in epoch milliseconds, keeps undocumented fields in ``extra`` and names the
  item and field of a body that is wrong.

An undocumented field first sends its body to the reference path; the decoder then
learns its name (up to ``MAX_LEARNED`` names), and later bodies carrying it stay on the
fast path with the field in ``extra``. The fast path only ever declines: it never
accepts a body that the reference path reads differently, which
``tests/core/test_fast_decode.py`` checks property by property.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import attrs
import msgspec

from ..models import ActiveCall
from .convert import WIRE_NAMES, structure_calls

__all__ = ["MAX_LEARNED", "CallDecoder", "decode_calls"]

#: How many undocumented field names a decoder learns; bodies with others stay slow.
MAX_LEARNED = 16

# A time must carry its offset here: a naive one is read as UTC by the reference path.
_Time = Annotated[datetime, msgspec.Meta(tz=True)]
# The wire type of each ActiveCall annotation: strictly what the API documents.
_WIRE_TYPES: dict[Any, Any] = {
    str: str,
    str | None: str | None,
    bool | None: bool | None,
    datetime | None: _Time | None,
}
_CALLS = list[ActiveCall]
_set = object.__setattr__


def _documented_fields() -> list[tuple[str, Any, Any]]:
    """ActiveCall's attributes with their wire types and defaults, ``extra`` left out."""
    hints = typing.get_type_hints(ActiveCall)
    return [
        (
            field.name,
            _WIRE_TYPES[hints[field.name]],
            msgspec.NODEFAULT if field.default is attrs.NOTHING else field.default,
        )
        for field in attrs.fields(ActiveCall)
        if field.name != "extra"
    ]


_DOCUMENTED = _documented_fields()


class _FastPath:
    """msgspec's decoder for the documented fields and a fixed set of learnt ones."""

    def __init__(self, learned: tuple[str, ...] = ()) -> None:
        self.learned = learned
        # Learnt fields get neutral attribute names (x0, x1, ...): any string can be a
        # wire name, and none may shadow an ActiveCall attribute.
        self._slots = tuple((f"x{i}", wire) for i, wire in enumerate(learned))
        struct = msgspec.defstruct(
            "_WireCall",
            [*_DOCUMENTED, *((attr, object, msgspec.UNSET) for attr, _ in self._slots)],
            rename={**WIRE_NAMES, **dict(self._slots)},
            # Any other field is left to the reference path, which keeps it in ``extra``.
            forbid_unknown_fields=True,
            # Decoded JSON cannot refer back to a struct: no cycles for the GC to track.
            gc=False,
        )
        self._decoder = msgspec.json.Decoder(list[struct])  # type: ignore[valid-type]

    def decode(self, body: bytes) -> list[ActiveCall]:
        """Decode ``body``; raise ``msgspec.MsgspecError`` for anything not covered."""
        structs = self._decoder.decode(body)
        calls: list[ActiveCall] = msgspec.convert(structs, _CALLS, from_attributes=True)
        if self._slots:
            self._keep_extra(structs, calls)
        return calls

    def _keep_extra(self, structs: Sequence[Any], calls: list[ActiveCall]) -> None:
        """Put the learnt fields each struct carried into its call's ``extra``."""
        unset = msgspec.UNSET
        for struct, call in zip(structs, calls, strict=True):
            extra = {}
            for attr, wire in self._slots:
                value = getattr(struct, attr)
                if value is not unset:
                    extra[wire] = value
            if extra:
                # The instance is brand new and not yet shared: filling in the field
                # that the frozen class's converter left at its default is safe.
                _set(call, "extra", extra)


class CallDecoder:
    """Decodes ``list`` bodies; learns undocumented field names (see the module docstring)."""

    def __init__(self) -> None:
        self._fast = _FastPath()
        # Names msgspec cannot take (quotes, control characters), not to be tried again.
        self._refused: set[str] = set()

    @property
    def learned(self) -> tuple[str, ...]:
        """The undocumented field names learnt so far, read on the fast path, in order."""
        return self._fast.learned

    def decode(self, body: bytes) -> list[ActiveCall]:
        """Decode a ``list`` body; raise ``ValueError`` saying what is wrong (item and field)."""
        fast = self._fast
        try:
            return fast.decode(body)
        except msgspec.MsgspecError:
            pass
        try:
            data = json.loads(body)
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting is a
        # RecursionError.
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"invalid JSON ({exc})") from None
        calls = structure_calls(data)
        unseen = {key for call in calls for key in call.extra}
        unseen.difference_update(fast.learned, self._refused)
        if unseen and len(fast.learned) + len(unseen) <= MAX_LEARNED:
            self._learn(sorted(unseen))
        return calls

    def _learn(self, names: list[str]) -> None:
        """Add each name the fast path can take; remember those it cannot."""
        fast = self._fast
        for name in names:
            if len(self._refused) >= MAX_LEARNED:
                break
            try:
                fast = _FastPath((*fast.learned, name))
            except ValueError:
                self._refused.add(name)
        # Replaced whole, never mutated: a concurrent decode keeps the path it read.
        self._fast = fast


_DEFAULT = CallDecoder()


def decode_calls(body: bytes) -> list[ActiveCall]:
    """Decode a ``list`` body with the process-wide decoder; raise ``ValueError`` if wrong."""
    return _DEFAULT.decode(body)
