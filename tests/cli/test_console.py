"""The interactive console of ``activecalls top``, headless (Textual's pilot): every key, both
kinds of dialog, the status line, the highlighted row that follows its call, and the
sizes it must fit. (The real terminal is in test_top_terminal.py.)"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from activecalls_async import ActiveCall, ActiveCallsError, Priority, RateLimit
from activecalls_async._cli.console import app as console_app
from activecalls_async._cli.console.calls import sort_key
from activecalls_async._cli.console.dialogs import ConfirmDialog, DetailPane, FormDialog, KeysPane
from activecalls_async._cli.console.feed import Refresh
from activecalls_async._cli.console.keys import KEYS
from activecalls_async._cli.console.plans import plan_for
from activecalls_async.testing import Simulator

from .conftest import Cli, assert_one_line_error
from .console_support import SUPERVISOR, Console, running_console

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    """Thirty calls, still, no rate limit: what each key does is exact."""
    return {"calls": 30, "seed": 7, "live": False, "rate_limit": None}


@pytest.fixture
async def console(activecalls_simulator: Simulator, tmp_path: Path) -> Any:
    async with running_console(
        activecalls_simulator, tmp_path, supervisor_phone=SUPERVISOR
    ) as running:
        yield running


def answered(console: Console) -> str:
    """A call on screen that an agent has answered (only those take sessions and holds)."""
    return next(
        uii
        for uii in console.rows()
        if (call := console.app.calls[uii]).agent_first_name and call.call_state == "ACTIVE"
    )


async def queued(console: Console) -> str:
    """A call waiting in queue (no agent yet), new on screen."""
    uii = console.sim.add_call(product="ACD", product_id=55)
    await console.refresh()
    assert console.app.calls[uii].dequeue_time is None
    return uii


# -- moving and looking --------------------------------------------------------------------


async def test_arrows_and_j_k_move_the_highlight(console: Console) -> None:
    rows = console.rows()
    assert console.highlighted() == rows[0]
    await console.press("down", "j")
    assert console.highlighted() == rows[2]
    await console.press("k")
    assert console.highlighted() == rows[1]
    await console.press("up", "up")
    assert console.highlighted() == rows[0]


async def test_the_highlight_follows_its_call_not_its_row(console: Console) -> None:
    await console.press("down", "down", "down")
    chosen = console.highlighted()
    place = console.rows().index(chosen)
    # A call that waited longer than any arrives: it sorts first and pushes the rows down.
    early = console.sim.now().replace(microsecond=0)
    newcomer = console.sim.add_call(
        product="ACD", product_id=55, enqueue_time=early.replace(year=2020)
    )
    await console.refresh()
    assert console.rows()[0] == newcomer
    assert console.highlighted() == chosen
    assert console.rows().index(chosen) == place + 1
    # Another order moves it again; the highlight stays on it.
    await console.press("o")
    assert console.app.sort == "talk"
    assert console.highlighted() == chosen


async def test_enter_opens_every_field_and_the_whole_uii(console: Console) -> None:
    await console.press("down", "down")
    uii = console.highlighted()
    await console.press("enter")
    assert isinstance(console.app.screen, DetailPane)
    text = console.text()
    assert uii in text
    handle = console.app.numbers[uii]
    assert f"@{handle}" in text
    for field in (
        "uii",
        "accountId",
        "ani",
        "dnis",
        "dnisE164",
        "enqueueTime",
        "dequeueTime",
        "callState",
        "archive",
        "agentFirstName",
        "agentLastName",
        "destinationName",
        "externalId",
        "cnam",
    ):
        assert field in text, field
    for close in ("escape", "enter", "q"):
        await console.press(close)
        assert not isinstance(console.app.screen, DetailPane), close
        assert console.app.return_code is None  # q closes the pane, it does not quit
        await console.press("enter")
    await console.press("escape")


async def test_question_mark_lists_every_key(console: Console) -> None:
    await console.press("question_mark")
    assert isinstance(console.app.screen, KeysPane)
    text = console.text()
    for key in KEYS:
        assert key.does[:40] in text, key
    await console.press("question_mark")
    assert not isinstance(console.app.screen, KeysPane)


async def test_o_cycles_through_the_orders(console: Console) -> None:
    seen = []
    for _ in range(5):
        await console.press("o")
        seen.append(console.app.sort)
        assert f"sort {console.app.sort}" in console.text()
    assert seen == ["talk", "queue", "agent", "state", "wait"]


async def test_slash_filters_by_queue_agent_ani_or_uii_start(console: Console) -> None:
    everything = set(console.rows())
    await console.press("slash")
    assert isinstance(console.app.screen, FormDialog)
    await console.type("sales")
    await console.press("enter")
    shown = console.rows()
    assert shown
    assert len(shown) < len(everything)
    assert all("sales" in (console.app.calls[u].destination_name or "").lower() for u in shown)
    assert f"filter 'sales': {len(shown)} of {len(everything)}" in console.text()
    # An ANI, and the start of a uii, each find their call.
    target = console.app.calls[sorted(everything)[3]]
    for text in (target.ani or "", target.uii[:20]):
        await console.press("slash")
        console.app.screen.query_one("Input").value = ""  # type: ignore[attr-defined]
        await console.type(text)
        await console.press("enter")
        assert target.uii in console.rows()
    # Emptied, the filter shows every call again.
    await console.press("slash")
    console.app.screen.query_one("Input").value = ""  # type: ignore[attr-defined]
    await console.press("enter")
    assert set(console.rows()) == everything
    assert console.status() == "no filter"


async def test_a_long_listing_shows_its_first_rows_and_says_so(
    activecalls_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_app, "MAX_ROWS", 10)
    async with running_console(activecalls_simulator, tmp_path) as console:
        assert len(console.rows()) == 10
        assert "the first 10 shown (/ filters)" in console.text()
        first = sorted(console.app.calls.values(), key=sort_key("wait", console.app.clock()))
        assert console.rows() == [c.uii for c in first[:10]]
        await console.press("slash")
        await console.type(first[20].uii)
        await console.press("enter")
        assert console.rows() == [first[20].uii]  # the filter reaches the others
        assert "the first 10" not in console.text()


async def test_handles_that_cannot_be_saved_hold_for_the_run_and_it_says_so(
    activecalls_simulator: Simulator, tmp_path: Path
) -> None:
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state directory should be")
    async with running_console(activecalls_simulator, blocked) as console:
        shown = console.app.table.on_screen()
        numbers = [console.app.numbers[c.uii] for c in shown]
        assert numbers == list(range(1, len(shown) + 1))
        assert "handles not saved" in console.text()
        assert "they hold for this run only" in (console.app.handles.problem or "")


# -- acting: each key, its dialogs, its one request ----------------------------------------


@pytest.mark.parametrize(
    ("key", "operation", "params"),
    [
        ("m", "addSessionToCall", {"destination": SUPERVISOR, "sessionType": "MONITOR"}),
        ("c", "addSessionToCall", {"destination": SUPERVISOR, "sessionType": "COACHING"}),
        ("b", "addSessionToCall", {"destination": SUPERVISOR, "sessionType": "BARGEIN"}),
        ("r", "toggleCallRecording", {"record": "false"}),
        ("h", "toggleCallHold", {"state": "ON"}),
        ("x", "hangupCall", {}),
    ],
)
async def test_each_action_asks_names_the_call_and_sends_one_request(
    console: Console, key: str, operation: str, params: dict[str, str]
) -> None:
    uii = answered(console)
    await console.highlight(uii)
    await console.press(key)
    assert isinstance(console.app.screen, ConfirmDialog)
    text = console.text()
    call = console.app.calls[uii]
    assert uii in text
    assert f"@{console.app.numbers[uii]}" in text
    assert re.search(rf"agent +{call.agent_name}", text)
    assert re.search(rf"queue +{call.destination_name}", text)
    assert console.actions() == []  # nothing before the answer
    await console.press("y")
    await console.until(lambda: console.status().startswith("✓"))
    (sent,) = console.actions()
    assert (sent.operation, sent.uii, sent.status) == (operation, uii, 200)
    assert dict(sent.query) == params
    assert f"@{console.app.numbers[uii]}" in console.status()


async def test_r_and_h_offer_the_other_state_and_remember_it(console: Console) -> None:
    uii = answered(console)
    await console.highlight(uii)
    await console.press("r")
    assert "Pause the recording" in console.text()
    await console.press("r")  # switch to the other state, and back
    assert "Resume the recording" in console.text()
    await console.press("r")
    await console.press("enter")
    await console.until(lambda: "recording paused" in console.status())
    await console.press("r")  # this run paused it: resuming is offered first
    assert "Resume the recording" in console.text()
    await console.press("y")
    await console.until(lambda: "recording resumed" in console.status())
    assert [r.param("record") for r in console.actions()] == ["false", "true"]

    await console.press("h", "y")
    await console.until(lambda: "on hold" in console.status())
    await console.refresh()  # the call is listed as HOLD now: h offers to take it off
    await console.press("h")
    assert "Take this call off hold" in console.text()
    await console.press("y")
    await console.until(lambda: "taken off hold" in console.status())
    assert [r.param("state") for r in console.actions()[2:]] == ["ON", "OFF"]


async def test_g_asks_for_the_gate_and_checks_it(console: Console) -> None:
    uii = answered(console)
    gate = console.sim.state.queues[-1].product_id
    await console.highlight(uii)
    await console.press("g")
    assert isinstance(console.app.screen, FormDialog)
    assert uii in console.text()  # the form names the call too
    await console.type("5x")
    await console.press("enter")
    assert "gate (queue) id: expected a whole number" in console.text()
    assert isinstance(console.app.screen, FormDialog)
    console.app.screen.query_one("Input").value = ""  # type: ignore[attr-defined]
    await console.type(str(gate))
    await console.press("enter")
    assert isinstance(console.app.screen, ConfirmDialog)
    assert f"queue (gate) {gate}" in console.text()
    await console.press("y")
    await console.until(lambda: f"sent back to queue {gate}" in console.status())
    (sent,) = console.actions()
    assert (sent.operation, sent.uii, sent.param("gateId")) == ("requeueCall", uii, str(gate))


async def test_d_asks_for_the_disposition_notes_and_an_optional_callback(
    console: Console,
) -> None:
    uii = answered(console)
    await console.highlight(uii)
    await console.press("d")
    await console.press("enter")  # the disposition is required
    assert "disposition: required" in console.text()
    await console.type("SALE")
    await console.press("enter")
    await console.type("paid by card")
    await console.press("enter")
    await console.type("2026-12-01T15:30")
    await console.press("enter")
    assert "Set this call's disposition to SALE?" in console.text()
    assert "2026-12-01 15:30" in console.text()
    await console.press("y")
    await console.until(lambda: "dispositioned SALE" in console.status())
    (sent,) = console.actions()
    assert dict(sent.query) == {
        "disposition": "SALE",
        "callback": "true",
        "callBackDTS": "20261201153000",
        "notes": "paid by card",
    }


async def test_s_asks_which_phone_and_ends_its_session(console: Console) -> None:
    uii = answered(console)
    await console.highlight(uii)
    await console.press("m", "y")
    await console.until(lambda: console.status().startswith("✓"))
    await console.press("s")
    form = console.app.screen
    assert isinstance(form, FormDialog)
    assert form.query_one("Input").value == SUPERVISOR  # type: ignore[attr-defined]
    await console.press("enter")
    assert f"End the session of {SUPERVISOR} on this call?" in console.text()
    await console.press("y")
    await console.until(lambda: "ended the session" in console.status())
    assert [(r.operation, r.param("phone")) for r in console.actions()[1:]] == [
        ("hangupSession", SUPERVISOR)
    ]


@pytest.mark.parametrize("key", ["y", "enter"])
async def test_y_or_enter_confirms(console: Console, key: str) -> None:
    await console.press("x", key)
    await console.until(lambda: console.status().startswith("✓ hung up"))
    assert [r.operation for r in console.actions()] == ["hangupCall"]


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_n_or_escape_cancels_and_sends_nothing(console: Console, key: str) -> None:
    uii = console.highlighted()
    for action in ("x", "m", "r", "h"):
        await console.press(action)
        assert isinstance(console.app.screen, ConfirmDialog)
        await console.press(key)
        assert not isinstance(console.app.screen, ConfirmDialog)
        assert console.status() == f"cancelled: nothing sent to @{console.app.numbers[uii]} ({uii})"
    await console.press("g")
    await console.press("escape")  # a form cancelled sends nothing either
    assert console.actions() == []
    assert console.sim.call(uii) is not None


async def test_the_supervisor_phone_is_asked_once_per_run(
    activecalls_simulator: Simulator, tmp_path: Path
) -> None:
    async with running_console(activecalls_simulator, tmp_path) as console:
        uii = answered(console)
        await console.highlight(uii)
        await console.press("m")
        assert isinstance(console.app.screen, FormDialog)
        await console.type("12")
        await console.press("enter")
        assert "supervisor phone:" in console.text()  # not a phone number: said, not sent
        console.app.screen.query_one("Input").value = ""  # type: ignore[attr-defined]
        await console.type(SUPERVISOR)
        await console.press("enter", "y")
        await console.until(lambda: console.status().startswith("✓ monitoring"))
        await console.press("c")  # remembered: straight to the confirmation
        assert isinstance(console.app.screen, ConfirmDialog)
        assert SUPERVISOR in console.text()
        await console.press("y")
        await console.until(lambda: console.status().startswith("✓ coaching"))
        assert [r.param("destination") for r in console.actions()] == [SUPERVISOR] * 2


# -- the status line -----------------------------------------------------------------------


async def test_a_decline_shows_the_servers_words_or_says_it_gave_none(console: Console) -> None:
    uii = await queued(console)  # no agent yet: the server declines a supervisor session
    await console.highlight(uii)
    await console.press("m", "y")
    await console.until(lambda: console.status().startswith("✗"))
    assert console.status().startswith("✗ declined by the server (it answered false)")
    console.sim.answer_declines("false: the call has no agent yet")
    await console.press("b", "y")
    await console.until(lambda: "no agent yet" in console.status())
    assert console.status().startswith("✗ declined by the server: the call has no agent yet")
    assert "the call has no agent yet" in console.text()


async def test_an_error_shows_in_the_status_line(console: Console) -> None:
    uii = console.highlighted()
    console.sim.end_call(uii)  # the caller hung up; the view has not refreshed yet
    await console.press("x", "y")
    await console.until(lambda: console.status().startswith("✗"))
    assert console.status().startswith(f"✗ hanging up @{console.app.numbers[uii]} ({uii}) failed")
    assert "HTTP 404" in console.status()


async def test_an_ended_highlighted_call_stays_struck_out_and_is_refused(
    console: Console,
) -> None:
    await console.press("down", "down")
    uii = console.highlighted()
    console.sim.end_call(uii)
    await console.refresh()
    assert console.highlighted() == uii
    assert console.rows().index(uii) == 2
    assert "ENDED" in console.text()
    await console.press("x")
    assert not isinstance(console.app.screen, ConfirmDialog)
    assert console.status() == f"✗ @{console.app.numbers[uii]} ({uii}) has ended: nothing sent"
    await console.press("down")
    await console.refresh()
    assert uii not in console.rows()  # once left, it goes
    assert console.actions() == []


async def test_a_call_that_ends_while_its_dialog_is_open_is_not_acted_on(
    console: Console,
) -> None:
    uii = console.highlighted()
    await console.press("x")
    console.sim.end_call(uii)
    await console.refresh()  # refreshing goes on under the dialog
    await console.press("y")
    assert console.status().endswith("ended before the confirmation: nothing sent")
    assert console.actions() == []


async def test_the_view_keeps_refreshing_while_asking_and_while_an_action_runs(
    activecalls_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = activecalls_simulator
    # A budget that lets the view refresh every 0.2 s (the API's would stretch it).
    fast = RateLimit(100_000, per=60.0)
    async with running_console(sim, tmp_path, interval=0.2, limit=fast) as console:
        await console.press("x")
        start = console.app.refreshes
        await console.until(lambda: console.app.refreshes >= start + 3)
        assert isinstance(console.app.screen, ConfirmDialog)
        await console.press("n")
        # A hang-up that takes as long as the test says: the view refreshes around it and
        # stays live to keys meanwhile.
        client = console.app.client
        hang_up, answer = client.hangup_call, asyncio.Event()

        async def slow_hang_up(uii: str, **options: Any) -> None:
            await answer.wait()
            await hang_up(uii, **options)

        monkeypatch.setattr(client, "hangup_call", slow_hang_up)
        await console.press("x", "y")
        await console.until(lambda: console.status().startswith("… hanging up"))
        start = console.app.refreshes
        await console.until(lambda: console.app.refreshes >= start + 3)
        await console.press("o")
        assert console.app.sort == "talk"
        answer.set()
        await console.until(lambda: console.status().startswith("✓ hung up"))
        assert [r.operation for r in console.actions()] == ["hangupCall"]


# -- leaving, and the sizes it fits --------------------------------------------------------


async def test_q_quits_with_status_0(console: Console) -> None:
    await console.press("q")
    await console.until(lambda: console.app.return_code is not None)
    assert console.app.return_code == 0


@pytest.mark.parametrize("where", ["main", "dialog", "form"])
async def test_ctrl_c_quits_with_status_130_from_anywhere(console: Console, where: str) -> None:
    opening = {"main": (), "dialog": ("x",), "form": ("g",)}[where]
    await console.press(*opening)
    await console.press("ctrl+c")
    await console.until(lambda: console.app.return_code is not None)
    assert console.app.return_code == 130
    assert console.actions() == []


async def test_duration_quits_with_status_0(
    activecalls_simulator: Simulator, tmp_path: Path
) -> None:
    async with running_console(activecalls_simulator, tmp_path, duration=0.3) as console:
        await console.until(lambda: console.app.return_code is not None)
        assert console.app.return_code == 0


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (200, 50)])
async def test_it_fits_the_terminal_and_numbers_the_rows_shown(
    activecalls_simulator: Simulator, tmp_path: Path, size: tuple[int, int]
) -> None:
    width, height = size
    async with running_console(activecalls_simulator, tmp_path, size=size) as console:
        table = console.app.table
        headers = [p.spec.header for p in table.placed]
        assert headers[:1] == ["ID"]
        assert table.max_scroll_x == 0  # every column fits: no sideways scrolling
        lines = console.text().splitlines()
        assert len(lines) == height
        assert all(len(line) <= width for line in lines)
        assert lines[0].startswith("SIMULATED ACCOUNT:12440001: 30 calls")
        shown = table.on_screen()
        assert len(shown) == min(height - 6, 30)  # three lines, the header, status, keys
        numbers = [console.app.numbers[c.uii] for c in shown]
        assert numbers == list(range(1, len(shown) + 1))  # @1, @2... top to bottom
        if width >= 200:
            assert {"UII", "DNIS", "ENQUEUED"} <= set(headers)
            assert all(c.uii in console.text() for c in shown)
        if width <= 80:
            assert "UII" not in headers
            assert "? keys" in lines[-1]
        # What the view numbered is what the action commands read.
        assert [console.handles.resolve(f"@{n}") for n in numbers] == [c.uii for c in shown]


# -- every action at ACTION priority; handles under live traffic ---------------------------


class Recorder:
    """A stand-in client that records which method each plan calls, and how."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        async def method(uii: str, **options: Any) -> None:
            self.calls.append((name, {"uii": uii, **options}))

        return method


