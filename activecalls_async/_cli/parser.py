"""The ``activecalls`` command line: its parser (the subcommands are in :mod:`.subcommands`).

Usage errors are one line on stderr (exit status 2) in which no argument that looks like a
credential, or follows an option that looks like a credential's (``--tokn SECRET``), is
ever echoed (see :func:`hidden_arguments`), nor the password of a URL
(``--redis-urll redis://:PW@host``): they are masked by the SDK's one rule
(:func:`.failures.scrub`).
"""

from __future__ import annotations

import argparse
import contextvars
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import __version__
from .._environ import Env
from .._redact import MIN_SECRET_CHARS
from .failures import scrub
from .helptext import HelpFormatter, RawHelpFormatter
from .output import ACTION_FORMATS, FORMATS
from .subcommands import (
    FORMAT_CHOICES,
    SIM_CALLS,
    SIM_SEED,
    add_commands,
    add_connection,
    add_format,
)

__all__ = ["HelpFormatter", "Parser", "build_parser", "hidden_arguments"]

_EPILOG = f"""\
Configuration: flags, or the environment variables {Env.BASE_URL},
{Env.ACCOUNT_ID}, {Env.TIMEOUT} and the credentials: {Env.TOKEN}
(bearer), {Env.API_TOKEN} (legacy X-Auth-Token), or a RingCentral login:
{Env.RC_JWT} with {Env.RC_CLIENT_ID} and {Env.RC_CLIENT_SECRET}, or
{Env.RC_ACCESS_TOKEN} ({Env.RC_SERVER} and {Env.AUTH_URL} optional).
{Env.REDIS_URL} (and {Env.FLEET_KEY}) joins a fleet; {Env.LOG}=info or
debug logs the SDK's work on stderr, as -v and -vv do.
With no credential configured, commands stop with status 2; --simulator (or
{Env.SIMULATOR}=1) runs them against an embedded simulator instead, and every
output then says it is simulated.
Exit status: 0 ok (also when the reader of stdout goes away, as in '| head'),
1 the request failed, 2 bad input or no configuration, 130 interrupted
(143: simulator stopped by SIGTERM)."""

#: Words that make an option name look like it carries a credential (``--tokn``,
#: ``--client-secret``, ``--jwt``): the argument after it is never echoed.
_SECRET_WORDS = ("tok", "secret", "jwt", "pass", "auth", "bearer", "cred", "key")
#: The credential options' names, for near misses that share no word (``--tkoen``).
_SECRET_NAMES = ("token", "apitoken", "secret", "jwt", "password")
#: A JWT, or one long word mixing letters and digits with no space, ``@`` or ``:`` in it.
_TOKEN_SHAPE = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*|(?=[\w.~+/=-]*\d)(?=[\w.~+/=-]*[A-Za-z])[\w.~+/=-]{20,}"
)
_HIDDEN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "activecalls_hidden_arguments", default=()
)
#: The arguments the parser at work was given (a subcommand's parser gets its own).
_ARGV: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "activecalls_arguments", default=()
)


def _secret_option(word: str) -> bool:
    """Whether ``word`` (``--tokn``, ``--client-secret=x``) names a credential-like option."""
    if not word.startswith("-"):
        return False
    name = word.lstrip("-").partition("=")[0].lower()
    compact = name.replace("-", "").replace("_", "")
    if not compact:
        return False
    if any(part in compact for part in _SECRET_WORDS):
        return True
    # 0.75: a swap or a dropped letter (tkoen, secert, jtw is not) but not --seed or --sort.
    return any(difflib.SequenceMatcher(None, compact, n).ratio() >= 0.75 for n in _SECRET_NAMES)


