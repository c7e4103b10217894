"""Without redis-server the fleet tests are skipped with one line saying how to install it,
except under CI=true, where that is a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .redis_server import INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]
A_REDIS_TEST = "tests/fleet/test_configuration.py::test_from_env_defaults_the_key_to_the_account"


def _run_without_redis(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(tmp_path)  # no redis-server on it
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", A_REDIS_TEST, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_developer_without_redis_gets_a_skip_and_the_way_to_install_it(
    tmp_path: Path, ci: str | None
) -> None:
    done = _run_without_redis(tmp_path, ci)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert INSTALL_HINT in done.stdout


def test_ci_without_redis_fails(tmp_path: Path) -> None:
    done = _run_without_redis(tmp_path, "true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "skipped" not in done.stdout
    assert INSTALL_HINT in done.stdout