@pytest.mark.parametrize(
    ("key", "values", "method"),
    [
        ("m", {}, "add_session_to_call"),
        ("c", {}, "add_session_to_call"),
        ("b", {}, "add_session_to_call"),
        ("r", {}, "toggle_call_recording"),
        ("h", {}, "set_call_hold"),
        ("g", {"gate": 55}, "requeue_call"),
        ("d", {"disposition": "SALE", "notes": None, "callback": None}, "disposition_call"),
        ("x", {}, "hangup_call"),
        ("s", {"phone": SUPERVISOR}, "hangup_session"),
    ],
)
async def test_every_action_is_one_request_at_action_priority(
    key: str, values: dict[str, Any], method: str
) -> None:
    call = ActiveCall(uii="U1", agent_first_name="Ada", call_state="ACTIVE", dequeue_time=NOW)
    plan = plan_for(key, call, values, phone=SUPERVISOR, recording_paused=False)
    recorder = Recorder()
    for each in (plan, plan.other) if plan.other else (plan,):
        await each.send(recorder, "U1")  # type: ignore[arg-type]
    assert {name for name, _ in recorder.calls} == {method}
    assert all(options["priority"] is Priority.ACTION for _, options in recorder.calls)
    assert all(options["uii"] == "U1" for _, options in recorder.calls)


