"""Where requests go and what the CLI says when the configuration cannot work: the account
id, missing values, the RingCentral login variables, ``--retries``, and secret masking."""

from __future__ import annotations

import pytest

from activecalls_async._cli.failures import scrub
from activecalls_async._redact import MIN_SECRET_CHARS
from activecalls_async.cli import main
from activecalls_async.testing import Faults, Simulator

from .conftest import Cli, assert_one_line_error

RC_VARS = (
    "ACTIVECALLS_RC_JWT",
    "ACTIVECALLS_RC_CLIENT_ID",
    "ACTIVECALLS_RC_CLIENT_SECRET",
    "ACTIVECALLS_RC_ACCESS_TOKEN",
    "ACTIVECALLS_RC_SERVER",
    "ACTIVECALLS_AUTH_URL",
)


# -- the account id ------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["list"], ["watch", "--duration", "1"]], ids=["list", "watch"])
async def test_a_non_numeric_account_id_is_a_usage_error_naming_where_it_came_from(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    # The reviewer's case: a one-letter "token" must not mangle the message either.
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", activecalls_simulator.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", "acct1")
    monkeypatch.setenv("ACTIVECALLS_TOKEN", "x")
    result = await cli.run(*argv, connect=False)
    line = assert_one_line_error(result, 2)
    assert line == (
        "activecalls: error: invalid account id 'acct1': expected the numeric RingCX account "
        "id (digits, e.g. 12440001); fix --account-id or ACTIVECALLS_ACCOUNT_ID"
    )
    assert activecalls_simulator.requests == []  # refused before anything was sent


