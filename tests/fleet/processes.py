"""Start and collect a fleet of worker processes (tests/fleet/worker.py)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from activecalls_async.testing import Simulator

ROOT = Path(__file__).resolve().parents[2]


async def spawn(config: dict[str, Any]) -> asyncio.subprocess.Process:
    """Start one worker process with ``config``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fleet.worker",
        json.dumps(config),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def start_together(processes: list[asyncio.subprocess.Process]) -> float:
    """Wait until every worker is ready, then start them all at once; returns when."""
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.strip() == b"READY", line
    start_at = time.time() + 0.1
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start_at}\n".encode())
        await process.stdin.drain()
    return start_at


async def collect(process: asyncio.subprocess.Process, timeout: float = 60) -> dict[str, Any]:
    """The worker's JSON result; fails with its stderr when it did not finish cleanly."""
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, stderr.decode(errors="replace")[-3000:]
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


async def run_fleet(configs: list[dict[str, Any]], timeout: float = 60) -> list[dict[str, Any]]:
    """Run one worker per config at once and return their results."""
    processes = [await spawn(config) for config in configs]
    try:
        await start_together(processes)
        return list(await asyncio.gather(*(collect(p, timeout) for p in processes)))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


def traffic_config(sim: Simulator, redis_url: str, key: str, **options: Any) -> dict[str, Any]:
    """A ``traffic`` worker's config against ``sim`` (20 tasks unless ``tasks`` says)."""
    return {
        "mode": "traffic",
        "redis_url": redis_url,
        "key": key,
        "base_url": sim.base_url,
        "token": sim.token,
        "account_id": sim.account_id,
        "tasks": 20,
        **options,
    }
