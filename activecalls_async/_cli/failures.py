"""Turn any failure into one secret-free line on stderr and an exit status."""

from __future__ import annotations

from collections.abc import Sequence

from .._redact import redact
from ..errors import ActiveCallsError, ValidationError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "describe"]

EXIT_OK = 0
#: The request failed (or the server said no).
EXIT_FAILED = 1
#: Bad input (argparse uses 2 for usage errors too).
EXIT_USAGE = 2
#: Interrupted by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` on one line, with every configured secret and token-like value masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return " ".join(redact(text).split())


def describe(exc: BaseException, secrets: Sequence[str]) -> tuple[str, int]:
    """The one-line message and the exit status for an exception that ended a command."""
    if isinstance(exc, ValidationError):
        message, status = f"invalid {exc.parameter}: {exc.problem}", EXIT_USAGE
    elif isinstance(exc, ActiveCallsError):
        message, status = str(exc) or type(exc).__name__, EXIT_FAILED
    elif isinstance(exc, OSError):
        # Reached when the embedded simulator cannot bind its port, for example.
        message, status = str(exc) or type(exc).__name__, EXIT_FAILED
    else:
        message, status = f"unexpected {type(exc).__name__}: {exc}", EXIT_FAILED
    return f"activecalls: error: {scrub(message, secrets)}", status
