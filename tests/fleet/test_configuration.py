"""Fleet mode wherever users configure a client: the constructor, from_env and the CLI."""

from __future__ import annotations

import asyncio
import gc
import os

import pytest
import redis.asyncio as aioredis

from activecalls_async import ActiveCallsClient, RingCentralAuth, Target, ValidationError
from activecalls_async.cli import main
from activecalls_async.fleet import RedisRateLimit, RedisTokenCache
from activecalls_async.testing import RecordedRequest, Simulator
from tests.support import wait_until

from .redis_server import RedisServer
from .watchers import Member, one_poll


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ACTIVECALLS_"):
            monkeypatch.delenv(name)


async def test_a_client_spends_the_fleet_budget(
    redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    async with (
        Simulator(calls=20, live=False) as sim,
        RedisRateLimit(redis_server.url, key=fleet_key, requests=60, per=5) as limit,
        ActiveCallsClient(
            account_id=sim.account_id, auth=sim.token, base_url=sim.base_url, rate_limit=limit
        ) as client,
    ):
        calls = await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=5)
        await client.toggle_call_recording(calls[0].uii, record=False)
        assert await redis_client.zcard(f"{fleet_key}:window") == 2


async def test_from_env_joins_the_fleet_and_closes_what_it_made(
    redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    async with Simulator(calls=20, live=False) as sim:
        environ = {
            "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
            "ACTIVECALLS_BASE_URL": sim.base_url,
            "ACTIVECALLS_RC_JWT": sim.rc_jwt,
            "ACTIVECALLS_RC_CLIENT_ID": sim.rc_client_id,
            "ACTIVECALLS_RC_CLIENT_SECRET": sim.rc_client_secret,
            "ACTIVECALLS_RC_SERVER": sim.root_url,
            "ACTIVECALLS_AUTH_URL": sim.root_url,
            "ACTIVECALLS_REDIS_URL": redis_server.url,
            "ACTIVECALLS_FLEET_KEY": fleet_key,
        }
        async with ActiveCallsClient.from_env(environ) as client:
            assert isinstance(client._transport.limiter, RedisRateLimit)
            assert client._transport.limiter.key == fleet_key
            await client.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)
        async with ActiveCallsClient.from_env(environ) as second:
            await second.list_active_calls("ACCOUNT", sim.account_id, max_rows=1)
        exchanges = sum(1 for r in sim.requests if r.operation == "auth.exchange")
    assert exchanges == 1  # the second client found the first one's login in Redis
    assert await redis_client.exists(f"{fleet_key}:login")
    assert await redis_client.zcard(f"{fleet_key}:window") == 2
    gc.collect()  # an unclosed Redis connection would warn (an error in this suite)


def test_from_env_defaults_the_key_to_the_account(redis_server: RedisServer) -> None:
    client = ActiveCallsClient.from_env(
        {
            "ACTIVECALLS_ACCOUNT_ID": "12440001",
            "ACTIVECALLS_TOKEN": "t0ken",
            "ACTIVECALLS_REDIS_URL": redis_server.url,
        }
    )
    limiter = client._transport.limiter
    assert isinstance(limiter, RedisRateLimit)
    assert limiter.key == "activecalls:12440001"
    assert redis_server.url not in repr(client)


def test_a_fleet_without_an_account_id_needs_its_key(redis_server: RedisServer) -> None:
    environ = {"ACTIVECALLS_TOKEN": "t0ken", "ACTIVECALLS_REDIS_URL": redis_server.url}
    with pytest.raises(ValidationError, match="ACTIVECALLS_FLEET_KEY"):
        ActiveCallsClient.from_env(environ, account_id=None)
    client = ActiveCallsClient.from_env(
        {**environ, "ACTIVECALLS_FLEET_KEY": "fleet:north"}, account_id=None
    )
    limiter = client._transport.limiter
    assert isinstance(limiter, RedisRateLimit)
    assert limiter.key == "fleet:north"


