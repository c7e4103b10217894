"""Bad input exits 2 and a failed request exits 1, each with one line on stderr: no
traceback, no secret."""

from __future__ import annotations

import time

import pytest

from activecalls_async import cli as cli_module
from activecalls_async.cli import main
from activecalls_async.testing import Simulator

from .conftest import QUEUE, Cli, assert_one_line_error

UII = "202611281340150000000000000011"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["list", "--product", "NOPE:1"], "NOPE"),
        (["list", "--product", "ACD:abc"], "numeric id"),
        (["list", "--product", "ACD:"], "NAME[:ID]"),
        (["list", "--format", "xml"], "invalid choice"),
        (["list", "--page-size", "0"], ">= 1"),
        (["list", "--timeout", "-1"], "seconds"),
        (["list", "--retries", "-1"], ">= 0"),
        (["list", "--retries", "two"], "whole number"),
        (["hangup", "../../accounts"], "uii"),
        (["hangup", "123?x=1"], "uii"),
        (["session", "add", UII, "12ab"], "phone number"),
        (["session", "add", UII, "+15554150123", "--type", "LISTEN"], "MONITOR"),
        (["session", "add", UII], "required: phone"),
        (["session"], "required"),
        (["record", "maybe", UII], "invalid choice"),
        (["disposition", UII, "SALE", "--callback-at", "tomorrow"], "yyyyMMddHHmmss"),
        (["dial", "ada@example.com", "6501234567"], "--caller-id"),
        (["dial", "ada smith", "6501234567", "--caller-id", "6505550100"], "user name"),
        (["queue-check", "866-123"], "phone number"),
        (["queue-check", "8661234567", "--max-queued", "five"], "whole number"),
        (["watch", "--interval", "0"], "> 0"),
        (["simulator", "--port", "70000"], "65535"),
        (["frobnicate"], "invalid choice"),
        (["list", "--account-id", "abc"], "expected the numeric RingCX account id"),
        (["hangup", UII, "--account-id", "12x"], "expected the numeric RingCX account id"),
        (["--account-id", "abc", "top"], "expected the numeric RingCX account id"),
        (["simulator", "--fault-rate", "2"], "from 0 to 1"),
        (["list", "--columns", "uii,colour"], "unknown column 'colour'"),
        (["list"], "no credentials: set ACTIVECALLS_ACCOUNT_ID and ACTIVECALLS_TOKEN"),
        (["top", "--sort", "size"], "invalid choice"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(bare_cli: Cli, argv: list[str], says: str) -> None:
    result = await bare_cli.run(*argv)
    line = assert_one_line_error(result, 2)
    assert says in line
    assert result.out == ""
    assert "embedded simulator" not in result.err  # refused before anything started


async def test_bad_input_found_by_the_sdk_exits_2(cli: Cli) -> None:
    result = await cli.run("disposition", UII, "  ")
    line = assert_one_line_error(result, 2)
    assert line == (
        "activecalls: error: invalid disposition: expected non-blank text of at most 255 characters"
    )


async def test_missing_account_id_names_the_flag(bare_cli: Cli) -> None:
    result = await bare_cli.run("list", "--base-url", "https://example.invalid", "--token", "t0k")
    line = assert_one_line_error(result, 2)
    assert "--account-id" in line
    assert "ACTIVECALLS_ACCOUNT_ID" in line
    assert "invalid" not in line  # it is missing, not wrong


async def test_clear_text_http_to_another_host_is_refused(bare_cli: Cli) -> None:
    argv = ["list", "--base-url", "http://example.invalid/voice", "--account-id", "1"]
    result = await bare_cli.run(*argv, "--token", "s3cret-t0ken")
    line = assert_one_line_error(result, 2)
    assert "https://" in line
    assert "s3cret-t0ken" not in result.err


async def test_ended_call_is_a_404_and_exit_1(cli: Cli, activecalls_simulator: Simulator) -> None:
    uii = str(activecalls_simulator.wire_calls(*QUEUE)[0]["uii"])
    assert (await cli.run("hangup", uii)).status == 0
    result = await cli.run("hangup", uii)
    line = assert_one_line_error(result, 1)
    assert "HTTP 404" in line
    assert uii in line
    assert result.out == ""


async def test_refused_action_exits_1(cli: Cli, activecalls_simulator: Simulator) -> None:
    queued = next(c for c in activecalls_simulator.wire_calls(*QUEUE) if c["dequeueTime"] is None)
    result = await cli.run("session", "add", str(queued["uii"]), "+15554150123")
    line = assert_one_line_error(result, 1)
    assert "addSessionToCall was declined by the server (it answered false)" in line


async def test_a_refused_action_shows_the_servers_words(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    queued = next(c for c in activecalls_simulator.wire_calls(*QUEUE) if c["dequeueTime"] is None)
    activecalls_simulator.answer_declines("false: the call has no agent yet")
    result = await cli.run("session", "add", str(queued["uii"]), "+15554150123")
    line = assert_one_line_error(result, 1)
    assert "addSessionToCall was declined by the server: the call has no agent yet" in line


async def test_bad_token_is_a_401_and_never_printed(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    secret = "wrong-b3arer-token-value"
    result = await cli.run("list", *cli.connection(token=secret), connect=False)
    line = assert_one_line_error(result, 1)
    assert "HTTP 401" in line
    assert secret not in result.out + result.err
    assert activecalls_simulator.token not in result.out + result.err


async def test_bad_token_from_the_environment_is_never_printed(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", activecalls_simulator.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", activecalls_simulator.account_id)
    monkeypatch.setenv("ACTIVECALLS_TOKEN", secret)
    result = await cli.run("watch", "-p", "ACD:55", connect=False)
    line = assert_one_line_error(result, 1)  # a watch checks the credentials first
    assert "HTTP 401" in line
    assert secret not in result.out + result.err


async def test_another_account_is_a_403(cli: Cli, activecalls_simulator: Simulator) -> None:
    argv = ["--base-url", activecalls_simulator.base_url, "--account-id", "999"]
    result = await cli.run("list", *argv, f"--token={activecalls_simulator.token}", connect=False)
    line = assert_one_line_error(result, 1)
    assert "HTTP 403" in line
    assert activecalls_simulator.token not in result.err


async def test_unreachable_server_exits_1(bare_cli: Cli, unused_tcp_port: int) -> None:
    base = f"http://127.0.0.1:{unused_tcp_port}/voice"
    argv = ["hangup", UII, "--base-url", base, "--account-id", "1", "--token", "t0k-123456"]
    started = time.monotonic()
    result = await bare_cli.run(*argv, "--retries", "0")
    line = assert_one_line_error(result, 1)
    assert "127.0.0.1" in line
    assert "t0k-123456" not in result.err
    # One attempt, no backoff: the SDK's default policy would wait about 3.5 s first.
    assert time.monotonic() - started < 3


def test_unexpected_errors_are_one_line_with_secrets_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TOKEN", "plain-secret-value")

    def broken(name: str) -> object:
        async def command(*_: object) -> int:
            raise RuntimeError("boom\nwith plain-secret-value and Bearer abc.def")

        return command

    monkeypatch.setattr(cli_module, "_command", broken)
    status = main(["list"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == "activecalls: error: unexpected RuntimeError: boom with *** and Bearer ***\n"


def test_ctrl_c_exits_130_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(name: str) -> object:
        async def command(*_: object) -> int:
            raise KeyboardInterrupt

        return command

    monkeypatch.setattr(cli_module, "_command", interrupted)
    assert main(["list"]) == 130
    assert capsys.readouterr() == ("", "")


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("list", "watch", "dial", "session", "record", "disposition", "hangup"):
        assert command in text
    for command in ("queue-check", "simulator", "demo", "ACTIVECALLS_TOKEN"):
        assert command in text
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("activecalls ")
