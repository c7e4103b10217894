"""The subcommands that talk to the API: list, the call actions, the queue checks and
accounts."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..client import ActiveCallsClient
from ..models import Account, ActiveCall, Product, QueueCheck
from .config import check_account_id, open_client, output_annotations
from .failures import EXIT_OK
from .handles import HandleTable, state_dir
from .output import (
    CALL_FIELDS,
    Column,
    Symbols,
    call_columns,
    call_fields_record,
    call_record,
    select_fields,
    stderr,
    stdout,
    write_rows,
)
from .progress import ListingProgress

__all__ = [
    "ACTIONS",
    "default_target",
    "list_calls",
    "run_accounts",
    "run_action",
    "run_list",
    "run_queue_check",
]

Environ = Mapping[str, str]


#: A listing: a product and its id (None for the products that need none).
Listing = tuple[Product, int | str | None]


def default_target(client: ActiveCallsClient) -> Listing:
    """The whole account: ``ACCOUNT:<account id>``; the id must then be digits (a usage
    error, exit 2, names ``--account-id`` and ``ACTIVECALLS_ACCOUNT_ID`` otherwise)."""
    why = "the default --product ACCOUNT:<account id>"
    return Product.ACCOUNT, check_account_id(client.account_id or "", why=why)


async def list_calls(
    client: ActiveCallsClient,
    targets: list[Listing],
    *,
    page_size: int | None,
    progress: ListingProgress,
) -> list[ActiveCall]:
    """Every call of ``targets``, walked concurrently, each uii once, counted on ``progress``."""
    calls: list[ActiveCall] = []
    async with client.iter_active_calls_many(targets, page_size=page_size) as fanout:
        async for call in fanout:
            calls.append(call)
            progress.advance()
    return calls


async def run_list(args: argparse.Namespace, environ: Environ) -> int:
    """``activecalls list``: every page of every target, in the chosen format."""
    async with open_client(args, environ) as client:
        # A target given twice is walked once.
        targets: list[Listing] = list(dict.fromkeys(args.targets or [default_target(client)]))
        names = ", ".join(f"{p.value}:{i}" if i is not None else p.value for p, i in targets)
        with ListingProgress(
            f"Listing {names}",
            stream=stderr(),
            enabled=not args.no_progress,
            throttled=lambda: client.stats.waiting_for_limiter,
        ) as progress:
            ticker = asyncio.ensure_future(progress.tick())
            try:
                calls = await list_calls(
                    client, targets, page_size=args.page_size, progress=progress
                )
            finally:
                ticker.cancel()
        count = len(calls)
        progress.done(
            f"{count:,} call{'s' * (count != 1)} from {len(targets)} "
            f"listing{'s' * (len(targets) != 1)} in {progress.elapsed:.2f} s"
        )
    keys = getattr(args, "columns", None)
    fields = select_fields(keys) if keys else CALL_FIELDS

    def record(call: ActiveCall) -> dict[str, Any]:
        return call_fields_record(call, fields) if keys else call_record(call)

    write_rows(
        calls,
        fmt=args.format,
        columns=call_columns(keys),
        record=record,
        fields=fields,
        stream=stdout(),
        annotate=output_annotations(args, environ),
    )
    return EXIT_OK


@attrs.frozen
class QueueCheckRow:
    """One pre-route check and its answer."""

    check: str
    number: str
    limit: int | None
    result: QueueCheck


_QUEUE_COLUMNS = (
    Column("CHECK", lambda r: r.check),
    Column("NUMBER", lambda r: r.number),
    Column("LIMIT", lambda r: "default" if r.limit is None else str(r.limit), "right"),
    Column("STATUS", lambda r: "ok" if r.result.status else "refused"),
    Column("REASON", lambda r: r.result.reason or "", max_width=200),
)
_QUEUE_FIELDS = ("check", "destinationNumber", "limit", "status", "reason")


def _queue_record(row: QueueCheckRow) -> dict[str, Any]:
    return {
        "check": row.check,
        "destinationNumber": row.number,
        "limit": row.limit,
        "status": row.result.status,
        "reason": row.result.reason,
    }


async def run_queue_check(args: argparse.Namespace, environ: Environ) -> int:
    """``activecalls queue-check``: checkQueueStatus and/or checkQueueThreshold for a DNIS."""
    rows: list[QueueCheckRow] = []
    async with open_client(args, environ) as client:
        if args.max_queued is not None:
            result = await client.check_queue_status(
                destination_number=args.number, max_queued=args.max_queued
            )
            rows.append(QueueCheckRow("status", args.number, args.max_queued, result))
        if args.max_calls_queued is not None or args.max_queued is None:
            result = await client.check_queue_threshold(
                destination_number=args.number, max_calls_queued=args.max_calls_queued
            )
            rows.append(QueueCheckRow("threshold", args.number, args.max_calls_queued, result))
    write_rows(
        rows,
        fmt=args.format,
        columns=_QUEUE_COLUMNS,
        record=_queue_record,
        fields=_QUEUE_FIELDS,
        stream=stdout(),
        annotate=output_annotations(args, environ),
    )
    return EXIT_OK


# -- call actions: one request each, one confirmation line on stdout -----------------------


async def _dial(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.create_manual_agent_call(
        username=args.username,
        destination=args.destination,
        ring_duration=args.ring_duration,
        caller_id=args.caller_id,
    )
    return f"ringing {args.username} to dial {args.destination}"


async def _session(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    if args.action == "add":
        await client.add_session_to_call(
            args.uii, destination=args.phone, session_type=args.session_type
        )
        return f"added a {args.session_type.value} session for {args.phone} to call {args.uii}"
    await client.hangup_session(args.uii, phone=args.phone)
    return f"removed the session of {args.phone} from call {args.uii}"


async def _record(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.toggle_call_recording(args.uii, record=args.state == "on")
    return f"recording {'resumed' if args.state == 'on' else 'paused'} on call {args.uii}"


async def _disposition(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    callback = args.callback_at is not None
    await client.disposition_call(
        args.uii,
        disposition=args.disposition,
        callback=callback,
        callback_at=args.callback_at,
        notes=args.notes,
    )
    when = f" with a callback at {args.callback_at:%Y-%m-%d %H:%M}" if callback else ""
    return f"call {args.uii} dispositioned {args.disposition}{when}"


async def _hangup(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    if args.phone is not None:
        await client.hangup_session(args.uii, phone=args.phone)
        return f"hung up {args.phone} on call {args.uii}"
    await client.hangup_call(args.uii)
    return f"hung up call {args.uii}"


async def _ping(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.ping_call(args.uii)
    return f"pinged call {args.uii}: it stays live"


async def _hold(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.set_call_hold(args.uii, hold=args.state == "on")
    return f"call {args.uii} {'on hold' if args.state == 'on' else 'taken off hold'}"


async def _requeue(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.requeue_call(args.uii, gate_id=args.gate_id)
    return f"call {args.uii} sent back to queue {args.gate_id}"


async def _hangup_session(client: ActiveCallsClient, args: argparse.Namespace) -> str:
    await client.hangup_session_by_id(args.uii, session_id=args.session_id)
    return f"hung up session {args.session_id} on call {args.uii}"


Action = Callable[[ActiveCallsClient, argparse.Namespace], Awaitable[str]]

#: The one-request commands, by subcommand name.
ACTIONS: dict[str, Action] = {
    "dial": _dial,
    "session": _session,
    "record": _record,
    "disposition": _disposition,
    "hangup": _hangup,
    "ping": _ping,
    "hold": _hold,
    "requeue": _requeue,
    "hangup-session": _hangup_session,
}


async def run_action(args: argparse.Namespace, environ: Environ) -> int:
    """Run one call action and print what was done: a line, or with ``-f json`` one object
    ``{"ok": true, "command": ..., "uii": ..., "message": ...}``."""
    async with open_client(args, environ) as client:
        if getattr(args, "uii", None) is not None:
            # Before any request: a handle whose call has ended is refused here.
            table = HandleTable(
                state_dir(environ),
                base_url=client.base_url,
                account_id=await client.resolve_account_id(),
            )
            args.uii = table.resolve(args.uii)
        done = await ACTIONS[args.command](client, args)
    out = stdout()
    if getattr(args, "format", "text") == "json":
        answer: dict[str, Any] = {"ok": True, "command": args.command}
        for name in ("action", "state"):  # session add/remove, record on/off
            if getattr(args, name, None) is not None:
                answer[name] = getattr(args, name)
        answer["uii"] = getattr(args, "uii", None)
        answer["message"] = done
        answer.update(output_annotations(args, environ))
        print(json.dumps(answer, ensure_ascii=False), file=out)
    else:
        print(f"{Symbols.for_stream(out).ok} {done}", file=out)
    return EXIT_OK


_ACCOUNT_COLUMNS = (
    Column("ACCOUNT ID", lambda a: a.account_id),
    Column("NAME", lambda a: a.account_name or "", max_width=60),
    Column("MAIN ACCOUNT", lambda a: a.main_account_id or ""),
)
_ACCOUNT_FIELDS = ("accountId", "accountName", "mainAccountId")


def _account_record(account: Account) -> dict[str, Any]:
    return {
        "accountId": account.account_id,
        "accountName": account.account_name,
        "mainAccountId": account.main_account_id,
    }


async def run_accounts(args: argparse.Namespace, environ: Environ) -> int:
    """``activecalls accounts``: the sub-accounts the credentials see (no account id needed)."""
    async with open_client(args, environ, needs_account=False) as client:
        accounts = await client.list_accounts()
    write_rows(
        accounts,
        fmt=args.format,
        columns=_ACCOUNT_COLUMNS,
        record=_account_record,
        fields=_ACCOUNT_FIELDS,
        stream=stdout(),
    )
    return EXIT_OK
