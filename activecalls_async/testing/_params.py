"""Reading and validating query parameters the way the API does, collecting every problem."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

import attrs

_INTEGER = re.compile(r"-?[0-9]{1,19}")
# Digits, or E.164: a "+" then digits. A "+" sent unencoded arrives as a space and fails here.
_PHONE = re.compile(r"\+?[0-9]{3,15}")
_DTS = re.compile(r"[0-9]{14}")
_RANGES = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


@attrs.frozen
class Problem:
    """One rejected parameter, as a ``validationErrors`` entry names it."""

    attribute: str
    message: str
    value: str | None

    def wire(self) -> dict[str, str | None]:
        """The spec's ValidationErrorData object."""
        return {"attributeName": self.attribute, "message": self.message, "value": self.value}


class QueryReader:
    """Typed access to query parameters; each bad or missing one adds a :class:`Problem`."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self._query = query
        self.problems: list[Problem] = []

    def _fail(self, name: str, message: str, value: str | None) -> None:
        self.problems.append(Problem(name, message, value))

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string parameter; a required one must not be blank."""
        value = self._query.get(name)
        if value is None or (required and not value.strip()):
            if required:
                self._fail(name, f"{name} is required", value)
            return None
        return value

    def phone(self, name: str, *, required: bool = False) -> str | None:
        """A phone number: digits, or ``+`` then digits."""
        value = self.text(name, required=required)
        if value is not None and not _PHONE.fullmatch(value):
            self._fail(name, f"{name} must be digits or E.164 (+ then digits)", value)
            return None
        return value

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None, bits: int = 32
    ) -> int | None:
        """A 32-bit (or ``bits``-bit) integer parameter, optionally with a lower bound."""
        value = self.text(name, required=required)
        if value is None:
            return None
        low, high = _RANGES[bits]
        if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
            self._fail(name, f"{name} must be a {bits}-bit integer", value)
            return None
        number = int(value)
        if minimum is not None and number < minimum:
            self._fail(name, f"{name} must be at least {minimum}", value)
            return None
        return number

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A boolean parameter: ``true`` or ``false`` (any case)."""
        value = self.text(name, required=required)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            self._fail(name, f"{name} must be true or false", value)
            return None
        return value.lower() == "true"

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        """One of a fixed set of names (case-sensitive, as the API's enums are)."""
        value = self.text(name, required=required)
        if value is not None and value not in choices:
            self._fail(name, f"{name} must be one of {', '.join(choices)}", value)
            return None
        return value

    def timestamp(self, name: str, *, required: bool = False) -> str | None:
        """A ``yyyyMMddHHmmss`` date-time, returned as sent."""
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            if not _DTS.fullmatch(value):
                raise ValueError(value)
            datetime.strptime(value, "%Y%m%d%H%M%S")
        except ValueError:
            self._fail(name, f"{name} must be a date-time as yyyyMMddHHmmss", value)
            return None
        return value
