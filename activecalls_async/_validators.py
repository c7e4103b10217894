"""Pure checks that turn one Python argument into its wire text or raise ValidationError.

Most checks follow the API's documented types (int32/int64 numbers, enums, phone
numbers, ``yyyyMMddHHmmss`` times). The SDK's own rules, which the API does not
document, are each marked "SDK rule" below and listed in ``docs/concepts/operations.md``.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
import ssl
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from ._redact import redact_url
from .errors import ValidationError
from .models import Product, SessionType

__all__ = [
    "base_url",
    "boolean",
    "callback_time",
    "count",
    "enum_member",
    "finite_number",
    "header_text",
    "identifier",
    "integer",
    "is_loopback",
    "is_utf8",
    "non_negative_int",
    "on_off",
    "optional_seconds",
    "path_segment",
    "phone_number",
    "positive_int",
    "product",
    "ring_duration",
    "seconds",
    "session_id",
    "session_type",
    "text",
    "tls",
    "tls_off",
    "username",
]

_E = TypeVar("_E", bound=enum.Enum)
_PHONE = re.compile(r"\+?[0-9]{3,15}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_USERNAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,254}")
_SEGMENT = re.compile(r"[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}")
_DTS = re.compile(r"[0-9]{14}")
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
# Printable ASCII but space: anything else in a base URL is sent raw or mangled.
_URL_CHARS = re.compile(r"[\x21-\x7e]+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


# Ints are bounded by the widest the API takes (int64): the server judges narrower
# ranges, but a number beyond any of them (10**5000 cannot even be printed) is refused.
def _is_int(value: Any, maximum: int = _INT64_MAX) -> bool:
    """An int (not a bool) no larger than ``maximum``: a huge one could not even be printed."""
    return isinstance(value, int) and not isinstance(value, bool) and value <= maximum


def is_utf8(value: str) -> bool:
    """Whether ``value`` can be sent as UTF-8 (a lone surrogate cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def enum_member(name: str, value: Any, cls: type[_E]) -> _E:
    """Return the member of ``cls`` that ``value`` is or names (any case)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls[value.strip().upper()]
        except KeyError:
            pass
    choices = ", ".join(m.name for m in cls)
    raise ValidationError(name, f"expected one of {choices}; got {_show(value)}")


def product(name: str, value: Any) -> str:
    """A ``Product`` or its name."""
    return enum_member(name, value, Product).value


def session_type(name: str, value: Any) -> str:
    """A ``SessionType`` or its name."""
    return enum_member(name, value, SessionType).value


def identifier(name: str, value: Any) -> str:
    """A numeric id: a non-negative int64 or a string of digits."""
    if _is_int(value, _INT64_MAX) and value >= 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return value.strip()
    raise ValidationError(name, f"expected a numeric id (int or digit string); got {_show(value)}")


def integer(name: str, value: Any) -> str:
    """Any 64-bit int (not a bool)."""
    if _is_int(value) and value >= -_INT64_MAX - 1:
        return str(value)
    raise ValidationError(name, f"expected a 64-bit int; got {_show(value)}")


def non_negative_int(name: str, value: Any) -> str:
    """A 64-bit int of 0 or more."""
    if _is_int(value) and value >= 0:
        return str(value)
    raise ValidationError(name, f"expected an int >= 0; got {_show(value)}")


def positive_int(name: str, value: Any) -> str:
    """A 64-bit int of 1 or more."""
    if _is_int(value) and value >= 1:
        return str(value)
    raise ValidationError(name, f"expected an int >= 1; got {_show(value)}")


def ring_duration(name: str, value: Any) -> str:
    """Seconds to ring: a positive int32, as the spec types it (no ceiling of its own)."""
    if _is_int(value, _INT32_MAX) and value >= 1:
        return str(value)
    raise ValidationError(name, f"expected whole seconds >= 1 (32-bit); got {_show(value)}")


def _show(value: Any) -> str:
    """``repr(value)``, short, for a message: a huge int has no printable repr."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def boolean(name: str, value: Any) -> str:
    """A real ``bool``, sent as ``true``/``false`` (a truthy string is a mistake)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    raise ValidationError(name, f"expected True or False; got {_show(value)}")


def on_off(name: str, value: Any) -> str:
    """A real ``bool``, sent as ``ON``/``OFF`` (the hold state's enum)."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    raise ValidationError(name, f"expected True or False; got {_show(value)}")


def phone_number(name: str, value: Any) -> str:
    """Digits (``6501234567``) or E.164 (``+15554150123``)."""
    if isinstance(value, str) and _PHONE.fullmatch(value):
        return value
    raise ValidationError(
        name, f"expected a phone number of digits or E.164 (+15554150123); got {_show(value)}"
    )


def username(name: str, value: Any) -> str:
    """A non-empty user name without whitespace, control characters or lone surrogates."""
    if isinstance(value, str) and _USERNAME.fullmatch(value) and is_utf8(value):
        return value
    raise ValidationError(
        name, f"expected a non-empty user name without spaces; got {_show(value)}"
    )


def text(name: str, value: Any, *, max_length: int = 255) -> str:
    """Non-blank UTF-8 text of at most ``max_length`` characters (the length is an SDK rule)."""
    if isinstance(value, str) and value.strip() and len(value) <= max_length:
        if is_utf8(value):
            return value
        raise ValidationError(name, "is not valid text (it holds a lone surrogate)")
    raise ValidationError(name, f"expected non-blank text of at most {max_length} characters")


def session_id(name: str, value: Any) -> str:
    """A session id: a non-negative int64, or non-blank text of at most 128 characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        return identifier(name, value)
    return text(name, value, max_length=128)


def callback_time(name: str, value: Any) -> str:
    """A ``datetime`` (its wall-clock time, years 1000-9999) or a ``yyyyMMddHHmmss`` string."""
    if isinstance(value, datetime):
        if value.year < 1000:  # %Y would print fewer than 4 digits
            raise ValidationError(name, f"the year must have four digits; got {value.year}")
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, str) and _DTS.fullmatch(value):
        try:
            datetime.strptime(value, "%Y%m%d%H%M%S")
        except ValueError:
            pass
        else:
            return value
    raise ValidationError(
        name, f"expected a datetime or a yyyyMMddHHmmss string; got {_show(value)}"
    )


def path_segment(name: str, value: Any) -> str:
    """Text that stays one URL path segment: no ``/ ? # %``, whitespace or ``..``."""
    if _is_int(value, _INT64_MAX) and value >= 0:
        value = str(value)
    if isinstance(value, str) and _SEGMENT.fullmatch(value) and ".." not in value:
        return value
    raise ValidationError(
        name, f"expected an id of letters, digits, '-', '_', ':' or '.'; got {_show(value)}"
    )


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float, or None for anything else (bools, NaN, inf, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def count(name: str, value: Any, *, minimum: int, allow_none: bool = False) -> None:
    """Raise ValidationError unless ``value`` is an int >= ``minimum`` (or an allowed None)."""
    if value is None and allow_none:
        return
    if not _is_int(value, _INT64_MAX) or value < minimum:
        raise ValidationError(name, f"expected an int >= {minimum}; got {_show(value)}")


def optional_seconds(name: str, value: Any) -> float | None:
    """None (no limit), or a finite number of seconds > 0."""
    return None if value is None else seconds(name, value)


def seconds(name: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """A finite number of seconds above ``minimum`` (or at least it, when ``inclusive``)."""
    number = finite_number(value)
    if number is None or number < minimum or (number == minimum and not inclusive):
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ValidationError(name, f"expected a finite number {bound}; got {_show(value)}")
    return number


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's hostname) names this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address: "127.example.com" is not loopback
        return False


def base_url(name: str, value: Any, *, allow_insecure_http: bool = False) -> str:
    """An http(s) root URL without trailing slash, that requests can be appended to.

    Refused: other schemes, credentials (``user:pw@``), any ``?`` or ``#`` (a path
    appended to them would land in the query or fragment), whitespace, control and
    non-ASCII characters, malformed ``%`` escapes, and plain ``http://`` to a host
    other than this machine unless ``allow_insecure_http``.
    """
    if not isinstance(value, str):
        raise ValidationError(name, f"expected a URL string; got {type(value).__name__}")
    url = value.strip()
    try:
        parts = urlsplit(url)
        shown = redact_url(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:  # a broken [IPv6] host or port
        raise ValidationError(name, "expected an http(s) URL with a valid host and port") from None
    if url and not _URL_CHARS.fullmatch(url):
        raise ValidationError(
            name,
            "must not contain whitespace, control or non-ASCII characters (percent-encode them)",
        )
    if "?" in url or "#" in url:
        raise ValidationError(name, "must not carry a query string or fragment ('?' or '#')")
    if _BAD_ESCAPE.search(url):
        raise ValidationError(name, f"has a '%' that is not a %XX escape; got {shown!r}")
    if "@" in parts.netloc:
        raise ValidationError(name, "must not carry credentials (user:password@)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(name, f"expected an http(s) URL; got {shown!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise ValidationError(
            name,
            "plain http:// to a non-loopback host would send credentials in clear text; "
            "use https:// or pass allow_insecure_http=True",
        )
    return url.rstrip("/")


def tls(name: str, value: Any) -> ssl.SSLContext | Literal[False] | None:
    """``None`` (verify against the system's CAs), an ``ssl.SSLContext``, or ``False``
    (aiohttp's own spelling of "do not verify")."""
    if value is None or value is False or isinstance(value, ssl.SSLContext):
        return value
    raise ValidationError(name, "expected an ssl.SSLContext, False (no verification) or None")


def tls_off(value: ssl.SSLContext | Literal[False] | None) -> str | None:
    """Why a checked ``tls`` value does not verify the server, or None when it does."""
    if value is False:
        return "ssl_context=False"
    if value is not None and (value.verify_mode == ssl.CERT_NONE or not value.check_hostname):
        return f"verify_mode={value.verify_mode.name}, check_hostname={value.check_hostname}"
    return None


def header_text(name: str, value: Any) -> str:
    """Text that fits on one header line: no CR, LF or NUL."""
    if isinstance(value, str) and not any(c in value for c in "\r\n\0"):
        return value
    raise ValidationError(name, "expected text on one line (no CR, LF or NUL)")
