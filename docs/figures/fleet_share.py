"""A fleet sharing one window: the members' requests as the server counts them.

Six members, each a client with its own limiter and four tasks walking the account's
40 calls in pages of 10 (at ``BULK``, as walks go) again and again, without retries,
against a simulator enforcing 20 requests per 2 s (the account's 120 a minute, scaled
down 30 times, as the tests and benchmarks do). Twice: each member with its own
``RedisRateLimit(20, per=2)`` on one key of a real ``redis-server``, and each with its
own ``RateLimit(20, per=2)``, as a fleet without Redis would be. The members run in one
process, each with its own limiter and its own Redis connection, as separate processes
would have; each client sends its own User-Agent, by which the server's journal tells
whose request each one was.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _style
import _window
import attrs
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from activecalls_async import ActiveCallsClient, ActiveCallsError, Limiter, RateLimit
from activecalls_async.fleet import RedisRateLimit
from activecalls_async.testing import API_OPERATIONS, Simulator
from tests.fleet.redis_server import INSTALL_HINT, RedisServer, redis_binary

NAME = "fleet-window"
TITLE = "A fleet of six sharing one account's window"

MEMBERS = 6
TASKS = 4
LIMIT = 20
WINDOW = 2.0
LATENCY = 0.02
CALLS = 40
#: Each walk reads the account's calls in pages of this many rows: five requests a walk.
PAGE_ROWS = 10
AGENT = "fleet-member-"


@attrs.frozen
class Run:
    """The server's journal of one run: ``(arrived, member, status)``, seconds from the
    first arrival."""

    requests: list[tuple[float, int, int]]
    duration: float


async def _member(sim: Simulator, number: int, limit: Limiter) -> None:
    """Walk the account's calls from ``TASKS`` tasks, again and again, until cancelled."""
    async with ActiveCallsClient(
        account_id=sim.account_id,
        auth=sim.token,
        base_url=sim.base_url,
        rate_limit=limit,
        retry=None,
        max_concurrency=TASKS,
        page_size=PAGE_ROWS,
        user_agent=f"{AGENT}{number}",
        telemetry=None,
    ) as client:

        async def work() -> None:
            while True:
                try:
                    async for _ in client.iter_active_calls("ACCOUNT", sim.account_id):
                        pass
                except ActiveCallsError:
                    await asyncio.sleep(0.05)  # an error that comes at once must not spin

        await asyncio.gather(*(work() for _ in range(TASKS)))


async def record(redis_url: str | None, *, quick: bool) -> Run:
    """Run the members for a few windows (sharing ``redis_url``, or each on its own)."""
    seconds = (2.0 if quick else 5.0) * WINDOW
    key = f"docs-fleet-{uuid.uuid4().hex[:8]}"
    async with Simulator(
        calls=CALLS,
        latency=LATENCY,
        rate_limit=LIMIT,
        rate_window=WINDOW,
        journal_size=None,  # every request, however long the run
    ) as sim:
        async with contextlib.AsyncExitStack() as stack:
            limits: list[Limiter] = []
            for _ in range(MEMBERS):
                if redis_url is None:
                    limits.append(RateLimit(LIMIT, per=WINDOW))
                else:
                    limits.append(
                        await stack.enter_async_context(
                            RedisRateLimit(redis_url, key=key, requests=LIMIT, per=WINDOW)
                        )
                    )
            members = [
                asyncio.create_task(_member(sim, n, limit)) for n, limit in enumerate(limits, 1)
            ]
            await asyncio.sleep(seconds)
            for member in members:
                member.cancel()
            await asyncio.gather(*members, return_exceptions=True)
        seen = [r for r in sim.requests if r.operation in API_OPERATIONS]
    origin = min(r.started for r in seen)
    return Run(
        requests=sorted(
            (r.started - origin, int(r.headers["User-Agent"].removeprefix(AGENT)), r.status)
            for r in seen
        ),
        duration=seconds,
    )


def _changes_only(times: list[float], *rows: list[int]) -> tuple[list[float], list[list[int]]]:
    """``times`` and ``rows`` without the moments at which no row changes."""
    keep = [
        i
        for i in range(len(times))
        if i in (0, len(times) - 1) or any(row[i] != row[i - 1] for row in rows)
    ]
    return [times[i] for i in keep], [[row[i] for i in keep] for row in rows]


