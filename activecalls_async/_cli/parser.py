"""The ``activecalls`` command line: every subcommand, its arguments and its help."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__
from ..retry import RetryPolicy
from . import types
from .output import FORMATS

__all__ = ["Parser", "build_parser"]

#: The embedded simulator's size and seed when commands run without a configured account.
SIM_CALLS = 2000
SIM_SEED = 7

_EPILOG = """\
Configuration: flags, or the environment variables ACTIVECALLS_BASE_URL,
ACTIVECALLS_ACCOUNT_ID, ACTIVECALLS_TIMEOUT and the credentials: ACTIVECALLS_TOKEN
(bearer), ACTIVECALLS_API_TOKEN (legacy X-Auth-Token), or a RingCentral login:
ACTIVECALLS_RC_JWT with ACTIVECALLS_RC_CLIENT_ID and ACTIVECALLS_RC_CLIENT_SECRET, or
ACTIVECALLS_RC_ACCESS_TOKEN (ACTIVECALLS_RC_SERVER and ACTIVECALLS_AUTH_URL optional).
With no base URL and no credential configured, commands run against an embedded
simulator (and say so on stderr).
Exit status: 0 ok (also when the reader of stdout goes away, as in '| head'),
1 the request failed, 2 bad input, 130 interrupted (143: simulator stopped by SIGTERM)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and a hint, on one line, and exit 2."""
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def _connection(parser: argparse.ArgumentParser) -> None:
    """The options that say where requests go; SUPPRESS lets them go before or after the command."""
    group = parser.add_argument_group("connection (default: ACTIVECALLS_* variables)")
    hide = argparse.SUPPRESS
    group.add_argument("--base-url", default=hide, metavar="URL", help="API base URL")
    group.add_argument("--account-id", default=hide, metavar="ID", help="RingCX account id")
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
        "--timeout", type=types.seconds, default=hide, metavar="SECONDS", help="per request"
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
    sim = parser.add_argument_group("embedded simulator (used when nothing is configured)")
    sim.add_argument(
        "--sim-calls",
        type=types.non_negative_int,
        default=hide,
        metavar="N",
        help="calls in flight",
    )
    sim.add_argument("--sim-seed", type=int, default=hide, metavar="SEED", help="random seed")


def _format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS) -> None:
    parser.add_argument(
        "-f", "--format", choices=choices, default="table", help="output format (default: table)"
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
    p.add_argument("--page-size", type=types.positive_int, metavar="N", help="rows per request")
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
    p.add_argument(
        "--interval", type=types.seconds, default=5.0, metavar="SECONDS", help="between polls"
    )
    p.add_argument("--duration", type=types.seconds, metavar="SECONDS", help="stop after this long")
    p.add_argument(
        "--rows", type=types.positive_int, default=20, metavar="N", help="table rows shown"
    )


def _add_actions(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
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
        help="how long to ring the agent (default: 30)",
    )

    session = commands.add_parser("session", help="add or remove a supervisor session")
    actions = session.add_subparsers(dest="action", required=True, metavar="{add,remove}")
    add = actions.add_parser("add", parents=[common], help="put a supervisor on a call")
    add.add_argument("uii", type=types.uii, help="the call's uii")
    add.add_argument("phone", type=types.phone, help="the supervisor's phone")
    add.add_argument(
        "-t",
        "--type",
        dest="session_type",
        type=types.session_type,
        default="MONITOR",
        metavar="TYPE",
        help="MONITOR (listen, the default), COACHING (whisper) or BARGEIN (join)",
    )
    remove = actions.add_parser("remove", parents=[common], help="drop a session from a call")
    remove.add_argument("uii", type=types.uii, help="the call's uii")
    remove.add_argument("phone", type=types.phone, help="the session's phone")

    record = commands.add_parser("record", help="turn a call's recording on or off")
    states = record.add_subparsers(dest="state", required=True, metavar="{on,off}")
    for state, text in (("on", "resume recording"), ("off", "pause recording")):
        states.add_parser(state, parents=[common], help=text).add_argument(
            "uii", type=types.uii, help="the call's uii"
        )

    p = commands.add_parser("disposition", parents=[common], help="set a call's disposition")
    p.add_argument("uii", type=types.uii, help="the call's uii")
    p.add_argument("disposition", help="e.g. SALE")
    p.add_argument(
        "--callback-at",
        type=types.callback_time,
        metavar="WHEN",
        help="schedule a callback (yyyyMMddHHmmss or ISO, e.g. 2026-12-01T15:30)",
    )
    p.add_argument("--notes", help="free-text notes")

    p = commands.add_parser("hangup", parents=[common], help="end a call (or one party on it)")
    p.add_argument("uii", type=types.uii, help="the call's uii")
    p.add_argument(
        "--phone", type=types.phone, help="drop only this party's session, not the whole call"
    )


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
    p.add_argument("--max-queued", type=int, metavar="SECONDS", help="run checkQueueStatus")
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
    p.add_argument("--calls", type=types.non_negative_int, default=SIM_CALLS, metavar="N")
    p.add_argument("--seed", type=int, default=SIM_SEED)
    p.add_argument("--no-live", dest="live", action="store_false", help="no new or ending calls")
    p.add_argument(
        "--rate-limit",
        type=types.positive_int,
        default=120,
        metavar="N",
        help="requests allowed per 60 s",
    )
    p.add_argument(
        "--latency",
        type=types.non_negative_seconds,
        default=0.0,
        metavar="SECONDS",
        help="added to each response",
    )
    p.add_argument("--duration", type=types.seconds, metavar="SECONDS", help="stop after this long")


def _add_demo(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "demo",
        help="a tour: list thousands of simulated calls, then supervise one",
        description="Start a simulator with a few thousand live calls, list them all "
        "concurrently, summarise them, then run a supervisor scenario on a real call.",
    )
    p.add_argument("--calls", type=types.positive_int, default=3000, metavar="N")
    p.add_argument("--seed", type=int, default=SIM_SEED)
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection(parser)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    _add_list(commands, common)
    _add_watch(commands, common)
    _add_actions(commands, common)
    _add_queue_check(commands, common)
    _add_simulator(commands)
    _add_demo(commands)
    parser.set_defaults(sim_calls=SIM_CALLS, sim_seed=SIM_SEED)
    return parser
