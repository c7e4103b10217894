"""``activecalls top`` in a real terminal: a tmux pane of 80x24 columns, keys sent to it, its
screen read back. Outside CI a missing tmux skips these tests with one line; under
``CI=true`` it fails them (``.ci/run`` installs tmux)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.tmux

COLUMNS = ("ID", "STATE", "WAIT", "TALK", "QUEUE", "AGENT", "ANI")


@pytest.fixture
def tmux_binary() -> str:
    """The tmux executable; a clear skip without it, except under CI where it must exist."""
    found = shutil.which("tmux")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is required under CI=true (.ci/run installs it)")
        pytest.skip("tmux is not installed: the real-terminal tests of 'activecalls top' need it")
    return found


class Pane:
    """One tmux server of our own (its own socket) running one 80x24 pane."""

    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux = tmux
        self.socket = socket

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-x", "80", "-y", "24", "-s", "top", command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "top")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "top", *keys)

    def wait_for(self, check: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"the pane never showed what was expected:\n{screen}")


@pytest.fixture
def pane(tmux_binary: str) -> Iterator[Pane]:
    pane = Pane(tmux_binary, f"activecalls-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield pane
    finally:
        subprocess.run(
            [tmux_binary, "-L", pane.socket, "kill-server"], capture_output=True, timeout=10
        )


def shell(env: dict[str, str], *argv: str, status_file: Path) -> str:
    """A shell command line for the pane: the CLI with ``env``, its status into a file
    (and the pane kept open, so the screen after exit can be read)."""
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "activecalls_async", *argv))
    unset = " ".join(f"-u {name}" for name in os.environ if name.startswith("ACTIVECALLS_"))
    return (
        f"env {unset} {assignments} {command}; echo $? > {shlex.quote(str(status_file))}; sleep 30"
    )


def wait_status(path: Path, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.1)
    raise AssertionError("the command did not exit")


def rows_of(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if line.startswith("@")]


def test_top_fits_80_columns_and_quits_on_q(pane: Pane, tmp_path: Path) -> None:
    status = tmp_path / "status"
    env = {"ACTIVECALLS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start(shell(env, "--simulator", "top", "--interval", "1", status_file=status))
    screen = pane.wait_for(lambda s: "@1" in s and "ID" in s)
    lines = screen.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if line.startswith("ID "))
    assert header.split() == list(COLUMNS)
    assert lines[0].startswith("SIMULATED ACCOUNT:12440001:")
    assert "queued" in lines[0]
    assert "budget" in lines[1]
    assert lines[2].startswith("queues: ")
    rows = rows_of(screen)
    assert len(rows) >= 15  # the screen is used, 24 lines minus the heading and footer
    assert [row.split()[0] for row in rows] == [f"@{n}" for n in range(1, len(rows) + 1)]
    # Each handle on screen is whole and saved for the action commands.
    saved = json.loads((tmp_path / "last-top.json").read_text())
    assert len(saved["uiis"]) == len(rows)
    assert all(len(uii) == 30 for uii in saved["uiis"])

    started = time.monotonic()
    pane.keys("q")
    assert wait_status(status) == 0
    assert time.monotonic() - started < 5
    after = pane.screen()
    assert "Traceback" not in after
    assert "@1 " not in after  # the full screen was left: the shell's screen is back


def test_top_quits_on_ctrl_c_with_status_130(pane: Pane, tmp_path: Path) -> None:
    status = tmp_path / "status"
    env = {"ACTIVECALLS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start(shell(env, "--simulator", "--sim-calls", "50", "top", status_file=status))
    pane.wait_for(lambda s: "@1" in s)
    pane.keys("C-c")
    assert wait_status(status) == 130
    assert "Traceback" not in pane.screen()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A standalone simulator in another process, and the variables that reach it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVECALLS_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "activecalls_async", "simulator", "--port", "0", "--calls", "300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean,
    )
    try:
        env: dict[str, str] = {}
        assert child.stdout is not None
        while len(env) < 3:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "the simulator stopped"
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = value
        yield env
    finally:
        child.terminate()
        child.communicate(timeout=10)


def test_an_id_shown_by_top_acts_on_that_call(
    pane: Pane, tmp_path: Path, served: dict[str, str]
) -> None:
    status = tmp_path / "status"
    env = {**served, "ACTIVECALLS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start(shell(env, "top", status_file=status))
    screen = pane.wait_for(lambda s: "@3" in s)
    assert not screen.startswith("SIMULATED")  # a configured account: no banner
    pane.keys("q")
    assert wait_status(status) == 0
    third = json.loads((tmp_path / "last-top.json").read_text())["uiis"][2]

    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVECALLS_")}
    done = subprocess.run(
        [sys.executable, "-m", "activecalls_async", "hangup", "@3", "-f", "json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {
        "ok": True,
        "command": "hangup",
        "uii": third,
        "message": f"hung up call {third}",
    }
    listed = subprocess.run(
        [sys.executable, "-m", "activecalls_async", "list", "-f", "json", "--no-progress"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert third not in {call["uii"] for call in json.loads(listed.stdout)}
