"""The fleet guide's worker group (docs/examples/hold_patrol.py) does what the guide says, run
as written by two worker processes against a real redis-server and the simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from activecalls_async.testing import Simulator
from tests.support import wait_until

from .redis_server import RedisServer

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hold_patrol.py"
HOLD_LIMIT = 1.5


async def _stop(worker: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """The worker's output once it has stopped on the signal it was sent; a worker still
    running after a generous grace fails the test with the stacks it was stuck in."""
    reading = asyncio.ensure_future(worker.communicate())
    done, _ = await asyncio.wait({reading}, timeout=30)
    if not done:
        worker.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        _, err = await reading
        pytest.fail(f"a worker did not stop on its signal within 30 s:\n{err.decode()[-6000:]}")
    return reading.result()


async def test_calls_left_on_hold_are_hung_up_once_and_resumed_ones_never(
    redis_server: RedisServer, fleet_key: str
) -> None:
    async with Simulator(calls=0, seed=3, live=False, rate_limit=None) as sim:
        answered = [
            sim.add_call(product="ACD", product_id=55 + n % 3, call_state="ACTIVE")
            for n in range(8)
        ]
        env = {
            **os.environ,
            "ACTIVECALLS_ACCOUNT_ID": sim.account_id,
            "ACTIVECALLS_BASE_URL": sim.base_url,
            "ACTIVECALLS_TOKEN": sim.token,
            "ACTIVECALLS_REDIS_URL": redis_server.url,
            "ACTIVECALLS_FLEET_KEY": fleet_key,
            # A worker that does not stop dumps its stacks on SIGABRT (see _stop).
            "PYTHONFAULTHANDLER": "1",
        }
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(EXAMPLE),
                *("--hold-limit", str(HOLD_LIMIT), "--interval", "0.2"),
                *("--claim-after", "3"),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            # Both workers are in the group once the view has gone round a few times.
            await wait_until(
                lambda: sum(r.operation == "list" for r in sim.requests) >= 9, timeout=20
            )
            await asyncio.sleep(1.0)
            held, resumed = answered[:5], answered[5:7]
            for uii in [*held, *resumed]:
                sim.update_call(uii, call_state="HOLD")
            await asyncio.sleep(HOLD_LIMIT / 3)
            for uii in resumed:
                sim.update_call(uii, call_state="ACTIVE")
            started = time.monotonic()
            await wait_until(
                lambda: all(sim.effect_count("hangupCall", uii) for uii in held), timeout=25
            )
            took = time.monotonic() - started
            await asyncio.sleep(2 * HOLD_LIMIT)  # nothing more happens
        finally:
            # Ctrl-C for one, a supervisor's SIGTERM for the other: each stops quietly,
            # even where the test runs with SIGINT ignored (a background job, a CI runner).
            for worker, signum in zip(workers, (signal.SIGINT, signal.SIGTERM), strict=True):
                if worker.returncode is None:
                    worker.send_signal(signum)
            outputs = await asyncio.gather(*(_stop(worker) for worker in workers))
    for uii in held:
        assert sim.effect_count("hangupCall", uii) == 1
    for uii in [*resumed, answered[7]]:
        assert sim.effect_count("hangupCall", uii) == 0
    # From the environment the workers share 120 requests a minute: the watch's half of it
    # spaces polls of the three queues 6 s apart (two requests each: page 0, and page 1
    # proving the end), and a worker decides on the first snapshot taken after the limit.
    assert took < HOLD_LIMIT + 3 * 6.0
    printed = "".join(out.decode() for out, _ in outputs)
    assert printed.count("hung up") == len(held)
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert b"Traceback" not in err  # a signal stops a worker quietly
        assert worker.returncode == 0
