"""The ``activecalls`` command line: every subcommand, its arguments and its help.

Usage errors are one line on stderr (exit status 2) in which no argument that looks like a
credential, or follows an option that looks like a credential's (``--tokn SECRET``), is
ever echoed: see :func:`hidden_arguments`.
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
from ..retry import RetryPolicy
from . import types
from .output import ACTION_FORMATS, CALL_COLUMN_KEYS, FORMATS

__all__ = ["HelpFormatter", "Parser", "build_parser", "hidden_arguments", "mask_arguments"]

#: The embedded simulator's size and seed when commands run without a configured account.
SIM_CALLS = 2000
SIM_SEED = 7

_EPILOG = """\
Configuration: flags, or the environment variables ACTIVECALLS_BASE_URL,
ACTIVECALLS_ACCOUNT_ID, ACTIVECALLS_TIMEOUT and the credentials: ACTIVECALLS_TOKEN
(bearer), ACTIVECALLS_API_TOKEN (legacy X-Auth-Token), or a RingCentral login:
ACTIVECALLS_RC_JWT with ACTIVECALLS_RC_CLIENT_ID and ACTIVECALLS_RC_CLIENT_SECRET, or
ACTIVECALLS_RC_ACCESS_TOKEN (ACTIVECALLS_RC_SERVER and ACTIVECALLS_AUTH_URL optional).
ACTIVECALLS_REDIS_URL (and ACTIVECALLS_FLEET_KEY) joins a fleet; ACTIVECALLS_LOG=info or
debug logs the SDK's work on stderr, as -v and -vv do.
With no credential configured, commands stop with status 2; --simulator (or
ACTIVECALLS_SIMULATOR=1) runs them against an embedded simulator instead, and every
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
#: Shorter hidden values are left alone: they would mask ordinary words of a message.
_MIN_HIDDEN_CHARS = 4

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
    return [value for value in dict.fromkeys(hidden) if len(value) >= _MIN_HIDDEN_CHARS]


