"""The shared watch across real OS processes, a real redis-server and a simulator counting
every request: one poller for 1, 4 or 8 processes, a SIGKILLed poller, a worker group with a
SIGKILLed member, and Redis stopped mid-run."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis

from activecalls_async.testing import API_OPERATIONS, Simulator
from tests.support import wait_until

from .processes import collect, run_fleet, spawn, start_together
from .redis_server import RedisServer

pytestmark = pytest.mark.slow

#: The ten queues and campaigns every process watches.
LISTINGS = [
    ("ACD", 55), ("ACD", 56), ("ACD", 57), ("ACD", 58), ("ACD", 59), ("ACD", 60),
    ("OUTBOUND", 101), ("OUTBOUND", 102), ("OUTBOUND", 103), ("CLOUD_PROFILE", 301),
]  # fmt: skip
INTERVAL = 0.25
LEASE = 1.0
#: One poll's requests: every listing is shorter than a page, so its walk asks page 0 and
#: then page 1 at page 0's size, which proves the end (a short page alone could be a cap).
POLL = 2 * len(LISTINGS)


def _config(sim: Simulator, redis_url: str, key: str, **options: Any) -> dict[str, Any]:
    return {
        "mode": "watch",
        "redis_url": redis_url,
        "key": key,
        "base_url": sim.base_url,
        "token": sim.token,
        "account_id": sim.account_id,
        "targets": LISTINGS,
        "interval": INTERVAL,
        "lease": LEASE,
        "hub": True,
        **options,
    }


def _list_requests(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.operation == "list")


def _check_events(result: dict[str, Any]) -> None:
    """Each call started once and ended once, and the events replay into the calls."""
    alive: set[str] = set()
    ended: set[str] = set()
    for snapshot in result["snapshots"]:
        for kind, uii in snapshot["events"]:
            if kind == "started":
                assert uii not in alive, f"{uii} started twice"
                assert uii not in ended, f"{uii} started again after it ended"
                alive.add(uii)
            elif kind == "changed":
                assert uii in alive
            else:
                assert uii in alive, f"{uii} ended without starting"
                alive.remove(uii)
                ended.add(uii)
        assert alive == set(snapshot["calls"])


@pytest.mark.parametrize("processes", [1, 4, 8])
async def test_one_hub_costs_one_poll_however_many_processes_watch(
    processes: int, redis_server: RedisServer, fleet_key: str
) -> None:
    async with Simulator(calls=60, seed=1, live=True, mean_call_seconds=10, rate_limit=None) as sim:
        results = await run_fleet(
            [_config(sim, redis_server.url, fleet_key, run_for=2.0)] * processes
        )
        server = _list_requests(sim)
    taken = {s["taken_at"]: s for r in results for s in r["snapshots"]}
    order = sorted(taken)
    for result in results:
        _check_events(result)
        mine = [s["taken_at"] for s in result["snapshots"]]
        # Every process received every snapshot, from its first to the same last one.
        start = order.index(mine[0])
        assert mine == order[start:]
        assert mine[-1] == order[-1]
    polled = sum(s["requests"] for s in taken.values())
    # One poller's requests, and at most one poll's worth more (cut short at the end).
    assert polled <= server <= polled + POLL
    # One poll's requests per snapshot (an empty listing costs one), whatever the number
    # of processes.
    assert len(LISTINGS) <= polled / len(order) <= 1.25 * POLL


async def test_without_a_hub_each_process_pays_for_its_own_polls(
    redis_server: RedisServer, fleet_key: str
) -> None:
    async with Simulator(calls=60, seed=1, live=True, mean_call_seconds=10, rate_limit=None) as sim:
        config = _config(sim, redis_server.url, fleet_key, run_for=2.0, hub=False)
        results = await run_fleet([config] * 8)
        server = _list_requests(sim)
    polls = [len(r["snapshots"]) for r in results]
    spent = [sum(s["requests"] for s in r["snapshots"]) for r in results]
    assert sum(spent) <= server <= sum(spent) + 8 * POLL
    # Per round of polls, eight times what one poller spends.
    per_round = server / (sum(polls) / len(polls))
    assert 7.5 * POLL <= per_round <= 8 * 1.25 * POLL
    for result in results:
        _check_events(result)


async def test_a_sigkilled_poller_is_replaced_within_lease_and_interval(
    redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    async with Simulator(calls=60, seed=4, live=True, mean_call_seconds=4, rate_limit=None) as sim:
        config = _config(sim, redis_server.url, fleet_key, run_for=5.0)
        processes = [await spawn(config) for _ in range(3)]
        try:
            start_at = await start_together(processes)
            await asyncio.sleep(start_at - time.time() + 1.5)
            (lease,) = await redis_client.keys(f"{fleet_key}:watch:*:lease")
            holder = (await redis_client.get(lease)).decode()
            pid = int(holder.split(":")[0].rsplit("-", 2)[1])
            (victim,) = [p for p in processes if p.pid == pid]
            victim.send_signal(signal.SIGKILL)
            killed_at = time.time()
            survivors = [p for p in processes if p is not victim]
            while await redis_client.get(lease) in (None, holder.encode()):
                assert time.time() < killed_at + LEASE + 1, "nobody took the lease"
                await asyncio.sleep(0.01)
            taken_over = time.time() - killed_at
            results = [await collect(p) for p in survivors]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert taken_over <= LEASE + 0.2
    for result in results:
        _check_events(result)
        taken = [s["taken_at"] for s in result["snapshots"]]
        gaps = [b - a for a, b in itertools.pairwise(taken)]
        assert max(gaps) <= LEASE + INTERVAL + 0.3, gaps
        assert any(t > killed_at + LEASE + INTERVAL for t in taken)  # it went on


async def _lines(process: asyncio.subprocess.Process, into: list[dict[str, Any]]) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        text = line.decode().strip()
        if text.startswith("{") and any(word in text for word in ("took", "acking", "acked")):
            into.append(json.loads(text))


async def test_a_worker_group_handles_each_event_once_and_a_dead_members_again(
    redis_server: RedisServer, redis_client: aioredis.Redis, fleet_key: str
) -> None:
    claim_after = 1.0
    async with Simulator(calls=0, seed=1, live=False, rate_limit=None) as sim:
        config = {
            **_config(sim, redis_server.url, fleet_key),
            "mode": "take",
            "targets": [("ACD", 55)],
            "group": "hangups",
            "claim_after": claim_after,
            "handle": 0.4,
            "interval": 0.2,
        }
        workers = [await spawn(config) for _ in range(4)]
        said: list[list[dict[str, Any]]] = [[] for _ in workers]
        readers: list[asyncio.Task[None]] = []
        try:
            await start_together(workers)
            readers = [
                asyncio.ensure_future(_lines(w, s)) for w, s in zip(workers, said, strict=True)
            ]
            (events_key,) = await _wait_for_keys(redis_client, f"{fleet_key}:watch:*:events")
            await _wait_for_group(redis_client, events_key)
            uiis = []
            for _ in range(20):  # 200 calls, ten at a time
                uiis += [sim.add_call(product="ACD", product_id=55) for _ in range(10)]
                await asyncio.sleep(0.1)
            await wait_until(
                lambda: sum(1 for s in said for line in s if "acked" in line) >= 80, timeout=20
            )
            # The member holding the most events not yet acknowledged dies.
            open_ = [_unacked(s) for s in said]
            victim = max(range(len(workers)), key=lambda i: len(open_[i]))
            workers[victim].send_signal(signal.SIGKILL)
            killed_at = time.time()
            await asyncio.wait_for(readers[victim], 5)  # what it wrote before it died
            # Taken and not yet being acknowledged: the others must handle these.
            orphans = set(_unacked(said[victim]))
            assert orphans
            # Done when Redis has every event delivered and acknowledged.
            await _wait_for_all_acknowledged(redis_client, events_key, 200)
            for index, worker in enumerate(workers):
                if index != victim:
                    assert worker.stdin is not None
                    worker.stdin.write(b"STOP\n")
                    await worker.stdin.drain()
            for index, worker in enumerate(workers):
                if index != victim:
                    await asyncio.wait_for(worker.wait(), 20)
                    assert worker.returncode == 0
        finally:
            for reader in readers:
                reader.cancel()
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
    took = [line for s in said for line in s if "took" in line]
    assert {line["uii"] for line in took} == set(uiis)
    assert {line["type"] for line in took} == {"started"}
    acked = Counter(line["acked"] for s in said for line in s if "acked" in line)
    assert set(acked.values()) == {1}  # none acknowledged twice
    # Killed between ``acking`` and ``acked``, the dead member may have acknowledged one.
    unsure = {line["acking"] for line in said[victim] if "acking" in line} - set(acked)
    assert len(acked) + len(unsure) == 200
    again = {line["took"]: line for line in took if line["again"]}
    assert set(again) >= orphans
    for event_id in orphans:
        assert again[event_id]["at"] - killed_at <= claim_after + 0.2 + 0.5


def _unacked(lines: list[dict[str, Any]]) -> list[str]:
    """Events taken and not yet being acknowledged."""
    acking = {line["acking"] for line in lines if "acking" in line}
    return [line["took"] for line in lines if "took" in line and line["took"] not in acking]


async def _wait_for_all_acknowledged(redis_client: aioredis.Redis, key: bytes, count: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        (group,) = await redis_client.xinfo_groups(key)
        if group["entries-read"] >= count and group["pending"] == 0 and group["lag"] == 0:
            return
        assert time.monotonic() < deadline, group
        await asyncio.sleep(0.05)


async def _wait_for_keys(redis_client: aioredis.Redis, pattern: str) -> list[bytes]:
    deadline = time.monotonic() + 10
    while not (found := await redis_client.keys(pattern)):
        assert time.monotonic() < deadline, f"no key {pattern}"
        await asyncio.sleep(0.02)
    return list(found)


async def _wait_for_group(redis_client: aioredis.Redis, key: bytes) -> None:
    deadline = time.monotonic() + 10
    while not await redis_client.xinfo_groups(key):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_with_redis_stopped_each_process_polls_within_its_share(
    private_redis: RedisServer, fleet_key: str
) -> None:
    # A poll (POLL requests) fits six times in the watch's half of a window: the one
    # poller polls about every 0.33 s; alone, each of the four every 1.33 s, in turn.
    requests, per = 12 * POLL, 2.0
    async with Simulator(
        calls=60, seed=1, live=True, mean_call_seconds=10, rate_limit=requests, rate_window=per
    ) as sim:
        config = _config(
            sim,
            private_redis.url,
            fleet_key,
            run_for=4 * per,
            limiter="redis",
            requests=requests,
            per=per,
            probe_interval=0.5,
        )
        processes = [await spawn(config) for _ in range(4)]
        try:
            start_at = await start_together(processes)
            await asyncio.sleep(start_at - time.time() + per)
            private_redis.stop()
            stopped_at = time.time()
            await asyncio.sleep(1.5 * per)
            private_redis.start()  # empty: the fleet starts its records again
            restarted_at = time.time()
            results = [await collect(p, timeout=60) for p in processes]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        api = [r for r in sim.requests if r.operation in API_OPERATIONS]
    assert Counter(r.status for r in api)[429] == 0
    for result in results:
        _check_events(result)
        during = [s for s in result["snapshots"] if stopped_at + 0.5 < s["taken_at"] < restarted_at]
        assert during, "no snapshot while Redis was down"
        assert all(s["polling"] for s in during)  # its own polls
        log = result["log"]
        assert len([m for m in log if "shared watches" in m and "unreachable" in m]) == 1, log
        assert len([m for m in log if "shared watches" in m and "rejoined" in m]) == 1, log
    # Shared again: one poller, the same last snapshot everywhere.
    assert len({r["snapshots"][-1]["taken_at"] for r in results}) == 1
    assert sum(1 for r in results if r["snapshots"][-1]["polling"]) == 1
