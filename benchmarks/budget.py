"""Action under load: how long an urgent action waits while a fan-out saturates the limit.

The simulator enforces 20 requests per 2 s (one *slot* is 0.1 s). One SDK client runs
``iter_active_calls_many`` over every listing again and again, in pages of 20, enough
to keep the limit saturated; a second SDK client sends ``toggle_call_recording`` 20
times, spread over the run. Both share one ``RateLimit(20, per=2.0)``. Each client
reaches it through a small wrapper that fixes the priority of its requests (the fan-out
``BULK``, the actions ``ACTION``) and times how long each action waited for it. A second
contender sends the actions five at a time (at the same average rate), more than the
window's headroom holds, so that the rest wait for slots the paced window frees. The
baseline runs the same load with the actions at ``BULK`` too: one first-come,
first-served line, as the limiter was before it had priorities.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from activecalls_async import ActiveCallsClient, ActiveCallsError, Priority, RateLimit

from ._results import Check, Config, Row, ScenarioResult, Stat
from ._server import ServerInfo, SimulatorProcess

NAME = "budget"
TITLE = "Action under load: 20 actions during a fan-out saturating 20 requests per 2 s"

LIMIT = 20
WINDOW = 2.0
SLOT = WINDOW / LIMIT
LATENCY = 0.02
ACTIONS = 20
#: Seconds between actions: not a multiple of the slot, so they land anywhere in one.
SPACING = 0.47
#: The fan-out runs alone this long first, so that the first action meets a full window.
WARM_UP = 1.0
PAGE_ROWS = 20

PRIORITY = "actions at ACTION, fan-out at BULK"
BURSTS = "actions at ACTION in bursts of 5, fan-out at BULK"
FIFO = "actions at BULK too (one first-come, first-served line)"
#: How many actions each contender sends at once, and at which priority.
CONTENDERS = {
    PRIORITY: (1, Priority.ACTION),
    BURSTS: (5, Priority.ACTION),
    FIFO: (1, Priority.BULK),
}


class AtPriority:
    """A ``Limiter`` that sends every request to ``limit`` at one priority, timing the wait."""

    def __init__(self, limit: RateLimit, priority: Priority) -> None:
        self.limit = limit
        self.priority = priority
        self.waits: list[float] = []

    async def acquire(self, priority: Priority = Priority.READ) -> None:
        """Wait for ``limit`` at this wrapper's priority, whatever the client asked."""
        started = time.perf_counter()
        await self.limit.acquire(self.priority)
        self.waits.append(time.perf_counter() - started)

    async def release(self) -> None:
        """Pass the answer on to ``limit``."""
        await self.limit.release()


def _client(server: ServerInfo, limiter: AtPriority) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=server.account_id,
        auth=server.token,
        base_url=server.base_url,
        rate_limit=limiter,
        page_size=PAGE_ROWS,
    )


async def _fan_out_forever(client: ActiveCallsClient, server: ServerInfo) -> None:
    targets = [(product, product_id) for product, product_id, _ in server.targets]
    while True:
        async with client.iter_active_calls_many(targets) as calls:
            async for _ in calls:
                pass


async def _one_run(
    server: ServerInfo, uii: str, group: int, action_priority: Priority
) -> list[float]:
    """Each action's wait for the limiter, in slots."""
    limit = RateLimit(LIMIT, per=WINDOW)
    bulk = AtPriority(limit, Priority.BULK)
    actions = AtPriority(limit, action_priority)
    async with _client(server, bulk) as bulk_client, _client(server, actions) as action_client:

        async def act(n: int) -> None:
            # ``group`` at a time, at the same average rate whatever the group.
            await asyncio.sleep(WARM_UP + (n // group) * group * SPACING)
            with contextlib.suppress(ActiveCallsError):
                await action_client.toggle_call_recording(uii, record=n % 2 == 1)

        fan_out = asyncio.create_task(_fan_out_forever(bulk_client, server))
        try:
            # On a fixed schedule, each action its own task: a slow one delays no other.
            await asyncio.gather(*(act(n) for n in range(ACTIONS)))
        finally:
            fan_out.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fan_out
    return [wait / SLOT for wait in actions.waits]


def _pace(starts: list[float]) -> float:
    """How close the server's request starts came to the limit: 100 is as fast as allowed.

    The ``k * LIMIT + 1``-th start can come no sooner than ``k`` windows after the
    first; judged at the largest whole ``k``.
    """
    windows = (len(starts) - 1) // LIMIT
    return 100 * windows * WINDOW / starts[windows * LIMIT] if windows else float("nan")


async def _a_live_call(server: ServerInfo) -> str:
    async with ActiveCallsClient(
        account_id=server.account_id, auth=server.token, base_url=server.base_url
    ) as client:
        product, product_id, _ = server.targets[0]
        page = await client.list_active_calls(product, product_id, max_rows=1)
        return page[0].uii


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the action-under-load scenario."""
    repeat = config.repetitions(full=3, quick=1)
    calls = 2_000 if config.quick else 5_000
    figures: dict[str, dict[str, list[float]]] = {
        name: {"median": [], "p95": [], "max": [], "pace": [], "429s": []} for name in CONTENDERS
    }
    with SimulatorProcess(
        calls=calls, latency=LATENCY, rate_limit=LIMIT, rate_window=WINDOW
    ) as process:
        server = process.server
        uii = asyncio.run(_a_live_call(server))
        for _ in range(repeat):
            for name, (group, priority) in CONTENDERS.items():
                process.reset()  # an empty window at the server for each contender
                waits = asyncio.run(_one_run(server, uii, group, priority))
                stats = process.stats()
                figure = figures[name]
                figure["median"].append(statistics.median(waits))
                figure["p95"].append(_p95(waits))
                figure["max"].append(max(waits))
                figure["pace"].append(_pace(stats["starts"]))
                figure["429s"].append(stats["statuses"].get("429", 0))
    result = ScenarioResult(
        NAME,
        TITLE,
        {
            "limit": f"{LIMIT} per {WINDOW:g} s (slot {SLOT:g} s)",
            "actions": ACTIONS,
            "spacing_s": SPACING,
            "page_rows": PAGE_ROWS,
            "latency_s": LATENCY,
            "repetitions": repeat,
        },
    )
    for name, figure in figures.items():
        result.rows += [
            Row(name, "action wait, median", "slots", Stat.of(figure["median"])),
            Row(name, "action wait, p95", "slots", Stat.of(figure["p95"])),
            Row(name, "action wait, max", "slots", Stat.of(figure["max"])),
            Row(name, "pace of all requests, share of the limit", "%", Stat.of(figure["pace"])),
            Row(name, "429 answers", "429s", Stat.of(figure["429s"])),
        ]
    ours = figures[PRIORITY]
    result.checks += [
        Check("action wait median ≤ 1.5 slots", Stat.of(ours["median"]).median, "<=", 1.5),
        Check("action wait p95 ≤ 3 slots", Stat.of(ours["p95"]).median, "<=", 3),
        Check("429 answers = 0", max(n for f in figures.values() for n in f["429s"]), "<=", 0),
    ]
    result.notes.append(
        "Wait: from an action's acquire() at the shared limiter to its turn, in slots of "
        f"{SLOT:g} s. The priorities are fixed by a wrapper around the limiter, so the "
        "scenario measures the limiter's own order, headroom and pacing. Pace: the "
        f"(k x {LIMIT} + 1)-th request the server saw can start no sooner than k windows "
        "after the first; 100% is as fast as the limit allows."
    )
    return result
