"""The subcommands that talk to the API: list, the call actions and the queue checks."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..client import ActiveCallsClient
from ..models import ActiveCall, Product, QueueCheck
from .config import check_account_id, open_client, output_annotations
from .failures import EXIT_OK
from .handles import resolve_handle, view_path
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

__all__ = ["ACTIONS", "default_target", "list_calls", "run_action", "run_list", "run_queue_check"]

Environ = Mapping[str, str]


#: A listing: a product and its id (None for the products that need none).
Listing = tuple[Product, int | str | None]


def default_target(client: ActiveCallsClient) -> Listing:
    """The whole account: ``ACCOUNT:<account id>``; the id must then be digits (a usage
    error, exit 2, names ``--account-id`` and ``ACTIVECALLS_ACCOUNT_ID`` otherwise)."""
    why = "the default --product ACCOUNT:<account id>"
    return Product.ACCOUNT, check_account_id(client.account_id, why=why)


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
            f"Listing {names}", stream=stderr(), enabled=not args.no_progress
        ) as progress:
            calls = await list_calls(client, targets, page_size=args.page_size, progress=progress)
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


Action = Callable[[ActiveCallsClient, argparse.Namespace], Awaitable[str]]

#: The one-request commands, by subcommand name.
ACTIONS: dict[str, Action] = {
    "dial": _dial,
    "session": _session,
    "record": _record,
    "disposition": _disposition,
    "hangup": _hangup,
}


async def run_action(args: argparse.Namespace, environ: Environ) -> int:
    """Run one call action and print what was done: a line, or with ``-f json`` one object
    ``{"ok": true, "command": ..., "uii": ..., "message": ...}``."""
    async with open_client(args, environ) as client:
        if getattr(args, "uii", None) is not None:
            args.uii = resolve_handle(
                args.uii,
                view_path(environ),
                base_url=client.base_url,
                account_id=client.account_id,
            )
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
