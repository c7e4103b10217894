"""Draw the docs' figures from simulator runs, into ``docs/images`` as SVG.

    python docs/figures/draw.py [--quick] [--out DIR] [--only NAME ...]

Each figure runs its scenario against the embedded simulator (a real ``redis-server``
for the fleet's) with the real client, then draws what the run recorded; the page slip
is a drawing. ``--quick`` runs shorter scenarios on smaller accounts (for the tests);
the committed figures come from a full run (``make figures``, which draws the console's
screenshots too, with docs/figures/console.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
# The benchmarks' scenarios and the test suite's redis-server are reused from the repo.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fleet_share  # noqa: E402
import page_slip  # noqa: E402
import performance  # noqa: E402
import priorities  # noqa: E402

Make = Callable[..., list[Path]]

#: Every figure: its name (``--only``) and what draws it.
FIGURES: dict[str, Make] = {
    "priorities": priorities.make,
    "fleet": fleet_share.make,
    "page-slip": page_slip.make,
    "listing-speed": performance.make_speed,
    "snapshot-requests": performance.make_snapshots,
}


def main(argv: list[str] | None = None) -> None:
    """Draw the figures asked for (all by default) and print each file written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller accounts")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    parser.add_argument(
        "--only", action="append", choices=sorted(FIGURES), help="draw this figure (repeatable)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or FIGURES:
        started = time.perf_counter()
        for path in FIGURES[name](args.out, quick=args.quick):
            print(f"{path} ({time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