async def test_from_env_keeps_a_rate_limit_and_auth_passed_in(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = RingCentralAuth("rc-token", cache=RedisTokenCache(redis_server.url, key="k"))
    closed: list[str] = []

    async def closing() -> None:
        closed.append("auth")

    monkeypatch.setattr(auth, "aclose", closing)
    client = ActiveCallsClient.from_env(
        {"ACTIVECALLS_ACCOUNT_ID": "1", "ACTIVECALLS_REDIS_URL": redis_server.url},
        auth=auth,
        rate_limit=None,
    )
    assert client._transport.limiter is None
    assert client._transport.auth is auth
    await client.aclose()
    assert closed == []  # what the caller passed in stays the caller's to close


async def test_the_cli_joins_the_fleet_with_redis_url(
    redis_server: RedisServer, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(calls=20, live=False) as sim:
        argv = [
            "list",
            "--base-url", sim.base_url,
            "--account-id", sim.account_id,
            f"--token={sim.token}",
            "--redis-url", redis_server.url,
            "-f", "ndjson",
            "--no-progress",
        ]  # fmt: skip
        status = await asyncio.to_thread(main, argv)
    assert status == 0, capsys.readouterr().err
    assert await redis_client.zcard(f"activecalls:{sim.account_id}:window") >= 1
    assert redis_server.url not in capsys.readouterr().err


def test_the_fleet_module_exports_its_parts() -> None:
    import activecalls_async.fleet as fleet

    assert fleet.__all__ == [
        "RedisRateLimit",
        "RedisRefusedError",
        "RedisTokenCache",
        "TakenEvent",
        "WatchHub",
    ]


#: The ``User-Agent`` of the fleet's bot in the CLI tests: its requests, not the CLI's.
BOT_AGENT = "fleet-bot"


def _fleet_bot(sim: Simulator, redis_server: RedisServer) -> Member:
    """A bot of the fleet watching queue 55 (it polls it, holding the lease)."""
    key = f"activecalls:{sim.account_id}"
    return Member(sim, redis_server.url, key, [Target("ACD", 55)], client={"user_agent": BOT_AGENT})


def _check_the_bot_made_every_poll(polls: list[RecordedRequest], bot: Member) -> None:
    """Every full listing came from the bot: those of its snapshots, and at most one poll
    more (cut short at close, its requests sent but its snapshot never published)."""
    assert {r.headers["User-Agent"] for r in polls} == {BOT_AGENT}
    assert len(polls) <= sum(s.requests for s in bot.snapshots) + one_poll(bot.snapshots)


async def test_the_cli_watch_shares_the_fleets_watch(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(calls=60, seed=3, live=False, rate_limit=None) as sim:
        # A bot of the fleet already watches queue 55 (and polls it, holding the lease).
        bot = _fleet_bot(sim, redis_server)
        bot.start()
        try:
            await wait_until(lambda: bot.watch.polling)
            argv = [
                "watch", "-p", "ACD:55", "--interval", "0.2", "--duration", "1.5",
                "--base-url", sim.base_url, "--account-id", sim.account_id,
                f"--token={sim.token}", "--redis-url", redis_server.url,
            ]  # fmt: skip
            status = await asyncio.to_thread(main, argv)
        finally:
            await bot.stop()
        polls = [r for r in sim.requests if r.operation == "list" and r.param("maxRows") != "1"]
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "sharing this watch with the fleet 'activecalls:12440001'" in err
    headings = [line for line in out.splitlines() if line.startswith("ACD:55: ")]
    assert headings
    assert headings[-1].endswith("polling every 0.2 s, shared with 1)")
    assert redis_server.url not in out + err
    # The console polled nothing of its own: every full listing was the bot's.
    _check_the_bot_made_every_poll(polls, bot)


async def test_the_cli_top_shares_the_fleets_watch(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(calls=60, seed=3, live=False, rate_limit=None) as sim:
        bot = _fleet_bot(sim, redis_server)
        bot.start()
        try:
            await wait_until(lambda: bot.watch.polling)
            before = len(sim.requests)
            argv = [
                "top", "-p", "ACD:55", "--interval", "0.2", "--duration", "1.5",
                "--base-url", sim.base_url, "--account-id", sim.account_id,
                f"--token={sim.token}", "--redis-url", redis_server.url,
            ]  # fmt: skip
            status = await asyncio.to_thread(main, argv)
            mine = [
                r
                for r in list(sim.requests)[before:]
                if r.operation == "list" and r.param("maxRows") == "1"
            ]
        finally:
            await bot.stop()
        polls = [r for r in sim.requests if r.operation == "list" and r.param("maxRows") != "1"]
        in_queue = list(bot.snapshots[-1].calls)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "sharing this view with the fleet 'activecalls:12440001'" in err
    budgets = [line for line in out.splitlines() if line.startswith("budget ")]
    assert len(budgets) >= 3  # a snapshot for each of the fleet's polls
    assert all(line.endswith("| every 0.2s | shared with 1") for line in budgets)
    assert redis_server.url not in out + err
    # One request of its own proved the connection; every full listing was the bot's.
    assert len(mine) == 1
    assert mine[0].headers["User-Agent"] != BOT_AGENT
    _check_the_bot_made_every_poll(polls, bot)
    assert f"ACD:55: {len(in_queue)} calls" in out  # the fleet's calls


@pytest.mark.parametrize("url", ["redis://localhost:99999/0", "redis://:pw@localhost:abc/0"])
def test_from_env_names_the_variable_of_an_unusable_redis_url(url: str) -> None:
    env = {
        "ACTIVECALLS_ACCOUNT_ID": "1",
        "ACTIVECALLS_TOKEN": "t0ken-value",
        "ACTIVECALLS_REDIS_URL": url,
    }
    with pytest.raises(ValidationError) as info:
        ActiveCallsClient.from_env(env)
    assert info.value.parameter == "ACTIVECALLS_REDIS_URL"
    assert info.value.problem.startswith("not a usable Redis URL (Port")
