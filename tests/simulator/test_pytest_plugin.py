"""The pytest plugin, as a user's suite enables it: fixtures, marker, overrides, teardown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
pytest_plugins = ["activecalls_async.testing.pytest_plugin"]
"""

# The user's suite runs in pytest-asyncio's strict mode with warnings as errors: the
# fixtures must not need auto mode, nor leak a session or a task.
INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
filterwarnings = error
"""

BOT_TESTS = """
import aiohttp
import pytest

from activecalls_async import ActiveCallsClient, SessionType
from activecalls_async.testing import Simulator

seen = {}


@pytest.mark.asyncio
async def test_default_account(activecalls_client, activecalls_simulator):
    assert isinstance(activecalls_simulator, Simulator)
    assert isinstance(activecalls_client, ActiveCallsClient)
    calls = [c async for c in activecalls_client.iter_active_calls("ACCOUNT", 12440001)]
    assert len(calls) == len(activecalls_simulator.wire_calls()) == 200
    seen["client"] = activecalls_client
    seen["url"] = activecalls_simulator.base_url


@pytest.mark.asyncio
async def test_previous_client_and_simulator_were_shut_down():
    assert seen["client"].closed
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(seen["url"])


@pytest.mark.asyncio
@pytest.mark.activecalls_simulator(calls=7, seed=3)
async def test_marker_configures_the_simulator(activecalls_client, activecalls_simulator):
    calls = await activecalls_client.list_active_calls("ACCOUNT", 12440001)
    assert len(calls) == 7


@pytest.mark.asyncio
async def test_a_bot_is_tested_without_mocks(activecalls_client, activecalls_simulator):
    call = next(c for c in activecalls_simulator.wire_calls("ACD", 55) if c["agentFirstName"])
    await activecalls_client.add_session_to_call(
        call["uii"], destination="+15554150123", session_type=SessionType.MONITOR
    )
    assert activecalls_simulator.effect_count("addSessionToCall", call["uii"]) == 1
"""


def test_fixtures_marker_and_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_bot=BOT_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)


FACTORY_TESTS = """
import pytest

from activecalls_async import ApiToken, RingCentralAuth

pytestmark = pytest.mark.asyncio
made = []


@pytest.mark.activecalls_client(page_size=6)
async def test_clients_like_the_fixtures_with_the_call_winning(
    activecalls_client, activecalls_client_factory, activecalls_simulator
):
    sim = activecalls_simulator
    second = activecalls_client_factory()
    legacy = activecalls_client_factory(auth=ApiToken(sim.api_token), page_size=7)
    located = activecalls_client_factory(account_id=None)
    made.extend([activecalls_client, second, legacy, located])
    assert (second.page_size, legacy.page_size) == (6, 7)  # marker, then call
    assert await legacy.list_active_calls("ACCOUNT", 12440001, max_rows=2)
    assert await located.resolve_account_id() == sim.account_id
    jwt = RingCentralAuth.from_jwt(
        client_id=sim.rc_client_id,
        client_secret=sim.rc_client_secret,
        jwt=sim.rc_jwt,
        rc_server=sim.root_url,
        auth_url=sim.root_url,
    )
    async with activecalls_client_factory(auth=jwt) as client:
        assert await client.list_active_calls("ACCOUNT", 12440001, max_rows=1)
    assert [r.operation for r in sim.requests if r.operation.startswith("auth")] == [
        "auth.jwt",
        "auth.exchange",
    ]
    await jwt.aclose()


async def test_every_client_made_was_closed():
    assert len(made) == 4
    assert all(client.closed for client in made)
"""


def test_options_fixture_sets_a_suite_default_and_the_marker_wins(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        CONFTEST
        + """
import pytest

@pytest.fixture
def activecalls_simulator_options():
    return {"calls": 12, "seed": 1, "rate_limit": None}

@pytest.fixture
def activecalls_client_options():
    return {"page_size": 5, "retry": None}
"""
    )
    pytester.makeini(INI)
    pytester.makepyfile(
        test_overrides="""
import pytest

pytestmark = pytest.mark.asyncio


async def test_suite_default(activecalls_client, activecalls_simulator):
    calls = [c async for c in activecalls_client.iter_active_calls("ACCOUNT", 12440001)]
    assert len(calls) == 12
    assert activecalls_client.page_size == 5
    assert len([r for r in activecalls_simulator.requests if r.operation == "list"]) >= 3


