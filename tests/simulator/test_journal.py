"""The bounded journal: sim.requests and sim.effects keep the newest entries, count them all,
and fill in a request's outcome at its place however many entries were dropped meanwhile."""

from __future__ import annotations

import asyncio

import aiohttp
import attrs
import pytest

from activecalls_async.testing import Effect, Faults, RecordedRequest, RecordLog, Simulator
from activecalls_async.testing._records import JOURNAL_SIZE, Journal
from tests.support import wait_until

from .bare_http import act, answered_uii, api_url, bearer, list_calls


def arrival(number: int) -> RecordedRequest:
    """A request as the server logs it on arrival (status 0), told apart by its path."""
    return RecordedRequest(
        method="GET",
        path=f"/{number}",
        query=(),
        raw_query="",
        headers={},
        status=0,
        started=float(number),
        finished=float(number),
        operation="list",
    )


def settle(journal: Journal, position: int, request: RecordedRequest) -> RecordedRequest:
    """Settle a logged request with status 200, as the server does; returns the new record."""
    done = attrs.evolve(request, status=200)
    journal.settled(position, request, done)
    return done


def test_the_default_journal_keeps_ten_thousand_of_each() -> None:
    sim = Simulator(calls=0)
    assert JOURNAL_SIZE == 10_000
    assert sim.requests.maxlen == sim.effects.maxlen == 10_000
    assert Simulator(calls=0, journal_size=None).requests.maxlen is None
    with pytest.raises(ValueError, match="journal_size"):
        Simulator(calls=0, journal_size=-1)


def test_entries_stay_bounded_and_totals_keep_counting() -> None:
    journal = Journal()
    for number in range(25_000):
        request = arrival(number)
        settle(journal, journal.arrived(request), request)
        journal.effect(Effect(kind="hangupCall", uii=str(number), params={}, at=float(number)))
    assert len(journal.requests) == 10_000
    assert journal.requests.total == 25_000
    assert journal.requests.dropped == 15_000
    assert journal.requests[0].path == "/15000"  # the oldest kept
    assert journal.requests[-1].path == "/24999"  # the newest
    assert all(request.status == 200 for request in journal.requests)
    assert (len(journal.effects), journal.effects.total) == (10_000, 25_000)
    assert [effect.uii for effect in journal.effects][:2] == ["15000", "15001"]


def test_an_unbounded_journal_keeps_everything() -> None:
    journal = Journal(None)
    for number in range(12_000):
        journal.arrived(arrival(number))
    assert len(journal.requests) == journal.requests.total == 12_000
    assert journal.requests.dropped == 0


def test_a_request_settling_after_older_ones_were_dropped_is_filled_in_at_its_place() -> None:
    journal = Journal(3)
    first, slow = arrival(1), arrival(2)
    journal.arrived(first)
    slow_at = journal.arrived(slow)
    others = [arrival(n) for n in (3, 4)]
    for request in others:
        journal.arrived(request)  # the fourth arrival drops the first
    assert [r.path for r in journal.requests] == ["/2", "/3", "/4"]
    done = settle(journal, slow_at, slow)
    assert list(journal.requests) == [done, *others]  # not the entry now at its old index


def test_a_request_settling_after_its_own_entry_was_dropped_changes_nothing() -> None:
    journal = Journal(2)
    slow = arrival(1)
    slow_at = journal.arrived(slow)
    kept = [arrival(n) for n in (2, 3)]
    for request in kept:
        journal.arrived(request)
    settle(journal, slow_at, slow)
    assert list(journal.requests) == kept
    assert journal.requests.total == 3


def test_a_request_settling_after_a_clear_changes_nothing() -> None:
    journal = Journal(5)
    slow = arrival(1)
    slow_at = journal.arrived(slow)
    journal.clear()
    newer = arrival(2)
    journal.arrived(newer)
    settle(journal, slow_at, slow)
    assert list(journal.requests) == [newer]
    assert journal.requests.total == 1


