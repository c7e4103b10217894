"""The handle table: numbers given once and never to another call, ended calls refused by
name, bounded memory, and safe under concurrent writers (see activecalls_async._cli.handles)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from activecalls_async._cli import handles as handles_module
from activecalls_async._cli.failures import Refused, UsageError
from activecalls_async._cli.handles import ENDED_KEPT, UNSEEN_KEPT, HandleTable, state_dir
from activecalls_async.testing import Simulator

from .conftest import Cli, assert_one_line_error

URL = "http://127.0.0.1:8765/voice"
A, B, C = (f"20261130120000000000000000{n}00{n}" for n in range(1, 4))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table(tmp_path: Path, clock: Clock) -> HandleTable:
    return HandleTable(tmp_path, base_url=URL, account_id="12440001", clock=clock)


def test_the_state_directory() -> None:
    assert state_dir({"ACTIVECALLS_STATE_DIR": "/s"}) == Path("/s")
    assert state_dir({"XDG_STATE_HOME": "/x"}) == Path("/x/activecalls")
    assert state_dir({"HOME": "/h"}) == Path("/h/.local/state/activecalls")


def test_numbers_follow_the_order_shown_and_never_change(table: HandleTable) -> None:
    assert table.update(shown=[B, A]) == {B: 1, A: 2}
    assert table.update(shown=[A, C, B]) == {A: 2, C: 3, B: 1}
    assert table.update(listed=[C, A], scope="ACD:55") == {A: 2, C: 3}
    assert [table.resolve(f"@{n}") for n in (1, 2, 3)] == [B, A, C]
    assert table.last_number() == 3


def test_a_table_per_account_and_base_url(tmp_path: Path, clock: Clock) -> None:
    first = HandleTable(tmp_path, base_url=URL, account_id="1", clock=clock)
    other_account = HandleTable(tmp_path, base_url=URL, account_id="2", clock=clock)
    other_server = HandleTable(tmp_path, base_url=URL + "x", account_id="1", clock=clock)
    first.update(shown=[A])
    with pytest.raises(UsageError, match="no handles saved for account 2 at"):
        other_account.resolve("@1")
    assert other_server.update(shown=[B]) == {B: 1}
    assert first.resolve("@1") == A
    saved = json.loads(first.path.read_text())
    assert (saved["accountId"], saved["baseUrl"]) == ("1", URL)
    assert oct(first.path.stat().st_mode & 0o777) == "0o600"


def test_an_ended_call_is_refused_by_name_and_its_number_is_never_reused(
    table: HandleTable, clock: Clock
) -> None:
    table.update(shown=[A, B], listed=[A, B], scope="ACD:55")
    clock.now += 5
    table.update(listed=[B], scope="ACD:55")  # A ended
    with pytest.raises(Refused) as refused:
        table.resolve("@1")
    assert str(refused.value).startswith(f"@1 is call {A}, which has ended")
    assert str(refused.value).endswith("nothing was sent")
    assert table.resolve("@2") == B
    assert table.update(shown=[C]) == {C: 3}  # a new call: a new number, never 1
    # Listed again (it moved back into view): live again, under its old number.
    assert table.update(listed=[A, B, C], scope="ACD:55") == {A: 1, B: 2, C: 3}
    assert table.resolve("@1") == A


def test_another_scope_never_ends_a_call_but_the_whole_account_does(table: HandleTable) -> None:
    table.update(shown=[A], listed=[A], scope="ACD:55")
    table.update(shown=[B], listed=[B], scope="ACD:56")  # another view: A is not its call
    assert table.resolve("@1") == A
    table.update(listed=[B], scope="ACCOUNT:12440001", whole_account=True)
    with pytest.raises(Refused):
        table.resolve("@1")
    assert table.resolve("@2") == B


def test_unknown_handles_and_uii_starts(table: HandleTable, clock: Clock) -> None:
    with pytest.raises(UsageError, match="run 'activecalls top' first"):
        table.resolve("@1")
    assert table.resolve("2026") == "2026"  # no table: passed on as a uii
    table.update(shown=[A, B], listed=[A, B], scope="s")
    with pytest.raises(
        UsageError, match=r"no call has had this handle .* \(the last given is @2\)"
    ):
        table.resolve("@3")
    with pytest.raises(UsageError, match="starts 2 uiis"):
        table.resolve("20261130")
    assert table.resolve(B) == B  # a whole uii is itself
    assert table.resolve(B[-10:]) == B[-10:]  # not a start: passed on
    clock.now += 1
    table.update(listed=[B], scope="s")
    with pytest.raises(Refused, match=f"^{A[:-1]} is call {A}, which has ended"):
        table.resolve(A[:-1])


def test_ended_calls_are_remembered_for_a_day_then_forgotten(
    table: HandleTable, clock: Clock
) -> None:
    table.update(shown=[A, B], listed=[A, B], scope="s")
    clock.now += 1
    table.update(listed=[B], scope="s")
    clock.now += ENDED_KEPT - 2
    table.update(listed=[B], scope="s")
    with pytest.raises(Refused, match="which has ended"):
        table.resolve("@1")
    clock.now += 5
    table.update(listed=[B], scope="s")
    with pytest.raises(Refused, match="ended long ago and the handle was forgotten"):
        table.resolve("@1")
    assert table.update(shown=[C]) == {C: 3}


def test_at_most_max_ended_are_remembered(
    table: HandleTable, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handles_module, "MAX_ENDED", 2)
    uiis = [f"9{n:029d}" for n in range(5)]
    table.update(shown=uiis, listed=uiis, scope="s")
    for left in range(4, -1, -1):
        clock.now += 1
        table.update(listed=uiis[:left], scope="s")
    calls = json.loads(table.path.read_text())["calls"]
    assert sorted(c["n"] for c in calls) == [1, 2]  # the two that ended last
    assert table.update(shown=["8" * 30]) == {"8" * 30: 6}


def test_numbering_starts_again_only_when_nothing_is_left(table: HandleTable, clock: Clock) -> None:
    table.update(shown=[A, B])
    clock.now += UNSEEN_KEPT + 1  # no view listed them for a day: forgotten
    assert table.update(shown=[C]) == {C: 1}
    with pytest.raises(UsageError, match="no call has had this handle"):
        table.resolve("@2")


def test_a_damaged_table_is_set_aside(table: HandleTable) -> None:
    table.path.parent.mkdir(parents=True, exist_ok=True)
    table.path.write_text("{not json")
    with pytest.raises(UsageError, match="no handles saved"):
        table.resolve("@1")
    assert table.update(shown=[A]) == {A: 1}
    assert table.path.with_suffix(".damaged").read_text() == "{not json"
    assert table.problem is None


def test_a_table_that_cannot_be_written_keeps_the_numbers_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    table = HandleTable(blocker, base_url=URL, account_id="1")
    assert table.update(shown=[A, B]) == {A: 1, B: 2}
    assert table.update(shown=[C, A]) == {C: 3, A: 1}
    assert table.problem is not None
    assert "they hold for this run only" in table.problem


def test_concurrent_views_never_give_one_number_twice(tmp_path: Path) -> None:
    """Four writers (each its own table object, as two processes would be), overlapping
    calls: every uii gets one number, and no number names two uiis."""
    uiis = [f"7{n:029d}" for n in range(120)]
    seen: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def view(offset: int) -> None:
        table = HandleTable(tmp_path, base_url=URL, account_id="1")
        try:
            for start in range(offset, offset + 80, 4):
                seen.append(table.update(shown=uiis[start : start + 4]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(n * 13,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    (path,) = tmp_path.glob("handles-*.json")
    saved = json.loads(path.read_text())
    numbers = {c["uii"]: c["n"] for c in saved["calls"]}
    assert len(set(numbers.values())) == len(numbers)  # no number names two uiis
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))
    for answer in seen:  # what each writer was told is what the table holds
        assert all(numbers[uii] == number for uii, number in answer.items())


async def test_every_action_command_refuses_a_handle_whose_call_ended_and_sends_nothing(
    cli: Cli, activecalls_simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_STATE_DIR", str(tmp_path))
    sim = activecalls_simulator
    table = HandleTable(tmp_path, base_url=sim.base_url, account_id=sim.account_id)
    listed = [c.uii for c in sim.calls()]

    def unique_start(uii: str) -> str | None:
        """The shortest start of ``uii``, shorter than it, that no other call shares."""
        starts = (uii[:n] for n in range(8, len(uii)))
        return next((s for s in starts if sum(u.startswith(s) for u in listed) == 1), None)

    # @2 must be a call that such a start names (calls starting in one second share one).
    listed = sorted(listed, key=lambda uii: unique_start(uii) is None)
    table.update(shown=listed[:3], listed=listed, scope="ACCOUNT:12440001", whole_account=True)
    ended = listed[1]
    start = unique_start(ended)
    assert start is not None
    assert sim.end_call(ended)
    table.update(listed=[c.uii for c in sim.calls()], scope="x", whole_account=True)
    before = len(sim.requests)
    for argv in (
        ["hangup", "@2"],
        ["hold", "on", "@2"],
        ["record", "off", "@2", "-f", "json"],
        ["session", "add", "@2", "+15554150123"],
        ["disposition", "@2", "SALE"],
        ["requeue", "@2", "55"],
        ["ping", "@2"],
        ["hangup-session", "@2", "S-1"],
        ["hangup", start],
    ):
        result = await cli.run(*argv)
        line = assert_one_line_error(result, 1)
        assert f"is call {ended}, which has ended" in line, argv
        assert "nothing was sent" in line
    assert len(sim.requests) == before  # not one request, not even a listing
    done = await cli.run("hangup", "@3", "-f", "json")
    assert done.status == 0, done.err
    assert json.loads(done.out)["uii"] == listed[2]
