"""Pure helpers that strip credentials from text before it reaches a log or an error."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["excerpt", "redact", "redact_url"]

#: How much of a response body an error keeps.
EXCERPT_CHARS = 500

_SECRET_KEYS = (
    r"access_?token|refresh_?token|rcAccessToken|id_token|token|assertion|client_secret"
    r"|password|jwt|secret|apiToken|x-auth-token|authorization"
)
# `"key": "value"` in JSON and `key=value` in forms and query strings.
_JSON_SECRET = re.compile(rf'("(?:{_SECRET_KEYS})"\s*:\s*)"[^"]*"', re.IGNORECASE)
_FORM_SECRET = re.compile(rf"\b((?:{_SECRET_KEYS})=)[^&\s]*", re.IGNORECASE)
# Anything shaped like a JWT, wherever it appears.
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_BEARER = re.compile(r"(Bearer\s+)[\w.~+/=-]+", re.IGNORECASE)
# `X-Auth-Token: value` as a header line, and `user:password@` inside a URL.
_HEADER_SECRET = re.compile(
    r"((?:x-auth-token|authorization)\s*:\s*)(?:(?:Bearer|Basic)\s+)?[^\s,;]+", re.IGNORECASE
)
_USERINFO = re.compile(r"(//)[^/\s@]+@")


def redact(text: str) -> str:
    """Replace token-like values in ``text`` with ``***``."""
    text = _JSON_SECRET.sub(r'\1"***"', text)
    text = _FORM_SECRET.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    text = _HEADER_SECRET.sub(r"\1***", text)
    text = _USERINFO.sub(r"\1", text)
    return _JWT.sub("***", text)


def redact_url(url: str) -> str:
    """Drop any user:password part and token-like query values from ``url``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return redact(urlunsplit(parts._replace(netloc=netloc)))


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A redacted, bounded, printable excerpt of a response body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = redact(text.strip())
    return text if len(text) <= limit else text[:limit] + "…"
