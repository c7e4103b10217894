"""Real processes: ``python -m activecalls_async demo`` end to end, and ``simulator`` serving
another process's CLI until Ctrl-C."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest

from activecalls_async.cli import main
from activecalls_async.testing import Simulator

from .conftest import Cli

SIMULATOR = [sys.executable, "-m", "activecalls_async", "simulator"]


def child_env() -> dict[str, str]:
    """The test's environment minus ACTIVECALLS_* (already cleared), with UTF-8 output."""
    return {**os.environ, "PYTHONIOENCODING": "utf-8"}


def test_console_script_is_the_entry_function() -> None:
    (script,) = entry_points(group="console_scripts", name="activecalls")
    assert script.load() is main


def test_demo_runs_end_to_end_within_its_budget() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "activecalls_async", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 20
    out = done.stdout
    assert "Traceback" not in done.stderr
    assert "3,000 live calls" in out
    assert "rate limit 120 requests/60 s" in out
    assert "Listing 34 listings across 7 products concurrently" in out
    assert "which the server is known to send whole" in out
    # Live traffic: a call or two may start or end while the listings are walked.
    counted = r"\n✓ [0-9,]+ rows → (2,9[0-9]{2}|3,[01][0-9]{2}) unique calls in [0-9.]+ s"
    assert re.search(counted + r" \([0-9]+ requests\)\n", out)
    assert "Loading pages" not in out  # the progress display stays on stderr
    for heading in ("Calls per product", "Longest-waiting calls", "Longest calls in progress"):
        assert heading in out
    for product in ("ACCOUNT", "ACD", "OUTBOUND", "VISUAL_IVR", "CLOUD_PROFILE", "TRAC_NUMBER"):
        assert f"\n{product} " in out
    assert "\nDNIS " in out
    steps = [
        "add a MONITOR session for +15554150123",
        "sessions on the call: +15554150123 MONITOR",
        "escalate it to BARGEIN",
        "sessions on the call: +15554150123 BARGEIN",
        "pause recording",
        "recording: off",
        "resume recording",
        "recording: on",
        "disposition recorded: SALE, callback",
        "remove the supervisor",
        "sessions on the call: none",
        "hang up the call",
        "call ended",
        "NotFoundError (HTTP 404): the call has ended",
    ]
    # A caller may hang up mid-scenario (the traffic is live): the demo then starts again
    # on the next longest call, and that last run is the one shown whole.
    last = out[out.rindex("Supervisor scenario on the longest call") :]
    positions = [last.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)  # shown in the scenario's order
    last = out.strip().splitlines()[-1]
    assert last.startswith("✓ Done: ")
    assert " requests (0 throttled) in " in last


