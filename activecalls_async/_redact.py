"""Pure helpers that strip credentials from text before it reaches a log or an error."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["excerpt", "mask", "redact", "redact_url", "sent_secrets"]

#: How much of a response body an error keeps.
EXCERPT_CHARS = 500
#: Shorter credential values are not masked: they could be ordinary words of a message.
MIN_SECRET_CHARS = 8

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


def sent_secrets(headers: Mapping[str, str], *values: str) -> frozenset[str]:
    """The credential values a request carried, as a server could echo them back.

    ``headers`` are credential headers (``Authorization: Bearer <token>``, ``X-Auth-Token``)
    and ``values`` other secrets sent, such as a login form's tokens. Each is kept whole,
    without its ``Bearer``/``Basic`` scheme, and percent-encoded as a form would send it.
    """
    found: set[str] = set()
    for value in (*headers.values(), *values):
        scheme, _, rest = value.partition(" ")
        for secret in (value, rest if scheme.lower() in ("bearer", "basic") else ""):
            if len(secret) >= MIN_SECRET_CHARS:
                found.update((secret, quote(secret, safe=""), quote(secret, safe="/")))
    return frozenset(found)


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace each credential in ``secrets`` with ``***``, in any case, and any echo of
    its first ``MIN_SECRET_CHARS`` or more characters.

    Opaque tokens have no recognisable shape, so ``redact`` cannot find them when a
    server echoes one back; the values actually sent can be found. A server may quote
    a token cut short (``Invalid token abcd1234...``) or change its case, so a prefix
    of at least ``MIN_SECRET_CHARS`` characters counts, in any case. A value holding a
    space (``Bearer <token>``) is masked only whole: its own prefix is a common word.
    """
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        if len(secret) < MIN_SECRET_CHARS:
            continue
        if any(c.isspace() for c in secret):
            found = re.finditer(re.escape(secret), text, re.IGNORECASE)
            spans.extend(match.span() for match in found)
            continue
        head = re.escape(secret[:MIN_SECRET_CHARS])
        for match in re.finditer(head, text, re.IGNORECASE):
            end, matched = match.end(), MIN_SECRET_CHARS
            # Extend the echo while it goes on matching the secret.
            while (
                matched < len(secret)
                and end < len(text)
                and text[end].lower() == secret[matched].lower()
            ):
                end, matched = end + 1, matched + 1
            spans.append((match.start(), end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:  # overlapping echoes become one mask
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    pieces, position = [], 0
    for start, end in merged:
        pieces += [text[position:start], "***"]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace ``secrets`` and token-like values in ``text`` with ``***``."""
    text = mask(text, secrets)
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


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS, secrets: Iterable[str] = ()) -> str:
    """A redacted, bounded, printable excerpt of a response body (masked before it is cut)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = redact(text.strip(), secrets)
    return text if len(text) <= limit else text[:limit] + "…"