async def test_under_live_traffic_a_handle_names_one_call_and_an_ended_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten refreshes while calls arrive and end: every handle on screen names the same uii
    each time it appears; then ``activecalls hangup @N`` for one whose call ended is
    refused (exit 1) without a request."""
    fast = RateLimit(100_000, per=60.0)
    live = {"live": True, "mean_call_seconds": 2.0, "tick": 0.05, "rate_limit": None}
    async with Simulator(calls=40, seed=3, **live) as sim:
        names: dict[int, str] = {}
        handles: dict[str, int] = {}
        async with running_console(sim, tmp_path, interval=0.25, limit=fast) as console:

            def numbered() -> bool:
                shown = console.app.table.on_screen()
                return all(call.uii in console.app.numbers for call in shown)

            for _ in range(10):
                seen = console.app.refreshes
                await console.until(lambda: console.app.refreshes > seen)  # noqa: B023
                await console.until(numbered)  # the rows just shown get their handles
                for call in console.app.table.on_screen():  # no await: the same screen
                    number = console.app.numbers[call.uii]
                    assert names.setdefault(number, call.uii) == call.uii
                    assert handles.setdefault(call.uii, number) == number
            last_listing = set(console.app.calls)
        ended = sorted((n, uii) for n, uii in names.items() if uii not in last_listing)
        assert ended, "no call ended in ten refreshes"
        assert len(names) > 30  # calls came and went: more handles than rows on screen
        number, uii = ended[0]
        monkeypatch.setenv("ACTIVECALLS_STATE_DIR", str(tmp_path))
        before = len(sim.requests)
        result = await Cli(capsys, sim).run("hangup", f"@{number}")
        line = assert_one_line_error(result, 1)
        assert f"@{number} is call {uii}, which has ended" in line
        assert len(sim.requests) == before


class FleetFeed:
    """A fleet's shared watch as the console sees it: refreshes come when the test says."""

    paced = True
    shared_with = 3

    def __init__(self) -> None:
        self.refreshes: asyncio.Queue[Refresh | ActiveCallsError] = asyncio.Queue()

    async def next(self) -> Refresh:
        refresh = await self.refreshes.get()
        if isinstance(refresh, ActiveCallsError):
            raise refresh
        return refresh

    async def aclose(self) -> None:
        pass


