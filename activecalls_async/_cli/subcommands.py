"""Every subcommand of ``activecalls``: its arguments and its help (the parser itself, and
how it keeps secrets out of its messages, are in :mod:`.parser`)."""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from .._environ import Env
from ..retry import RetryPolicy
from . import types
from .helptext import RawHelpFormatter
from .output import ACTION_FORMATS, CALL_COLUMN_KEYS, FORMATS

#: The subcommands' action (its parsers are :class:`.parser.Parser`, not imported here:
#: that module imports this one).
Commands: TypeAlias = "argparse._SubParsersAction[Any]"

__all__ = [
    "FORMAT_CHOICES",
    "SIM_CALLS",
    "SIM_SEED",
    "add_commands",
    "add_connection",
    "add_format",
]

#: The embedded simulator's size and seed when commands run without a configured account.
SIM_CALLS = 2000
SIM_SEED = 7

#: The namespace entry that tells which ``--format`` values the chosen command takes
#: (the parser settles ``--format`` with it, then drops it).
FORMAT_CHOICES = "format_choices"


def add_connection(parser: argparse.ArgumentParser) -> None:
    """The options that say where requests go; SUPPRESS lets them go before or after the command."""
    group = parser.add_argument_group("connection (default: ACTIVECALLS_* variables)")
    hide = argparse.SUPPRESS
    group.add_argument(
        "--base-url",
        default=hide,
        metavar="URL",
        help=f"API base URL (default: {Env.BASE_URL}, else RingCX's)",
    )
    group.add_argument(
        "--account-id",
        type=types.account_id,
        default=hide,
        metavar="ID",
        help=f"RingCX account id, digits (default: {Env.ACCOUNT_ID})",
    )
    group.add_argument("--token", default=hide, help=f"RingCX access token (prefer {Env.TOKEN})")
    group.add_argument(
        "--api-token",
        default=hide,
        metavar="TOKEN",
        help=f"legacy API token (prefer {Env.API_TOKEN})",
    )
    group.add_argument(
        "--timeout",
        type=types.seconds,
        default=hide,
        metavar="SECONDS",
        help=f"per request (default: {Env.TIMEOUT}, else 30)",
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
        f"(prefer {Env.REDIS_URL}; key: {Env.FLEET_KEY})",
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
    sim = parser.add_argument_group(f"embedded simulator (--simulator, or {Env.SIMULATOR}=1)")
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


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS) -> None:
    """``-f/--format``, before or after the command: no default here (a subcommand's
    default would overwrite the value given before the command); the parser settles it."""
    parser.add_argument(
        "-f",
        "--format",
        choices=choices,
        default=argparse.SUPPRESS,
        help=f"output format (default: {choices[0]})",
    )
    parser.set_defaults(**{FORMAT_CHOICES: choices})


_TABLE_COLUMNS = "uii, state, enqueued, answered, agent, ani, dnis, destination"


def _columns(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--columns",
        type=types.columns,
        metavar="A,B,...",
        help=f"the columns to show, in order, from: {', '.join(CALL_COLUMN_KEYS)} "
        f"(default: {default})",
    )


def _add_list(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    add_format(p)
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


def _add_watch(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    add_format(p, ("table", "ndjson"))
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


_TOP_DESCRIPTION = """\
A supervisor's console: the calls in flight across the chosen listings,
refreshed every --interval (the longest waiting first, queued calls
highlighted, wait and talk times, calls per queue, the request budget in use),
and the calls acted on from the view.

Keys: up/down or j/k move the highlighted row (it stays on its call across
refreshes), Enter shows every field of the call; on the highlighted call: m
monitor, c coach, b barge in, r recording on/off, h hold on/off, g requeue, d
disposition, x hang up, s end a supervisor's session; / filters, o changes the
sort, ? lists the keys, q quits (status 0), Ctrl-C too (130). Every action is
confirmed in a dialog naming the call (y or Enter confirms, n or Esc cancels);
its answer shows in the status line.

Each call shown gets a handle, @N, that names it for as long as it lives, in
this view and in the action commands ('activecalls hangup @7'), which refuse a
handle whose call has ended. On a pipe, or with --once, it prints plain
snapshots instead."""


def _add_top(commands: Commands, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "top",
        parents=[common],
        help="a supervisor's console: the calls in flight, live, and act on one (q quits)",
        description=_TOP_DESCRIPTION,
        formatter_class=RawHelpFormatter,
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
    _columns(p, "what fits: state, wait, talk, destination, agent, ani; uii, dnis... when room")
    p.add_argument(
        "--interval", type=types.seconds, default=5.0, metavar="SECONDS", help="between refreshes"
    )
    p.add_argument(
        "--duration",
        type=types.seconds,
        metavar="SECONDS",
        help="stop after this long (default: never)",
    )
    p.add_argument(
        "--once", action="store_true", help="print one plain snapshot and exit, even on a terminal"
    )
    p.add_argument(
        "--supervisor-phone",
        type=types.phone,
        metavar="PHONE",
        help="the phone that monitors, coaches or barges in (default: "
        f"{Env.SUPERVISOR_PHONE}, else asked once per run)",
    )


def _add_actions(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    add_format(session, ACTION_FORMATS)
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
    add_format(record, ACTION_FORMATS)
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


_UII_HELP = "the call's uii, its handle @N from 'activecalls top', or the start of its uii"


def _add_call_controls(commands: Commands, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "ping", parents=[common], help="keep a call from archiving while work is pending"
    )
    p.add_argument("uii", type=types.call_handle, help=_UII_HELP)

    hold = commands.add_parser("hold", help="put a call on hold or take it off")
    add_format(hold, ACTION_FORMATS)
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


def _add_accounts(commands: Commands, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "accounts",
        parents=[common],
        help="list the sub-accounts the credentials can see",
        description="List the sub-accounts the credentials can see: the ACCOUNT ID column "
        f"is what --account-id and {Env.ACCOUNT_ID} take. Needs no account id.",
    )
    add_format(p)


def _add_queue_check(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    add_format(p)


def _add_simulator(commands: Commands) -> None:
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


def _add_demo(commands: Commands) -> None:
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


def add_commands(
    commands: Commands, common: argparse.ArgumentParser, acting: argparse.ArgumentParser
) -> None:
    """Every subcommand: ``common`` carries the connection options, ``acting`` those and
    ``-f text|json`` (the call actions')."""
    _add_list(commands, common)
    _add_watch(commands, common)
    _add_top(commands, common)
    _add_actions(commands, acting)
    _add_call_controls(commands, acting)
    _add_queue_check(commands, common)
    _add_accounts(commands, common)
    _add_simulator(commands)
    _add_demo(commands)