def mask_arguments(text: str, hidden: Sequence[str]) -> str:
    """``text`` with each hidden argument masked as ``***`` wherever it occurs."""
    for value in sorted(set(hidden), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option that has a default worth showing and does
    not already state it; a flag's True or False never is (its help says what happens
    without it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or isinstance(default, bool)
            or default == argparse.SUPPRESS
            or action.option_strings == []
            or isinstance(action, (argparse._HelpAction, argparse._VersionAction))
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


class _TopHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The top-level help: its epilog is laid out by hand."""


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
        message = " ".join(mask_arguments(message, _HIDDEN.get()).split())
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


def _connection(parser: argparse.ArgumentParser) -> None:
    """The options that say where requests go; SUPPRESS lets them go before or after the command."""
    group = parser.add_argument_group("connection (default: ACTIVECALLS_* variables)")
    hide = argparse.SUPPRESS
    group.add_argument(
        "--base-url",
        default=hide,
        metavar="URL",
        help="API base URL (default: ACTIVECALLS_BASE_URL, else RingCX's)",
    )
    group.add_argument(
        "--account-id",
        type=types.account_id,
        default=hide,
        metavar="ID",
        help="RingCX account id, digits (default: ACTIVECALLS_ACCOUNT_ID)",
    )
    group.add_argument(
        "--token", default=hide, help="RingCX access token (prefer ACTIVECALLS_TOKEN)"
    )
    group.add_argument(
        "--api-token",
        default=hide,
        metavar="TOKEN",
        help="legacy API token (prefer ACTIVECALLS_API_TOKEN)",
    )
    group.add_argument(
        "--timeout",
        type=types.seconds,
        default=hide,
        metavar="SECONDS",
        help="per request (default: ACTIVECALLS_TIMEOUT, else 30)",
    )
    group.add_argument(
        "--retries",
        type=types.non_negative_int,
        default=hide,
        metavar="N",
        help="retry a failed request up to N times "
        f"(default: {RetryPolicy().max_attempts - 1}; 0: never)",
    )
    group.add_argument(
        "--redis-url",
        default=hide,
        metavar="URL",
        help="share the rate limit and login with a fleet through Redis "
        "(prefer ACTIVECALLS_REDIS_URL; key: ACTIVECALLS_FLEET_KEY)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=hide,
        help="allow a plain http:// base URL that is not loopback",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=hide,
        help="log the SDK's work on stderr: -v requests and retries, -vv everything",
    )
    sim = parser.add_argument_group("embedded simulator (--simulator, or ACTIVECALLS_SIMULATOR=1)")
    sim.add_argument(
        "--simulator",
        action="store_true",
        default=hide,
        help="run against a simulated account on 127.0.0.1, not a real one",
    )
    sim.add_argument(
        "--sim-calls",
        type=types.non_negative_int,
        default=hide,
        metavar="N",
        help=f"calls in flight (default: {SIM_CALLS})",
    )
    sim.add_argument(
        "--sim-seed",
        type=int,
        default=hide,
        metavar="SEED",
        help=f"random seed (default: {SIM_SEED})",
    )


def _format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS) -> None:
    parser.add_argument("-f", "--format", choices=choices, default=choices[0], help="output format")


_TABLE_COLUMNS = "uii, state, enqueued, answered, agent, ani, dnis, destination"


def _columns(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--columns",
        type=types.columns,
        metavar="A,B,...",
        help=f"the columns to show, in order, from: {', '.join(CALL_COLUMN_KEYS)} "
        f"(default: {default})",
    )


def _add_list(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "list",
        parents=[common],
        help="list the calls in flight (every page)",
        description="List every call in flight for one or more products, all pages, "
        "concurrently; a call listed by several products is shown once.",
    )
    p.add_argument(
        "-p",
        "--product",
        dest="targets",
        action="append",
        type=types.target,
        metavar="NAME[:ID]",
        help="product and id, e.g. ACD:55 or DNIS:8661234567; repeatable "
        "(default: ACCOUNT:<account id>)",
    )
    _format(p)
    _columns(
        p,
        "uii, state, enqueued, answered, agent, ani, dnis, destination; JSON and CSV: every field",
    )
    p.add_argument(
        "--page-size",
        type=types.positive_int,
        metavar="N",
        help="rows per request (default: the client's, 1000, or what the server is known to send)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress display on stderr")


def _add_watch(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "watch",
        parents=[common],
        help="a live table of the calls in flight",
        description="Poll a product's calls and show them as a live table (or, with "
        "--format ndjson, print one line per started, changed or ended call).",
    )
    p.add_argument(
        "-p",
        "--product",
        dest="target",
        type=types.target,
        metavar="NAME[:ID]",
        help="product to watch (default: ACCOUNT:<account id>)",
    )
    _format(p, ("table", "ndjson"))
    _columns(p, _TABLE_COLUMNS)
    p.add_argument(
        "--interval", type=types.seconds, default=5.0, metavar="SECONDS", help="between polls"
    )
    p.add_argument(
        "--duration",
        type=types.seconds,
        metavar="SECONDS",
        help="stop after this long (default: never)",
    )
    p.add_argument(
        "--rows", type=types.positive_int, default=20, metavar="N", help="table rows shown"
    )


def _add_top(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "top",
        parents=[common],
        help="a full-screen live view of the calls in flight (q quits)",
        description="Show the calls in flight across the chosen listings, refreshed every "
        "--interval: the longest waiting first, queued calls highlighted, wait and talk "
        "times, calls per queue and the request budget in use. Each row's @N (or the "
        "start of its uii) works in the action commands: 'activecalls hangup @3'. "
        "q or Ctrl-C quits; on a pipe it prints a plain snapshot per refresh.",
    )
    p.add_argument(
        "-p",
        "--product",
        dest="targets",
        action="append",
        type=types.target,
        metavar="NAME[:ID]",
        help="product and id to watch; repeatable (default: ACCOUNT:<account id>)",
    )
    p.add_argument(
        "--sort",
        choices=("wait", "talk", "queue", "agent", "state"),
        default="wait",
        help="the order of the rows: longest wait (or talk) first, or by name",
    )
    _columns(p, "state, wait, talk, destination, agent, ani, and the uii when it fits")
    p.add_argument(
        "--interval", type=types.seconds, default=5.0, metavar="SECONDS", help="between refreshes"
    )
    p.add_argument(
        "--duration",
        type=types.seconds,
        metavar="SECONDS",
        help="stop after this long (default: never)",
    )


def _acting(common: Parser) -> Parser:
    """The options of every call action: the connection's, and ``-f text|json``."""
    acting = Parser(add_help=False, parents=[common])
    _format(acting, ACTION_FORMATS)
    return acting


def _add_actions(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """The one-request commands (``common`` is :func:`_acting`'s parent: ``-f json``)."""
    p = commands.add_parser(
        "dial", parents=[common], help="ring an agent and dial a number for them"
    )
    p.add_argument("username", type=types.username, help="the agent's user name")
    p.add_argument("destination", type=types.phone, help="number to dial")
    p.add_argument("--caller-id", type=types.phone, required=True, help="caller id to present")
    p.add_argument(
        "--ring-duration",
        type=types.positive_int,
        default=30,
        metavar="SECONDS",
        help="how long to ring the agent",
    )

    session = commands.add_parser("session", help="add or remove a supervisor session")
    actions = session.add_subparsers(dest="action", required=True, metavar="{add,remove}")
    add = actions.add_parser("add", parents=[common], help="put a supervisor on a call")
    add.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    add.add_argument("phone", type=types.phone, help="the supervisor's phone")
    add.add_argument(
        "-t",
        "--type",
        dest="session_type",
        type=types.session_type,
        default="MONITOR",
        metavar="TYPE",
        help="MONITOR (listen), COACHING (whisper) or BARGEIN (join)",
    )
    remove = actions.add_parser("remove", parents=[common], help="drop a session from a call")
    remove.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    remove.add_argument("phone", type=types.phone, help="the session's phone")

    record = commands.add_parser("record", help="turn a call's recording on or off")
    states = record.add_subparsers(dest="state", required=True, metavar="{on,off}")
    for state, text in (("on", "resume recording"), ("off", "pause recording")):
        states.add_parser(state, parents=[common], help=text).add_argument(
            "uii", type=types.call_handle, help=_UII_HELP
        )

    p = commands.add_parser("disposition", parents=[common], help="set a call's disposition")
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    p.add_argument("disposition", help="e.g. SALE")
    p.add_argument(
        "--callback-at",
        type=types.callback_time,
        metavar="WHEN",
        help="schedule a callback (yyyyMMddHHmmss or ISO, e.g. 2026-12-01T15:30)",
    )
    p.add_argument("--notes", help="free-text notes")

    p = commands.add_parser("hangup", parents=[common], help="end a call (or one party on it)")
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    p.add_argument(
        "--phone", type=types.phone, help="drop only this party's session, not the whole call"
    )


_UII_HELP = "the call's uii, or @N / the start of a uii from the last 'activecalls top'"


def _add_call_controls(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "ping", parents=[common], help="keep a call from archiving while work is pending"
    )
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)

    hold = commands.add_parser("hold", help="put a call on hold or take it off")
    states = hold.add_subparsers(dest="state", required=True, metavar="{on,off}")
    for state, text in (("on", "put the call on hold"), ("off", "take the call off hold")):
        states.add_parser(state, parents=[common], help=text).add_argument(
            "uii", type=types.call_handle, help=_UII_HELP
        )

    p = commands.add_parser(
        "requeue", parents=[common], help="send a call back to a queue (gate), away from its agent"
    )
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    p.add_argument("gate_id", type=types.non_negative_int, metavar="GATE_ID", help="the queue's id")

    p = commands.add_parser(
        "hangup-session",
        parents=[common],
        help="drop one session from a call by its id",
        description="Drop one session from a call by its session id. The API never returns "
        "session ids (adding a session answers only true): use an id RingCX gave you "
        "elsewhere, or 'activecalls hangup UII --phone PHONE' to drop a session by phone.",
    )
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)
    p.add_argument("session_id", metavar="SESSION_ID", help="the session's id")


