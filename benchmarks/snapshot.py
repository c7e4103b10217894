"""Requests per snapshot: how many requests one full walk of an account's calls costs.

Against the real service the binding limit is 120 requests a minute, so the figure that
matters is requests, not seconds. Accounts of 100, 3,000 and 30,000 calls are walked
(``iter_active_calls`` over ACCOUNT) on a server that honours any ``maxRows`` and on one
that silently caps pages at 500 rows, each twice with the same client: the first
snapshot (nothing learnt yet) and the next one. The requests are counted by the server.

The minimum possible is ``⌊calls / h⌋ + 1``: the pages holding the calls plus the short
or empty page that proves the end, ``h`` being the largest page the server sends and
the client asks (the smaller of its cap and the client's page size). A client told
``server_max_rows`` asks for that many rows, so its minimum is one request whenever the
listing fits. Only requests are counted, never time, so the simulator runs in this
process rather than in a child.
"""

from __future__ import annotations

import asyncio
from typing import Any

from activecalls_async import ActiveCallsClient
from activecalls_async.pagination import DEFAULT_PAGE_SIZE
from activecalls_async.testing import Faults, Simulator

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "snapshot"
TITLE = "Requests per snapshot: 100, 3,000 and 30,000 calls, any maxRows or a cap of 500"

CAP = 500
#: What a client told the server honours large pages asks for.
TOLD = 100_000
SERVERS = {"any maxRows": None, f"caps at {CAP}": CAP}
DEFAULT = f"default client (page_size={DEFAULT_PAGE_SIZE})"
INFORMED = f"client with server_max_rows={TOLD:,}"
#: The client's concurrency slots, the window of a walk with slack to spend.
SLOTS = 10


def minimum(calls: int, cap: int | None, page_size: int) -> int:
    """The fewest requests that read ``calls`` rows and prove the end."""
    honoured = page_size if cap is None else min(cap, page_size)
    return calls // honoured + 1


async def _snapshots(calls: int, cap: int | None, options: dict[str, Any]) -> list[int]:
    """Requests the server saw for each of two snapshots with one client."""
    async with Simulator(calls=calls, seed=3, rate_limit=None) as sim:
        sim.faults = Faults(max_rows_cap=cap)
        async with ActiveCallsClient(
            account_id=sim.account_id,
            auth=sim.token,
            base_url=sim.base_url,
            rate_limit=None,
            max_concurrency=SLOTS,
            **options,
        ) as client:
            counts = []
            for _ in range(2):
                before = len(sim.requests)
                seen = {c.uii async for c in client.iter_active_calls("ACCOUNT", sim.account_id)}
                if len(seen) != calls:
                    raise AssertionError(f"listed {len(seen)} of {calls} calls")
                counts.append(len(sim.requests) - before)
            return counts


def run(config: Config) -> ScenarioResult:
    """Count the requests of every snapshot scenario (deterministic: one repetition)."""
    sizes = (100, 3_000) if config.quick else (100, 3_000, 30_000)
    result = ScenarioResult(
        NAME,
        TITLE,
        {"accounts": list(sizes), "cap": CAP, "default_page_size": DEFAULT_PAGE_SIZE},
    )
    for server, cap in SERVERS.items():
        for calls in sizes:
            for contender, options, page_size in (
                (DEFAULT, {}, DEFAULT_PAGE_SIZE),
                (INFORMED, {"server_max_rows": TOLD}, TOLD),
            ):
                if cap is not None and contender == INFORMED:
                    continue  # told a size the server does not honour: not a fair case
                first, then = asyncio.run(_snapshots(calls, cap, options))
                least = minimum(calls, cap, page_size)
                label = f"{calls:,} calls, server {server}"
                result.rows += [
                    Row(
                        contender,
                        f"{label}: first snapshot",
                        "requests",
                        Stat.of([first]),
                        note=f"minimum {least}",
                    ),
                    Row(
                        contender,
                        f"{label}: next snapshot",
                        "requests",
                        Stat.of([then]),
                        note=f"minimum {least}",
                    ),
                ]
                result.checks += [
                    # With no rate limit a first walk runs ahead from slack: at most the
                    # window (the client's max_concurrency) less one past the end.
                    Check(
                        f"{contender}, {label}: first snapshot, requests over the minimum",
                        first - least,
                        "<=",
                        1 + SLOTS - 1,
                    ),
                    Check(
                        f"{contender}, {label}: next snapshot, requests over the minimum",
                        then - least,
                        "<=",
                        1,
                    ),
                ]
    result.notes.append(
        "The minimum counts pages of at most the page size the client asks. On a server "
        f"honouring any maxRows the default client asks {DEFAULT_PAGE_SIZE} rows a page (the "
        "service documents no maximum, so a larger first ask is the caller's call, through "
        f"server_max_rows); told server_max_rows={TOLD:,}, it reads each account in one "
        "request, the least any client could."
    )
    result.notes.append(
        "The client has no rate limit, so a first snapshot spends slack: a walk that does "
        "not know its listing runs ahead by up to its window (the client's max_concurrency) "
        "after a full page 0, and up to that many less one requests go past the end. The "
        "next snapshot knows each listing's size and asks exactly its pages and the one "
        "proving the end, at once. Under a rate limit whose requests wait, a walk keeps to "
        "one request past the end (the listing scenario counts them)."
    )
    return result
