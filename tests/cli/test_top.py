"""``activecalls top``'s plain snapshots: their layout at any width, their order, the budget
meter, the handles they show, and their refresh on a pipe. (The interactive console is in
test_console.py, its real terminal in test_top_terminal.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from activecalls_async import ActiveCall, ClientStats, RateLimit
from activecalls_async._cli.console.columns import layout
from activecalls_async._cli.handles import HandleTable, state_dir
from activecalls_async._cli.top import Budget, TopView
from activecalls_async.cli import main
from activecalls_async.testing import Simulator

from .conftest import Cli

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def call(uii: str, *, waited: int, talking: int | None = None, queue: str = "Sales") -> ActiveCall:
    enqueue = NOW - timedelta(seconds=waited + (talking or 0))
    dequeue = None if talking is None else NOW - timedelta(seconds=talking)
    return ActiveCall(
        uii=uii,
        account_id="12440001",
        ani="6505550100",
        enqueue_time=enqueue,
        dequeue_time=dequeue,
        call_state="ACTIVE",
        agent_first_name=None if talking is None else "Adaline",
        agent_last_name=None if talking is None else "Featherstonehaugh-Smythe",
        destination_name=f"{queue} Queue With A Very Long Name Indeed",
    )


def view(
    calls: list[ActiveCall], sort: str = "wait", keys: tuple[str, ...] | None = None
) -> TopView:
    meter = Budget(ClientStats(RateLimit(120, per=60.0)), 120, 60.0)
    top = TopView(label="ACCOUNT:12440001", sort=sort, keys=keys, budget=meter, interval=5.0)
    top.calls = calls
    top.refreshed = NOW
    # Handles are not row numbers: the first call listed got @7, the others later ones.
    top.numbers = {c.uii: 7 + n for n, c in enumerate(calls)}
    return top


CALLS = [
    call("2" * 30, waited=30, talking=600),
    call("3" * 30, waited=5, queue="Support"),
    call("4" * 30, waited=90, queue="Support"),
    call("5" * 30, waited=400, talking=10),
]


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_every_line_fits_and_the_handle_is_never_cut(width: int) -> None:
    lines = view(CALLS).lines(width, 24, NOW)
    assert all(len(text) <= width for text, _ in lines)
    rows = [text for text, _ in lines if text.startswith("@")]
    # Waiting calls first: the handles follow the calls, not the rows.
    assert [row.split()[0] for row in rows] == ["@9", "@8", "@10", "@7"]
    header = next(text for text, style in lines if style == "header")
    if width >= 100:
        assert header.split()[:2] == ["ID", "UII"]  # room for the whole uii
        assert any("4" * 30 in row for row in rows)
    else:
        assert "UII" not in header
        assert not any("4" * 29 in row for row in rows)  # whole or not at all


def test_waiting_calls_first_longest_wait_first_and_highlighted() -> None:
    top = view(CALLS)
    assert [c.uii[0] for c in top.rows(NOW)] == ["4", "3", "5", "2"]
    lines = top.lines(80, 24, NOW)
    styles = [style for text, style in lines if text.startswith("@")]
    assert styles == ["queued", "queued", None, None]
    first = next(text for text, _ in lines if text.startswith("@9"))
    assert "QUEUED" in first
    assert "1:30" in first  # waited 90 s so far
    fourth = next(text for text, _ in lines if text.startswith("@7"))
    assert "30s" in fourth
    assert "10:00" in fourth  # talking for 600 s
    assert lines[0][0] == "ACCOUNT:12440001: 4 calls, 2 queued at 12:00:00 UTC"
    assert lines[1][0].startswith("budget 0/120 requests per 60s")
    assert (
        lines[2][0]
        == "queues: Support Queue With A Very Long Name Indeed 2 (2 waiting) · "
        + ("Sales Queue With A Very Long Name Indeed 2")[
            : 80 - len("queues: Support Queue With A Very Long Name Indeed 2 (2 waiting) · ") - 1
        ]
        + "…"
    )


def test_other_orders_and_chosen_columns() -> None:
    assert [c.uii[0] for c in view(CALLS, "talk").rows(NOW)] == ["2", "5", "3", "4"]
    assert [c.uii[0] for c in view(CALLS, "queue").rows(NOW)][:2] == ["5", "2"]
    lines = view(CALLS, keys=("agent", "uii")).lines(80, 24, NOW)
    header = next(text for text, style in lines if style == "header")
    assert header.split() == ["ID", "AGENT", "UII"]


def test_rows_stop_at_the_screen_and_say_how_many_more() -> None:
    many = [call(f"{n:030d}", waited=n) for n in range(1, 60)]
    lines = view(many).lines(80, 24, NOW)
    assert len(lines) == 24
    assert lines[-1][0] == "… and 40 more (sort: wait)"
    assert view(many).shown_uiis(24, NOW)[0] == f"{59:030d}"


async def test_the_budget_shows_the_requests_in_the_limiters_window() -> None:
    ticks = [0.0]
    limit = RateLimit(3, per=10.0, clock=lambda: ticks[0])
    budget = Budget(ClientStats(limit), limit.requests, limit.per)
    for _ in range(3):
        await limit.acquire()
        await limit.release()
    assert budget.used() == 3
    ticks[0] = 10.5
    assert budget.used() == 0
    await asyncio.wait_for(limit.acquire(), 1)
    assert budget.used() == 1  # in flight counts


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 200])
@pytest.mark.parametrize("gap", [1, 2])
def test_columns_share_the_width(width: int, gap: int) -> None:
    placed = layout(width, gap=gap)
    keys = [p.spec.key for p in placed]
    total = sum(p.width for p in placed) + gap * (len(placed) - 1)
    assert total <= width
    assert keys[:1] == ["id"]
    assert {"state", "wait", "talk", "destination", "agent"} <= set(keys)
    uii = next((p for p in placed if p.spec.key == "uii"), None)
    assert uii is None or uii.width == 30  # whole or not at all
    names = {p.spec.key: p.width for p in placed if p.spec.flexible}
    # Names never stretch past their caps, however wide the screen.
    assert names["destination"] <= 28
    assert names["agent"] <= 24
    if width >= 120:
        assert {"uii", "ani"} <= set(keys)
    if width >= 160:
        assert "dnis" in set(keys)
    if width >= 200:
        assert {"enqueued", "answered", "cnam"} <= set(keys)
        assert names["destination"] == 28
    if width <= 80:
        assert "uii" not in keys


def test_chosen_columns_keep_their_order_and_a_narrow_screen_cuts_only_names() -> None:
    placed = layout(40, keys=("agent", "uii", "wait"))
    assert [p.spec.key for p in placed] == ["id", "agent", "uii", "wait"]
    assert [p.width for p in placed] == [4, 4, 30, 7]  # the uii whole, the name cut
    narrow = layout(36)
    assert {p.spec.key: p.width for p in narrow}["destination"] == 4


async def test_on_a_pipe_a_plain_snapshot_per_refresh(
    cli: Cli, activecalls_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_STATE_DIR", str(tmp_path))
    result = await cli.run("top", "--interval", "0.5", "--duration", "1.3", "-p", "ACD:55")
    assert result.status == 0, result.err
    snapshots = [s for s in result.out.split("\n\n") if s.strip()]
    assert 2 <= len(snapshots) <= 4
    first = snapshots[0].splitlines()
    assert first[0].startswith("ACD:55: ")
    assert first[1].startswith("budget ")
    assert first[3].split() == ["ID", "STATE", "WAIT", "TALK", "QUEUE", "AGENT", "ANI"]
    rows = [line for line in first if line.startswith("@")]
    assert [row.split()[0] for row in rows] == [f"@{n}" for n in range(1, len(rows) + 1)]
    # The next snapshot shows the same calls under the same handles.
    again = [line.split()[0] for line in snapshots[1].splitlines() if line.startswith("@")]
    assert again == [row.split()[0] for row in rows]

    table = HandleTable(
        state_dir({"ACTIVECALLS_STATE_DIR": str(tmp_path)}),
        base_url=activecalls_simulator.base_url,
        account_id=activecalls_simulator.account_id,
    )
    listed = [c.uii for c in activecalls_simulator.calls("ACD", 55)]
    uii = table.resolve("@1")
    assert uii in listed
    result = await cli.run("record", "off", "@1", "-f", "json")
    assert result.status == 0, result.err
    assert json.loads(result.out) == {
        "ok": True,
        "command": "record",
        "state": "off",
        "uii": uii,
        "message": f"recording paused on call {uii}",
    }
    assert activecalls_simulator.effect_count("toggleCallRecording", uii) == 1


async def test_once_prints_one_snapshot_and_numbers_only_the_rows_it_shows(
    cli: Cli, activecalls_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_STATE_DIR", str(tmp_path))
    result = await cli.run("top", "--once", "--sort", "talk")
    assert result.status == 0, result.err
    lines = result.out.rstrip("\n").splitlines()
    assert len(lines) == 24
    assert lines[-1].startswith("… and ")
    assert lines[-1].endswith(" more (sort: talk)")
    table = HandleTable(
        tmp_path,
        base_url=activecalls_simulator.base_url,
        account_id=activecalls_simulator.account_id,
    )
    assert table.resolve("@19") in {c.uii for c in activecalls_simulator.calls()}
    assert table.update() == {}
    assert table.last_number() == 19  # 24 lines hold 19 calls: only those got handles


def test_the_help_of_top_names_its_keys_handles_and_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["top", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in (
        "m monitor, c coach, b barge in, r recording on/off, h hold on/off, g requeue",
        "d disposition, x hang up, s end a supervisor's session",
        "/ filters, o changes the sort, ? lists the keys, q quits (status 0), Ctrl-C",
        "y or Enter confirms, n or Esc cancels",
        "@N, that names it for as long as it lives",
        "--once print one plain snapshot",
        "--supervisor-phone PHONE the phone that monitors, coaches or barges in",
        "ACTIVECALLS_SUPERVISOR_PHONE",
    ):
        assert words in text, words


async def test_a_wrong_supervisor_phone_variable_is_a_usage_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_SUPERVISOR_PHONE", "not a phone")
    result = await cli.run("top", "--once")
    assert result.status == 2
    assert result.err.strip().startswith("activecalls: error: invalid ACTIVECALLS_SUPERVISOR_PHONE")


def test_textual_is_imported_only_by_the_interactive_console(tmp_path: Path) -> None:
    """The SDK, every other command and the plain ``top`` never load Textual."""
    script = (
        "import sys\n"
        "import activecalls_async, activecalls_async.cli\n"
        "from activecalls_async._cli import commands, live, top, handles\n"
        "from activecalls_async.cli import main\n"
        "assert main(['--simulator', '--sim-calls', '30', 'top', '--once']) == 0\n"
        "assert main(['--simulator', '--sim-calls', '30', 'list', '--no-progress']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ACTIVECALLS_STATE_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_handles_that_cannot_be_saved_are_said_once_on_stderr(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state directory should be")
    monkeypatch.setenv("ACTIVECALLS_STATE_DIR", str(blocked))
    result = await cli.run("top", "--interval", "0.3", "--duration", "1", "-p", "ACD:55")
    assert result.status == 0, result.err
    assert result.out.count("\n\nACD:55: ") >= 1  # snapshots, each with its handles
    assert "@1 " in result.out
    said = [line for line in result.err.splitlines() if "handles not saved" in line]
    assert len(said) == 1
    assert said[0].startswith("activecalls: handles not saved (")
