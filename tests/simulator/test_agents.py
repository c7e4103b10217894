"""Agents answering: one call each, a queue's oldest waiting calls first, at a caller's pace,
so that waiting calls stay a few percent of all calls (virtual time: advance())."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timezone

import pytest

from activecalls_async.testing import Simulator

#: A fixed clock: the traffic runs only as the tests advance it.
START = datetime(2026, 11, 28, 14, 40, tzinfo=timezone.utc).timestamp()


def fixed_clock() -> float:
    return START


def queued_share(sim: Simulator) -> float:
    """The share of calls in flight that are waiting (listed as ``QUEUED``)."""
    waiting = len(sim.state.queued)  # the waiting list: cheaper than rendering every call
    return waiting / max(1, len(sim.state))


def assert_agents_hold_at_most_one_call(sim: Simulator) -> None:
    """Each agent holds one call at most, and exactly the calls that name them."""
    held = Counter(call.agent for call in sim.state.all_calls() if call.agent is not None)
    for agent in sim.state.agents:
        assert agent.active_calls == held[agent] <= 1, agent


@pytest.mark.parametrize(
    ("calls", "mean_call_seconds", "seed"),
    [
        (2000, 60.0, 7),  # `activecalls simulator`
        (200, 60.0, 0),  # Simulator(live=True)
        (500, 20.0, 3),
        (1000, 180.0, 5),
        (300, 5.0, 11),
        (5000, 30.0, 2),
    ],
)
def test_waiting_calls_stay_a_few_percent_of_the_calls(
    calls: int, mean_call_seconds: float, seed: int
) -> None:
    """Five simulated minutes, sampled every 5 s: each minute's mean share of waiting calls
    is within 1-10% (and so is every sample, for a thousand calls or more)."""
    sim = Simulator(calls=calls, seed=seed, mean_call_seconds=mean_call_seconds, clock=fixed_clock)
    assert 0.01 <= queued_share(sim) <= 0.10  # the seeded account too
    assert_agents_hold_at_most_one_call(sim)
    minutes = []
    for _ in range(5):
        samples = []
        for _ in range(12):
            sim.advance(5)
            samples.append(queued_share(sim))
            assert_agents_hold_at_most_one_call(sim)
        if calls >= 1000:
            assert all(0.01 <= share <= 0.10 for share in samples), samples
        minutes.append(sum(samples) / len(samples))
    assert all(0.01 <= share <= 0.10 for share in minutes), minutes
    listed = [call.call_state for call in sim.calls()]
    assert listed.count("QUEUED") == len(sim.state.queued)  # what a client sees, too
    assert 0.75 * calls <= len(sim.state) <= 1.25 * calls  # the population held, too


def test_the_default_simulator_no_longer_piles_up_its_queues() -> None:
    """The `activecalls simulator` defaults: 2,000 calls; the queues must not grow."""
    sim = Simulator(calls=2000, seed=7, clock=fixed_clock)
    before = len(sim.state.queued)
    sim.advance(60)
    assert len(sim.state.queued) < max(3 * before, 200)
    sim.advance(240)
    assert len(sim.state.queued) < max(3 * before, 200)


def test_agents_take_a_queue_s_oldest_waiting_calls_first() -> None:
    sim = Simulator(calls=0, arrival_rate=0.0, mean_call_seconds=1e9, clock=fixed_clock)
    free = [agent for agent in sim.state.queue_members[55] if agent.available]
    assert free
    now = sim.state.now_ms
    # Added newest first, so that arrival order and waiting order differ.
    uiis = [
        sim.add_call(product="ACD", product_id=55, enqueue_time=now - age * 1000)
        for age in range(1, len(free) + 4)
    ]
    oldest_first = uiis[::-1]
    sim.advance(0.2)
    ringing = [uii for uii in oldest_first if (call := sim.state.get(uii)) and call.agent]
    assert ringing == oldest_first[: len(free)]  # every free agent took one, the oldest
    assert not any(agent.available for agent in free)
    assert_agents_hold_at_most_one_call(sim)
    sim.advance(45)
    waiting = [call.uii for call in sim.calls("ACD", 55) if call.call_state == "QUEUED"]
    assert waiting == oldest_first[-3:]  # the three newest still wait, in listing order
    # A caller hangs up: their agent takes the oldest call still waiting.
    assert sim.end_call(oldest_first[0])
    sim.advance(0.2)
    taken = sim.state.get(oldest_first[len(free)])
    assert taken is not None
    assert taken.agent is not None
    assert_agents_hold_at_most_one_call(sim)


def test_a_requeued_or_ended_ringing_call_lets_its_agent_go() -> None:
    sim = Simulator(calls=0, arrival_rate=0.0, mean_call_seconds=1e9, clock=fixed_clock)
    ended = sim.add_call(product="ACD", product_id=55)
    moved = sim.add_call(product="ACD", product_id=55)
    sim.advance(0.2)
    ended_call, moved_call = sim.state.get(ended), sim.state.get(moved)
    assert ended_call is not None
    assert moved_call is not None
    first, second = ended_call.agent, moved_call.agent
    assert first is not None
    assert second is not None
    assert sim.end_call(ended)
    assert first.available
    gate = sim.state.gate(56)
    assert gate is not None
    sim.state.requeue(moved_call, gate)
    assert second.available
    sim.advance(0.2)  # queue 56 takes it again, maybe with the same agent: a fresh ring
    again = moved_call.agent
    assert again is not None
    assert moved_call.state == "QUEUED"
    sim.advance(14.5)
    assert moved_call.state == "QUEUED"  # the first ring, due earlier, did not answer it
    sim.advance(31)
    assert (moved_call.state, moved_call.first_name) == ("ACTIVE", again.first_name)
    assert_agents_hold_at_most_one_call(sim)


def test_scarce_agents_make_long_queues_and_still_hold_one_call_each() -> None:
    sim = Simulator(calls=2000, agents=100, seed=7, clock=fixed_clock)
    assert len(sim.state.agents) == 100
    assert_agents_hold_at_most_one_call(sim)
    sim.advance(180)
    assert queued_share(sim) > 0.30  # callers wait until they give up
    assert_agents_hold_at_most_one_call(sim)
    assert sum(agent.active_calls for agent in sim.state.agents) >= 60  # the ready ones work


def test_with_no_agents_nobody_answers() -> None:
    sim = Simulator(calls=300, agents=0, seed=7, clock=fixed_clock)
    assert all(call.agent_first_name is None for call in sim.calls())
    sim.advance(60)
    assert all(call.agent_first_name is None for call in sim.calls())
    with pytest.raises(ValueError, match="agents"):
        Simulator(agents=-1)


def test_the_roster_is_staffed_for_the_calls() -> None:
    from activecalls_async.testing._seed import staffed_for

    assert staffed_for(0) == staffed_for(10) == 24  # a tiny account still has every presence
    assert len(Simulator(calls=2000).state.agents) == staffed_for(2000)
    assert 1.0 * 2000 <= staffed_for(2000) <= 1.2 * 2000
    state = Simulator(calls=2000, seed=7).state
    ready = [agent for agent in state.agents if agent.online and agent.ready]
    assert 0.70 <= len(ready) / len(state.agents) <= 0.80
    busy = sum(agent.active_calls for agent in ready)
    assert 0.75 <= busy / len(ready) <= 0.95  # about 85% of ready agents on a call


def test_the_same_seed_gives_the_same_answers() -> None:
    def run(seed: int) -> list[tuple[str, str, str | None]]:
        sim = Simulator(calls=400, seed=seed, clock=fixed_clock)
        sim.advance(90)
        return [
            (call.uii, call.state, call.agent.username if call.agent else None)
            for call in sim.state.all_calls()
        ]

    assert run(4) == run(4)
    assert run(4) != run(5)


class Middling(random.Random):
    """Every draw in the middle: rings last exactly their mean, and nothing else happens."""

    def random(self) -> float:
        return 0.5


def test_a_call_taken_again_rings_its_full_new_ring() -> None:
    sim = Simulator(calls=0, arrival_rate=0.0, mean_call_seconds=1e9, clock=fixed_clock)
    sim.traffic.rng = Middling()
    uii = sim.add_call(product="ACD", product_id=55)
    sim.advance(0.2)  # taken: rings 30 s
    call = sim.state.get(uii)
    assert call is not None
    assert call.agent is not None
    gate = sim.state.gate(55)
    assert gate is not None
    sim.state.requeue(call, gate)  # back to wait: its first ring no longer counts
    assert call.agent is None
    sim.traffic.ring_seconds = 40.0
    sim.advance(0.2)  # taken again: rings 40 s
    assert call.agent is not None
    sim.advance(35)  # past the first ring's end
    assert call.state == "QUEUED"
    sim.advance(5)
    assert call.state == "ACTIVE"
    assert_agents_hold_at_most_one_call(sim)
