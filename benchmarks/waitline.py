"""Wait line: what a crowd of waiting requests costs the event loop.

The client's concurrency slots and its rate limiter share one wait line. One slot
(``PrioritySlots(1)``) is held, and 100, 1,000 and 10,000 tasks of mixed priorities then
``acquire()`` it (they join the line); a third of them are cancelled (they leave it);
the slot is given back, and each waiter served gives it back in turn (the rest are
served one by one). Each phase is timed per waiter; while the waiters are served, a
ticker task measures the longest the event loop went without a turn. The 100-waiter
line is the baseline. A line whose cost grows with its length shows as a per-waiter ratio above 1.
"""

from __future__ import annotations

import asyncio
import time

from activecalls_async import Priority
from activecalls_async.limits.slots import PrioritySlots

from ._results import Check, Config, Row, ScenarioResult, Stat

NAME = "waitline"
TITLE = "Wait line: joining, leaving and being served among thousands of waiters"

SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000, 4_000)
PHASES = ("join", "leave", "serve")


class _Stalls:
    """The longest the event loop went without running a ticker that asks every turn."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> _Stalls:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _crowd(size: int) -> tuple[dict[str, float], float]:
    """Seconds per waiter for each phase, and the longest stall of the loop."""
    slots = PrioritySlots(1)
    await slots.acquire(Priority.ACTION)  # held: every other request waits
    served, staying = 0, size - len(range(0, size, 3))
    all_served = asyncio.Event()

    async def ask(priority: Priority) -> None:
        nonlocal served
        await slots.acquire(priority)
        served += 1
        slots.release()
        if served == staying:
            all_served.set()

    per_waiter: dict[str, float] = {}
    priorities = list(Priority)
    started = time.perf_counter()
    tasks = [asyncio.create_task(ask(priorities[n % 4])) for n in range(size)]
    await asyncio.sleep(0)  # one turn of the loop: every task runs up to its wait
    if slots.waiting != size:
        raise AssertionError(f"{slots.waiting} of {size} waiting after one turn")
    per_waiter["join"] = (time.perf_counter() - started) / size

    leaving = tasks[::3]
    started = time.perf_counter()
    for task in leaving:
        task.cancel()
    await asyncio.gather(*leaving, return_exceptions=True)
    per_waiter["leave"] = (time.perf_counter() - started) / len(leaving)

    # While waiters are served one by one, each turn of the loop hands the slot on once:
    # the longest turn is what one hand-over costs the loop, among this many waiters.
    with _Stalls() as stalls:
        started = time.perf_counter()
        slots.release()
        await all_served.wait()  # (a gather would itself take a turn as long as the line)
        per_waiter["serve"] = (time.perf_counter() - started) / staying
    await asyncio.gather(*tasks, return_exceptions=True)
    if served != staying or slots.held or slots.waiting:
        raise AssertionError(f"{served} of {staying} served, {slots.held} slot(s) still held")
    return per_waiter, stalls.longest


def run(config: Config) -> ScenarioResult:
    """Time each phase per waiter at each line length against the shortest line."""
    sizes = QUICK_SIZES if config.quick else SIZES
    repeat = config.repetitions(full=5, quick=2)
    seconds = {(size, phase): list[float]() for size in sizes for phase in PHASES}
    stalls = {size: list[float]() for size in sizes}
    for _ in range(repeat):
        for size in sizes:
            per_waiter, longest = asyncio.run(_crowd(size))
            for phase in PHASES:
                seconds[size, phase].append(per_waiter[phase])
            stalls[size].append(longest)
    result = ScenarioResult(NAME, TITLE, {"sizes": list(sizes), "repetitions": repeat})
    base = sizes[0]
    for phase in PHASES:
        baseline = f"{base:,} waiters, {phase}"
        for size in sizes:
            name = f"{size:,} waiters, {phase}"
            values = seconds[size, phase]
            ratio = None
            if size != base:
                ratio = Stat.of([v / b for v, b in zip(values, seconds[base, phase], strict=True)])
            result.rows.append(
                Row(
                    name,
                    "time per waiter",
                    "s",
                    Stat.of(values),
                    ratio,
                    None if ratio is None else baseline,
                )
            )
            if ratio is not None and size == sizes[-1]:
                result.checks.append(
                    Check(
                        f"{phase}: time per waiter at {size:,} ≤ 2x at {base:,}",
                        ratio.median,
                        "<=",
                        2,
                    )
                )
    for size in sizes:
        result.rows.append(
            Row(
                f"{size:,} waiters",
                "longest turn of the loop while served",
                "s",
                Stat.of(stalls[size]),
            )
        )
    result.checks.append(
        Check(
            f"longest turn of the loop at {sizes[-1]:,} waiters, in ms",
            Stat.of(stalls[sizes[-1]]).median * 1000,
            "<=",
            5,
        )
    )
    result.notes.append(
        "Each priority waits in its own first-in first-out line and only the first of each "
        "can be next, so joining, leaving and finding the next turn look at four waiters "
        "however long the line is. Joining and leaving are timed over every waiter at once "
        "(asyncio runs all the new or cancelled tasks in one turn of the loop, a cost of "
        "asyncio's, not the line's); serving hands the slot on once a turn, so its longest "
        "turn is what one hand-over costs."
    )
    return result
