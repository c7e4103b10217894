"""The docs' pictures of the console come from a script (docs/figures/console.py) that runs
the real console against a simulator: it must keep running, and the pictures checked in
must show what it draws."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "figures" / "console.py"
IMAGES = ROOT / "docs" / "images"


def svg_text(path: Path) -> str:
    """The text an SVG screenshot shows, one line per row of the terminal."""
    rows: dict[float, str] = {}
    spans = re.findall(r'<text[^>]* y="([0-9.]+)"[^>]*>([^<]*)</text>', path.read_text("utf-8"))
    for y, span in spans:
        rows[float(y)] = rows.get(float(y), "") + html.unescape(span).replace("\xa0", " ")
    return "\n".join(rows[y] for y in sorted(rows))


def test_the_script_draws_the_console_and_the_checked_in_pictures_match(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    drawn = sorted(p.name for p in tmp_path.iterdir())
    assert drawn == ["console-confirm.svg", "console-detail.svg", "console-main.svg"]
    main = svg_text(tmp_path / "console-main.svg")
    assert "activecalls top" in main
    assert re.search(r"ACCOUNT:12440001: 60 calls, \d+ queued at 14:05:00 UTC", main)
    assert re.search(r"ID +STATE +WAIT +TALK +QUEUE +AGENT +ANI +DNIS", main)
    confirm = svg_text(tmp_path / "console-confirm.svg")
    assert "Hang up this call?" in confirm
    named = re.search(r"call +(@6 +\d{30})", confirm)
    assert named is not None
    detail = svg_text(tmp_path / "console-detail.svg")
    assert "dnisE164" in detail
    assert named.group(1).split()[1] in detail  # the same call, its whole uii
    # The pictures the docs show are this script's, for the same scenes.
    for name in drawn:
        assert (IMAGES / name).exists(), name
    assert named.group(1) in svg_text(IMAGES / "console-confirm.svg")
    assert "Hang up this call?" in svg_text(IMAGES / "console-confirm.svg")
    for name in ("console-keys.svg", "console-wide.svg"):
        assert "activecalls top" in svg_text(IMAGES / name)


def test_the_keys_table_of_the_docs_is_the_consoles() -> None:
    """docs/snippets/console-keys.md (included by the CLI page and the supervisor guide)
    lists every key the console binds, with what the ``?`` pane says it does."""
    from activecalls_async._cli.console.keys import KEYS

    table = (ROOT / "docs" / "snippets" / "console-keys.md").read_text(encoding="utf-8")
    expected = [
        f"| {' '.join(f'`{part}`' for part in key.shown.split())} | {key.does} |" for key in KEYS
    ]
    assert table.splitlines()[2:] == expected
    for page in ("cli.md", "guides/supervisor-console.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert '--8<-- "docs/snippets/console-keys.md"' in text, page