@pytest.mark.activecalls_simulator(calls=2)
async def test_marker_wins(activecalls_simulator):
    assert len(activecalls_simulator.wire_calls()) == 2


@pytest.mark.activecalls_client(account_timezone="Europe/Paris")
async def test_client_marker_adds_to_the_suite_default(activecalls_client):
    assert str(activecalls_client.account_timezone) == "Europe/Paris"
    assert activecalls_client.page_size == 5  # the suite's default, kept


@pytest.mark.activecalls_client(page_size=3)
class TestClassClientMarker:
    @pytest.mark.activecalls_client(page_size=4)
    async def test_closest_client_marker_wins(self, activecalls_client):
        assert activecalls_client.page_size == 4

    async def test_class_client_marker(self, activecalls_client):
        assert activecalls_client.page_size == 3


@pytest.mark.activecalls_simulator(calls=2)
class TestClassMarker:
    @pytest.mark.activecalls_simulator(calls=4)
    async def test_closest_marker_wins(self, activecalls_simulator):
        assert len(activecalls_simulator.wire_calls()) == 4

    async def test_class_marker(self, activecalls_simulator):
        assert len(activecalls_simulator.wire_calls()) == 2
"""
    )
    # activecalls_client_factory makes more clients of the same simulator, like the fixture's.
    pytester.makepyfile(test_factory=FACTORY_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=9)


def test_markers_are_registered_and_take_keywords_only(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(
        test_marker="""
import pytest

@pytest.mark.asyncio
@pytest.mark.activecalls_simulator(50)
async def test_positional(activecalls_simulator):
    pass


@pytest.mark.asyncio
@pytest.mark.activecalls_client({"retry": None})
async def test_positional_client(activecalls_client):
    pass
"""
    )
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.activecalls_simulator(**options):*",
            "@pytest.mark.activecalls_client(**options):*",
        ]
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*activecalls_simulator takes keyword arguments only*",
            "*activecalls_client takes keyword arguments only*",
        ]
    )


def test_the_entry_point_loads_the_fixtures_without_a_conftest(pytester: pytest.Pytester) -> None:
    from importlib.metadata import entry_points

    found = entry_points(group="pytest11", name="activecalls_async.testing.pytest_plugin")
    assert [ep.value for ep in found] == ["activecalls_async.testing.pytest_plugin"]
    pytester.makeini(INI)
    pytester.makepyfile(
        test_plain="""
import pytest

from activecalls_async import ActiveCall


@pytest.mark.asyncio
async def test_models(activecalls_client, activecalls_simulator):
    page = await activecalls_client.list_active_calls("ACCOUNT", 12440001, max_rows=5)
    assert list(page) == activecalls_simulator.calls()[:5]
    assert all(isinstance(call, ActiveCall) for call in activecalls_simulator.calls())
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # Named in pytest_plugins as well: still loaded once.
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # And a suite can turn it off by the entry point's name.
    (pytester.path / "conftest.py").unlink()
    result = pytester.runpytest("-p", "no:activecalls_async.testing.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'activecalls_client' not found*"])


# -- the testing guide's examples run as written ---------------------------------------------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "testing.md"


def guide_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_guide_s_test_files_pass(pytester: pytest.Pytester) -> None:
    blocks = {block.splitlines()[0].removeprefix("# "): block for block in guide_blocks()}
    pytester.makeini(INI)
    pytester.makepyfile(test_supervisor_bot=blocks["test_supervisor_bot.py"])
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    pytester.makeconftest(blocks["conftest.py"])
    pytester.makepyfile(test_paging=blocks["test_paging.py"])
    pytester.makepyfile(
        test_defaults="""
import pytest

@pytest.mark.asyncio
async def test_suite_defaults(activecalls_client, activecalls_simulator):
    assert len(activecalls_simulator.calls()) == 50
    assert activecalls_client.page_size == 10
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize(
    "index", [i for i, b in enumerate(guide_blocks()) if not b.startswith("# ")]
)
def test_the_guide_s_scripts_run(index: int) -> None:
    block = guide_blocks()[index]
    exec(compile(block, f"{GUIDE.name} block {index}", "exec"), {"__name__": "__guide__"})
