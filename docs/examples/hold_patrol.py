"""Hang up calls left on hold longer than a limit, each watched over by one worker of a group.

Run as many copies as you like with the fleet's environment (``ACTIVECALLS_*`` and
``ACTIVECALLS_REDIS_URL``): they share one watch of the queues (one poller among them),
and each call put on hold is taken by one of them. ``--hold-limit`` (seconds, default 120),
``--interval`` (default 5) and ``--claim-after`` (default the limit and 30 more) change
the limit, the pace, and how long a dead worker's calls wait for another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta

from activecalls_async import ActiveCallsClient, ActiveCallsError, CallEventType, NotFoundError
from activecalls_async.fleet import TakenEvent, WatchHub

QUEUES = [("ACD", 55), ("ACD", 56), ("ACD", 57)]


@dataclass(frozen=True)
class Rules:
    hold_limit: float  # seconds a call may stay on hold
    interval: float  # seconds between polls of the queues
    claim_after: float  # seconds before a dead worker's calls go to another


def rules() -> Rules:
    parser = argparse.ArgumentParser(description="Hang up calls left on hold too long.")
    parser.add_argument("--hold-limit", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--claim-after", type=float)
    args = parser.parse_args()
    # An event stays with its worker while it waits out the limit: only one unacknowledged
    # for longer than that belongs to a worker that died.
    claim_after = args.claim_after or args.hold_limit + 30
    return Rules(args.hold_limit, args.interval, claim_after)


async def main(rules: Rules) -> None:
    stop_on_signals()
    try:
        async with ActiveCallsClient.from_env() as client:
            key = os.environ.get("ACTIVECALLS_FLEET_KEY") or f"activecalls:{client.account_id}"
            async with WatchHub(os.environ["ACTIVECALLS_REDIS_URL"], key=key) as hub:
                await patrol(client, hub, rules)
    except asyncio.CancelledError:
        pass  # stopped by a signal, everything let go on the way out


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) or a supervisor's SIGTERM cancels the worker's task, even where the
    process was started with SIGINT ignored (as background jobs and some runners are)."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C as usual
            loop.add_signal_handler(signum, task.cancel)


class HoldView:
    """The calls on hold, as the fleet's shared watch sees them (no request of its own:
    same queues, same hub, so the same poller)."""

    def __init__(self) -> None:
        self.on_hold: set[str] = set()
        self.last_off_hold: dict[str, datetime] = {}  # when each call was last seen off hold
        self.taken_at: datetime | None = None  # when the newest snapshot was taken
        self.changed = asyncio.Condition()

    async def follow(self, client: ActiveCallsClient, hub: WatchHub, interval: float) -> None:
        async with client.watch_active_calls_many(QUEUES, interval=interval, hub=hub) as snapshots:
            async for snapshot in snapshots:
                for uii, call in snapshot.calls.items():
                    if call.call_state == "HOLD":
                        self.on_hold.add(uii)
                    else:
                        self.on_hold.discard(uii)
                        self.last_off_hold[uii] = snapshot.taken_at
                for event in snapshot.events:
                    if event.type is CallEventType.ENDED:
                        self.on_hold.discard(event.call.uii)
                        self.last_off_hold.pop(event.call.uii, None)
                async with self.changed:
                    self.taken_at = snapshot.taken_at
                    self.changed.notify_all()

    async def taken_after(self, moment: datetime) -> None:
        """Wait for a snapshot taken after ``moment`` (never decide on an older view)."""
        async with self.changed:
            await self.changed.wait_for(
                lambda: self.taken_at is not None and self.taken_at > moment
            )

    def held_since(self, uii: str, moment: datetime) -> bool:
        """Whether the call has stayed on hold since ``moment``."""
        resumed = self.last_off_hold.get(uii)
        return uii in self.on_hold and (resumed is None or resumed < moment)


async def patrol(client: ActiveCallsClient, hub: WatchHub, rules: Rules) -> None:
    view = HoldView()

    async def watch_over(event: TakenEvent) -> None:
        """Once the limit has passed, hang up if the call is still on that same hold."""
        await view.taken_after(event.seen_at + timedelta(seconds=rules.hold_limit))
        # Idempotent: after a redelivery the call may be gone already (this worker's
        # predecessor hung up and died before ack()), or resumed, or held anew.
        uii = event.call.uii
        if view.held_since(uii, event.seen_at):
            try:
                await client.hangup_call(uii)
                print(f"hung up {uii}, on hold since {event.seen_at:%H:%M:%S}", flush=True)
            except NotFoundError:
                pass  # it ended meanwhile: nothing left to do
            except ActiveCallsError as exc:
                # Not acknowledged: the group gives it again after claim_after.
                print(f"could not hang up {uii} ({exc}); it will be tried again", flush=True)
                return
        await event.ack()

    following = asyncio.ensure_future(view.follow(client, hub, rules.interval))
    watching: set[asyncio.Task[None]] = set()
    try:
        async with client.take_call_events(
            QUEUES,
            hub=hub,
            group="hold-patrol",
            claim_after=rules.claim_after,
            interval=rules.interval,
        ) as events:
            async for event in events:
                before = event.previous.call_state if event.previous is not None else None
                put_on_hold = (
                    event.type is not CallEventType.ENDED
                    and event.call.call_state == "HOLD"
                    and before != "HOLD"
                )
                if not put_on_hold:
                    await event.ack()  # nothing to do for this one
                    continue
                task = asyncio.ensure_future(watch_over(event))
                watching.add(task)
                task.add_done_callback(watching.discard)
    finally:
        following.cancel()
        for task in watching:
            task.cancel()


if __name__ == "__main__":
    asyncio.run(main(rules()))
