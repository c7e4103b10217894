"""Bodies that break the documented shape, for the malformed-response fault."""

from __future__ import annotations

import json
from collections.abc import Callable

_HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1></body></html>"
)

# For each response kind: a body of the wrong shape, then one with fields of the wrong type.
_WRONG_SHAPE = {
    "action": b'{"result":true}',
    "queue": b'[{"status":true,"reason":"ok"}]',
    "auth": b'["accessToken"]',
}
_WRONG_TYPES = {
    "action": b"yes",
    "queue": b'{"status":"maybe","reason":42}',
    "auth": b'{"accessToken":42,"refreshToken":null,"tokenType":7}',
}
_BAD_ROW = {"uii": 42, "accountId": 12440001, "archive": "maybe", "enqueueTime": [2026, 11]}

VARIANTS = ("truncated", "html", "wrong_shape", "wrong_types", "empty")


def _list_shape(body: bytes) -> bytes:
    rows = json.loads(body)
    return json.dumps({"calls": rows, "total": len(rows)}).encode()


def _list_types(body: bytes) -> bytes:
    rows = json.loads(body) or [{}]
    return json.dumps([{**row, **_BAD_ROW} for row in rows]).encode()


def malformed(kind: str, body: bytes, choose: Callable[[int], int]) -> tuple[bytes, str, str]:
    """Return (body, content type, variant name) for a 200 whose body is not documented."""
    variant = VARIANTS[choose(len(VARIANTS))]
    if variant == "truncated":
        # Any strict prefix of a JSON document (or of true/false) fails to parse.
        content_type = "text/plain" if kind == "action" else "application/json"
        return body[: max(1, len(body) // 2)], content_type, variant
    if variant == "html":
        return _HTML, "text/html", variant
    if variant == "empty":
        return b"", "application/json", variant
    if kind == "list":
        shaped = _list_shape(body) if variant == "wrong_shape" else _list_types(body)
        return shaped, "application/json", variant
    table = _WRONG_SHAPE if variant == "wrong_shape" else _WRONG_TYPES
    content_type = "text/plain" if table[kind] == b"yes" else "application/json"
    return table[kind], content_type, variant