def _band(ax: Axes, times: list[float], lower: list[int], upper: list[int], **style: Any) -> None:
    at, (low, high) = _changes_only(times, lower, upper)
    ax.fill_between(at, low, high, step="post", lw=0, **style)


def _panel(ax: Axes, run: Run, *, title: str) -> None:
    """The server's count of its window, one band per member; 429s hatched."""
    answered = [
        [at for at, who, status in run.requests if who == member and status != 429]
        for member in range(1, MEMBERS + 1)
    ]
    rejected = [at for at, _, status in run.requests if status == 429]
    # Drawn every pixel or so (the exact peak is in the title).
    times, counts = _window.sampled(
        [*answered, rejected], WINDOW, run.duration, run.duration / 1000
    )
    below = [0] * len(times)
    for member, ours in enumerate(counts[:MEMBERS]):
        above = [b + n for b, n in zip(below, ours, strict=True)]
        _band(ax, times, below, above, color=_style.MEMBERS[member], alpha=0.85)
        below = above
    if rejected:
        total = [b + n for b, n in zip(below, counts[MEMBERS], strict=True)]
        _band(
            ax,
            times,
            below,
            total,
            facecolor="white",
            edgecolor=_style.WARNING,
            hatch="////",
            alpha=0.9,
        )
        at, (edge,) = _changes_only(times, total)
        ax.step(at, edge, where="post", color=_style.WARNING, lw=1.0)
    at, (edge,) = _changes_only(times, below)
    ax.step(at, edge, where="post", color="#333333", lw=1.0)
    ax.axhline(LIMIT, color=_style.LIMIT, ls="--", lw=1.2)
    ax.set_xlim(0, run.duration)
    ax.set_ylabel(f"requests in the last {WINDOW:g} s\n(the server's count)")
    ok = sorted(at for ours in answered for at in ours)
    peak = max(_window.count(ok, WINDOW, _window.changes(ok, WINDOW)))
    refused = f"{len(rejected)} answered 429" if rejected else "none answered 429"
    ax.set_title(f"{title}: {len(ok)} answered, at most {peak} in any {WINDOW:g} s; {refused}")


def draw(shared: Run, alone: Run, path: Path) -> Path:
    """Draw both runs, one above the other, into ``path``."""
    fig = _style.figure(11, 6.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.5])
    _panel(top, shared, title=f"Each member with RedisRateLimit({LIMIT}, per={WINDOW:g}), one key")
    _panel(bottom, alone, title=f"Each member with its own RateLimit({LIMIT}, per={WINDOW:g})")
    top.set_ylim(0, LIMIT * 1.25)
    bottom.set_ylim(0, max(LIMIT * 1.25, _peak(alone) * 1.1))
    handles: list[Line2D | Patch] = [
        Patch(facecolor=_style.MEMBERS[n], alpha=0.85, label=f"member {n + 1}")
        for n in range(MEMBERS)
    ]
    handles += [
        Patch(facecolor="white", edgecolor=_style.WARNING, hatch="////", label="answered 429"),
        Line2D(
            [], [], color=_style.LIMIT, ls="--", label=f"the limit: {LIMIT} in any {WINDOW:g} s"
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    bottom.set_xlabel(
        f"seconds (the account's 120 requests a minute scaled down to {LIMIT} per {WINDOW:g} s)"
    )
    fig.suptitle(f"{TITLE}: each member {TASKS} tasks walking listings without pause")
    return _style.save(fig, path, title=TITLE)


def _peak(run: Run) -> int:
    arrived = [at for at, _, _ in run.requests]
    return max(_window.count(arrived, WINDOW, _window.changes(arrived, WINDOW)))


def shares(run: Run) -> Sequence[int]:
    """Requests answered per member."""
    return [
        sum(1 for _, who, status in run.requests if who == member and status == 200)
        for member in range(1, MEMBERS + 1)
    ]


def make(out: Path, *, quick: bool) -> list[Path]:
    """Start a redis-server, run the fleet both ways, and draw the figure into ``out``."""
    binary = redis_binary()
    if binary is None:
        raise SystemExit(f"{NAME}: {INSTALL_HINT}")
    server = RedisServer(binary)
    server.start()
    try:
        shared = asyncio.run(record(server.url, quick=quick))
    finally:
        server.close()
    alone = asyncio.run(record(None, quick=quick))
    return [draw(shared, alone, out / f"{NAME}.svg")]
