"""The command line's comforts: help with defaults everywhere, a bare command that helps,
-v logging, JSON answers from the actions, flags named in messages, and the simulator's
traffic and fault flags."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from activecalls_async import _log
from activecalls_async._cli.config import configure_logging
from activecalls_async._cli.failures import cli_words
from activecalls_async._cli.parser import HelpFormatter, build_parser
from activecalls_async.cli import main
from activecalls_async.testing import Faults, Simulator

from .conftest import QUEUE, Cli, assert_one_line_error


def every_parser() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    pending: list[tuple[str, argparse.ArgumentParser]] = [("activecalls", build_parser())]
    while pending:
        name, parser = pending.pop()
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend((f"{name} {sub}", p) for sub, p in action.choices.items())


def test_every_help_shows_the_defaults() -> None:
    checked = 0
    for name, parser in every_parser():
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            default = action.default
            if not action.option_strings or default in (None, argparse.SUPPRESS):
                continue
            if isinstance(default, bool):
                continue  # a flag: test_no_flag_shows_a_true_or_false_default
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            checked += 1
            assert "(default: " in text, name
            assert str(default) in text, (name, action.option_strings)
        assert "%(default)" not in text
        assert "==SUPPRESS==" not in text
        assert "default: None" not in text
    assert checked >= 15
    text = " ".join(build_parser().format_help().split())
    assert "--retries N retry a failed request up to N times (default: 3; 0: never)" in text


def test_no_flag_shows_a_true_or_false_default() -> None:
    helps = {name: " ".join(p.format_help().split()) for name, p in every_parser()}
    assert len(helps) >= 20  # every command and subcommand was looked at
    for name, text in helps.items():
        assert "(default: True)" not in text, name
        assert "(default: False)" not in text, name
    no_live = "--no-live no new, answered or ending calls (default: live traffic)"
    assert no_live in helps["activecalls simulator"]
    assert "--no-progress no progress display on stderr" in helps["activecalls list"]


def test_the_help_formatter_never_shows_a_flag_default() -> None:
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--quiet", action="store_true", help="say less")
    parser.add_argument("--no-color", dest="color", action="store_false", help="plain text")
    parser.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True, help="x")
    parser.add_argument("--size", type=int, default=3, help="how many")
    text = " ".join(parser.format_help().split())
    assert "--quiet say less" in text
    assert "--no-color plain text" in text
    assert "(default: True)" not in text
    assert "(default: False)" not in text
    assert "how many (default: 3)" in text


def test_a_bare_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: activecalls")
    for command in ("list", "top", "watch", "hangup", "simulator", "demo"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


def test_messages_name_flags_not_python_arguments() -> None:
    text = cli_words("use https:// or pass allow_insecure_http=True; page_size too big")
    assert text == "use https:// or pass --allow-insecure-http; --page-size too big"


async def test_the_insecure_http_refusal_names_the_flag(bare_cli: Cli) -> None:
    argv = ["list", "--base-url", "http://example.invalid/voice", "--account-id", "1"]
    line = assert_one_line_error(await bare_cli.run(*argv, "--token", "t0k-value-123"), 2)
    assert "--allow-insecure-http" in line
    assert "allow_insecure_http" not in line


@pytest.fixture
def sdk_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("activecalls_async")
    level = logger.level
    yield logger
    _log.disable()
    logger.setLevel(level)


@pytest.mark.usefixtures("sdk_logger")
async def test_verbose_logs_the_sdk_on_stderr(cli: Cli, activecalls_simulator: Simulator) -> None:
    activecalls_simulator.faults = Faults(error_rate=1.0, operations=["list"])
    quiet = await cli.run("list", "-p", "ACD:55", "--retries", "1")
    assert quiet.status == 1
    assert "retrying" not in quiet.err
    loud = await cli.run("-v", "list", "-p", "ACD:55", "--retries", "1")
    assert loud.status == 1
    assert re.search(
        r"^activecalls: INFO activecalls_async: list: attempt 1 failed", loud.err, re.M
    )
    assert logging.getLogger("activecalls_async").level == logging.INFO
    await cli.run("list", "-vv", "-p", "ACD:55", "--retries", "0")
    assert logging.getLogger("activecalls_async").level == logging.DEBUG


async def test_actions_answer_json_when_asked(cli: Cli, activecalls_simulator: Simulator) -> None:
    uii = next(c.uii for c in activecalls_simulator.calls(*QUEUE) if c.agent_first_name)
    result = await cli.run("session", "add", uii, "+15554150123", "-f", "json")
    assert result.status == 0, result.err
    assert json.loads(result.out) == {
        "ok": True,
        "command": "session",
        "action": "add",
        "uii": uii,
        "message": f"added a MONITOR session for +15554150123 to call {uii}",
    }
    result = await cli.run("hangup", uii)
    assert result.out.strip().endswith(f"hung up call {uii}")
    result = await cli.run("hangup", uii, "-f", "json")
    assert result.status == 1  # the call has ended: an error line, not JSON
    assert result.out == ""


async def test_simulated_actions_say_so_in_json(bare_cli: Cli) -> None:
    result = await bare_cli.run(
        "--simulator", "hangup", "202611281340150000000000000011", "-f", "json"
    )
    assert result.status == 1  # no such call on a fresh simulator
    assert "SIMULATED" in result.err
    result = await bare_cli.run("--simulator", "queue-check", "8661234567", "-f", "json")
    assert result.status == 0, result.err
    assert all(row["simulated"] is True for row in json.loads(result.out))


async def test_the_simulator_command_takes_traffic_and_fault_flags(bare_cli: Cli) -> None:
    argv = [
        "simulator",
        "--port",
        "0",
        "--calls",
        "100",
        "--arrival-rate",
        "2.5",
        "--mean-call-seconds",
        "30",
        "--fault-rate",
        "0.2",
        "--rate-limit",
        "0",
        "--latency",
        "0.01",
        "--duration",
        "0.3",
    ]
    result = await bare_cli.run(*argv)
    assert result.status == 0, result.err
    first = result.out.splitlines()[0]
    assert "live traffic (2.5 calls/s, mean 30 s)" in first
    assert "no rate limit" in first
    assert "20% of requests fail" in first
    result = await bare_cli.run("simulator", "--port", "0", "--calls", "600", "--duration", "0.1")
    assert "live traffic (10 calls/s, mean 60 s)" in result.out  # 600 calls / 60 s: steady


def test_the_cli_page_s_python_runs(capsys: pytest.CaptureFixture[str]) -> None:
    page = Path(__file__).parent.parent.parent / "docs" / "cli.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks
    for index, block in enumerate(blocks):
        exec(compile(block, f"cli.md block {index}", "exec"), {"__name__": "__docs__"})
    assert len(json.loads(capsys.readouterr().out)) == 20


async def test_a_simulated_watch_says_so_on_every_line(bare_cli: Cli) -> None:
    argv = ["--simulator", "--sim-calls", "30", "watch", "-f", "ndjson", "--duration", "1"]
    result = await bare_cli.run(*argv)
    assert result.status == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    assert len(events) >= 30
    assert all(event["simulated"] is True for event in events)
    assert "SIMULATED" in result.err


def complete(line: str, tmp_path: Path) -> str:
    """What the shell's tab key offers after ``line`` (argcomplete's protocol)."""
    out = tmp_path / "completion.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVECALLS_")}
    env.update(
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS=" ",
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
    )
    done = subprocess.run(
        [sys.executable, "-m", "activecalls_async"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return out.read_text()


def test_tab_completion_with_argcomplete(tmp_path: Path) -> None:
    assert complete("activecalls li", tmp_path).split() == ["list"]
    assert complete("activecalls top --so", tmp_path).split() == ["--sort"]
    assert "--simulator" in complete("activecalls list --sim", tmp_path).split()


def test_the_command_works_without_argcomplete(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "argcomplete", None)  # import fails
    monkeypatch.setenv("_ARGCOMPLETE", "1")
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("activecalls ")


@pytest.mark.usefixtures("sdk_logger")
def test_without_verbose_the_sdks_warnings_still_read_as_the_clis(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(argparse.Namespace(verbose=0))
    logger = logging.getLogger("activecalls_async")
    logger.info("not shown")
    logger.warning("ACD 55: a poll costs 2 requests")
    assert capsys.readouterr().err == (
        "activecalls: WARNING activecalls_async: ACD 55: a poll costs 2 requests\n"
    )