async def test_the_embedded_simulator_names_the_account_id_settings(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", "acct1")
    line = assert_one_line_error(await bare_cli.run("--simulator", "list"), 2)
    for part in ("'acct1'", "--account-id", "ACTIVECALLS_ACCOUNT_ID", "expected the numeric"):
        assert part in line


async def test_a_numeric_account_id_from_the_environment_lists_the_account(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", activecalls_simulator.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", f" {activecalls_simulator.account_id} ")
    monkeypatch.setenv("ACTIVECALLS_TOKEN", activecalls_simulator.token)
    result = await cli.run("list", "-f", "ndjson", "--no-progress", connect=False)
    assert result.status == 0, result.err
    assert len(result.out.splitlines()) == len(activecalls_simulator.wire_calls())


# -- missing values are "missing", and name the flag and the variable ----------------------


async def test_a_missing_account_id_says_so_and_names_the_variable(bare_cli: Cli) -> None:
    argv = ["list", "--base-url", "https://example.invalid", "--token", "t0k-value-123"]
    line = assert_one_line_error(await bare_cli.run(*argv), 2)
    assert (
        line == "activecalls: error: no account id: pass --account-id or set ACTIVECALLS_ACCOUNT_ID"
    )


async def test_missing_credentials_name_every_way_to_log_in(bare_cli: Cli) -> None:
    argv = ["list", "--base-url", "https://example.invalid", "--account-id", "1"]
    line = assert_one_line_error(await bare_cli.run(*argv), 2)
    assert line.startswith("activecalls: error: no credentials: set ACTIVECALLS_ACCOUNT_ID")
    for name in ("ACTIVECALLS_TOKEN", "ACTIVECALLS_API_TOKEN", *RC_VARS[:4], "--simulator"):
        assert name in line
    assert "invalid" not in line


# -- a RingCentral login from the ACTIVECALLS_RC_* variables -------------------------------


def rc_login(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    """A complete RingCentral JWT login to ``sim``, and no ACTIVECALLS_TOKEN."""
    for name, value in {
        "ACTIVECALLS_BASE_URL": sim.base_url,
        "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
        "ACTIVECALLS_RC_JWT": sim.rc_jwt,
        "ACTIVECALLS_RC_CLIENT_ID": sim.rc_client_id,
        "ACTIVECALLS_RC_CLIENT_SECRET": sim.rc_client_secret,
        "ACTIVECALLS_RC_SERVER": sim.root_url,
        "ACTIVECALLS_AUTH_URL": sim.root_url,
    }.items():
        monkeypatch.setenv(name, value)


async def test_a_ringcentral_login_alone_reaches_the_account(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc_login(monkeypatch, activecalls_simulator)
    result = await cli.run("list", "-f", "ndjson", "--no-progress", connect=False)
    assert result.status == 0, result.err
    assert len(result.out.splitlines()) == len(activecalls_simulator.wire_calls())
    assert "embedded simulator" not in result.err
    paths = {r.path for r in activecalls_simulator.requests}
    assert "/restapi/oauth/token" in paths  # it logged in with the JWT


@pytest.mark.parametrize("name", ["ACTIVECALLS_RC_CLIENT_ID", "ACTIVECALLS_RC_SERVER"])
async def test_a_partial_ringcentral_login_never_falls_back_to_the_simulator(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "https://login.example.invalid")
    result = await bare_cli.run("list", "--account-id", "1")
    line = assert_one_line_error(result, 2)
    assert line.startswith("activecalls: error: no credentials: ")
    assert "embedded simulator" not in result.err


async def test_a_jwt_without_its_app_credentials_names_what_is_missing(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_RC_JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    monkeypatch.setenv("ACTIVECALLS_RC_CLIENT_ID", "my-app-client")
    line = assert_one_line_error(await bare_cli.run("list", "--account-id", "1"), 2)
    assert line == (
        "activecalls: error: ACTIVECALLS_RC_JWT is set but ACTIVECALLS_RC_CLIENT_SECRET is not"
    )


async def test_a_bad_ringcentral_setting_is_named_by_its_variable(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc_login(monkeypatch, activecalls_simulator)
    monkeypatch.setenv("ACTIVECALLS_RC_SERVER", "ftp://login.example")
    line = assert_one_line_error(await cli.run("list", connect=False), 2)
    assert line.startswith("activecalls: error: invalid ACTIVECALLS_RC_SERVER: ")
    assert activecalls_simulator.rc_client_secret not in line


async def test_a_token_flag_wins_over_a_half_set_ringcentral_login(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_RC_JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    result = await cli.run("list", "-p", "ACD:55", "-f", "json", "--no-progress")
    assert result.status == 0, result.err


async def test_a_timeout_flag_wins_over_a_bad_timeout_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TIMEOUT", "soon")
    result = await cli.run("list", "-p", "ACD:55", "--timeout", "5", "--no-progress")
    assert result.status == 0, result.err
    line = assert_one_line_error(await cli.run("list", "-p", "ACD:55"), 2)
    assert line == "activecalls: error: invalid ACTIVECALLS_TIMEOUT: expected seconds"


def test_help_names_every_configuration_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in (
        "ACTIVECALLS_BASE_URL",
        "ACTIVECALLS_ACCOUNT_ID",
        "ACTIVECALLS_TIMEOUT",
        "ACTIVECALLS_TOKEN",
        "ACTIVECALLS_API_TOKEN",
        *RC_VARS,
        "--retries",
    ):
        assert name in text, name


# -- --retries -----------------------------------------------------------------------------


@pytest.mark.parametrize(("retries", "requests"), [("0", 1), ("1", 2)])
async def test_retries_sets_how_often_a_failed_request_is_tried_again(
    cli: Cli, activecalls_simulator: Simulator, retries: str, requests: int
) -> None:
    activecalls_simulator.faults = Faults(error_rate=1.0, error_status=503, operations={"list"})
    result = await cli.run("list", "-p", "ACD:55", "--retries", retries, "--no-progress")
    line = assert_one_line_error(result, 1)
    assert "HTTP 503" in line
    listed = [r for r in activecalls_simulator.requests if r.operation == "list"]
    assert len(listed) == requests


async def test_retries_applies_to_the_embedded_simulator_too(bare_cli: Cli) -> None:
    argv = ["list", "--simulator", "--sim-calls", "5", "--retries", "0", "-f", "json"]
    result = await bare_cli.run(*argv)
    assert result.status == 0, result.err


# -- masking configured secrets ------------------------------------------------------------


def test_a_short_configured_value_is_not_masked_inside_words() -> None:
    assert scrub("unexpected ValueError: x", ["x"]) == "unexpected ValueError: x"
    short = "k" * (MIN_SECRET_CHARS - 1)
    assert scrub(f"token {short}", [short]) == f"token {short}"


def test_a_real_secret_is_masked_wherever_it_occurs() -> None:
    secret = "s3cret-t0ken-value"
    assert scrub(f"sent {secret}, twice: {secret}", [secret]) == "sent ***, twice: ***"
    # Glued to other text (a percent-encoded query, a quoted value), it is still masked.
    assert scrub(f"GET /x?q=a%3D{secret}", [secret]) == "GET /x?q=a%3D***"
    assert scrub(f"'{secret}'", [secret, "x"]) == "'***'"


async def test_a_short_token_leaves_error_messages_readable(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TOKEN", "e")
    line = assert_one_line_error(
        await bare_cli.run("list", "--account-id", "1", "--timeout", "x"), 2
    )
    assert "expected seconds; got 'x'" in line
