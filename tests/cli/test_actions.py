"""The call actions and queue checks through the CLI, each effect read back from the simulator."""

from __future__ import annotations

import csv
import io
import json

import pytest

from activecalls_async import ActiveCallsClient, QueueCheck
from activecalls_async.testing import Disposition, Simulator

from .conftest import QUEUE, Cli

SUPERVISOR = "+15554150123"


def answered_call(sim: Simulator) -> str:
    """A call of queue 55 that an agent has answered (only those take sessions)."""
    return next(str(c["uii"]) for c in sim.wire_calls(*QUEUE) if c["agentFirstName"])


def sessions(sim: Simulator, uii: str) -> dict[str, str]:
    call = sim.state.get(uii)
    assert call is not None
    return {s.phone: s.session_type for s in (call.sessions or {}).values()}


async def test_session_add_escalate_and_remove(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    uii = answered_call(sim)
    result = await cli.run("session", "add", uii, SUPERVISOR)
    assert (result.status, result.out) == (
        0,
        f"✓ added a MONITOR session for {SUPERVISOR} to call {uii}\n",
    )
    assert sessions(sim, uii) == {SUPERVISOR: "MONITOR"}
    assert (await cli.run("session", "add", uii, SUPERVISOR, "-t", "bargein")).status == 0
    assert sessions(sim, uii) == {SUPERVISOR: "BARGEIN"}
    result = await cli.run("session", "remove", uii, SUPERVISOR)
    assert result.status == 0
    assert "removed the session" in result.out
    assert sessions(sim, uii) == {}


async def test_record_off_and_on(cli: Cli, activecalls_simulator: Simulator) -> None:
    uii = answered_call(activecalls_simulator)
    call = activecalls_simulator.state.get(uii)
    assert call is not None
    result = await cli.run("record", "off", uii)
    assert (result.status, call.recording) == (0, False)
    assert "recording paused" in result.out
    result = await cli.run("record", "on", uii)
    assert (result.status, call.recording) == (0, True)
    assert "recording resumed" in result.out


@pytest.mark.parametrize("when", ["2026-12-01T15:30", "20261201153000"])
async def test_disposition_with_a_callback(
    cli: Cli, activecalls_simulator: Simulator, when: str
) -> None:
    uii = answered_call(activecalls_simulator)
    argv = ["disposition", uii, "SALE", "--callback-at", when, "--notes", "call back, 2 lines"]
    result = await cli.run(*argv)
    assert result.status == 0, result.err
    assert "dispositioned SALE with a callback at 2026-12-01 15:30" in result.out
    assert activecalls_simulator.state.dispositions[uii] == Disposition(
        disposition="SALE", callback=True, callback_at="20261201153000", notes="call back, 2 lines"
    )


async def test_disposition_without_a_callback(cli: Cli, activecalls_simulator: Simulator) -> None:
    uii = answered_call(activecalls_simulator)
    assert (await cli.run("disposition", uii, "NO_SALE")).status == 0
    recorded = activecalls_simulator.state.dispositions[uii]
    assert (recorded.disposition, recorded.callback, recorded.notes) == ("NO_SALE", False, None)


async def test_hangup_a_session_then_the_call(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    uii = answered_call(sim)
    assert (await cli.run("session", "add", uii, SUPERVISOR)).status == 0
    result = await cli.run("hangup", uii, "--phone", SUPERVISOR)
    assert result.status == 0
    assert f"hung up {SUPERVISOR}" in result.out
    assert sessions(sim, uii) == {}
    result = await cli.run("hangup", uii)
    assert (result.status, result.out) == (0, f"✓ hung up call {uii}\n")
    assert sim.state.get(uii) is None
    assert sim.effect_count("hangupCall", uii) == 1


async def test_dial_rings_an_available_agent(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    agent = sim.state.available_agents()[0]
    before = len(sim.state)
    argv = ["dial", agent.username, "+16505550123", "--caller-id", "6505550100"]
    result = await cli.run(*argv, "--ring-duration", "12")
    assert result.status == 0, result.err
    assert result.out == f"✓ ringing {agent.username} to dial +16505550123\n"
    assert len(sim.state) == before + 1
    assert agent.active_calls == 1
    (sent,) = [r for r in sim.requests if r.operation == "createManualAgentCall"]
    assert (sent.param("ringDuration"), sent.param("callerId")) == ("12", "6505550100")


async def test_dial_an_agent_who_is_not_available_exits_1(cli: Cli) -> None:
    argv = ["dial", "nobody@example.com", "6505550123", "--caller-id", "6505550100"]
    result = await cli.run(*argv)
    assert result.status == 1
    assert "createManualAgentCall was declined" in result.err


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "ndjson"])
async def test_queue_check_formats_match_the_sdk(
    cli: Cli, activecalls_client: ActiveCallsClient, fmt: str
) -> None:
    number = "8661234567"
    status = await activecalls_client.check_queue_status(destination_number=number, max_queued=30)
    threshold = await activecalls_client.check_queue_threshold(
        destination_number=number, max_calls_queued=3
    )
    argv = ["queue-check", number, "--max-queued", "30", "--max-calls-queued", "3", "-f", fmt]
    result = await cli.run(*argv)
    assert result.status == 0, result.err
    expected = [
        {"check": "status", "destinationNumber": number, "limit": 30, **status_fields(status)},
        {"check": "threshold", "destinationNumber": number, "limit": 3, **status_fields(threshold)},
    ]
    if fmt == "json":
        assert json.loads(result.out) == expected
    elif fmt == "ndjson":
        assert [json.loads(line) for line in result.out.splitlines()] == expected
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.out)))
        assert rows == [
            {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in row.items()}
            for row in expected
        ]
    else:
        header, *lines = result.out.splitlines()
        assert header.split() == ["CHECK", "NUMBER", "LIMIT", "STATUS", "REASON"]
        assert [line.split()[:4] for line in lines] == [
            [row["check"], number, str(row["limit"]), "ok" if row["status"] else "refused"]
            for row in expected
        ]
        assert str(threshold.reason) in lines[1]


