"""Requests over time by priority against the limit: a fan-out overtaken by actions.

One client with ``RateLimit(20, per=2.0)`` (the account's 120 a minute, scaled down 30
times, as the ``budget`` benchmark runs it) walks every listing of a 5,000-call account
in pages of 20, at ``BULK``, against a simulator enforcing the same limit, 20 ms a
request; part-way through, other tasks of the same client send ``toggle_call_recording``
at ``ACTION``. What is drawn comes from the run: the server's journal gives when each
request arrived (and what it was), and a ``RateLimit`` that notes when each request
asked for its turn and when it got it gives the queue at the limiter.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import _style
import _window
import attrs
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from activecalls_async import ActiveCallsClient, ActiveCallsError, Priority, RateLimit
from activecalls_async.testing import API_OPERATIONS, Simulator

NAME = "rate-limit-priorities"
TITLE = "A fan-out at BULK, overtaken by actions at ACTION"

LIMIT = 20
WINDOW = 2.0
LATENCY = 0.02
PAGE_ROWS = 20
#: Not a multiple of the slot (0.1 s), so that actions land anywhere in one.
SPACING = 0.47


@attrs.frozen
class Turn:
    """One request's turn at the limiter: when it asked, and when it was let go (None:
    never, it was cancelled while it waited, at ``left``)."""

    priority: Priority
    asked: float
    granted: float | None
    left: float


class NotingRateLimit(RateLimit):
    """A ``RateLimit`` that notes every turn it gives, and every wait cancelled (on
    ``time.monotonic``, the simulator's clock too)."""

    def __init__(self, requests: int, per: float) -> None:
        super().__init__(requests, per=per)
        self.turns: list[Turn] = []

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Wait for the turn as ``RateLimit`` does, then note it."""
        asked = time.monotonic()
        try:
            await super().acquire(priority)
        except asyncio.CancelledError:
            self.turns.append(Turn(priority, asked, None, time.monotonic()))
            raise
        now = time.monotonic()
        self.turns.append(Turn(priority, asked, now, now))


@attrs.frozen
class Run:
    """What one run recorded, in seconds since the first request arrived."""

    #: ``(arrived, operation)`` of every API request the server saw.
    arrivals: list[tuple[float, str]]
    turns: list[Turn]
    statuses: dict[int, int]
    actions_from: float
    #: When the fan-out was stopped (the requests still waiting then were cancelled).
    stopped: float


async def record(*, quick: bool) -> Run:
    """Run the fan-out and the actions against the simulator; return what happened."""
    warm_up, actions, tail = (1.5, 4, 1.0) if quick else (3.0, 10, 1.5)
    async with Simulator(
        calls=5_000,
        seed=7,
        latency=LATENCY,
        rate_limit=LIMIT,
        rate_window=WINDOW,
        journal_size=None,  # every request, however long the run
    ) as sim:
        limit = NotingRateLimit(LIMIT, per=WINDOW)
        async with ActiveCallsClient(
            account_id=sim.account_id,
            auth=sim.token,
            base_url=sim.base_url,
            rate_limit=limit,
            page_size=PAGE_ROWS,
            telemetry=None,
        ) as client:
            uii = sim.state.all_calls()[0].uii
            targets = list(sim.targets())

            async def fan_out() -> None:
                async with client.iter_active_calls_many(targets) as calls:
                    async for _ in calls:
                        pass

            async def act(n: int) -> None:
                await asyncio.sleep(warm_up + n * SPACING)
                with contextlib.suppress(ActiveCallsError):
                    await client.toggle_call_recording(uii, record=n % 2 == 0)

            start = time.monotonic()
            walking = asyncio.create_task(fan_out())
            try:
                await asyncio.gather(*(act(n) for n in range(actions)))
                await asyncio.sleep(tail)
            finally:
                stopped = time.monotonic()
                walking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await walking
            seen = [r for r in sim.requests if r.operation in API_OPERATIONS]
    origin = min(r.started for r in seen)
    return Run(
        arrivals=sorted((r.started - origin, r.operation) for r in seen),
        turns=[
            Turn(
                t.priority,
                t.asked - origin,
                None if t.granted is None else t.granted - origin,
                t.left - origin,
            )
            for t in limit.turns
        ],
        statuses=dict(collections.Counter(r.status for r in seen)),
        actions_from=start + warm_up - origin,
        stopped=stopped - origin,
    )


def waiting(turns: Sequence[Turn], priority: Priority) -> tuple[list[float], list[int]]:
    """How many requests of ``priority`` wait at the limiter, as a step function."""
    ours = [t for t in turns if t.priority is priority]
    changes = sorted([(t.asked, 1) for t in ours] + [(t.left, -1) for t in ours])
    times, counts, count = [0.0], [0], 0
    for at, step in changes:
        count += step
        times.append(at)
        counts.append(count)
    return times, counts


def overtaken(turns: Sequence[Turn]) -> list[int]:
    """For each action, how many ``BULK`` requests that asked before it were let go after it."""
    bulk = [t for t in turns if t.priority is Priority.BULK]
    return [
        sum(1 for b in bulk if b.asked < action.asked and b.left > action.left)
        for action in turns
        if action.priority is Priority.ACTION and action.granted is not None
    ]


def draw(run: Run, path: Path) -> Path:
    """Draw ``run`` into ``path``."""
    fig = _style.figure(10, 7.4)
    count_ax, starts_ax, queue_ax = fig.subplots(3, 1, sharex=True, height_ratios=[3.4, 1.2, 1.6])
    bulk_colour = _style.PRIORITY_COLOURS["BULK"]
    action_colour = _style.PRIORITY_COLOURS["ACTION"]
    # What happened until the fan-out was stopped (the rest is its cancellation).
    arrivals = [(at, operation) for at, operation in run.arrivals if at <= run.stopped]
    bulk = [at for at, operation in arrivals if operation == "list"]
    actions = [at for at, operation in arrivals if operation != "list"]
    end = run.stopped

    # The server's own count of its window, split by priority.
    arrived = [at for at, _ in arrivals]
    times = _window.changes(arrived, WINDOW)
    every = _window.count(arrived, WINDOW, times)
    of_bulk = _window.count(bulk, WINDOW, times)
    count_ax.fill_between(times, of_bulk, step="post", color=bulk_colour, alpha=0.35, lw=0)
    count_ax.fill_between(times, of_bulk, every, step="post", color=action_colour, alpha=0.8, lw=0)
    count_ax.step(times, every, where="post", color="#333333", lw=1.0)
    count_ax.axhline(LIMIT, color=_style.LIMIT, ls="--", lw=1.2)
    # WATCH and BULK may not fill the window's last ``reserve`` slots.
    reserve = RateLimit(LIMIT, per=WINDOW).reserve
    count_ax.axhline(LIMIT - reserve, color=bulk_colour, ls=":", lw=1.4)
    count_ax.set_ylim(0, LIMIT * 1.42)
    count_ax.set_yticks(range(0, LIMIT + 1, 5))
    count_ax.set_ylabel(f"requests in the last {WINDOW:g} s\n(the server's count)")
    count_ax.set_title("Requests in the server's window, by priority")
    count_ax.legend(
        handles=[
            Line2D(
                [], [], color=_style.LIMIT, ls="--", label=f"the limit: {LIMIT} in any {WINDOW:g} s"
            ),
            Patch(facecolor=bulk_colour, alpha=0.35, label="BULK: the fan-out's pages"),
            Line2D(
                [],
                [],
                color=bulk_colour,
                ls=":",
                lw=1.4,
                label=f"BULK's ceiling (the reserve: {reserve} slot{'s' * (reserve > 1)})",
            ),
            Patch(facecolor=action_colour, alpha=0.8, label="ACTION: toggle_call_recording"),
        ],
        loc="upper left",
        ncols=2,
    )

    waits = [
        t.granted - t.asked
        for t in run.turns
        if t.priority is Priority.ACTION and t.granted is not None
    ]
    # Every request as the server saw it arrive, and every action as it was sent.
    starts_ax.vlines(bulk, 0.55, 1.45, color=bulk_colour, lw=1.0)
    starts_ax.vlines(actions, 1.55, 2.45, color=action_colour, lw=2.0)
    sent = [t.asked for t in run.turns if t.priority is Priority.ACTION]
    starts_ax.plot(sent, [2.75] * len(sent), "v", color=action_colour, ms=5, clip_on=False)
    starts_ax.set_yticks([1, 2], ["BULK", "ACTION"])
    starts_ax.set_ylim(0.4, 2.9)
    starts_ax.grid(False, axis="y")
    starts_ax.set_title("Each request as the server saw it arrive (▼ an action is sent)")

    # The queue at the limiter.
    for priority, colour, label in (
        (Priority.BULK, bulk_colour, "BULK waiting"),
        (Priority.ACTION, action_colour, "ACTION waiting"),
    ):
        t, n = waiting(run.turns, priority)
        queue_ax.step(t, n, where="post", color=colour, lw=1.4, label=label)
    passed = overtaken(run.turns)
    queue_ax.set_title(
        f"Waiting at the limiter: the median action waited {_ms(statistics.median(waits))}, "
        f"ahead of {statistics.median(passed):g} queued BULK requests"
    )
    queue_ax.set_ylabel("waiting")
    queue_ax.yaxis.get_major_locator().set_params(integer=True)
    queue_ax.legend(loc="center left", ncols=2, bbox_to_anchor=(0.0, 0.45))
    queue_ax.set_xlabel(
        f"seconds (the account's 120 requests a minute scaled down to {LIMIT} per "
        f"{WINDOW:g} s: one slot is {WINDOW / LIMIT:g} s)"
    )
    queue_ax.set_xlim(0, end)
    queue_ax.set_ylim(bottom=0)
    for ax in (count_ax, starts_ax, queue_ax):
        ax.axvline(run.actions_from, color="#999999", lw=0.8, ls="-.")
    count_ax.text(run.actions_from + 0.05, 1.0, "actions begin", fontsize=9, color="#444444")
    rejected = run.statuses.get(429, 0)
    fig.suptitle(f"{TITLE}: {len(arrivals)} requests, {_count(rejected, 'answered 429')}")
    return _style.save(fig, path, title=TITLE)


def _count(n: int, what: str) -> str:
    return f"none {what}" if n == 0 else f"{n} {what}"


def _ms(seconds: float) -> str:
    return "under 1 ms" if seconds < 0.001 else f"{seconds * 1000:.0f} ms"


def make(out: Path, *, quick: bool) -> list[Path]:
    """Run the scenario and draw its figure into ``out``."""
    return [draw(asyncio.run(record(quick=quick)), out / f"{NAME}.svg")]
