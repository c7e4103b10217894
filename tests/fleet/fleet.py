"""Start and collect a fleet of worker processes (tests/fleet/worker.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def spawn(config: dict[str, Any]) -> asyncio.subprocess.Process:
    """Start one worker process with ``config``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fleet.worker",
        json.dumps(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


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
        return list(await asyncio.gather(*(collect(p, timeout) for p in processes)))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
