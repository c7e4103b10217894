"""Run the embedded simulator in its own process, driven by line commands on stdin.

Started by :class:`benchmarks._server.SimulatorProcess`; never meant to be run by hand.
It prints one JSON line saying how to reach it, then answers each command line with one
JSON line: ``stats``, ``reset``, ``latency SECONDS``, ``quit``. End of input stops it.
A separate process keeps the server's CPU time out of the client's measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
from typing import Any

from activecalls_async.testing import Simulator


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._serve")
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument(
        "--listing",
        action="append",
        default=[],
        metavar="PRODUCT:ID=CALLS",
        help="add CALLS calls to one listing (repeatable); with --calls 0, the only ones",
    )
    return parser.parse_args(argv)


def _stats(sim: Simulator) -> dict[str, Any]:
    """What the server saw since the last reset: request count, statuses, start times,
    and the pages asked of each listing."""
    statuses = collections.Counter(str(r.status) for r in sim.requests)
    starts = sorted(r.started for r in sim.requests)
    pages: dict[str, list[list[int]]] = collections.defaultdict(list)
    for r in sim.requests:
        if r.operation == "list":
            listing = f"{r.param('product')}:{r.param('productId')}"
            pages[listing].append([int(r.param("page") or 0), int(r.param("maxRows") or 0)])
    return {
        "requests": len(sim.requests),
        "statuses": dict(statuses),
        # Seconds after the first start, in order: enough to judge a pace.
        "starts": [round(start - starts[0], 6) for start in starts],
        "pages": dict(pages),
    }


def _answer(sim: Simulator, line: str) -> dict[str, Any] | None:
    """Carry out one command; None means stop."""
    command, _, argument = line.strip().partition(" ")
    if command in ("quit", ""):
        return None
    if command == "stats":
        return _stats(sim)
    if command == "reset":
        sim.reset_counters()
        return {"ok": True}
    if command == "latency":
        sim.faults.latency = float(argument)
        return {"ok": True}
    return {"error": f"unknown command {command!r}"}


async def _serve(args: argparse.Namespace) -> None:
    sim = Simulator(
        calls=args.calls,
        seed=args.seed,
        latency=args.latency,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        live=False,
        journal_size=None,  # every request is counted, however long the scenario
    )
    for spec in args.listing:
        listing, _, count = spec.partition("=")
        product, _, product_id = listing.partition(":")
        for _ in range(int(count)):
            sim.add_call(product=product, product_id=int(product_id))
    loop = asyncio.get_running_loop()
    async with sim:
        info = {
            "base_url": sim.base_url,
            "root_url": sim.root_url,
            "account_id": sim.account_id,
            "token": sim.token,
            "targets": [[p, i, len(sim.state.listing(p, i))] for p, i in sim.targets()],
        }
        print(json.dumps(info), flush=True)
        while True:
            # Reading stdin in a thread keeps the server's loop free to answer requests.
            line = await loop.run_in_executor(None, sys.stdin.readline)
            reply = _answer(sim, line)
            if reply is None:
                break
            print(json.dumps(reply), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Serve until ``quit`` or end of input."""
    asyncio.run(_serve(_parse(argv)))


if __name__ == "__main__":
    main()