def hidden_arguments(argv: Sequence[str]) -> list[str]:
    """The arguments no message may echo: each one after a credential-like option, the
    value of ``--credential-like=value``, and every argument shaped like a token."""
    hidden: list[str] = []
    follows_secret = False
    for word in argv:
        option, eq, value = word.partition("=")
        if follows_secret:
            hidden.append(word)
        elif eq and _secret_option(option):
            hidden.append(value)
        if word.startswith("-"):
            if eq and _TOKEN_SHAPE.fullmatch(value):
                hidden.append(value)
        elif _TOKEN_SHAPE.fullmatch(word):
            hidden.append(word)
        follows_secret = not eq and _secret_option(word)
    # Shorter values are left alone, as everywhere: they would mask ordinary words.
    return [value for value in dict.fromkeys(hidden) if len(value) >= MIN_SECRET_CHARS]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2), with
    credential-like arguments masked (:func:`hidden_arguments`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, remembering which arguments error messages must mask."""
        argv = list(sys.argv[1:] if args is None else args)
        token = _HIDDEN.set((*_HIDDEN.get(), *hidden_arguments(argv)))
        given = _ARGV.set(tuple(argv))
        try:
            return super().parse_known_args(argv, namespace)
        finally:
            _ARGV.reset(given)
            _HIDDEN.reset(token)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse as argparse does; unrecognised arguments are reported with secrets masked."""
        argv = list(sys.argv[1:] if args is None else args)
        token = _HIDDEN.set((*_HIDDEN.get(), *hidden_arguments(argv)))
        try:
            return super().parse_args(argv, namespace)
        finally:
            _HIDDEN.reset(token)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and a hint, on one line, and exit 2."""
        if "invalid choice" in message:
            message = self._stray_option(message) or message
        message = scrub(message, _HIDDEN.get())
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")

    def _stray_option(self, message: str) -> str | None:
        """An option this parser does not know, said as such, when argparse took the value
        after it for the command (``invalid choice``), which hides the cause."""
        rejected = re.search(r"invalid choice: '(.*?)'", message)
        argv = _ARGV.get()
        for at, word in enumerate(argv[:-1]):
            option = word.partition("=")[0]
            if (
                rejected is not None
                and word.startswith("-")
                and "=" not in word
                and option not in self._option_string_actions
                and argv[at + 1] == rejected.group(1)
            ):
                return f"unrecognized arguments: {word} {argv[at + 1]}"
        return None


class _RootParser(Parser):
    """The ``activecalls`` parser: also settles ``-f/--format``, which may come before the
    command (``activecalls -f json hold on @1``) or after it."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse, then give ``--format`` the command's default or check it fits the command."""
        parsed, extras = super().parse_known_args(args, namespace)
        choices = vars(parsed).pop(FORMAT_CHOICES, None)
        given = getattr(parsed, "format", None)
        if choices is None:
            if given is not None and parsed.command is not None:
                self.error(f"argument -f/--format: '{parsed.command}' takes no --format")
        elif given is None:
            parsed.format = choices[0]
        elif given not in choices:
            wanted = ", ".join(repr(c) for c in choices)
            self.error(
                f"argument -f/--format: invalid choice for '{parsed.command}': {given!r} "
                f"(choose from {wanted})"
            )
        return parsed, extras


def build_parser() -> Parser:
    """The parser for ``activecalls`` and its subcommands."""
    common = Parser(add_help=False)
    add_connection(common)
    acting = Parser(add_help=False, parents=[common])
    add_format(acting, ACTION_FORMATS)
    parser = _RootParser(
        prog="activecalls",
        description="Work with the RingCX Active Calls API from the command line.",
        epilog=_EPILOG,
        formatter_class=RawHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_connection(parser)
    parser.add_argument(
        "-f",
        "--format",
        choices=tuple(dict.fromkeys((*FORMATS, *ACTION_FORMATS))),
        default=argparse.SUPPRESS,
        help="output format, before or after the command (each command's --help lists its own)",
    )
    # Not required: a bare ``activecalls`` prints the help instead of a usage error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_commands(commands, common, acting)
    parser.set_defaults(sim_calls=SIM_CALLS, sim_seed=SIM_SEED)
    return parser
