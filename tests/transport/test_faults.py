"""Fault injection against the simulator, seeded and bounded in time.

Listings under 20% 503s, 10% 429s, 5% dropped connections and 5% malformed bodies
still yield every call exactly once. Actions under the same faults, plus connections
dropped after the effect, take effect once or raise, and never twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable
from typing import Any

import pytest

from activecalls_async import ActiveCallsError, RetryPolicy
from activecalls_async.testing import Faults, RecordedRequest, Simulator
from activecalls_async.testing.pytest_plugin import ClientFactory
from tests.support import client_tasks

# 40% of attempts fail; 20 attempts leave a 1e-8 chance that one request fails them all.
PATIENT = RetryPolicy(max_attempts=20, initial_delay=0.001, max_delay=0.01)
STORM: dict[str, Any] = {
    "error_rate": 0.2,
    "throttle_rate": 0.1,
    "drop_rate": 0.05,
    "malformed_rate": 0.05,
}
#: How many actions of each kind a run makes.
N = 25
AT_MOST_ONCE = {
    "createManualAgentCall",
    "addSessionToCall",
    "dispositionCall",
    "hangupCall",
    "hangupSession",
}


@pytest.fixture
def activecalls_simulator_options(seed: int) -> dict[str, Any]:
    """An account seeded by the test's ``seed``, as its faults are."""
    return {"calls": 500, "seed": seed, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    return {"retry": PATIENT, "rate_limit": None, "max_concurrency": 8}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_a_walk_of_every_product_returns_every_call_exactly_once(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory, seed: int
) -> None:
    sim = activecalls_simulator
    expected = {
        target: {call["uii"] for call in sim.wire_calls(*target)} for target in sim.targets()
    }
    sim.faults = Faults(**STORM, operations={"list"}, seed=seed)
    async with activecalls_client_factory() as client:

        async def walk_all() -> list[str]:
            return [
                call.uii
                async for call in client.iter_active_calls_many(sim.targets(), page_size=40)
            ]

        async def walk_each() -> dict[tuple[str, int], list[str]]:
            walks = {}
            for target in sim.targets():
                walk = client.iter_active_calls(*target, page_size=40)
                walks[target] = [call.uii async for call in walk]
            return walks

        everything = await asyncio.wait_for(walk_all(), 20.0)
        each = await asyncio.wait_for(walk_each(), 20.0)
    assert client_tasks() == []
    assert len(everything) == len(set(everything))
    assert set(everything) == set().union(*expected.values())
    for target, uiis in each.items():
        assert len(uiis) == len(set(uiis)), target
        assert set(uiis) == expected[target], target
    # The storm really blew: every kind of fault met the walks, and was ridden out.
    faults = Counter(r.fault for r in sim.requests)
    assert all(faults[kind] > 0 for kind in ("error", "throttle", "drop", "malformed"))


def key_of(request: RecordedRequest) -> tuple[str, str | None]:
    """Which single action a request belongs to: its operation and its call (or number)."""
    if request.operation == "createManualAgentCall":
        return request.operation, request.param("destination")
    return request.operation, request.uii


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.activecalls_simulator(calls=800)
async def test_actions_take_effect_once_or_raise_never_twice(
    activecalls_simulator: Simulator, activecalls_client_factory: ClientFactory, seed: int
) -> None:
    sim = activecalls_simulator
    answered = [call["uii"] for call in sim.wire_calls() if call["agentFirstName"] is not None]
    assert len(answered) >= 4 * N
    agents = [agent.username for agent in sim.state.available_agents()][:N]
    assert len(agents) >= N // 2
    sim.faults = Faults(
        **STORM,
        drop_after_effect_rate=0.05,
        operations=AT_MOST_ONCE | {"toggleCallRecording"},
        seed=seed,
    )
    outcomes: dict[tuple[str, str], BaseException | None] = {}

    async def attempt(key: tuple[str, str], action: Awaitable[None]) -> None:
        try:
            await action
        except ActiveCallsError as exc:
            outcomes[key] = exc
        else:
            outcomes[key] = None

    async with activecalls_client_factory() as client:
        supervisors = {uii: f"+1555415{i:04d}" for i, uii in enumerate(answered[:N])}
        jobs: list[Awaitable[None]] = [
            attempt(
                ("addSessionToCall", uii),
                client.add_session_to_call(uii, destination=phone, session_type="MONITOR"),
            )
            for uii, phone in supervisors.items()
        ]
        jobs += [
            attempt(("dispositionCall", uii), client.disposition_call(uii, disposition="SALE"))
            for uii in answered[N : 2 * N]
        ]
        jobs += [
            attempt(("hangupCall", uii), client.hangup_call(uii)) for uii in answered[2 * N : 3 * N]
        ]
        jobs += [
            attempt(("toggleCallRecording", uii), client.toggle_call_recording(uii, record=False))
            for uii in answered[3 * N : 4 * N]
        ]
        jobs += [
            attempt(
                ("createManualAgentCall", f"650555{i:04d}"),
                client.create_manual_agent_call(
                    username=username,
                    destination=f"650555{i:04d}",
                    ring_duration=5,
                    caller_id="8005550100",
                ),
            )
            for i, username in enumerate(agents)
        ]
        await asyncio.wait_for(asyncio.gather(*jobs), 20.0)
        added = [uii for uii in supervisors if outcomes[("addSessionToCall", uii)] is None]
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    attempt(
                        ("hangupSession", uii),
                        client.hangup_session(uii, phone=supervisors[uii]),
                    )
                    for uii in added
                )
            ),
            20.0,
        )
    assert client_tasks() == []

    effects: Counter[tuple[str, str | None]] = Counter()
    for effect in sim.effects:
        if effect.kind == "createManualAgentCall":
            effects[effect.kind, effect.params.get("destination")] += 1
        else:
            effects[effect.kind, effect.uii] += 1
    attempts: defaultdict[tuple[str, str | None], list[RecordedRequest]] = defaultdict(list)
    for request in sim.requests:
        attempts[key_of(request)].append(request)

    for key, error in outcomes.items():
        operation, _ = key
        if operation == "toggleCallRecording":
            if error is None:
                call = sim.state.get(key[1])
                assert call is not None
                assert call.recording is False
            continue
        assert effects[key] <= 1, (key, attempts[key])
        if error is None:
            assert effects[key] == 1, key
        # Repeated only after a 429: the one answer that proves the server did nothing.
        assert all(r.fault == "throttle" for r in attempts[key][:-1]), (key, attempts[key])

    # Not vacuous: the faults hit the actions, some actions failed, most went through.
    action_faults = Counter(r.fault for r in sim.requests if r.operation in AT_MOST_ONCE)
    assert all(
        action_faults[kind] > 0 for kind in ("error", "throttle", "drop", "drop_after_effect")
    ), action_faults
    failures = [key for key, error in outcomes.items() if error is not None]
    assert 0 < len(failures) < len(outcomes)
    assert any(len(group) > 1 for group in attempts.values())  # some 429s were retried
