"""``activecalls top``: its layout at any width, its order, its budget meter, the handles it
saves, and its plain refresh on a pipe. (Its real terminal is in test_top_terminal.py.)"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from activecalls_async import ActiveCall, ClientStats, RateLimit
from activecalls_async._cli.failures import UsageError
from activecalls_async._cli.handles import resolve_handle, save_view, view_path
from activecalls_async._cli.top import Budget, TopView
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
    return top


CALLS = [
    call("2" * 30, waited=30, talking=600),
    call("3" * 30, waited=5, queue="Support"),
    call("4" * 30, waited=90, queue="Support"),
    call("5" * 30, waited=400, talking=10),
]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_every_line_fits_and_the_handle_is_never_cut(width: int) -> None:
    lines = view(CALLS).lines(width, 24, NOW)
    assert all(len(text) <= width for text, _ in lines)
    rows = [text for text, _ in lines if text.startswith("@")]
    assert [row.split()[0] for row in rows] == ["@1", "@2", "@3", "@4"]
    header = next(text for text, style in lines if style == "header")
    if width >= 120:
        assert header.split()[:2] == ["ID", "UII"]  # room for the whole uii
        assert all("4" * 30 in text or "4" * 30 not in text for text in rows)
        assert any("4" * 30 in row for row in rows)
    else:
        assert "UII" not in header


def test_waiting_calls_first_longest_wait_first_and_highlighted() -> None:
    top = view(CALLS)
    assert [c.uii[0] for c in top.rows(NOW)] == ["4", "3", "5", "2"]
    lines = top.lines(80, 24, NOW)
    styles = [style for text, style in lines if text.startswith("@")]
    assert styles == ["queued", "queued", None, None]
    first = next(text for text, _ in lines if text.startswith("@1"))
    assert "QUEUED" in first
    assert "1:30" in first  # waited 90 s so far
    fourth = next(text for text, _ in lines if text.startswith("@4"))
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


def test_handles_resolve_against_the_saved_rows(tmp_path: Path) -> None:
    path = view_path({"ACTIVECALLS_STATE_DIR": str(tmp_path)})
    assert view_path({"XDG_STATE_HOME": "/x"}) == Path("/x/activecalls/last-top.json")
    uiis = ["202611301200000000000000000001", "202611301201000000000000000002"]
    where = {"base_url": "http://127.0.0.1:1/voice", "account_id": "1"}
    with pytest.raises(UsageError, match="run it first"):
        resolve_handle("@1", path, **where)
    assert resolve_handle("2026113012", path, **where) == "2026113012"  # nothing to match
    save_view(path, uiis=uiis, **where)
    assert json.loads(path.read_text())["uiis"] == uiis
    assert resolve_handle("@2", path, **where) == uiis[1]
    with pytest.raises(UsageError, match="showed 2 rows"):
        resolve_handle("@3", path, **where)
    with pytest.raises(UsageError, match="starts 2 uiis"):
        resolve_handle("2026113012", path, **where)
    assert resolve_handle("202611301201", path, **where) == uiis[1]
    assert resolve_handle(uiis[0], path, **where) == uiis[0]
    # Rows shown for another account or server are not used.
    with pytest.raises(UsageError, match="no rows"):
        resolve_handle("@1", path, base_url=where["base_url"], account_id="2")


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
    assert first[3].split() == ["ID", "STATE", "WAIT", "TALK", "QUEUE", "AGENT", "ANI"]
    saved = json.loads((tmp_path / "last-top.json").read_text())
    assert saved["accountId"] == activecalls_simulator.account_id
    assert saved["baseUrl"] == activecalls_simulator.base_url
    listed = {c["uii"] for c in activecalls_simulator.wire_calls("ACD", 55)}
    assert saved["uiis"]
    assert set(saved["uiis"]) <= listed

    uii = saved["uiis"][0]
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