def test_a_record_log_reads_as_a_list() -> None:
    log: RecordLog[int] = RecordLog(4)
    assert log == []
    assert log == ()
    assert not log
    for number in range(7):
        log.append(number)
    assert log == [3, 4, 5, 6]
    assert log == (3, 4, 5, 6)
    assert log != [3, 4, 5]
    assert log != [2, 4, 5, 6]
    assert (log[0], log[-1], log[-2:], log[1:3], log[::2]) == (3, 6, [5, 6], [4, 5], [3, 5])
    assert [n * 2 for n in log] == [6, 8, 10, 12]
    assert list(reversed(log)) == [6, 5, 4, 3]
    assert 5 in log
    assert 2 not in log
    assert log.index(5) == 2
    assert log.count(4) == 1
    with pytest.raises(IndexError):
        _ = log[4]
    assert repr(log) == "RecordLog([3, 4, 5, 6], maxlen=4, total=7)"
    with pytest.raises(TypeError):
        hash(log)
    assert (log.total, log.dropped, log.maxlen) == (7, 3, 4)
    log.clear()
    assert (len(log), log.total, log.dropped) == (0, 0, 0)
    log.append(9)
    assert (log == [9], log.total) == (True, 1)
    with pytest.raises(ValueError, match="maxlen"):
        RecordLog(-1)


def test_a_zero_size_journal_keeps_nothing_but_counts() -> None:
    journal = Journal(0)
    request = arrival(1)
    settle(journal, journal.arrived(request), request)
    assert journal.requests == []
    assert journal.requests.total == 1


async def test_the_server_keeps_the_newest_requests_and_effects(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(calls=20, seed=7, rate_limit=None, journal_size=25) as sim:
        uii = answered_uii(sim)
        for number in range(30):
            record = "true" if number % 2 else "false"
            assert await act(http, sim, uii, "toggleCallRecording", record=record) == (200, "true")
        for rows in range(1, 21):
            await list_calls(http, sim, product="ACCOUNT", maxRows=rows)
        assert len(sim.requests) == 25
        assert sim.requests.total == 50
        assert [r.operation for r in sim.requests[:5]] == ["toggleCallRecording"] * 5
        assert [r.param("maxRows") for r in sim.requests[5:]] == [str(n) for n in range(1, 21)]
        assert all(r.status == 200 for r in sim.requests)
        assert len(sim.effects) == 25
        assert sim.effects.total == 30
        assert sim.effects[0].params == {"record": "true"}  # the sixth toggle: 5 were dropped
        assert sim.effects[-1].params == {"record": "true"}
        assert sim.effect_count("toggleCallRecording", uii) == 25  # among those held
        sim.reset_counters()
        assert (sim.requests, sim.effects) == ([], [])
        assert sim.requests.total == sim.effects.total == 0
        await list_calls(http, sim, product="ACCOUNT", maxRows=5)
        assert sim.requests.total == 1
        assert sim.requests[-1].param("maxRows") == "5"


async def test_a_slow_request_is_settled_at_its_place_after_older_ones_are_dropped(
    http: aiohttp.ClientSession,
) -> None:
    slow_toggle = Faults(latency=0.5, operations=["toggleCallRecording"])
    async with Simulator(calls=20, seed=7, rate_limit=None, journal_size=2) as sim:
        uii = answered_uii(sim)
        await list_calls(http, sim, product="ACCOUNT", maxRows=1)
        sim.faults = slow_toggle
        url = api_url(sim, f"/{uii}/toggleCallRecording")
        slow = asyncio.create_task(
            http.post(url, params={"record": "false"}, headers=bearer(sim.token))
        )
        await wait_until(lambda: sim.requests.total == 2)  # the slow request has arrived
        await list_calls(http, sim, product="ACCOUNT", maxRows=2)  # drops the first list
        in_flight, listed = sim.requests
        assert (in_flight.operation, in_flight.status, listed.status) == (
            "toggleCallRecording",
            0,
            200,
        )
        async with await slow as response:
            assert response.status == 200
        settled, still = sim.requests
        assert (settled.operation, settled.status) == ("toggleCallRecording", 200)
        assert still == listed
        assert sim.requests.total == 3
