"""``python -m benchmarks``: run the scenarios, print the table, write the JSON."""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import sys
import time
from pathlib import Path

from ._report import machine, render, render_targets, write_json
from ._results import Config, ScenarioResult

#: Scenario modules, in the order they run; each has ``NAME``, ``TITLE`` and ``run(config)``.
SCENARIOS = (
    "overhead",
    "decode",
    "listing",
    "ratelimited",
    "memory",
    "budget",
    "watchcost",
    "snapshot",
    "fleet",
    "sharedwatch",
    "holdpatrol",
    "telemetry",
    "waitline",
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark activecalls-async against hand-written aiohttp and the "
        "official RingCX SDK, all on the embedded simulator (127.0.0.1).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller workloads and fewer repetitions"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--repeat", type=int, metavar="N", help="repetitions per scenario (default: per scenario)"
    )
    parser.add_argument("--out", type=Path, metavar="PATH", help="where to write the JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each scenario under cProfile and print its 25 costliest functions",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _run(name: str, config: Config) -> ScenarioResult:
    module = importlib.import_module(f"benchmarks.{name}")
    print(f"… {module.TITLE}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    if config.profile:
        profiler = cProfile.Profile()
        result: ScenarioResult = profiler.runcall(module.run, config)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    else:
        result = module.run(config)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; exit 0 even when a target is missed (the table says so)."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    config = Config(quick=args.quick, repeat=args.repeat, profile=args.profile)
    info = machine()
    results = [_run(name, config) for name in args.only or SCENARIOS]
    info["load_average_after"] = machine()["load_average"]
    print("", file=sys.stderr)
    render(results, info, sys.stdout)
    render_targets(results, sys.stdout)
    path = write_json(results, info, argv, args.out)
    print(f"Results written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
