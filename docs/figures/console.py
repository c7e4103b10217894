"""Draw the pictures of ``activecalls top`` that the docs show, from a simulator run.

    python docs/figures/console.py [--quick] [--out DIR]

Writes SVG screenshots (Textual's own) of the interactive console into ``DIR`` (default:
``docs/images``): the main screen, the confirmation of a hang-up, and the detail pane
of one call; without ``--quick`` also the list of keys and a wide screen. The run is
deterministic: a seeded simulator whose clock stands still, the same clock in the
console, a fresh handle table. Run it again after changing the console, and commit the
pictures.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from activecalls_async import ActiveCallsClient, Product, RateLimit
from activecalls_async._cli.console import ConsoleOptions, fetch_calls
from activecalls_async._cli.console.app import ConsoleApp
from activecalls_async._cli.console.calls import Budget
from activecalls_async._cli.handles import HandleTable
from activecalls_async.testing import Simulator

#: The moment every picture shows (the simulator's calls were enqueued in the hour before).
NOW = datetime(2026, 11, 30, 14, 5, 0, tzinfo=timezone.utc)
OUT = Path(__file__).resolve().parent.parent / "images"
SUPERVISOR = "+15554150123"


async def draw(name: str, keys: tuple[str, ...], size: tuple[int, int], out: Path) -> Path:
    """Run the console at ``size`` against a fresh simulator, press ``keys``, save the SVG."""
    clock = NOW.timestamp()
    simulator = Simulator(calls=60, seed=7, clock=lambda: clock, rate_limit=None)
    async with simulator as sim:
        limit = RateLimit(120, per=60.0)
        async with ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=limit
        ) as client:
            targets = [(Product.ACCOUNT, int(sim.account_id))]
            options = ConsoleOptions(
                label=f"ACCOUNT:{sim.account_id}",
                targets=targets,
                budget=Budget(client.stats, limit.requests, limit.per),
                interval=3600.0,  # the picture is taken before any refresh
                supervisor_phone=SUPERVISOR,
            )
            with tempfile.TemporaryDirectory() as state:
                handles = HandleTable(Path(state), base_url=sim.base_url, account_id=sim.account_id)
                calls = await fetch_calls(client, targets)
                app = ConsoleApp(client, options, handles, calls=calls, clock=lambda: NOW)
                async with app.run_test(size=size) as pilot:
                    await pilot.pause()
                    await pilot.press(*keys)
                    await pilot.pause()
                    svg = app.export_screenshot(title="activecalls top")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


SCENES: list[tuple[str, tuple[str, ...], tuple[int, int], bool]] = [
    # name, the keys pressed, terminal size, drawn in --quick mode too
    ("console-main", ("down",) * 5, (100, 30), True),
    ("console-confirm", (*("down",) * 5, "x"), (100, 30), True),
    ("console-detail", (*("down",) * 5, "enter"), (100, 30), True),
    ("console-keys", ("question_mark",), (100, 30), False),
    ("console-wide", ("down",) * 5, (180, 36), False),
]


async def run(out: Path, *, quick: bool) -> list[Path]:
    """Draw every scene (only the main ones with ``quick``) into ``out``, which exists."""
    return [
        await draw(name, keys, size, out)
        for name, keys, size, in_quick in SCENES
        if in_quick or not quick
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the pictures the docs need")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(run(args.out, quick=args.quick)):
        print(path)


if __name__ == "__main__":
    main()
