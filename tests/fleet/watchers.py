"""Members of a shared watch in one process (each its own hub and client), and the checks
every member's view must pass."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from activecalls_async import ActiveCall, ActiveCallsClient, CallEventType, Snapshot, Target
from activecalls_async.fleet import WatchHub
from activecalls_async.fleet.hub import SharedWatch
from activecalls_async.testing import Simulator

#: Fast settings: a lease handed on within a second, polls every 50 ms.
HUB = {"lease": 0.8, "timeout": 0.25, "connect_timeout": 0.5, "probe_interval": 0.2}
INTERVAL = 0.05


class Member:
    """One member: its own client and hub (as a process would have), and what it yielded."""

    def __init__(
        self,
        sim: Simulator,
        redis: str,
        key: str,
        targets: Sequence[Target],
        *,
        interval: float = INTERVAL,
        client: dict[str, Any] | None = None,
        **hub: Any,
    ) -> None:
        options = {"auth": sim.token, "rate_limit": None, "retry": None, **(client or {})}
        self.client = ActiveCallsClient(account_id=sim.account_id, base_url=sim.base_url, **options)
        self.hub = WatchHub(redis, key=key, **{**HUB, **hub})
        watch = self.client.watch_active_calls_many(targets, interval=interval, hub=self.hub)
        assert isinstance(watch, SharedWatch)
        self.watch = watch
        self.snapshots: list[Snapshot] = []
        self.failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Member:
        self._task = asyncio.ensure_future(self._consume())
        return self

    async def _consume(self) -> None:
        try:
            async for snapshot in self.watch:
                self.snapshots.append(snapshot)
        except Exception as exc:
            self.failure = exc

    def taken(self) -> list[datetime]:
        return [snapshot.taken_at for snapshot in self.snapshots]

    async def stop(self) -> None:
        await self.watch.aclose()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        await self.hub.aclose()
        await self.client.aclose()


def check_events(snapshots: Sequence[Snapshot]) -> None:
    """Each call started once and ended once, and the events replay into the calls."""
    alive: dict[str, ActiveCall] = {}
    ended: set[str] = set()
    for snapshot in snapshots:
        for event in snapshot.events:
            uii = event.call.uii
            if event.type is CallEventType.STARTED:
                assert uii not in alive, f"{uii} started twice"
                assert uii not in ended, f"{uii} started again after it ended"
                alive[uii] = event.call
            elif event.type is CallEventType.CHANGED:
                assert alive[uii] == event.previous
                alive[uii] = event.call
            else:
                assert uii in alive, f"{uii} ended without starting"
                del alive[uii]
                ended.add(uii)
        assert alive == dict(snapshot.calls)


def same(left: Snapshot, right: Snapshot) -> None:
    """Equal in every field a poller sets (``events`` are each member's own)."""
    assert list(left.calls.items()) == list(right.calls.items())
    assert dict(left.sources) == dict(right.sources)
    assert (left.taken_at, left.requests, left.interval) == (
        right.taken_at,
        right.requests,
        right.interval,
    )
    assert {t: (type(e), str(e)) for t, e in left.errors.items()} == {
        t: (type(e), str(e)) for t, e in right.errors.items()
    }


def pollers(members: Sequence[Member]) -> list[Member]:
    return [member for member in members if member.watch.polling]


def one_poll(snapshots: Sequence[Snapshot]) -> int:
    """The most requests one poll spent: what a poll cut short at close may have sent."""
    return max(snapshot.requests for snapshot in snapshots)


def list_requests(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.operation == "list")
