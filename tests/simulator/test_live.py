"""Traffic: arrivals, answering and endings, driven by advance() or the live background task."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from activecalls_async.models import ActiveCall
from activecalls_async.testing import Simulator, _state

from .bare_http import act, list_calls

#: A fixed clock: two simulators made with it build the same calls, to the millisecond.
FIXED = datetime(2026, 11, 28, 14, 40, tzinfo=timezone.utc).timestamp()


def fixed_clock() -> float:
    return FIXED


def test_advance_brings_arrivals_in_listing_order() -> None:
    sim = Simulator(calls=0, arrival_rate=20.0, mean_call_seconds=1e9)
    start = sim.state.now_ms
    sim.advance(5)
    assert sim.state.now_ms == start + 5000
    calls = sim.wire_calls()
    assert 60 <= len(calls) <= 140  # Poisson(100)
    keys = [(call["enqueueTime"], call["uii"]) for call in calls]
    assert keys == sorted(keys)
    states = {call["callState"] for call in calls}
    assert "ACTIVE" in states
    sim.advance(1)
    later = sim.wire_calls()
    assert later[: len(calls)] == [
        row for row in later if row["uii"] in {c["uii"] for c in calls}
    ], "new arrivals are appended"


def test_queued_calls_ring_a_free_agent_then_are_answered() -> None:
    sim = Simulator(calls=0, arrival_rate=0.0, mean_call_seconds=1e9, clock=fixed_clock)
    assert sim.traffic.ring_seconds == 30.0  # a twelfth of the mean call, at most 30 s
    uii = sim.add_call(product="ACD", product_id=55)
    call = sim.wire_call(uii)
    assert call is not None
    assert call["callState"] == "QUEUED"
    assert call["dequeueTime"] is None
    sim.advance(0.2)  # an agent of queue 55 takes it: it rings them
    ringing = sim.state.get(uii)
    assert ringing is not None
    agent = ringing.agent
    assert agent is not None
    assert 55 in agent.queue_ids
    assert (agent.active_calls, agent.available) == (1, False)
    assert sim.wire_call(uii) == call  # still waiting, with no agent named
    sim.advance(14.5)
    assert sim.wire_call(uii) == call  # rings at least half the mean (15 s)
    sim.advance(31)  # and at most one and a half (45 s)
    answered = sim.wire_call(uii)
    assert answered is not None
    assert answered["callState"] == "ACTIVE"
    assert (answered["agentFirstName"], answered["agentLastName"]) == (
        agent.first_name,
        agent.last_name,
    )
    assert answered["dequeueTime"] is not None
    assert agent.active_calls == 1
    assert sim.end_call(uii)
    assert (agent.active_calls, agent.available) == (0, True)


def test_calls_end_after_about_the_mean_duration() -> None:
    sim = Simulator(calls=200, arrival_rate=0.0, mean_call_seconds=10.0)
    sim.advance(10)
    # Exponential lifetimes: about e^-1 (37%) of calls remain after one mean.
    assert 40 <= len(sim.wire_calls()) <= 110
    sim.advance(100)
    assert len(sim.wire_calls()) <= 2
    assert all(agent.active_calls == 0 for agent in sim.state.agents)


def test_same_seed_same_traffic() -> None:
    options = {"arrival_rate": 8.0, "mean_call_seconds": 20.0, "clock": fixed_clock}
    first = Simulator(calls=50, seed=11, **options)
    second = Simulator(calls=50, seed=11, **options)
    for sim in (first, second):
        sim.advance(12.5)
    assert first.wire_calls() == second.wire_calls()
    other = Simulator(calls=50, seed=12, **options)
    other.advance(12.5)
    assert other.wire_calls() != first.wire_calls()


def test_add_end_and_update_calls() -> None:
    sim = Simulator(calls=10, arrival_rate=0.0)
    agent = sim.state.available_agents()[0]
    uii = sim.add_call(
        product="DNIS",
        product_id=8661234567,
        agent=agent.username,
        external_id="CRM-TEST",
        cnam="ACME",
        ani="6505550100",
    )
    call = sim.wire_call(uii)
    assert call is not None
    assert (call["dnis"], call["destinationName"], call["callState"]) == (
        "8661234567",
        "Sales Queue",
        "ACTIVE",
    )
    assert (call["externalId"], call["cnam"], call["ani"]) == ("CRM-TEST", "ACME", "6505550100")
    assert call["agentFirstName"] == agent.first_name
    assert not agent.available
    assert sim.wire_calls()[-1]["uii"] == uii
    assert uii in {row["uii"] for row in sim.wire_calls("ACD", 55)}

    sim.update_call(
        uii,
        call_state="ON_HOLD",
        archive=True,
        agent_first_name="Pat",
        dequeue_time=datetime(2026, 11, 28, 14, 41, tzinfo=timezone.utc),
    )
    call = sim.wire_call(uii)
    assert call is not None
    assert (call["callState"], call["archive"], call["agentFirstName"]) == ("ON_HOLD", True, "Pat")
    assert call["dequeueTime"] == "2026-11-28T14:41:00.000+0000"
    with pytest.raises(TypeError, match="enqueue_time"):
        sim.update_call(uii, enqueue_time=0)
    with pytest.raises(KeyError):
        sim.update_call("0" * 30, cnam="X")

    assert sim.end_call(uii) is True
    assert sim.wire_call(uii) is None
    assert agent.active_calls == 0
    assert sim.end_call(uii) is False


def test_add_call_with_an_old_enqueue_time_sorts_into_place() -> None:
    sim = Simulator(calls=20, arrival_rate=0.0)
    uii = sim.add_call(product="VISUAL_IVR", enqueue_time=sim.state.now_ms - 3_700_000)
    assert sim.wire_calls()[0]["uii"] == uii
    assert sim.wire_calls("VISUAL_IVR", 201)[0]["uii"] == uii
    assert sim.end_call(uii)


def test_add_call_rejects_unknown_products_and_agents() -> None:
    sim = Simulator(calls=0)
    with pytest.raises(ValueError, match="ACD"):
        sim.add_call(product="ACD", product_id=1)
    with pytest.raises(ValueError, match="agent"):
        sim.add_call(agent="ghost@example.com")


async def test_live_mode_advances_in_the_background(http: aiohttp.ClientSession) -> None:
    async with Simulator(
        calls=0, live=True, tick=0.02, arrival_rate=400.0, mean_call_seconds=1e9, rate_limit=None
    ) as sim:
        start = sim.state.now_ms
        await asyncio.sleep(0.25)
        rows = await list_calls(http, sim, product="ACCOUNT")
        assert len(rows) > 20
        assert sim.state.now_ms - start >= 200
        assert [task for task in asyncio.all_tasks() if task.get_name() == "simulator-live"]
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "simulator-live"]
    frozen = sim.state.now_ms
    await asyncio.sleep(0.05)
    assert sim.state.now_ms == frozen


def test_the_clock_is_the_wall_clock() -> None:
    sim = Simulator(calls=50)
    now = datetime.now(timezone.utc)
    assert abs((sim.now() - now).total_seconds()) < 5
    calls = sim.calls()
    assert all(isinstance(call, ActiveCall) for call in calls)
    newest = max(call.enqueue_time for call in calls if call.enqueue_time is not None)
    oldest = min(call.enqueue_time for call in calls if call.enqueue_time is not None)
    assert timedelta(0) <= now - newest < timedelta(seconds=5) + timedelta(minutes=5)
    assert now - oldest <= timedelta(hours=1, seconds=5)
    added = sim.call(sim.add_call(product="ACD", product_id=55))
    assert added is not None
    assert added.enqueue_time is not None
    assert abs((added.enqueue_time - datetime.now(timezone.utc)).total_seconds()) < 5
    assert added.dequeue_time is None  # still waiting: nobody answers on a still simulator


def test_a_fixed_clock_moves_only_with_advance() -> None:
    sim = Simulator(calls=10, clock=fixed_clock)
    assert sim.now() == datetime.fromtimestamp(FIXED, tz=timezone.utc)
    sim.advance(90)
    assert sim.now() == datetime.fromtimestamp(FIXED + 90, tz=timezone.utc)
    uii = sim.add_call(product="ACD", product_id=55)
    call = sim.call(uii)
    assert call is not None
    assert call.enqueue_time == sim.now()
    assert sim.wire_call(uii) == next(row for row in sim.wire_calls() if row["uii"] == uii)


async def test_time_moves_on_a_still_simulator_without_traffic() -> None:
    ticks = [FIXED]
    async with Simulator(calls=30, clock=lambda: ticks[0], tick=0.01) as sim:
        before = [call.uii for call in sim.calls()]
        ticks[0] += 3600
        await asyncio.sleep(0.1)
        assert sim.now() == datetime.fromtimestamp(FIXED + 3600, tz=timezone.utc)
        assert sim.state.now_ms == round((FIXED + 3600) * 1000)
        assert [call.uii for call in sim.calls()] == before  # nothing arrives, nothing ends


def test_arrival_rate_is_derived_from_the_population() -> None:
    sim = Simulator(calls=600, mean_call_seconds=30.0)
    assert sim.traffic.arrival_rate == pytest.approx(20.0)
    assert Simulator(calls=600, arrival_rate=2.5).traffic.arrival_rate == 2.5
    with pytest.raises(ValueError, match="mean_call_seconds"):
        Simulator(mean_call_seconds=0)
    with pytest.raises(ValueError, match="arrival_rate"):
        Simulator(arrival_rate=-1)


@pytest.mark.slow
async def test_a_live_population_stays_around_calls_in_a_fast_clock() -> None:
    """Three simulated minutes on a clock running 120 times faster than the wall clock."""
    started, base = time.monotonic(), FIXED

    def fast_clock() -> float:
        return base + (time.monotonic() - started) * 120

    async with Simulator(calls=2000, seed=3, live=True, clock=fast_clock, rate_limit=None) as sim:
        counts = []
        while sim.state.now_ms < round((FIXED + 180) * 1000):  # the traffic has run 3 minutes
            await asyncio.sleep(0.2)
            counts.append(len(sim.state))
        assert 1500 <= len(sim.state) <= 2500, counts
        assert min(counts) >= 1500, counts
        # Not a frozen account: most of the first calls have ended and new ones arrived.
        seeded = {call.uii for call in Simulator(calls=2000, seed=3, clock=fixed_clock).calls()}
        assert len(seeded & {call.uii for call in sim.calls()}) < 500


def test_a_long_run_keeps_memory_for_the_calls_in_flight_only() -> None:
    """Ten simulated minutes of short calls: about 24,000 come and go, 200 at a time."""
    sim = Simulator(calls=200, seed=4, mean_call_seconds=5.0, clock=fixed_clock)
    first = sim.state.next_seq
    slots = []
    for _ in range(20):
        sim.advance(30)
        slots.append(len(sim.state._by_seq))  # the index from sequence numbers to calls
    created = sim.state.next_seq - first
    assert created > 20_000
    assert max(slots) < 10_000, slots  # not one slot per call ever seen
    live = sim.calls()
    assert all(sim.call(call.uii) == call for call in live)
    uii = sim.add_call(product="ACD", product_id=55)
    assert sim.call(uii) is not None
    assert int(uii[14:]) == first + created
    assert sim.end_call(uii)
    assert sim.call(uii) is None


async def test_dispositions_keep_the_newest(
    monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(_state, "DISPOSITIONS_KEPT", 3)
    async with Simulator(calls=60, seed=7, rate_limit=None) as sim:
        answered = [c.uii for c in sim.calls() if c.agent_first_name and c.call_state == "ACTIVE"]
        for uii in answered[:5]:
            assert await act(
                http, sim, uii, "dispositionCall", disposition="SALE", callback="false"
            ) == (200, "true")
        assert list(sim.state.dispositions) == answered[2:5]
        # Dispositioning again makes a call's record the newest.
        assert await act(
            http, sim, answered[2], "dispositionCall", disposition="NO SALE", callback="false"
        ) == (200, "true")
        assert list(sim.state.dispositions) == [answered[3], answered[4], answered[2]]
