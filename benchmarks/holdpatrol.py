"""Hold patrol: the fleet guide's worker group (docs/examples/hold_patrol.py), run for real.

Four worker processes run the example as written, with the fleet's environment (a real
``redis-server`` on loopback, the simulator's account, its 120 requests a minute) and
``--hold-limit 20 --interval 5 --claim-after 40``. Agents put 30 answered calls
of queues 55 to 57 on hold, one a second; every third is taken off hold 10 s later. A
worker is SIGKILLed 25 s in. Figures from the simulator's log: each call left on hold
past the limit must be hung up once, the others never; how late past the limit the
hangups came (the dead worker's calls wait for ``claim_after``); the list requests of the
shared watch, whatever the number of workers. From Redis: the events the dead worker
held unacknowledged, and those left pending at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from activecalls_async.testing import Simulator
from tests.fleet.redis_server import INSTALL_HINT, RedisServer, redis_binary

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "holdpatrol"
TITLE = "Hold patrol: 4 workers hang up calls on hold past 20 s, one of them killed"

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "hold_patrol.py"
WORKERS = 4
HOLD_LIMIT, POLL_INTERVAL, CLAIM_AFTER = 20.0, 5.0, 40.0
HOLDS = 30
KILL_AT = 25.0
QUEUES = (55, 56, 57)


async def _run(redis_url: str) -> dict[str, Any]:
    async with Simulator(calls=0, seed=3, live=False) as sim:
        answered = [
            sim.add_call(product="ACD", product_id=QUEUES[n % 3], call_state="ACTIVE")
            for n in range(HOLDS + 12)
        ]
        env = {
            **os.environ,
            "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
            "ACTIVECALLS_BASE_URL": sim.base_url,
            "ACTIVECALLS_TOKEN": sim.token,
            "ACTIVECALLS_REDIS_URL": redis_url,
            "ACTIVECALLS_FLEET_KEY": f"bench-holdpatrol-{uuid.uuid4().hex[:8]}",
        }
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(EXAMPLE),
                *("--hold-limit", str(HOLD_LIMIT), "--interval", str(POLL_INTERVAL)),
                *("--claim-after", str(CLAIM_AFTER)),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(WORKERS)
        ]
        held: dict[str, float] = {}
        resumed: set[str] = set()
        try:
            await asyncio.sleep(3.0)  # the workers start and join the group
            began = time.time()

            async def agents() -> None:
                for n, uii in enumerate(answered[:HOLDS]):
                    sim.update_call(uii, call_state="HOLD")
                    held[uii] = time.monotonic()  # the simulator's own clock
                    if n % 3 == 2:
                        asyncio.get_running_loop().call_later(
                            HOLD_LIMIT / 2, _resume, sim, uii, resumed
                        )
                    await asyncio.sleep(1.0)

            acting = asyncio.ensure_future(agents())
            await asyncio.sleep(began + KILL_AT - time.time())
            workers[0].send_signal(signal.SIGKILL)
            orphans = await _pending(redis_url, env["ACTIVECALLS_FLEET_KEY"], workers[0].pid)
            await acting
            # The last hold's limit, the dead worker's claim_after, a poll or two more.
            await asyncio.sleep(HOLDS + HOLD_LIMIT + CLAIM_AFTER + 3 * POLL_INTERVAL - KILL_AT)
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGINT)
            for worker in workers:
                try:
                    await asyncio.wait_for(worker.communicate(), 10)
                except asyncio.TimeoutError:
                    worker.kill()
                    await worker.wait()
        left = await _pending(redis_url, env["ACTIVECALLS_FLEET_KEY"], None)
        hangups = [e for e in sim.effects if e.kind == "hangupCall"]
        lists = [r for r in sim.requests if r.operation == "list"]
        limited = [r for r in sim.requests if r.status == 429]
    late = [e.at - held[e.uii] - HOLD_LIMIT for e in hangups if e.uii in held]
    spent = (max(r.started for r in lists) - min(r.started for r in lists)) / 60
    return {
        "too_long": len(held) - len(resumed),
        "hung_up": len({e.uii for e in hangups}),
        "twice": sum(
            1 for uii in {e.uii for e in hangups} if sim.effect_count("hangupCall", uii) > 1
        ),
        "resumed_hung_up": sum(1 for e in hangups if e.uii in resumed),
        "late": late,
        "lists_per_minute": len(lists) / spent,
        "rejected": len(limited),
        "orphans": orphans,
        "left": left,
        # Past the limit by more than two intervals: only a dead worker's calls wait so long.
        "redelivered": sorted(x for x in late if x > 2 * POLL_INTERVAL),
    }


async def _pending(redis_url: str, key: str, pid: int | None) -> int:
    """Events of the group not yet acknowledged (those of the worker ``pid``, if given)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        (events,) = await client.keys(f"{key}:watch:*:events")
        summary = await client.xpending(events, "hold-patrol")
        if pid is None:
            return int(summary["pending"])
        return sum(
            int(c["pending"]) for c in summary["consumers"] if f"-{pid}-" in c["name"].decode()
        )
    finally:
        await client.aclose()