def _add_accounts(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "accounts",
        parents=[common],
        help="list the sub-accounts the credentials can see",
        description="List the sub-accounts the credentials can see: the ACCOUNT ID column "
        "is what --account-id and ACTIVECALLS_ACCOUNT_ID take. Needs no account id.",
    )
    _format(p)


def _add_queue_check(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    p = commands.add_parser(
        "queue-check",
        parents=[common],
        help="may a call to this number be queued?",
        description="Pre-route checks for a DNIS: --max-queued runs checkQueueStatus (the "
        "longest acceptable wait, seconds); --max-calls-queued runs checkQueueThreshold. "
        "With neither, the threshold check runs with the server's default.",
    )
    p.add_argument("number", type=types.phone, help="the DNIS dialled")
    p.add_argument(
        "--max-queued", type=types.non_negative_int, metavar="SECONDS", help="run checkQueueStatus"
    )
    p.add_argument(
        "--max-calls-queued",
        type=types.non_negative_int,
        metavar="N",
        help="run checkQueueThreshold with this limit",
    )
    _format(p)


def _add_simulator(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "simulator",
        help="serve a simulated Active Calls API on 127.0.0.1",
        description="Serve the embedded simulator until Ctrl-C, and print the variables "
        "that point this CLI (or your bot) at it.",
    )
    p.add_argument("--port", type=types.port, default=8765, help="0 picks a free port")
    p.add_argument(
        "--calls",
        type=types.non_negative_int,
        default=SIM_CALLS,
        metavar="N",
        help="calls in flight, kept about steady by the live traffic",
    )
    p.add_argument(
        "--agents",
        type=types.non_negative_int,
        metavar="N",
        help="agents on the roster (default: staffed for --calls, so about 4%% of calls "
        "wait; fewer make long queues)",
    )
    p.add_argument("--seed", type=int, default=SIM_SEED, help="random seed of the account")
    p.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        help="no new, answered or ending calls (default: live traffic)",
    )
    p.add_argument(
        "--arrival-rate",
        type=types.non_negative_float,
        metavar="PER_SECOND",
        help="new calls per second (default: --calls / --mean-call-seconds, a steady population)",
    )
    p.add_argument(
        "--mean-call-seconds",
        type=types.seconds,
        default=60.0,
        metavar="SECONDS",
        help="mean length of a call",
    )
    p.add_argument(
        "--rate-limit",
        type=types.non_negative_int,
        default=120,
        metavar="N",
        help="requests allowed per 60 s, 0 for no limit",
    )
    p.add_argument(
        "--latency",
        type=types.non_negative_seconds,
        default=0.0,
        metavar="SECONDS",
        help="added to each response",
    )
    p.add_argument(
        "--fault-rate",
        type=types.fraction,
        default=0.0,
        metavar="P",
        help="share of API requests that fail, 0 to 1: half answer 503, a quarter 429, a "
        "quarter lose their connection",
    )
    p.add_argument(
        "--duration",
        type=types.seconds,
        metavar="SECONDS",
        help="stop after this long (default: never)",
    )


