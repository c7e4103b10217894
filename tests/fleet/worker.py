"""One member of a test fleet, run as its own OS process: ``python -m tests.fleet.worker JSON``.

``traffic``: ``tasks`` tasks list calls and toggle recording through one shared
``RedisRateLimit`` until ``duration`` has passed. ``login``: a ``RingCentralAuth`` with a
shared ``RedisTokenCache`` makes a request, waits ``pause`` seconds, makes another.
``watch`` and ``take``: members of a shared watch (tests/fleet/hub_worker.py).
Set up, a member prints ``READY`` and reads from stdin the wall-clock time at which
to start (``start_at`` in the config instead skips that), so that a fleet starts
together. At the end it prints one JSON line of what it did.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from activecalls_async import ActiveCallsClient, ActiveCallsError, RateLimit
from activecalls_async.fleet import RedisRateLimit


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or "Redis" in record.getMessage():
            self.messages.append(f"{record.levelname} {record.getMessage()}")


class _Own(RateLimit):
    """A process's own ``RateLimit``, shaped like the fleet's for this worker."""

    online = True

    async def __aenter__(self) -> _Own:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


async def _until(start_at: float | None) -> None:
    if start_at is None:
        print("READY", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start_at = float(line)
    await asyncio.sleep(max(0.0, start_at - time.time()))


async def traffic(config: dict[str, Any]) -> dict[str, Any]:
    """List and act from ``tasks`` tasks under the fleet's limit; count what happened."""
    limit: RedisRateLimit | _Own
    if config.get("limiter", "redis") == "redis":
        limit = RedisRateLimit(
            config["redis_url"],
            key=config["key"],
            requests=config["requests"],
            per=config["per"],
            probe_interval=config.get("probe_interval", 5.0),
            heartbeat=config.get("heartbeat", 1.0),
            timeout=config.get("timeout", 0.5),
        )
    else:  # what a fleet without Redis does: every process its own budget
        limit = _Own(config["requests"], per=config["per"])
    done: list[float] = []
    errors: list[str] = []
    offline: list[float] = []
    async with (
        limit,
        ActiveCallsClient(
            account_id=config["account_id"],
            auth=config["token"],
            base_url=config["base_url"],
            rate_limit=limit,
            retry=None,
            max_concurrency=config["tasks"],
        ) as client,
    ):
        await _until(config.get("start_at"))
        deadline = time.time() + config["duration"]

        async def work(number: int) -> None:
            record = bool(number % 2)
            while time.time() < deadline:
                try:
                    calls = await client.list_active_calls(
                        "ACCOUNT", config["account_id"], max_rows=5
                    )
                    done.append(time.time())
                    if not limit.online:
                        offline.append(time.time())
                    if calls and time.time() < deadline:
                        uii = calls[number % len(calls)].uii
                        await client.toggle_call_recording(uii, record=record)
                        done.append(time.time())
                        record = not record
                except ActiveCallsError as exc:
                    errors.append(type(exc).__name__)

        tasks = [asyncio.create_task(work(n)) for n in range(config["tasks"])]
        # Requests still waiting for the limiter at the deadline are given up.
        await asyncio.wait(tasks, timeout=max(0.0, deadline - time.time()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"requests": len(done), "errors": errors, "offline": len(offline)}


async def login(config: dict[str, Any]) -> dict[str, Any]:
    """Log in through the fleet's token cache, request, wait, request again."""
    from activecalls_async import RingCentralAuth
    from activecalls_async.fleet import RedisTokenCache

    errors: list[str] = []
    async with RedisTokenCache(
        config["redis_url"], key=config["key"], lock_lease=config["lock_lease"]
    ) as cache:
        auth = RingCentralAuth.from_jwt(
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            jwt=config["jwt"],
            rc_server=config["root_url"],
            auth_url=config["root_url"],
            token_lifetime=config["token_lifetime"],
            refresh_margin=config["refresh_margin"],
            cache=cache,
        )
        async with ActiveCallsClient(
            account_id=config["account_id"], auth=auth, base_url=config["base_url"]
        ) as client:
            await _until(config.get("start_at"))
            for pause in (0.0, config["pause"]):
                await asyncio.sleep(pause)
                try:
                    await client.list_active_calls("ACCOUNT", config["account_id"], max_rows=1)
                except ActiveCallsError as exc:
                    errors.append(type(exc).__name__)
        await auth.aclose()
    return {"errors": errors}


def main() -> None:
    config = json.loads(sys.argv[1])
    handler = _Count()
    logging.getLogger("activecalls_async").addHandler(handler)
    logging.getLogger("activecalls_async").setLevel(logging.INFO)
    from . import hub_worker

    modes = {"traffic": traffic, "login": login, "watch": hub_worker.watch, "take": hub_worker.take}
    run = modes[config["mode"]]
    result = asyncio.run(run(config))
    result["log"] = handler.messages
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
