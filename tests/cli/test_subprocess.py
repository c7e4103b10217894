"""Real processes: ``python -m activecalls_async demo`` end to end, and ``simulator`` serving
another process's CLI until Ctrl-C."""

from __future__ import annotations

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
    # Live traffic: a call or two may start or end while the listings are walked.
    counted = r"\n✓ [0-9,]+ rows → (2,9[0-9]{2}|3,0[0-9]{2}) unique calls in [0-9.]+ s"
    assert re.search(counted + r" \([0-9]+ requests\)\n", out)
    assert "Loading pages" not in out  # the progress display stays on stderr
    for heading in ("Calls per product", "Longest-waiting calls", "Busiest agents"):
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
    positions = [out.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)  # shown in the scenario's order
    last = out.strip().splitlines()[-1]
    assert last.startswith("✓ Done: ")
    assert " requests (0 throttled) in " in last


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``activecalls simulator`` in a child process, and the variables it printed."""
    child = subprocess.Popen(
        [*SIMULATOR, "--port", "0", "--calls", "120", "--no-live", "--duration", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        settings: dict[str, str] = {}
        for line in child.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                settings[name] = value
            if line.startswith("# then"):
                break
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
