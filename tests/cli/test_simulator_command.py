"""``activecalls simulator``: what it says when it cannot listen on its port."""

from __future__ import annotations

import errno
import socket

from .conftest import Cli, assert_one_line_error


async def test_a_port_in_use_is_one_line_naming_it_and_suggesting_port_0(bare_cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["simulator", "--port", str(port), "--calls", "3", "--no-live", "--duration", "5"]
        result = await bare_cli.run(*argv)
    line = assert_one_line_error(result, 1)
    assert line == (
        f"activecalls: error: port {port} on 127.0.0.1 is already in use (another "
        "simulator?): pick a free one with --port 0, or another with --port N"
    )
    assert result.out == ""  # no export lines pointing at a server that is not there


async def test_port_0_serves_beside_a_port_in_use(bare_cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        argv = ["simulator", "--port", "0", "--calls", "3", "--no-live", "--duration", "0.2"]
        result = await bare_cli.run(*argv)
    assert (result.status, result.err) == (0, "")
    assert "export ACTIVECALLS_BASE_URL=http://127.0.0.1:" in result.out


def test_another_bind_failure_names_the_port_and_its_cause() -> None:
    from activecalls_async._cli.serve import _unbound

    message = _unbound(PermissionError(errno.EACCES, "error while attempting to bind"), 80)
    assert (
        message
        == "cannot listen on 127.0.0.1 port 80 (permission denied): try --port 0 for a free port"
    )
    assert _unbound(OSError("no errno"), 80).startswith(
        "cannot listen on 127.0.0.1 port 80 (no errno)"
    )


async def test_agents_sets_the_roster_and_the_default_is_staffed_for_the_calls(
    bare_cli: Cli,
) -> None:
    base = ["simulator", "--port", "0", "--no-live", "--duration", "0.1"]
    result = await bare_cli.run(*base, "--calls", "100", "--agents", "7")
    assert result.status == 0, result.err
    assert "100 calls, 7 agents, seed 7" in result.out.splitlines()[0]
    result = await bare_cli.run(*base)
    assert "2,000 calls, 2,197 agents, seed 7" in result.out.splitlines()[0]
    line = assert_one_line_error(await bare_cli.run(*base, "--agents", "-1"), 2)
    assert "--agents" in line
