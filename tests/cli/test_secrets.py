"""No error path of the CLI echoes a credential: not a configured one, not one given to a
mistyped option (``--tokn SECRET``), not one that merely looks like a token."""

from __future__ import annotations

import pytest

from activecalls_async._cli.failures import scrub
from activecalls_async._cli.parser import build_parser, hidden_arguments
from activecalls_async.testing import Faults, Simulator

from .conftest import Cli

SECRET = "rcT0k3n-9f8e7d6c5b4a3210ABCDEF"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLXBhcnQ"
SHORT = "hunter22"  # not token-shaped: hidden only because of the option before it

UII = "202611281340150000000000000011"

#: Every subcommand (and its nested actions), with the arguments it needs to parse.
COMMANDS = [
    ["list"],
    ["watch"],
    ["top"],
    ["queue-check", "8661234567"],
    ["dial", "ada@example.com", "6501234567", "--caller-id", "6505550100"],
    ["session", "add", UII, "+15554150123"],
    ["session", "remove", UII, "+15554150123"],
    ["record", "on", UII],
    ["record", "off", UII],
    ["disposition", UII, "SALE"],
    ["hangup", UII],
    ["simulator"],
    ["demo"],
]

#: Mistyped or unknown options, and values in the wrong place.
MISTAKES = [
    ["--tokn", SECRET],
    [f"--tokn={SECRET}"],
    ["--tkoen", SHORT],
    ["--secert", SHORT],
    ["--api-tokn", SHORT],
    ["--client-secret", SHORT],
    ["--jwt", JWT],
    ["--passwd", SHORT],
    ["--bearer", SHORT],
    [SECRET],
    [JWT],
    ["--timeout", SECRET],
    ["--format", SECRET],
    ["--retries", SECRET],
]


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret[:12] not in text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("mistake", MISTAKES, ids=" ".join)
async def test_usage_errors_never_echo_a_credential(
    bare_cli: Cli, command: list[str], mistake: list[str]
) -> None:
    for argv in ([*command, *mistake], [*mistake, *command]):
        result = await bare_cli.run(*argv)
        assert result.status == 2, (argv, result)
        assert "error:" in result.err
        assert "***" in result.err or "required" in result.err or "expected" in result.err
        assert_hidden(result.out + result.err, SECRET, JWT, SHORT)


async def test_the_unrecognised_arguments_line_masks_only_the_secret(bare_cli: Cli) -> None:
    result = await bare_cli.run("list", "--tokn", SECRET, "--colour", "blue")
    assert result.status == 2
    assert result.err.strip() == (
        "activecalls: error: unrecognized arguments: --tokn *** --colour blue "
        "(see 'activecalls --help')"
    )


async def test_a_failed_request_never_echoes_a_token_shaped_argument(
    cli: Cli, activecalls_simulator: Simulator
) -> None:
    # The "uii" is token-shaped: the 404's message, which names the URL, must not show it.
    result = await cli.run("hangup", SECRET)
    assert result.status == 1
    assert_hidden(result.err, SECRET)
    activecalls_simulator.faults = Faults(error_rate=1.0, error_status=500)
    result = await cli.run("--retries", "0", "disposition", UII, "SALE", "--notes", SECRET)
    assert result.status == 1, result
    assert_hidden(result.out + result.err, SECRET)


async def test_a_configured_token_never_appears_in_errors(
    cli: Cli, activecalls_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIVECALLS_TOKEN", SECRET)
    monkeypatch.setenv("ACTIVECALLS_BASE_URL", activecalls_simulator.base_url)
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", activecalls_simulator.account_id)
    for argv in (["list"], ["hangup", UII], ["top", "--duration", "1"], ["-v", "list"]):
        result = await cli.run(*argv, connect=False)
        assert result.status == 1, result  # the simulator refuses the token: 401
        assert_hidden(result.out + result.err, SECRET)


def test_hidden_arguments() -> None:
    argv = ["list", "--tokn", "abc123xyz", "--notes", "plain words", f"--secret-key={SHORT}"]
    assert hidden_arguments(argv) == ["abc123xyz", SHORT]
    assert hidden_arguments(["hangup", SECRET, "-p", "ACD:55", UII]) == [SECRET]
    assert hidden_arguments(["--token", "abc"]) == []  # too short to be masked in text
    plain = ["--notes", "x", "--format", "json", "ada@example.com", "--seed", "12345", "--sort"]
    assert hidden_arguments([*plain, "wait"]) == []
    # One rule for the SDK and the CLI: the SDK's mask, echoes cut short or recased too.
    assert scrub("got 'abc123xyz' twice: ABC123XY...", ["abc123xyz"]) == "got '***' twice: ***..."


def test_the_parser_masks_its_own_messages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--tokn", SECRET, "list"])
    assert_hidden(capsys.readouterr().err, SECRET)


async def test_a_mistyped_option_before_the_command_is_named_not_its_value(
    bare_cli: Cli,
) -> None:
    result = await bare_cli.run("--tokn", SECRET, "list")
    assert result.status == 2
    assert result.err.strip() == (
        "activecalls: error: unrecognized arguments: --tokn *** (see 'activecalls --help')"
    )
    nested = await bare_cli.run("record", "--token", SECRET, UII, "off")
    assert nested.status == 2
    assert "unrecognized arguments: --token ***" in nested.err
    assert_hidden(result.err + nested.err, SECRET)


#: A Redis URL with a password in it: a mistyped option's value, or a stray argument.
REDIS_URL = "redis://:S3cretRedisPassw0rd@redis.internal:6379/0"


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--redis-urll", REDIS_URL],
        ["--redis-urll", REDIS_URL, "list"],
        ["list", REDIS_URL],
        ["hangup", REDIS_URL],
        ["watch", "--redis-url"],  # no value: nothing to echo, still one line
    ],
    ids=["mistyped-after", "mistyped-before", "stray", "as-uii", "no-value"],
)
async def test_a_redis_url_is_echoed_without_its_password(bare_cli: Cli, argv: list[str]) -> None:
    result = await bare_cli.run(*argv)
    assert result.status == 2, result
    assert result.err.count("\n") == 1, result.err
    assert "S3cretRedisPassw0rd" not in result.out + result.err
    if REDIS_URL in argv:
        assert "redis.internal:6379/0" in result.err  # the rest still says which argument


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://localhost:99999/0", "Port out of range"),
        ("redis://:S3cretRedisPassw0rd@localhost:abc/0", "could not be cast to integer"),
    ],
)
@pytest.mark.parametrize("given", ["variable", "flag"])
async def test_a_redis_url_with_a_bad_port_is_one_line_naming_it(
    bare_cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, says: str, given: str
) -> None:
    monkeypatch.setenv("ACTIVECALLS_ACCOUNT_ID", "1")
    monkeypatch.setenv("ACTIVECALLS_TOKEN", SECRET)
    if given == "variable":
        monkeypatch.setenv("ACTIVECALLS_REDIS_URL", url)
        result = await bare_cli.run("list")
        named = "ACTIVECALLS_REDIS_URL"
    else:
        result = await bare_cli.run("list", "--redis-url", url)
        named = "--redis-url"
    assert result.status == 2, result
    assert result.err.startswith(f"activecalls: error: invalid {named}: not a usable Redis URL")
    assert says in result.err
    assert result.err.count("\n") == 1
    assert "S3cretRedisPassw0rd" not in result.err
    assert_hidden(result.err, SECRET)
