"""Shared fixtures: a clean environment, and a runner that calls the CLI's entry function in a
worker thread while a simulator (the SDK's pytest plugin, enabled in tests/conftest.py)
serves."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from activecalls_async import _log
from activecalls_async.cli import main
from activecalls_async.testing import Simulator

#: A call of ACD queue 55 (seed 7) is listed under DNIS 8661234567 or the queue's other DNIS.
QUEUE = ("ACD", 55)


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    """Enough calls for several pages per listing, no traffic: results are exact."""
    return {"calls": 300, "seed": 7, "live": False}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ACTIVECALLS_* variable of the developer's shell may leak into a test, nor a
    ``-v`` of one CLI run into the next test's logging."""
    for name in list(os.environ):
        if name.startswith("ACTIVECALLS_"):
            monkeypatch.delenv(name)
    yield
    _log.disable()


@attrs.frozen
class Result:
    """What one CLI run did: its exit status and what it wrote."""

    status: int
    out: str
    err: str


@attrs.define
class Cli:
    """Runs ``main(argv)`` off the event loop, so the simulator keeps serving meanwhile."""

    capsys: pytest.CaptureFixture[str]
    sim: Simulator | None = None

    def connection(self, token: str | None = None) -> list[str]:
        """The flags that point the CLI at the test's simulator."""
        assert self.sim is not None
        return [
            "--base-url",
            self.sim.base_url,
            "--account-id",
            self.sim.account_id,
            # "=" form: a token may start with "-", which argparse would read as an option.
            f"--token={token or self.sim.token}",
        ]

    async def run(self, *argv: str, connect: bool = True) -> Result:
        """Run the CLI with ``argv`` (plus the simulator's flags unless ``connect`` is False)."""
        args = [*argv, *(self.connection() if connect and self.sim else [])]
        self.capsys.readouterr()
        status = await asyncio.to_thread(main, args)
        captured = self.capsys.readouterr()
        return Result(status, captured.out, captured.err)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    activecalls_simulator: Simulator,
) -> Cli:
    """A CLI runner bound to a running simulator."""
    return Cli(capsys, activecalls_simulator)


@pytest.fixture
def bare_cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """A CLI runner with no simulator and no configuration."""
    return Cli(capsys)


def assert_one_line_error(result: Result, status: int) -> str:
    """The run failed with ``status`` and one line on stderr, no traceback; returns it."""
    assert result.status == status, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert lines[0].startswith("activecalls")
    return lines[0]