#: Starts the command after setting SIGINT to SIG_DFL or SIG_IGN (first argument), so the
#: test does not depend on how pytest itself was started: a CI runner, ``nohup`` or ``&``
#: in a script hands its children SIGINT ignored.
LAUNCH = (
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def serve(sigint: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``activecalls simulator`` in a child process, and the variables it printed."""
    argv = ["-m", "activecalls_async", "simulator", "--port", "0", "--calls", "120", "--no-live"]
    child = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, sigint, *argv, "--duration", "30"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert child.stdout is not None
    settings: dict[str, str] = {}
    for line in child.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            settings[name] = value
        if line.startswith("# then"):
            break
    return child, settings


@pytest.fixture(params=["SIG_DFL", "SIG_IGN"], ids=["sigint-default", "sigint-ignored"])
def served(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """The simulator command started with SIGINT at its default and, as a CI runner or a
    background job starts it, ignored: Ctrl-C must stop it either way."""
    child, settings = serve(request.param)
    try:
        yield child, settings
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()


async def test_simulator_serves_another_process_until_ctrl_c(
    served: tuple[subprocess.Popen[str], dict[str, str]],
    bare_cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child, settings = served
    assert sorted(settings) == [
        "ACTIVECALLS_ACCOUNT_ID",
        "ACTIVECALLS_BASE_URL",
        "ACTIVECALLS_TOKEN",
    ]
    assert settings["ACTIVECALLS_BASE_URL"].startswith("http://127.0.0.1:")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    result = await bare_cli.run("list", "-f", "json")
    assert result.status == 0, result.err
    assert len(json.loads(result.out)) == 120
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=10)
    assert child.returncode == 130
    assert err == ""  # quiet: no traceback


def test_simulator_stops_cleanly_on_sigterm() -> None:
    child, settings = serve("SIG_IGN")
    try:
        assert "ACTIVECALLS_BASE_URL" in settings
        child.terminate()
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 143  # 128 + SIGTERM, as a shell reports a terminated job
    assert err == ""


# -- a reader that goes away (`activecalls list | head`) -----------------------------------

CLI = [sys.executable, "-m", "activecalls_async"]
QUIET_EXIT = ("Traceback", "Exception ignored", "BrokenPipeError", "error")


def run_into_closed_pipe(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [*CLI, *argv],
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=child_env(),
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "argv",
    [
        ["--simulator", "list", "--sim-calls", "3", "-f", "json"],  # fails on the last flush
        ["--simulator", "list", "--sim-calls", "300", "-f", "ndjson"],
        ["--simulator", "list", "--sim-calls", "300"],
        ["--simulator", "queue-check", "8661234567"],
        ["--help"],
    ],
    ids=" ".join,
)
def test_a_closed_stdout_ends_the_command_quietly_with_status_0(argv: list[str]) -> None:
    done = run_into_closed_pipe(*argv)
    assert done.returncode == 0, done.stderr
    for text in QUIET_EXIT:
        assert text not in done.stderr


def test_a_reader_that_stops_early_leaves_the_status_0() -> None:
    """``activecalls list -f ndjson | head -n 1``, the reader leaving mid-output."""
    child = subprocess.Popen(
        [*CLI, "--simulator", "list", "--sim-calls", "3000", "-f", "ndjson"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    assert child.stdout is not None
    assert child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()  # more than a pipe's buffer is still to come
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=60) == 0, err
    assert json.loads(first)["uii"]
    for text in QUIET_EXIT:
        assert text not in err


async def test_output_still_buffered_when_the_reader_left_is_dropped_before_exit(
    activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An action prints one short line: it sits in stdout's buffer, and the closed pipe only
    shows when it is flushed. main() flushes before it returns, so nothing is left for the
    interpreter to fail on at exit (which would print "Exception ignored" and exit 120)."""
    read, write = os.pipe()
    os.close(read)
    stream = io.TextIOWrapper(io.FileIO(write, "w"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stream)
    uii = str(activecalls_simulator.wire_calls()[0]["uii"])
    sim = activecalls_simulator
    connection = ["--base-url", sim.base_url, "--account-id", sim.account_id]
    status = await asyncio.to_thread(main, ["hangup", uii, *connection, f"--token={sim.token}"])
    assert status == 0
    assert sim.effect_count("hangupCall", uii) == 1
    stream.close()  # what the interpreter does at exit: must not raise


async def test_activecalls_log_debug_prints_one_line_per_request_and_no_secret(
    activecalls_simulator: Simulator,
) -> None:
    sim = activecalls_simulator
    env = {
        **child_env(),
        "ACTIVECALLS_LOG": "debug",
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_TOKEN": sim.token,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "activecalls_async",
        "list",
        "-p",
        "ACD:55",
        "-p",
        "ACCOUNT",
        "--page-size",
        "50",
        "-f",
        "csv",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 60)
    log = err.decode()
    assert child.returncode == 0, log
    attempts = [line for line in log.splitlines() if "DEBUG activecalls_async: list " in line]
    assert len(sim.requests) > 2
    assert len(attempts) == len(sim.requests)
    # A page asked past the end may still be on the wire when the command closes its client.
    assert all(re.search(r" -> (200|no answer) in \d+ ms \(attempt 1,", line) for line in attempts)
    assert sim.token not in log
    assert sim.token not in out.decode()
