"""The shared watch's fleet members, each run as its own OS process by tests/fleet/worker.py.

``watch``: a client watches ``targets`` every ``interval`` seconds, through a ``WatchHub``
(``hub: true``) or on its own, under no limit, a ``RedisRateLimit`` or a ``RateLimit`` of
its own; it stops at the first snapshot taken ``run_for`` seconds after the start (or
after ``duration`` seconds) and prints what it yielded, and when it received each.

``take``: a member of ``group`` handles each call event it takes in a task of its own
(``handle`` seconds, then ``ack()``), printing a line as it takes one, as it starts
acknowledging it and once it has, until it reads ``STOP``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from typing import Any

from activecalls_async import ActiveCallsClient, RateLimit, Target
from activecalls_async.fleet import RedisRateLimit, TakenEvent, WatchHub


def _limit(config: dict[str, Any]) -> RedisRateLimit | RateLimit | None:
    kind = config.get("limiter", "none")
    if kind == "redis":
        return RedisRateLimit(
            config["redis_url"],
            key=config["key"],
            requests=config["requests"],
            per=config["per"],
            heartbeat=config.get("heartbeat", 0.2),
            probe_interval=config.get("probe_interval", 0.5),
        )
    if kind == "local":
        return RateLimit(config["requests"], per=config["per"])
    return None


def _hub(config: dict[str, Any]) -> WatchHub:
    return WatchHub(
        config["redis_url"],
        key=config["key"],
        lease=config.get("lease", 1.0),
        timeout=config.get("timeout", 0.25),
        probe_interval=config.get("probe_interval", 0.5),
    )


def _client(config: dict[str, Any], limit: RedisRateLimit | RateLimit | None) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=config["account_id"],
        auth=config["token"],
        base_url=config["base_url"],
        rate_limit=limit,
        retry=None,
    )


def _targets(config: dict[str, Any]) -> list[Target]:
    return [Target(product, product_id) for product, product_id in config["targets"]]


async def _start(start_at: float | None) -> float:
    if start_at is None:
        print("READY", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start_at = float(line)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    return start_at


async def watch(config: dict[str, Any]) -> dict[str, Any]:
    """Watch until the first snapshot taken ``run_for`` seconds after the start (or, with
    ``duration``, until that many seconds have passed)."""
    limit = _limit(config)
    hub = _hub(config) if config["hub"] else None
    snapshots: list[dict[str, Any]] = []
    async with _client(config, limit) as client:
        started = await _start(config.get("start_at"))
        stop_at = started + config.get("run_for", math.inf)
        shared = client.watch_active_calls_many(
            _targets(config),
            interval=config["interval"],
            budget_share=config.get("budget_share", 0.5),
            hub=hub,
        )

        async def follow() -> None:
            async for snapshot in shared:
                snapshots.append(
                    {
                        "taken_at": snapshot.taken_at.timestamp(),
                        "received": time.time(),
                        "requests": snapshot.requests,
                        "calls": list(snapshot.calls),
                        "events": [[e.type.value, e.call.uii] for e in snapshot.events],
                        "errors": len(snapshot.errors),
                        "polling": getattr(shared, "polling", True),
                    }
                )
                if snapshot.taken_at.timestamp() >= stop_at:
                    return

        async with shared:
            duration = config.get("duration")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(follow(), None if duration is None else duration)
    if hub is not None:
        await hub.aclose()
    if isinstance(limit, RedisRateLimit):
        await limit.aclose()
    return {"snapshots": snapshots, "member": hub.member if hub is not None else None}


async def take(config: dict[str, Any]) -> dict[str, Any]:
    """Take and handle call events until ``STOP`` arrives on stdin."""
    hub = _hub(config)
    handlers: set[asyncio.Task[None]] = set()

    def say(**line: Any) -> None:
        print(json.dumps({**line, "at": time.time()}), flush=True)

    async def handle(event: TakenEvent) -> None:
        say(took=event.id, uii=event.call.uii, type=event.type.value, again=event.redelivered)
        await asyncio.sleep(config["handle"])
        say(acking=event.id)  # killed from here on, it may or may not have acknowledged it
        await event.ack()
        say(acked=event.id)

    async with _client(config, None) as client:
        await _start(config.get("start_at"))
        events = client.take_call_events(
            _targets(config),
            hub=hub,
            group=config["group"],
            claim_after=config["claim_after"],
            interval=config["interval"],
        )

        async def work() -> None:
            async for event in events:
                task = asyncio.ensure_future(handle(event))
                handlers.add(task)
                task.add_done_callback(handlers.discard)

        worker = asyncio.ensure_future(work())
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "STOP":
            pass
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        if handlers:
            await asyncio.wait(handlers)
        await events.aclose()
    await hub.aclose()
    return {"member": hub.member}