def status_fields(check: QueueCheck) -> dict[str, object]:
    return {"status": check.status, "reason": check.reason}


async def test_queue_check_defaults_to_the_threshold_check(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run("queue-check", "8661234567", "-f", "json")
    assert result.status == 0, result.err
    (row,) = json.loads(result.out)
    assert (row["check"], row["limit"]) == ("threshold", None)
    (sent,) = [r for r in activecalls_simulator.requests if r.operation == "checkQueueThreshold"]
    assert sent.param("maxCallsQueued") is None  # the server's default applies


@pytest.mark.parametrize(
    "argv",
    [
        ["-f", "json", "hold", "on", "{uii}"],
        ["hold", "on", "{uii}", "-f", "json"],
        ["hold", "-f", "json", "on", "{uii}"],
        ["--format=json", "record", "off", "{uii}"],
        ["-f", "json", "session", "add", "{uii}", SUPERVISOR],
        ["-f", "json", "ping", "{uii}"],
    ],
)
async def test_the_format_goes_before_or_after_the_command(
    cli: Cli, activecalls_simulator: Simulator, argv: list[str]
) -> None:
    uii = answered_call(activecalls_simulator)
    result = await cli.run(*(word.format(uii=uii) for word in argv))
    assert result.status == 0, result.err
    answer = json.loads(result.out)
    assert (answer["ok"], answer["uii"]) == (True, uii)


async def test_the_format_before_a_listing_command(cli: Cli) -> None:
    result = await cli.run("-f", "csv", "list", "-p", "ACD:55", "--no-progress")
    assert result.status == 0, result.err
    assert result.out.startswith("uii,accountId,")
    result = await cli.run("-f", "ndjson", "accounts")
    assert json.loads(result.out.splitlines()[0])["accountId"]
    # After the command wins over before it, as for any repeated option.
    result = await cli.run("-f", "csv", "list", "-p", "ACD:55", "--no-progress", "-f", "json")
    assert isinstance(json.loads(result.out), list)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-f", "csv", "hold", "on", "123"], "invalid choice for 'hold': 'csv'"),
        (["-f", "text", "list"], "invalid choice for 'list': 'text'"),
        (["-f", "json", "top"], "'top' takes no --format"),
        (["-f", "xml", "list"], "invalid choice: 'xml'"),
    ],
)
async def test_a_format_the_command_cannot_print_is_a_usage_error(
    bare_cli: Cli, argv: list[str], says: str
) -> None:
    result = await bare_cli.run(*argv)
    assert result.status == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert says in lines[0]