async def test_a_shared_view_refreshes_with_each_snapshot_and_says_it_is_shared(
    activecalls_simulator: Simulator, tmp_path: Path
) -> None:
    fleet = FleetFeed()
    async with running_console(activecalls_simulator, tmp_path, feed=lambda _: fleet) as console:
        assert "| shared with 3" in console.text()
        calls = activecalls_simulator.calls()
        before = console.app.refreshes
        # No interval passes (it is an hour): the snapshot itself is the refresh.
        fleet.refreshes.put_nowait(Refresh(calls[:2]))
        await console.until(lambda: console.app.refreshes == before + 1)
        # (the highlighted call, ended, stays on its row until the cursor leaves it)
        shown = set(console.rows()) - {console.highlighted()}
        assert shown == {c.uii for c in calls[:2]} - {console.highlighted()}
        fleet.refreshes.put_nowait(Refresh(calls[:3], problem="refresh failed: ACD:55: HTTP 503"))
        await console.until(lambda: "refresh failed: ACD:55: HTTP 503" in console.text())
        assert {c.uii for c in calls[:3]} <= set(console.rows())  # the calls it brought
        fleet.refreshes.put_nowait(ActiveCallsError("the fleet's shared watch was closed"))
        await console.until(lambda: "the fleet's shared watch was closed" in console.text())
