"""Every Python block of the README and the docs site is type-checked, and run when it can be.

A block is a complete module (a block that includes a file, ``--8<-- "path"``, is that
file). One that starts the embedded simulator and calls ``asyncio.run`` runs as written,
with warnings as errors; every block passes ``mypy --strict``, so an example cannot drift
from the API it shows.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)


def _included(source: str) -> str:
    """The block as the site shows it: each snippet line replaced by the file it names."""
    return _SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text(encoding="utf-8"), source)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        name = page.relative_to(ROOT).with_suffix("").as_posix().replace("/", "_")
        for number, source in enumerate(_FENCE.findall(page.read_text(encoding="utf-8"))):
            found.append((f"{name}_{number}".replace("-", "_"), _included(source)))
    return found


BLOCKS = _blocks()
RUNNABLE = [(n, s) for n, s in BLOCKS if "asyncio.run(" in s and "Simulator(" in s]


def test_the_docs_have_runnable_examples() -> None:
    assert len(BLOCKS) >= 10
    assert len(RUNNABLE) >= 5


@pytest.mark.parametrize(("name", "source"), RUNNABLE, ids=[n for n, _ in RUNNABLE])
def test_example_runs(name: str, source: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.py"
    script.write_text(source, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_every_example_passes_strict_type_checks(tmp_path: Path) -> None:
    for name, source in BLOCKS:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


_ENV_READ = re.compile(r"""(?:environ\[|environ\.get\(|getenv\()\s*["']([A-Z0-9_]+)["']""")


def test_examples_read_only_the_variables_the_sdk_and_the_cli_read() -> None:
    # One naming scheme everywhere: an example that reads RC_CLIENT_ID while from_env
    # and the CLI read ACTIVECALLS_RC_CLIENT_ID would teach two.
    from activecalls_async._environ import Env

    known = {value for name, value in vars(Env).items() if name.isupper()}
    read = {name for _, source in BLOCKS for name in _ENV_READ.findall(source)}
    assert read, "no example reads the environment: the pattern above is stale"
    assert read <= known, sorted(read - known)
