"""Eight OS processes, one RedisTokenCache: one exchange, one refresh, a crashed renewer."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from activecalls_async.testing import Faults, Simulator

from .processes import collect, run_fleet, spawn
from .redis_server import RedisServer

pytestmark = pytest.mark.slow

PROCESSES = 8


def _login(sim: Simulator, redis_url: str, key: str, **options: Any) -> dict[str, Any]:
    return {
        "mode": "login",
        "redis_url": redis_url,
        "key": key,
        "root_url": sim.root_url,
        "base_url": sim.base_url,
        "account_id": sim.account_id,
        "client_id": sim.rc_client_id,
        "client_secret": sim.rc_client_secret,
        "jwt": sim.rc_jwt,
        "token_lifetime": 300.0,
        "refresh_margin": 60.0,
        "lock_lease": 10.0,
        "pause": 0.0,
        **options,
    }


def _logins(sim: Simulator) -> Counter[str]:
    return Counter(r.operation for r in sim.requests if r.operation.startswith("auth."))


async def test_a_fleet_logs_in_once_and_renews_once(
    redis_server: RedisServer, fleet_key: str
) -> None:
    # The server expires tokens after 1.5 s while the members think they live 300 s: the
    # second request of every member meets a 401, and the fleet renews once.
    async with Simulator(calls=5, live=False, token_lifetime=1.5) as sim:
        config = _login(sim, redis_server.url, fleet_key, pause=2.0)
        results = await run_fleet([config] * PROCESSES)
        logins = _logins(sim)
        statuses = Counter(r.status for r in sim.requests if r.operation == "list")
    assert [r["errors"] for r in results] == [[]] * PROCESSES
    assert logins == {"auth.jwt": 1, "auth.exchange": 1, "auth.refresh": 1}
    assert statuses[200] == 2 * PROCESSES
    assert statuses[401] <= PROCESSES  # each member meets the expired token at most once


async def test_a_renewer_killed_mid_renewal_holds_the_fleet_only_for_the_lease(
    redis_server: RedisServer, fleet_key: str
) -> None:
    lease = 2.0
    async with Simulator(calls=5, live=False) as sim:
        sim.faults = Faults(latency=30.0, operations={"auth.exchange"})
        config = _login(sim, redis_server.url, fleet_key, lock_lease=lease)
        holder = await spawn({**config, "start_at": 0})
        try:
            # The holder took the renewal lock and its exchange is on its way.
            while not any(r.operation == "auth.exchange" for r in sim.requests):
                assert holder.returncode is None
                await asyncio.sleep(0.05)
            others = [await spawn({**config, "start_at": 0}) for _ in range(PROCESSES - 1)]
            holder.kill()
            killed_at = time.monotonic()
            await holder.wait()
            sim.faults = Faults()
            results = [await collect(process) for process in others]
        finally:
            if holder.returncode is None:
                holder.kill()
                await holder.wait()
        exchanges = [r for r in sim.requests if r.operation == "auth.exchange"]
    assert [r["errors"] for r in results] == [[]] * (PROCESSES - 1)
    assert len(exchanges) == 2  # the killed holder's and one more, not one per member
    assert all(r.status != 429 for r in exchanges)
    # The second exchange waited for the killed holder's lease to run out.
    assert exchanges[1].started - exchanges[0].started >= lease - 0.2
    assert time.monotonic() - killed_at < 30
