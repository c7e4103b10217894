"""Action under load: how long an urgent action waits while a fan-out saturates the limit.

The simulator enforces 20 requests per 2 s (one *slot* is 0.1 s). One SDK client, with
``RateLimit(20, per=2.0)``, runs ``iter_active_calls_many`` over every listing again and
again, in pages of 20, enough to keep the limit saturated, and the same client sends
``toggle_call_recording`` 20 times, spread over the run, from other tasks: a bot as it
is written, with the priorities the client gives each method (the fan-out ``BULK``, the
actions ``ACTION``). An action's wait is its time to an answer under that load minus the
median time of the same action on the idle client, measured first in the same run: what
the load cost it, at the limiter and at the concurrency slots together. A second
contender sends the actions five at a time (at the same average rate), more than the
window's headroom holds. The baseline sends the actions with ``priority=Priority.BULK``:
one first-come, first-served line, as the client was before it had priorities.
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
#: Actions timed on the idle client first: their median is what an action costs unloaded.
IDLE_ACTIONS = 5

PRIORITY = "actions at ACTION, fan-out at BULK"
BURSTS = "actions at ACTION in bursts of 5, fan-out at BULK"
FIFO = "actions at BULK too (one first-come, first-served line)"
#: How many actions each contender sends at once, and at which priority.
CONTENDERS = {
    PRIORITY: (1, Priority.ACTION),
    BURSTS: (5, Priority.ACTION),
    FIFO: (1, Priority.BULK),
}


def _client(server: ServerInfo) -> ActiveCallsClient:
    return ActiveCallsClient(
        account_id=server.account_id,
        auth=server.token,
        base_url=server.base_url,
        rate_limit=RateLimit(LIMIT, per=WINDOW),
        page_size=PAGE_ROWS,
    )


async def _fan_out_forever(client: ActiveCallsClient, server: ServerInfo) -> None:
    targets = [(product, product_id) for product, product_id, _ in server.targets]
    while True:
        async with client.iter_active_calls_many(targets) as calls:
            async for _ in calls:
                pass


async def _timed_action(client: ActiveCallsClient, uii: str, n: int, priority: Priority) -> float:
    started = time.perf_counter()
    with contextlib.suppress(ActiveCallsError):
        await client.toggle_call_recording(uii, record=n % 2 == 1, priority=priority)
    return time.perf_counter() - started


async def _one_run(
    server: ServerInfo, uii: str, group: int, action_priority: Priority
) -> list[float]:
    """Each action's extra wait under load, in slots."""
    async with _client(server) as client:
        idle = statistics.median(
            [await _timed_action(client, uii, n, action_priority) for n in range(IDLE_ACTIONS)]
        )
        await asyncio.sleep(WINDOW + 0.1)  # the idle actions leave the window first
        waits: list[float] = []

        async def act(n: int) -> None:
            # ``group`` at a time, at the same average rate whatever the group.
            await asyncio.sleep(WARM_UP + (n // group) * group * SPACING)
            waits.append(await _timed_action(client, uii, n, action_priority))

        fan_out = asyncio.create_task(_fan_out_forever(client, server))
        try:
            # On a fixed schedule, each action its own task: a slow one delays no other.
            await asyncio.gather(*(act(n) for n in range(ACTIONS)))
        finally:
            fan_out.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fan_out
    return [max(0.0, wait - idle) / SLOT for wait in waits]


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
                figure["pace"].append(_pace(stats["starts"][IDLE_ACTIONS:]))
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
        "Wait: an action's time to its answer under load minus the median time of the same "
        f"action on the idle client, in slots of {SLOT:g} s: the limiter's and the "
        "concurrency slots' order, headroom and pacing together, through the client's own "
        "priorities. Pace: the "
        f"(k x {LIMIT} + 1)-th request the server saw can start no sooner than k windows "
        "after the first; 100% is as fast as the limit allows."
    )
    return result
