"""Turn any failure into one secret-free line on stderr and an exit status."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .._environ import Env
from .._redact import mask, redact
from ..errors import ActiveCallsError, ValidationError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "Refused",
    "UsageError",
    "cli_words",
    "describe",
    "scrub",
]

EXIT_OK = 0
#: The request failed (or the server said no).
EXIT_FAILED = 1
#: Bad input (argparse uses 2 for usage errors too).
EXIT_USAGE = 2
#: Interrupted by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: ``activecalls simulator`` stopped by SIGTERM (128 + SIGTERM), as a shell reports it.
EXIT_TERMINATED = 143

#: The SDK's parameter names and the command line's words for them: messages name what
#: the user typed (``--allow-insecure-http``), not a Python argument.
_CLI_WORDS = {
    "allow_insecure_http": "--allow-insecure-http",
    "base_url": "--base-url",
    "account_id": "--account-id",
    "page_size": "--page-size",
    "max_rows": "--page-size",
    "timeout": "--timeout",
    "ring_duration": "--ring-duration",
    "caller_id": "--caller-id",
    "callback_at": "--callback-at",
    "session_type": "--type",
    "max_queued": "--max-queued",
    "max_calls_queued": "--max-calls-queued",
    "destination_number": "NUMBER",
    "product_id": "--product NAME:ID",
    "rc_server": Env.RC_SERVER,
    "auth_url": Env.AUTH_URL,
}
_PYTHON_WORD = re.compile(
    r"\b(" + "|".join(sorted(_CLI_WORDS, key=len, reverse=True)) + r")\b(?:=(?:True|False))?"
)


def cli_words(text: str) -> str:
    """``text`` with the SDK's parameter names (``allow_insecure_http=True``) replaced by the
    command line's flags (``--allow-insecure-http``)."""
    return _PYTHON_WORD.sub(lambda m: _CLI_WORDS[m.group(1)], text)


class UsageError(Exception):
    """The command line or configuration cannot work: printed as is, exit status 2."""


class Refused(Exception):
    """Refused before anything was sent (a handle whose call has ended): printed as is,
    exit status 1."""


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` on one line, with every configured secret and token-like value masked
    (the SDK's own rules: ``activecalls_async._redact.mask`` and ``redact``)."""
    return " ".join(redact(mask(text, secrets)).split())


def describe(exc: BaseException, secrets: Sequence[str]) -> tuple[str, int]:
    """The one-line message and the exit status for an exception that ended a command."""
    if isinstance(exc, UsageError):
        message, status = str(exc), EXIT_USAGE
    elif isinstance(exc, Refused):
        message, status = str(exc), EXIT_FAILED
    elif isinstance(exc, ValidationError):
        message, status = cli_words(f"invalid {exc.parameter}: {exc.problem}"), EXIT_USAGE
    elif isinstance(exc, ActiveCallsError):
        message, status = str(exc) or type(exc).__name__, EXIT_FAILED
    elif isinstance(exc, OSError):
        # Reached when the embedded simulator cannot bind its port, for example.
        message, status = str(exc) or type(exc).__name__, EXIT_FAILED
    else:
        message, status = f"unexpected {type(exc).__name__}: {exc}", EXIT_FAILED
    return f"activecalls: error: {scrub(message, secrets)}", status
