"""``activecalls watch``: events as NDJSON, and the refreshing table, while calls come and go."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from activecalls_async import RateLimit
from activecalls_async import client as client_module
from activecalls_async._cli import live
from activecalls_async.testing import Simulator

from .conftest import QUEUE, Cli, Result


@pytest.fixture(autouse=True)
def room_for_fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """These watches poll every 0.2 s, more often than a watch's share of the default
    120 requests a minute allows: the CLI's client gets the same limit over 0.6 s."""
    monkeypatch.setattr(
        client_module, "RateLimit", lambda requests, per: RateLimit(requests, per=per / 100)
    )


async def watch_while_changing(cli: Cli, sim: Simulator, *argv: str) -> tuple[Result, str, str]:
    """Watch queue 55 for 1.5 s; after the first poll, one call starts and one ends."""
    ending = str(sim.wire_calls(*QUEUE)[0]["uii"])
    run = asyncio.ensure_future(
        cli.run("watch", "-p", "ACD:55", "--interval", "0.2", "--duration", "1.5", *argv)
    )
    while not any(r.operation == "list" and r.param("maxRows") != "1" for r in sim.requests):  # noqa: ASYNC110 - the simulator has no event to wait on
        await asyncio.sleep(0.02)  # until the first full poll has been made
    await asyncio.sleep(0.4)  # longer than a redraw period: the first table is drawn
    started = sim.add_call(product="ACD", product_id=55)
    assert sim.end_call(ending)
    return await run, started, ending


async def test_ndjson_streams_started_and_ended_events(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    initial = [c["uii"] for c in activecalls_simulator.wire_calls(*QUEUE)]
    result, started, ending = await watch_while_changing(
        cli, activecalls_simulator, "--format", "ndjson"
    )
    assert result.status == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    first = events[: len(initial)]
    assert [(e["event"], e["call"]["uii"]) for e in first] == [("started", u) for u in initial]
    later = [(e["event"], e["call"]["uii"]) for e in events[len(initial) :]]
    assert later == [("started", started), ("ended", ending)]


async def test_table_redraws_as_calls_change(cli: Cli, activecalls_simulator: Simulator) -> None:
    count = len(activecalls_simulator.wire_calls(*QUEUE))
    result, _, ending = await watch_while_changing(cli, activecalls_simulator, "--rows", "3")
    assert result.status == 0, result.err
    headings = [line for line in result.out.splitlines() if line.startswith("ACD:55: ")]
    assert headings[0].startswith(f"ACD:55: {count} calls in flight (+{count} started, ~0 changed")
    assert headings[-1].startswith(f"ACD:55: {count} calls in flight (+{count + 1} started")
    assert "-1 ended" in headings[-1]
    snapshot = result.out.rpartition("ACD:55: ")[2].splitlines()
    assert snapshot[1].split()[:2] == ["UII", "STATE"]
    assert len(snapshot) == 2 + 3 + 1 + 1  # heading, header, 3 rows, "… and N more", blank
    assert snapshot[5] == f"… and {count - 3} more"
    assert ending not in "\n".join(snapshot)  # the longest call ended: no longer shown


async def test_rich_live_table_on_a_terminal(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "is_terminal", lambda stream: True)
    monkeypatch.setenv("COLUMNS", "220")
    result = await cli.run("watch", "-p", "ACD:55", "--interval", "0.2", "--duration", "0.6")
    assert result.status == 0, result.err
    count = len(activecalls_simulator.wire_calls(*QUEUE))
    assert f"ACD:55: {count} calls in flight" in result.out
    assert "─" in result.out  # drawn by rich
    assert str(activecalls_simulator.wire_calls(*QUEUE)[0]["uii"]) in result.out


@pytest.mark.parametrize("columns", ["80", "120"])
async def test_a_narrow_terminal_never_cuts_the_uii(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setattr(live, "is_terminal", lambda stream: True)
    monkeypatch.setenv("COLUMNS", columns)
    result = await cli.run("watch", "-p", "ACD:55", "--interval", "0.2", "--duration", "0.5")
    assert result.status == 0, result.err
    uiis = {str(call["uii"]) for call in activecalls_simulator.wire_calls(*QUEUE)}
    shown = re.findall(r"\d{20,}…?", result.out)
    assert len(set(shown)) == min(len(uiis), 20)
    assert set(shown) <= uiis  # each uii whole: a cut one would end in "…"
    assert all(len(line) <= int(columns) for line in result.out.splitlines())


async def test_watch_defaults_to_the_whole_account(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run("watch", "-f", "ndjson", "--interval", "5", "--duration", "0.5")
    assert result.status == 0, result.err
    assert len(result.out.splitlines()) == len(activecalls_simulator.wire_calls())
