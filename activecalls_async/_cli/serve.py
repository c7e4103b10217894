"""``activecalls simulator``: serve the simulated API and say how to reach it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
from collections.abc import Mapping

from .._environ import Env
from .failures import EXIT_FAILED, EXIT_OK
from .output import stderr, stdout
from .signals import STOP_SIGNALS, stopped_by_signals

__all__ = ["STOP_SIGNALS", "run_simulator"]

#: What a bind fails with when another socket listens on the port (Windows has its own).
_ADDRESS_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}


def _unbound(exc: OSError, port: int) -> str:
    """Why the server could not listen on ``port``, and what to do, in one line."""
    if exc.errno in _ADDRESS_IN_USE:
        return (
            f"port {port} on 127.0.0.1 is already in use (another simulator?): "
            "pick a free one with --port 0, or another with --port N"
        )
    cause = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"cannot listen on 127.0.0.1 port {port} ({cause}): try --port 0 for a free port"


async def run_simulator(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Serve until Ctrl-C or SIGTERM (or ``--duration``), printing the settings that point
    at it; the status is 0 after ``--duration``, else 128 + the signal (130 or 143)."""
    from ..testing import Faults, Simulator

    rate = args.fault_rate
    simulator = Simulator(
        calls=args.calls,
        agents=args.agents,
        seed=args.seed,
        port=args.port,
        live=args.live,
        arrival_rate=args.arrival_rate,
        mean_call_seconds=args.mean_call_seconds,
        rate_limit=args.rate_limit or None,
        latency=args.latency,
        faults=Faults(error_rate=rate / 2, throttle_rate=rate / 4, drop_rate=rate / 4),
    )
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    with stopped_by_signals(on_signal):
        try:
            await simulator.start()
        except OSError as exc:
            print(f"activecalls: error: {_unbound(exc, args.port)}", file=stderr())
            return EXIT_FAILED
        async with simulator as sim:
            targets = sim.targets()
            example = next((f"{p}:{i}" for p, i in targets if p != "ACCOUNT"), "ACCOUNT")
            out = stdout()
            traffic = (
                f"live traffic ({sim.traffic.arrival_rate:g} calls/s, "
                f"mean {args.mean_call_seconds:g} s)"
                if args.live
                else "no traffic"
            )
            limit = f"{args.rate_limit} requests/60 s" if args.rate_limit else "no rate limit"
            faults = f", {rate:.0%} of requests fail" if rate else ""
            # The token is the simulator's own throwaway credential, printed on purpose: it
            # only opens this local server, and another process needs it to connect.
            print(
                f"# Simulated RingCX Active Calls API: {len(sim.state):,} calls, "
                f"{len(sim.state.agents):,} agents, "
                f"seed {args.seed}, {traffic}, {limit}{faults}. "
                "Ctrl-C stops it.\n"
                f"export {Env.BASE_URL}={sim.base_url}\n"
                f"export {Env.ACCOUNT_ID}={sim.account_id}\n"
                f"export {Env.TOKEN}={sim.token}\n"
                f"# then, for example: activecalls list --product {example}",
                file=out,
                flush=True,
            )
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
    return 128 + received[0] if received else EXIT_OK
