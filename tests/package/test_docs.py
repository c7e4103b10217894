"""Every Python block of the README and the docs site is type-checked, and run when it can be.

A block is a complete module (a block that includes a file, ``--8<-- "path"``, is that
file). One that starts the embedded simulator and calls ``asyncio.run`` runs as written,
with warnings as errors; every block passes ``mypy --strict``, so an example cannot drift
from the API it shows.

The examples spend most of their time waiting (on polls, on the simulator's clock), so the
selected ones are started side by side, each in its own process and folder, and each test
waits for its own. The type check shares the project's mypy cache with ``make typecheck``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def example_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], Path]]]:
    """Every example this session runs, started at once: its process and its stderr file."""
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_example_runs"
    }
    runs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name, source in RUNNABLE:
        if name not in selected:
            continue
        folder = tmp_path_factory.mktemp(name)
        script = folder / f"{name}.py"
        script.write_text(source, encoding="utf-8")
        stderr = folder / "stderr.txt"
        with stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-W", "error", str(script)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=folder,
            )
        runs[name] = (process, stderr)
    yield runs
    for process, _ in runs.values():
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.parametrize(("name", "source"), RUNNABLE, ids=[n for n, _ in RUNNABLE])
def test_example_runs(
    name: str, source: str, example_runs: dict[str, tuple[subprocess.Popen[bytes], Path]]
) -> None:
    process, stderr_file = example_runs[name]
    returncode = process.wait(timeout=120)
    stderr = stderr_file.read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


def test_every_example_passes_strict_type_checks(tmp_path: Path) -> None:
    for name, source in BLOCKS:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    # The project's own configuration and cache: after `make typecheck` the package and
    # its dependencies are checked already, and only the examples are left to do.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(tmp_path),
        ],
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
