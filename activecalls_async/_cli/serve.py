"""``activecalls simulator``: serve the simulated API and say how to reach it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Mapping

from .failures import EXIT_OK
from .output import stdout

__all__ = ["run_simulator"]


async def run_simulator(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Serve until Ctrl-C (or ``--duration``), printing the settings that point at it."""
    from ..testing import Simulator

    simulator = Simulator(
        calls=args.calls,
        seed=args.seed,
        port=args.port,
        live=args.live,
        rate_limit=args.rate_limit,
        latency=args.latency,
    )
    async with simulator as sim:
        targets = sim.targets()
        example = next((f"{p}:{i}" for p, i in targets if p != "ACCOUNT"), "ACCOUNT")
        out = stdout()
        traffic = "live traffic" if args.live else "no traffic"
        # The token is the simulator's own throwaway credential, printed on purpose: it
        # only opens this local server, and another process needs it to connect.
        print(
            f"# Simulated RingCX Active Calls API: {len(sim.state):,} calls, seed {args.seed}, "
            f"{traffic}, {args.rate_limit} requests/60 s. Ctrl-C stops it.\n"
            f"export ACTIVECALLS_BASE_URL={sim.base_url}\n"
            f"export ACTIVECALLS_ACCOUNT_ID={sim.account_id}\n"
            f"export ACTIVECALLS_TOKEN={sim.token}\n"
            f"# then, for example: activecalls list --product {example}",
            file=out,
            flush=True,
        )
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), args.duration)
    return EXIT_OK