def _add_demo(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "demo",
        help="a tour: list thousands of simulated calls, then supervise one",
        description="Start a simulator with a few thousand live calls, list them all "
        "concurrently, summarise them, then run a supervisor scenario on a real call.",
    )
    p.add_argument(
        "--calls", type=types.positive_int, default=3000, metavar="N", help="calls in flight"
    )
    p.add_argument("--seed", type=int, default=SIM_SEED, help="random seed of the account")
    p.add_argument(
        "--page-size", type=types.positive_int, default=500, metavar="N", help="rows per request"
    )


def build_parser() -> Parser:
    """The parser for ``activecalls`` and its subcommands."""
    common = Parser(add_help=False)
    _connection(common)
    parser = Parser(
        prog="activecalls",
        description="Work with the RingCX Active Calls API from the command line.",
        epilog=_EPILOG,
        formatter_class=_TopHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection(parser)
    # Not required: a bare ``activecalls`` prints the help instead of a usage error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_list(commands, common)
    _add_watch(commands, common)
    _add_top(commands, common)
    _add_actions(commands, _acting(common))
    _add_call_controls(commands, _acting(common))
    _add_queue_check(commands, common)
    _add_accounts(commands, common)
    _add_simulator(commands)
    _add_demo(commands)
    parser.set_defaults(sim_calls=SIM_CALLS, sim_seed=SIM_SEED)
    return parser
