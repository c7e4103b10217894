"""The docs' figures come from a script (docs/figures/draw.py) that runs scenarios against
the simulator and draws what they recorded: it must keep running, in its quick mode,
and draw every figure the docs show, each with its titles and axes; every picture in
docs/images must be shown by a page, and every picture a page shows must exist."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._contenders import official_available
from tests.fleet.redis_server import INSTALL_HINT
from tests.support import need_program

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "figures" / "draw.py"
IMAGES = ROOT / "docs" / "images"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: A Markdown image, or an HTML one: what a page shows.
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|<img [^>]*src=\"([^\"]+)\"")

#: Each figure the script draws without Redis, and text it must show.
FIGURES = {
    "rate-limit-priorities.svg": [
        "A fan-out at BULK, overtaken by actions at ACTION",
        "none answered 429",
        "Requests in the server's window, by priority",
        "requests in the last 2 s",
        "the limit: 20 in any 2 s",
        "Each request as the server saw it arrive",
        "Waiting at the limiter: the median action waited",
        "seconds (the account's 120 requests a minute scaled down to 20 per 2 s",
    ],
    "page-slip.svg": [
        "The page slip: the listing changes between page 0 and page 1",
        "A call starts between the two requests",
        "A call ends between the two requests",
        "the SDK's walk",
        "D twice",
        "E missed too",
    ],
    "listing-speed.svg": [
        "Listing a contact centre against the official SDK",
        "seconds to list every call",
        "requests sent (the server's count)",
        "ideal bound",
        "SDK fan-out,",
    ],
    "snapshot-requests.svg": [
        "Requests per snapshot of an account, against the official SDK",
        "requests per snapshot (log scale)",
        "Server honours any maxRows",
        "Server caps pages at 500",
        "fewest possible at 1,000 rows a page",
        "SDK, first snapshot",
    ],
}
#: The fleet's figure, drawn with a real redis-server.
FLEET = {
    "fleet-window.svg": [
        "A fleet of six sharing one account's window",
        "Each member with RedisRateLimit(20, per=2), one key",
        "none answered 429",
        "Each member with its own RateLimit(20, per=2)",
        "requests in the last 2 s",
    ],
}


def svg_text(path: Path) -> list[str]:
    """Every text an SVG figure shows (matplotlib keeps each beside its paths)."""
    return re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"), re.S)


def draw(out: Path, *names: str) -> list[str]:
    """Run the script in quick mode for ``names``; return the files it wrote."""
    only = [arg for name in names for arg in ("--only", name)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), *only],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return sorted(path.name for path in out.iterdir())


def check_figure(path: Path, expected: list[str]) -> None:
    shown = "\n".join(svg_text(path))
    for text in expected:
        assert text in shown, (path.name, text)
    head = path.read_text(encoding="utf-8")[:2000]
    assert "<dc:date>" not in head  # reproducible: no date
    assert path.stat().st_size < 200_000, path.name


@pytest.mark.slow
def test_the_script_draws_every_figure_in_quick_mode(tmp_path: Path) -> None:
    drawn = draw(tmp_path, "priorities", "page-slip", "listing-speed", "snapshot-requests")
    assert drawn == sorted(FIGURES)
    for name, expected in FIGURES.items():
        check_figure(tmp_path / name, expected)
    # Each run's own figures: the priorities figure shows as many actions as were sent.
    texts = svg_text(tmp_path / "rate-limit-priorities.svg")
    assert any(re.fullmatch(r"A fan-out .*: \d+ requests, none answered 429", t) for t in texts)
    # The official SDK is a benchmark dependency: where it is installed it is measured.
    speed = svg_text(tmp_path / "listing-speed.svg")
    snapshots = svg_text(tmp_path / "snapshot-requests.svg")
    if official_available() is None:
        assert "sequential get() loop" in speed
        assert any(re.fullmatch(r" \d+\.\d+ s, \d+\.\dx faster", t) for t in speed)
        assert "listed" in snapshots  # its loop stops at the first capped page
    else:
        assert "sequential get() loop" not in speed
        assert not any(t.startswith("official SDK") for t in snapshots)
        for texts in (speed, snapshots):
            assert any(t.endswith("official SDK (not installed here: not drawn)") for t in texts)


@pytest.mark.slow
def test_the_script_draws_the_fleet_with_a_real_redis(tmp_path: Path) -> None:
    need_program("redis-server", INSTALL_HINT)
    assert draw(tmp_path, "fleet") == sorted(FLEET)
    check_figure(tmp_path / "fleet-window.svg", FLEET["fleet-window.svg"])
    # Without the shared window, the same fleet gets 429s.
    shown = "\n".join(svg_text(tmp_path / "fleet-window.svg"))
    assert re.search(r"own RateLimit\(20, per=2\): .*; [1-9]\d* answered 429", shown)


def test_the_committed_figures_are_the_scripts() -> None:
    """The pictures in docs/images are the script's (and the console's), from a full run:
    the official SDK measured."""
    drawn = {path.name for path in IMAGES.glob("*.svg") if not path.name.startswith("console-")}
    assert drawn == {*FIGURES, *FLEET}
    for name, expected in {**FIGURES, **FLEET}.items():
        check_figure(IMAGES / name, expected)
    for name in ("listing-speed.svg", "snapshot-requests.svg"):
        assert any(t.startswith("official SDK") for t in svg_text(IMAGES / name)), name


def _shown() -> dict[Path, Path]:
    """Every image a page shows, resolved, and the page showing it."""
    shown = {}
    for page in PAGES:
        for match in _IMAGE.finditer(page.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if "://" not in target:
                shown[(page.parent / target).resolve()] = page
    return shown


def test_every_picture_is_shown_and_every_picture_shown_exists() -> None:
    shown = _shown()
    for image, page in shown.items():
        assert image.is_file(), f"{page.relative_to(ROOT)} shows a missing {image}"
    pictures = sorted(p.resolve() for p in IMAGES.iterdir())
    assert pictures
    unshown = [p.name for p in pictures if p not in shown]
    assert not unshown, f"pictures no page shows: {unshown}"


def test_every_figure_has_alt_text_and_a_caption() -> None:
    """Each figure is shown with alt text saying what it shows, and right under it an
    italic caption saying what made it."""
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            match = re.match(r"!\[([^\]]*)\]\(([^)]+)\)", line)
            if match is None or Path(match.group(2)).name.startswith("console-"):
                continue
            where = f"{page.relative_to(ROOT)}:{number + 1}"
            assert len(match.group(1)) > 30, f"{where}: alt text too short"
            caption = " ".join(itertools.takewhile(str.strip, lines[number + 1 :]))
            assert re.fullmatch(r"\*[^*]+\*", caption), f"{where}: no caption under it"
            assert "docs/figures/draw.py" in caption, f"{where}: the caption names no script"
