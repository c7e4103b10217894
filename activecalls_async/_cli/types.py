"""Argument types: turn one command-line word into a checked value or a one-line usage error."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from .. import _validators as check
from ..errors import ValidationError
from ..models import Product, SessionType

__all__ = [
    "ACCOUNT_ID_PROBLEM",
    "account_id",
    "call_handle",
    "callback_time",
    "columns",
    "fraction",
    "non_negative_float",
    "non_negative_int",
    "non_negative_seconds",
    "phone",
    "port",
    "positive_int",
    "seconds",
    "session_type",
    "target",
    "uii",
    "username",
]

_T = TypeVar("_T")

#: What is wrong with an account id that is not digits: the same words from the flag
#: (``--account-id``), the variable (``ACTIVECALLS_ACCOUNT_ID``) and every command.
ACCOUNT_ID_PROBLEM = "expected the numeric RingCX account id (digits, e.g. 12440001)"

#: A handle from ``activecalls top``: ``@3`` (see :mod:`.handles`).
_HANDLE = re.compile(r"@([1-9][0-9]{0,8})")


def _checked(check: Callable[[str], _T], text: str) -> _T:
    """Run an SDK validator; its ValidationError becomes argparse's one-line error."""
    try:
        return check(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None


def target(text: str) -> tuple[Product, int | None]:
    """``NAME[:ID]``: a product name (any case) and, optionally, its numeric id."""
    name, sep, ident = text.partition(":")
    product = _checked(lambda t: check.enum_member("product", t, Product), name)
    if not sep:
        return product, None
    if not ident:
        raise argparse.ArgumentTypeError(f"expected NAME[:ID]; got {text!r}")
    return product, int(_checked(lambda t: check.identifier("productId", t), ident))


def account_id(text: str) -> str:
    """A RingCX account id: digits (a stray space or newline around them is forgiven)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{ACCOUNT_ID_PROBLEM}; got {text!r}")
    return digits


def call_handle(text: str) -> str:
    """A uii, a handle ``@N`` or the start of a uii of the handle table; checked as a uii
    path segment, resolved when the command runs."""
    if _HANDLE.fullmatch(text):
        return text
    return uii(text)


def columns(text: str) -> tuple[str, ...]:
    """``uii,state,wait``: column names from the call table's set, in order, each once."""
    from .output import CALL_COLUMN_KEYS

    keys = tuple(key.strip().lower() for key in text.split(",") if key.strip())
    unknown = [key for key in keys if key not in CALL_COLUMN_KEYS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown column {unknown[0]!r}; choose from {','.join(CALL_COLUMN_KEYS)}"
            if unknown
            else "expected at least one column name"
        )
    return tuple(dict.fromkeys(keys))


def uii(text: str) -> str:
    """A call's uii (one URL path segment; ``../`` and friends are refused)."""
    return _checked(lambda t: check.path_segment("uii", t), text)


def phone(text: str) -> str:
    """A phone number: digits or E.164."""
    return _checked(lambda t: check.phone_number("phone", t), text)


def username(text: str) -> str:
    """An agent's user name (no whitespace)."""
    return _checked(lambda t: check.username("username", t), text)


def session_type(text: str) -> SessionType:
    """MONITOR, BARGEIN or COACHING (any case)."""
    return _checked(lambda t: check.enum_member("session_type", t, SessionType), text)


def _int(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number >= {minimum}; got {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number of 1 or more."""
    return _int(text, 1)


def non_negative_int(text: str) -> int:
    """A whole number of 0 or more."""
    return _int(text, 0)


def port(text: str) -> int:
    """A TCP port, 0 meaning "any free port"."""
    value = _int(text, 0)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535; got {value}")
    return value


def _seconds(text: str, *, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds; got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise argparse.ArgumentTypeError(f"expected a number of seconds {bound}; got {text!r}")
    return value


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    return _seconds(text, allow_zero=False)


def non_negative_float(text: str) -> float:
    """A finite number, 0 or more (a rate, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {text!r}")
    return value


def fraction(text: str) -> float:
    """A share from 0 to 1."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1; got {text!r}")
    return value


def non_negative_seconds(text: str) -> float:
    """A finite number of seconds, 0 or more."""
    return _seconds(text, allow_zero=True)


def callback_time(text: str) -> datetime:
    """A wall-clock time: ``yyyyMMddHHmmss`` (the API's form) or ISO 8601 (``2026-12-01T15:30``)."""
    text = text.strip()
    formats: list[Callable[[str], Any]] = [
        lambda t: datetime.strptime(t, "%Y%m%d%H%M%S"),
        datetime.fromisoformat,
    ]
    for parse in formats:
        try:
            value: datetime = parse(text)
        except ValueError:
            continue
        return value
    raise argparse.ArgumentTypeError(
        f"expected yyyyMMddHHmmss or an ISO time such as 2026-12-01T15:30; got {text!r}"
    )
