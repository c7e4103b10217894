"""``activecalls list``: every format, one or many targets, every page, progress on stderr."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import datetime

import pytest

from activecalls_async._cli import output
from activecalls_async.testing import Simulator

from .conftest import QUEUE, Cli, assert_one_line_error

FIELDS = [
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
]


def normal(call: dict[str, object]) -> dict[str, object]:
    """A call as text, times as instants: ``+0000`` (API) and ``+00:00`` (ISO) compare equal,
    and so do JSON's null and CSV's empty cell."""
    result: dict[str, object] = {}
    for key, value in call.items():
        if value is None or value == "":
            result[key] = None
        elif key in ("enqueueTime", "dequeueTime"):
            result[key] = datetime.strptime(
                str(value).replace("+00:00", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z"
            )
        elif isinstance(value, bool):
            result[key] = "true" if value else "false"
        else:
            result[key] = str(value)
    return result


def parse(fmt: str, text: str) -> list[dict[str, object]]:
    """The calls a machine-readable output holds."""
    if fmt == "json":
        loaded = json.loads(text)
        assert isinstance(loaded, list)
        return loaded
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines()]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    assert list(rows[0]) == FIELDS
    return list(rows)


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
async def test_machine_formats_hold_exactly_the_simulators_calls(
    cli: Cli, activecalls_simulator: Simulator, fmt: str
) -> None:
    result = await cli.run("list", "--product", "ACD:55", "--format", fmt, "--page-size", "20")
    assert result.status == 0, result.err
    expected = activecalls_simulator.wire_calls(*QUEUE)
    assert len(expected) > 20  # several pages
    listed = parse(fmt, result.out)
    assert [c["uii"] for c in listed] == [c["uii"] for c in expected]
    assert [normal(c) for c in listed] == [normal(c) for c in expected]
    if fmt != "csv":  # JSON keeps the API's types
        assert [type(c["archive"]) for c in listed] == [bool] * len(listed)


async def test_table_lists_every_call_under_a_header(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run("list", "-p", "acd:55", "--page-size", "25")
    assert result.status == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split()[:3] == ["UII", "STATE", "ENQUEUED"]
    expected = activecalls_simulator.wire_calls(*QUEUE)
    assert [row.split()[0] for row in rows] == [c["uii"] for c in expected]
    first = expected[0]
    assert f"{first['agentFirstName']} {first['agentLastName']}" in rows[0]


async def test_many_targets_are_listed_once_each(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    targets = [("ACD", 55), ("ACD", 56), ("DNIS", 8661234567), ("OUTBOUND", 101)]
    argv = [arg for product, pid in targets for arg in ("-p", f"{product}:{pid}")]
    result = await cli.run("list", *argv, "-p", "acd:55", "-f", "ndjson", "--page-size", "30")
    assert result.status == 0, result.err
    listed = [c["uii"] for c in parse("ndjson", result.out)]
    expected = {c["uii"] for t in targets for c in activecalls_simulator.wire_calls(*t)}
    assert len(listed) == len(set(listed))  # ACD 55 and its DNIS overlap: shown once
    assert set(listed) == expected
    assert f"{len(expected)} calls from 4 listings" in result.err


async def test_default_target_is_the_whole_account_every_page(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run("list", "-f", "json", "--page-size", "50")
    assert result.status == 0, result.err
    assert [c["uii"] for c in json.loads(result.out)] == [
        c["uii"] for c in activecalls_simulator.wire_calls("ACCOUNT", 12440001)
    ]
    pages = [r for r in activecalls_simulator.requests if r.operation == "list"]
    assert {r.param("product") for r in pages} == {"ACCOUNT"}
    assert len(pages) >= 300 // 50


async def test_progress_shows_on_stderr_while_pages_load(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    # 31 pages, ten in flight after page 0: four rounds of latency, well over a second.
    activecalls_simulator.faults.latency = 0.45
    result = await cli.run("list", "-f", "json", "--page-size", "10")
    assert result.status == 0, result.err
    assert len(json.loads(result.out)) == 300  # stdout is nothing but the document
    progress, summary = result.err.splitlines()[0], result.err.splitlines()[-1]
    assert re.fullmatch(r"Listing ACCOUNT:12440001: [0-9,]+ calls \([0-9.]+ s\)", progress)
    assert re.fullmatch(r"300 calls from 1 listing in [0-9.]+ s", summary)
    activecalls_simulator.faults.latency = 0.0
    quiet = await cli.run("list", "-f", "json", "--page-size", "10", "--no-progress")
    assert quiet.out == result.out
    assert quiet.err.splitlines() == [quiet.err.splitlines()[-1]]  # the summary alone


async def test_a_product_without_results_lists_nothing(cli: Cli) -> None:
    result = await cli.run("list", "-p", "AGENT", "-f", "json")
    assert result.status == 0, result.err
    assert json.loads(result.out) == []
    csv_result = await cli.run("list", "-p", "AGENT", "-f", "csv")
    assert csv_result.out.strip() == ",".join(FIELDS)  # a header, even with no rows


async def test_configuration_from_environment(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", activecalls_simulator.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", activecalls_simulator.account_id)
    monkeypatch.setenv("ACTIVECALLS_API_TOKEN", activecalls_simulator.api_token)
    monkeypatch.setenv("ACTIVECALLS_TIMEOUT", "5")
    result = await cli.run("list", "-p", "ACD:55", "-f", "json", connect=False)
    assert result.status == 0, result.err
    assert len(json.loads(result.out)) == len(activecalls_simulator.wire_calls(*QUEUE))
    assert "embedded simulator" not in result.err
    sent = [r for r in activecalls_simulator.requests if r.operation == "list"]
    assert sent
    assert all(r.headers.get("X-Auth-Token") for r in sent)


async def test_connection_flags_work_before_the_command(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run(*cli.connection(), "list", "-p", "ACD:55", "-f", "json", connect=False)
    assert result.status == 0, result.err
    assert len(json.loads(result.out)) == len(activecalls_simulator.wire_calls(*QUEUE))


async def test_nothing_configured_is_exit_2_never_simulated_calls(bare_cli: Cli) -> None:
    for fmt in ("csv", "json", "table"):
        result = await bare_cli.run("list", "-f", fmt)
        line = assert_one_line_error(result, 2)
        assert "ACTIVECALLS_ACCOUNT_ID and ACTIVECALLS_TOKEN" in line
        assert "--simulator" in line
        assert result.out == ""


@pytest.mark.parametrize("how", ["flag", "variable"])
async def test_the_simulator_is_opt_in_and_every_output_says_so(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    argv = ["list", "-p", "ACD:55", "-f", "json", "--sim-calls", "150"]
    if how == "flag":
        argv.insert(0, "--simulator")
    else:
        monkeypatch.setenv("ACTIVECALLS_SIMULATOR", "1")
    result = await bare_cli.run(*argv)
    assert result.status == 0, result.err
    banner = [line for line in result.err.splitlines() if "SIMULATED" in line]
    assert len(banner) == 1
    assert "150 calls, seed 7" in banner[0]
    calls = json.loads(result.out)
    assert calls
    assert all(call["simulated"] is True for call in calls)
    # The same seed gives the same callers (the times, and so the uiis, follow the clock).
    expected = Simulator(calls=150, seed=7).wire_calls(*QUEUE)
    assert [(c["ani"], c["cnam"]) for c in calls] == [(c["ani"], c["cnam"]) for c in expected]

    for fmt in ("ndjson", "csv", "table"):
        result = await bare_cli.run(*argv[:-4], "-f", fmt, "--sim-calls", "5")
        assert result.status == 0, result.err
        assert "SIMULATED" in result.err
        if fmt == "ndjson":
            assert all(json.loads(line)["simulated"] for line in result.out.splitlines())


async def test_a_real_account_has_no_simulated_field(cli: Cli) -> None:
    result = await cli.run("list", "-p", "ACD:55", "-f", "json")
    assert result.status == 0, result.err
    assert all("simulated" not in call for call in json.loads(result.out))
    assert "SIMULATED" not in result.err


async def test_columns_choose_the_table_and_the_fields(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    result = await cli.run("list", "-p", "ACD:55", "--columns", "uii,wait,agent", "-f", "csv")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "uii,waitSeconds,agentFirstName,agentLastName"
    assert len(lines) == 1 + len(activecalls_simulator.wire_calls(*QUEUE))
    result = await cli.run("list", "-p", "ACD:55", "--columns", "state,uii")
    assert result.status == 0, result.err
    assert result.out.splitlines()[0].split() == ["STATE", "UII"]


async def test_embedded_simulator_takes_the_configured_account_id(bare_cli: Cli) -> None:
    argv = ["--simulator", "list", "-f", "json", "--sim-calls", "20", "--account-id", "777"]
    result = await bare_cli.run(*argv)
    assert result.status == 0, result.err
    assert "account 777" in result.err
    calls = json.loads(result.out)
    assert len(calls) == 20  # the default target is ACCOUNT:777, the whole account
    assert {c["accountId"] for c in calls} == {"777"}


async def test_rich_table_on_a_terminal(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    monkeypatch.setenv("COLUMNS", "200")
    result = await cli.run("list", "-p", "ACD:55")
    assert result.status == 0, result.err
    assert "─" in result.out  # rich's box drawing, not the plain header
    for call in activecalls_simulator.wire_calls(*QUEUE):
        assert call["uii"] in result.out


async def test_plain_table_on_a_terminal_without_rich(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # `import rich` now fails
    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    result = await cli.run("list", "-p", "ACD:55")
    assert result.status == 0, result.err
    assert result.out.startswith("UII ")
    assert "─" not in result.out
    assert len(result.out.splitlines()) == 1 + len(activecalls_simulator.wire_calls(*QUEUE))
