"""The newer call controls and ``accounts`` through the CLI, effects read back from the
simulator."""

from __future__ import annotations

import json

import pytest

from activecalls_async.testing import Simulator

from .conftest import QUEUE, Cli, assert_one_line_error

SUPERVISOR = "+15554150123"


def answered_call(sim: Simulator) -> str:
    return next(str(c["uii"]) for c in sim.wire_calls(*QUEUE) if c["agentFirstName"])


async def test_ping(cli: Cli, activecalls_simulator: Simulator) -> None:
    uii = answered_call(activecalls_simulator)
    result = await cli.run("ping", uii)
    assert (result.status, result.out) == (0, f"✓ pinged call {uii}: it stays live\n")
    assert activecalls_simulator.effect_count("pingCall", uii) == 1


async def test_hold_on_and_off(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    uii = answered_call(sim)
    result = await cli.run("hold", "on", uii)
    assert (result.status, result.out) == (0, f"✓ call {uii} on hold\n")
    assert sim.wire_call(uii)["callState"] == "HOLD"  # type: ignore[index]
    result = await cli.run("hold", "off", uii)
    assert (result.status, result.out) == (0, f"✓ call {uii} taken off hold\n")
    assert sim.wire_call(uii)["callState"] == "ACTIVE"  # type: ignore[index]


async def test_requeue(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    uii = answered_call(sim)
    gate = sim.state.queues[-1].product_id
    result = await cli.run("requeue", uii, str(gate))
    assert (result.status, result.out) == (0, f"✓ call {uii} sent back to queue {gate}\n")
    assert uii in {c["uii"] for c in sim.wire_calls("ACD", gate)}
    line = assert_one_line_error(await cli.run("requeue", uii, "-3"), 2)
    assert "gate_id" in line or "GATE_ID" in line or ">= 0" in line


async def test_hangup_session_by_id(cli: Cli, activecalls_simulator: Simulator) -> None:
    sim = activecalls_simulator
    uii = answered_call(sim)
    assert (await cli.run("session", "add", uii, SUPERVISOR)).status == 0
    (session_id,) = sim.session_ids(uii).values()
    result = await cli.run("hangup-session", uii, session_id)
    assert (result.status, result.out) == (0, f"✓ hung up session {session_id} on call {uii}\n")
    assert sim.session_ids(uii) == {}
    result = await cli.run("hangup-session", uii, session_id)
    assert result.status == 1
    assert "hangupSessionById was declined" in result.err


async def test_hangup_session_help_says_where_ids_come_from(cli: Cli) -> None:
    result = await cli.run("hangup-session", "--help", connect=False)
    assert result.status == 0
    assert "never returns" in " ".join(result.out.split())


@pytest.mark.parametrize("fmt", ["table", "json"])
async def test_accounts_needs_no_account_id(
    cli: Cli, activecalls_simulator: Simulator, fmt: str
) -> None:
    sim = activecalls_simulator
    argv = ["accounts", "-f", fmt, "--base-url", sim.base_url, f"--token={sim.token}"]
    result = await cli.run(*argv, connect=False)
    assert result.status == 0, result.err
    if fmt == "json":
        assert json.loads(result.out) == [
            {
                "accountId": sim.account_id,
                "accountName": sim.accounts[0]["accountName"],
                "mainAccountId": sim.accounts[0]["mainAccountId"],
            }
        ]
    else:
        assert "ACCOUNT ID" in result.out
        assert sim.account_id in result.out
    assert [r.operation for r in sim.requests] == ["accounts"]
    assert sim.token not in result.out + result.err


async def test_accounts_on_the_embedded_simulator(bare_cli: Cli) -> None:
    result = await bare_cli.run("--simulator", "accounts", "-f", "json")
    assert result.status == 0, result.err
    (account,) = json.loads(result.out)
    assert account["accountId"].isdigit()
    assert "simulated" in result.err.lower()
