"""The Simulator object: lifecycle, addresses, determinism, and its request/effect records."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from activecalls_async.testing import Simulator

from .bare_http import act, answered_uii, api_url, list_calls


def test_same_seed_same_account_and_different_seed_differs() -> None:
    def clock() -> float:
        return 1_795_000_000.0  # one fixed moment for both

    first = Simulator(calls=300, seed=5, clock=clock)
    second = Simulator(calls=300, seed=5, clock=clock)
    assert first.wire_calls() == second.wire_calls()
    assert [a.username for a in first.state.agents] == [a.username for a in second.state.agents]
    assert first.targets() == second.targets()
    other = Simulator(calls=300, seed=6, clock=clock)
    assert other.wire_calls() != first.wire_calls()
    # Friendly fixed ids whatever the seed: queue 55 and DNIS 8661234567 route together.
    assert ("ACD", 55) in other.targets()
    assert other.state.queue_for_number("8661234567")


def test_account_inventory_is_complete() -> None:
    state = Simulator(calls=100).state
    assert state.queues
    assert state.campaigns
    assert state.ivrs
    assert state.cloud_profiles
    assert state.trac_numbers
    assert state.dnis_numbers
    assert all(len(dnis.number) == 10 and dnis.number.isdigit() for dnis in state.dnis_numbers)
    usernames = [agent.username for agent in state.agents]
    assert len(set(usernames)) == len(usernames)
    assert all(name.count("@") == 1 and name.endswith("@example.com") for name in usernames)
    assert any(not agent.online for agent in state.agents)
    assert len(state.available_agents()) >= 2


def test_unknown_calls_and_products_from_the_inspection_api() -> None:
    sim = Simulator(calls=10)
    assert sim.wire_call("1" * 30) is None
    assert sim.wire_calls("SURVEY", 1) == []
    assert sim.wire_calls("ACCOUNT", 12) == []
    assert sim.wire_calls("ACCOUNT", int(sim.account_id)) == sim.wire_calls()


async def test_start_and_stop_are_idempotent(http: aiohttp.ClientSession) -> None:
    sim = Simulator(calls=3)
    with pytest.raises(RuntimeError):
        _ = sim.port
    await sim.start()
    port = sim.port
    await sim.start()
    assert sim.port == port
    assert sim.base_url == f"http://127.0.0.1:{port}/voice"
    assert sim.legacy_base_url == sim.root_url == f"http://127.0.0.1:{port}"
    assert await list_calls(http, sim, product="ACCOUNT")
    await sim.stop()
    await sim.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await list_calls(http, sim, product="ACCOUNT")


async def test_an_explicit_port_is_used(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    sim = Simulator(calls=1, port=free)
    assert sim.port == free
    async with sim:
        assert len(await list_calls(http, sim, product="ACCOUNT")) == 1


async def test_serve_runs_until_cancelled(http: aiohttp.ClientSession) -> None:
    sim = Simulator(calls=2)
    task = asyncio.create_task(sim.serve())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "stopped" not in repr(sim):
            break
    assert len(await list_calls(http, sim, product="ACCOUNT")) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "stopped" in repr(sim)


def test_repr_shows_no_secrets() -> None:
    sim = Simulator(calls=1)
    text = repr(sim)
    for secret in (sim.token, sim.api_token, sim.rc_client_secret, sim.rc_jwt):
        assert secret not in text


async def test_requests_are_recorded_in_arrival_order(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    await list_calls(http, sim, product="ACD", productId=55, externalId="CRM a+b", maxRows=5)
    await act(http, sim, uii, "toggleCallRecording", record="false")
    listed, toggled = sim.requests
    assert (listed.method, listed.operation, listed.status, listed.fault) == (
        "GET",
        "list",
        200,
        None,
    )
    assert listed.query == (
        ("product", "ACD"),
        ("productId", "55"),
        ("externalId", "CRM a+b"),
        ("maxRows", "5"),
    )
    assert (
        "externalId=CRM+a%2Bb" in listed.raw_query or "externalId=CRM%20a%2Bb" in listed.raw_query
    )
    assert listed.headers["Authorization"] == f"Bearer {sim.token}"
    assert listed.started <= listed.finished <= toggled.started <= toggled.finished
    assert (toggled.method, toggled.uii, toggled.path) == (
        "POST",
        uii,
        f"/voice/api/v1/admin/accounts/{sim.account_id}/activeCalls/{uii}/toggleCallRecording",
    )
    (effect,) = sim.effects
    assert (effect.kind, effect.uii, effect.params) == (
        "toggleCallRecording",
        uii,
        {"record": "false"},
    )
    assert toggled.started <= effect.at <= toggled.finished
    assert sim.effect_count("toggleCallRecording") == 1
    assert sim.effect_count("toggleCallRecording", "other") == 0
    sim.reset_counters()
    assert sim.requests == []
    assert sim.effects == []


async def test_concurrent_requests_keep_arrival_order(http: aiohttp.ClientSession) -> None:
    async with Simulator(calls=10, latency=0.05) as sim:
        url = api_url(sim, "/list")

        async def one(product: str) -> None:
            async with http.get(
                url, params={"product": product}, headers={"Authorization": f"Bearer {sim.token}"}
            ) as response:
                assert response.status == 200

        await asyncio.gather(*(one(product) for product in ("ACD", "OUTBOUND", "DNIS")))
        assert len(sim.requests) == 3
        assert all(r.status == 200 for r in sim.requests)
        starts = [r.started for r in sim.requests]
        assert starts == sorted(starts)