def _resume(sim: Simulator, uii: str, resumed: set[str]) -> None:
    sim.update_call(uii, call_state="ACTIVE")
    resumed.add(uii)


def run(config: Config) -> ScenarioResult:
    """Run the example's workers once (twice in a full run)."""
    repeat = config.repetitions(full=1, quick=1)
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "workers": WORKERS,
            "hold_limit_s": HOLD_LIMIT,
            "poll_interval_s": POLL_INTERVAL,
            "claim_after_s": CLAIM_AFTER,
            "holds": HOLDS,
            "killed_at_s": KILL_AT,
            "repetitions": repeat,
        },
    )
    binary = redis_binary()
    if binary is None:
        result.notes.append(f"Not run: {INSTALL_HINT}")
        return result
    server = RedisServer(binary)
    server.start()
    try:
        runs = [asyncio.run(_run(server.url)) for _ in range(repeat)]
    finally:
        server.close()
    name = f"{WORKERS} workers, 1 killed"
    result.rows += [
        Row(name, "calls on hold past the limit", "calls", Stat.of([r["too_long"] for r in runs])),
        Row(name, "calls hung up", "calls", Stat.of([r["hung_up"] for r in runs])),
        Row(name, "calls hung up twice", "calls", Stat.of([r["twice"] for r in runs])),
        Row(name, "resumed calls hung up", "calls", Stat.of([r["resumed_hung_up"] for r in runs])),
        Row(
            name,
            "hangup past the limit, median",
            "s",
            Stat.of([statistics.median(r["late"]) for r in runs]),
        ),
        Row(name, "hangup past the limit, most", "s", Stat.of([max(r["late"]) for r in runs])),
        Row(
            name,
            "list requests a minute (shared watch)",
            "requests",
            Stat.of([r["lists_per_minute"] for r in runs]),
        ),
        Row(name, "429 answers", "429s", Stat.of([r["rejected"] for r in runs])),
        Row(
            name,
            "events the killed worker held",
            "events",
            Stat.of([r["orphans"] for r in runs]),
        ),
        Row(
            name,
            "its calls hung up by another worker",
            "calls",
            Stat.of([len(r["redelivered"]) for r in runs]),
            note="past the limit by more than two intervals",
        ),
        Row(name, "events left unacknowledged", "events", Stat.of([r["left"] for r in runs])),
    ]
    result.checks += [
        Check(
            "every call past the limit hung up",
            min(r["hung_up"] - r["too_long"] for r in runs),
            ">=",
            0,
        ),
        Check("no call hung up twice", max(r["twice"] for r in runs), "<=", 0),
        Check("no event left unacknowledged", max(r["left"] for r in runs), "<=", 0),
        Check("no resumed call hung up", max(r["resumed_hung_up"] for r in runs), "<=", 0),
        Check(
            "latest hangup past the limit (s)",
            max(max(r["late"]) for r in runs),
            "<=",
            CLAIM_AFTER + 2 * POLL_INTERVAL,
        ),
    ]
    result.notes.append(
        "A worker decides on a snapshot taken after the limit ran out: the first snapshot "
        "showing the hold comes up to one interval after it began, the first one past the "
        "limit up to one more, so a hangup comes up to two intervals past the limit (and a "
        "poller's handover adds up to the hub's lease, 10 s). A call whose worker died "
        "waits until claim_after has passed since that worker took it."
    )
    return result
