"""``activecalls top`` in a real terminal: a tmux pane, keys sent to it, its screen read back.
Outside CI a missing tmux skips these tests with one line; under ``CI=true`` it fails them
(``.ci/run`` installs tmux).

The simulator behind the pane runs in this process (in a thread of its own), as
``activecalls simulator --no-live --calls 30 --rate-limit 0`` would, so that the tests can
read every request it received.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from activecalls_async.testing import Simulator
from tests.support import need_program

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux_binary() -> str:
    """The tmux executable; a clear skip without it, except under CI where it must exist."""
    return need_program(
        "tmux", "tmux not found: the real-terminal tests of 'activecalls top' need it"
    )


class Pane:
    """One tmux server of our own (its own socket) running one pane."""

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

    def start(self, command: str, size: tuple[int, int] = (80, 24)) -> None:
        width, height = size
        self.run("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "top", command)

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
            time.sleep(0.1)
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
    # A COLUMNS or LINES that the test runner's process exported would override the pane's
    # real size (for shutil.get_terminal_size, and so for Textual): the pane's size rules.
    unset += " -u COLUMNS -u LINES"
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
    """The table's rows: the lines whose first word is a handle."""
    return [line.strip() for line in screen.splitlines() if re.match(r"\s*@\d+\s", line)]


@attrs.define
class Served:
    """A simulator serving from a thread of this process, and the variables that reach it."""

    sim: Simulator
    env: dict[str, str]
    loop: asyncio.AbstractEventLoop

    def hangups(self) -> list[str | None]:
        """The uii of every hangupCall request received so far."""
        return [r.uii for r in list(self.sim.requests) if r.operation == "hangupCall"]

    def calls_left(self) -> int:
        """How many calls the simulator still lists."""
        return asyncio.run_coroutine_threadsafe(self._count(), self.loop).result(10)

    async def _count(self) -> int:
        return len(self.sim.calls())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``activecalls simulator --no-live --calls 30 --rate-limit 0``, in a thread."""
    loop = asyncio.new_event_loop()
    sim = Simulator(calls=30, seed=7, live=False, rate_limit=None)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sim.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(sim.stop())

    thread = threading.Thread(target=serve, name="simulator", daemon=True)
    thread.start()
    assert started.wait(15), "the simulator did not start"
    env = {
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_TOKEN": sim.token,
        "ACTIVECALLS_STATE_DIR": str(tmp_path / "state"),
        "TERM": "xterm-256color",
    }
    try:
        yield Served(sim, env, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()


def test_the_highlighted_call_is_the_one_hung_up_and_n_sends_nothing(
    pane: Pane, tmp_path: Path, served: Served
) -> None:
    status = tmp_path / "status"
    pane.start(shell(served.env, "top", status_file=status), size=(100, 30))
    pane.wait_for(lambda s: len(rows_of(s)) >= 20)
    pane.keys("Down", "Down")
    pane.wait_for(lambda s: "@3" in s)
    pane.keys("Enter")
    detail = pane.wait_for(lambda s: re.search(r"\buii\s+\d{20,}", s) is not None)
    match = re.search(r"\buii\s+(\d{20,})", detail)
    assert match is not None
    uii = match.group(1)
    assert re.search(r"handle\s+@3\b", detail)
    pane.keys("Escape")
    pane.wait_for(lambda s: "dequeueTime" not in s)

    pane.keys("x")
    dialog = pane.wait_for(lambda s: "Hang up this call?" in s)
    assert f"@3  {uii}" in dialog  # the dialog names the call the detail pane showed
    pane.keys("n")
    pane.wait_for(lambda s: "cancelled: nothing sent" in s)
    assert served.hangups() == []

    pane.keys("x")
    pane.wait_for(lambda s: "Hang up this call?" in s)
    pane.keys("y")
    done = pane.wait_for(lambda s: "✓ hung up" in s)
    assert f"✓ hung up @3 ({uii})" in done
    assert served.hangups() == [uii]
    assert served.calls_left() == 29

    pane.keys("q")
    assert wait_status(status) == 0
    after = pane.screen()
    assert "Traceback" not in after
    assert not rows_of(after)  # the full screen was left: the shell's screen is back


def test_top_fits_80_columns_and_quits_on_q(pane: Pane, tmp_path: Path) -> None:
    status = tmp_path / "status"
    env = {"ACTIVECALLS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start(shell(env, "--simulator", "top", "--interval", "1", status_file=status))
    screen = pane.wait_for(lambda s: len(rows_of(s)) >= 15)
    lines = screen.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if line.split()[:1] == ["ID"])
    assert header.split() == ["ID", "STATE", "WAIT", "TALK", "QUEUE", "AGENT", "ANI"]
    assert lines[0].startswith("SIMULATED ACCOUNT:12440001:")
    assert "queued" in lines[0]
    assert lines[1].startswith("budget ")
    assert lines[2].startswith("queues: ")
    assert "? keys" in lines[-1]
    rows = rows_of(screen)
    assert [row.split()[0] for row in rows] == [f"@{n}" for n in range(1, len(rows) + 1)]

    started = time.monotonic()
    pane.keys("q")
    assert wait_status(status) == 0
    assert time.monotonic() - started < 5
    after = pane.screen()
    assert "Traceback" not in after
    assert not rows_of(after)


def test_top_quits_on_ctrl_c_with_status_130(pane: Pane, tmp_path: Path) -> None:
    status = tmp_path / "status"
    env = {"ACTIVECALLS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    pane.start(shell(env, "--simulator", "--sim-calls", "50", "top", status_file=status))
    pane.wait_for(lambda s: "@1" in s)
    pane.keys("C-c")
    assert wait_status(status) == 130
    after = pane.screen()
    assert "Traceback" not in after
    assert not rows_of(after)


def test_a_handle_shown_by_top_acts_on_that_call(
    pane: Pane, tmp_path: Path, served: Served
) -> None:
    status = tmp_path / "status"
    pane.start(shell(served.env, "top", status_file=status), size=(200, 50))
    screen = pane.wait_for(lambda s: len(rows_of(s)) >= 20)
    assert not screen.startswith("SIMULATED")  # a configured account: no banner
    header = next(line for line in screen.splitlines() if line.split()[:2] == ["ID", "UII"])
    assert header.split()[:2] == ["ID", "UII"]  # 200 columns: the whole uii is shown
    third = next(row for row in rows_of(screen) if row.startswith("@3 "))
    uii = third.split()[1]
    pane.keys("q")
    assert wait_status(status) == 0

    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVECALLS_")}
    done = subprocess.run(
        [sys.executable, "-m", "activecalls_async", "-f", "json", "hangup", "@3"],
        env={**clean, **served.env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ok": True,
        "command": "hangup",
        "uii": uii,
        "message": f"hung up call {uii}",
    }
    assert served.hangups() == [uii]
    # Now that call has ended; the handle is not handed to another call.
    again = subprocess.run(
        [sys.executable, "-m", "activecalls_async", "hangup", "@3"],
        env={**clean, **served.env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1, again.stderr
    assert uii in again.stderr
    assert served.hangups() == [uii, uii]  # the table had not seen it end: the server said 404
    assert "HTTP 404" in again.stderr
