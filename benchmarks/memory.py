"""Memory: peak traced memory while streaming a huge listing vs materialising it in a list.

The simulator serves an ACCOUNT listing of a million calls (a hundred thousand with
``--quick``); the SDK walks it with ``iter_active_calls`` in pages of 1,000. Streaming
only counts the calls; materialising keeps them all in a list. ``tracemalloc`` traces
the client process alone (the server is another process), from just before the walk.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc

from ._results import Config, Row, ScenarioResult, Stat, paired_ratio
from ._server import ServerInfo, SimulatorProcess

NAME = "memory"
TITLE = "Memory: streaming vs materialising a huge listing"

PAGE_SIZE = 1_000
PREFETCH = 2  # the server renders the next page while the client decodes this one

STREAM = "SDK iter_active_calls, streamed (counted)"
LIST = "SDK iter_active_calls, materialised in a list"


async def _walk(server: ServerInfo, keep: bool) -> tuple[int, float, float]:
    """List every call once; return (calls, peak traced bytes, seconds)."""
    from ._contenders import sdk_client

    async with sdk_client(server) as client:
        account = int(server.account_id)
        await client.list_active_calls("ACCOUNT", account, max_rows=1)  # connect first
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            started = time.perf_counter()
            count, kept = 0, []
            async with client.iter_active_calls(
                "ACCOUNT", account, page_size=PAGE_SIZE, prefetch=PREFETCH
            ) as calls:
                async for call in calls:
                    count += 1
                    if keep:
                        kept.append(call)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        del kept
    return count, peak, elapsed


def run(config: Config) -> ScenarioResult:
    """Measure and summarise the memory scenario."""
    calls = 100_000 if config.quick else 1_000_000
    # tracemalloc's peak for the same input barely moves between runs, and each run of a
    # million calls takes a minute under tracing: one run is the default.
    repeat = config.repetitions(full=1, quick=1)
    peaks: dict[str, list[float]] = {STREAM: [], LIST: []}
    seconds: dict[str, list[float]] = {STREAM: [], LIST: []}
    mismatches: list[str] = []
    with SimulatorProcess(calls=calls) as process:
        for _ in range(repeat):
            for name, keep in ((STREAM, False), (LIST, True)):
                count, peak, elapsed = asyncio.run(_walk(process.server, keep))
                peaks[name].append(peak)
                seconds[name].append(elapsed)
                if count != calls:
                    mismatches.append(f"{name} listed {count} calls, not {calls}")
    result = ScenarioResult(
        NAME,
        TITLE,
        {"calls": calls, "page_size": PAGE_SIZE, "prefetch": PREFETCH, "repetitions": repeat},
    )
    result.rows += [
        Row(LIST, "peak traced memory", "B", Stat.of(peaks[LIST])),
        Row(
            STREAM,
            "peak traced memory",
            "B",
            Stat.of(peaks[STREAM]),
            paired_ratio(peaks[STREAM], peaks[LIST]),
            LIST,
        ),
        Row(LIST, "peak per call", "B", Stat.of([p / calls for p in peaks[LIST]])),
        Row(STREAM, "peak per call", "B", Stat.of([p / calls for p in peaks[STREAM]])),
        Row(LIST, "wall time under tracemalloc", "s", Stat.of(seconds[LIST])),
        Row(STREAM, "wall time under tracemalloc", "s", Stat.of(seconds[STREAM])),
    ]
    result.notes.append(
        "A stream still holds one uii string per call it has yielded: that set is how a "
        "walk yields each uii once while calls come and go. Everything else it holds is "
        f"bounded: at most page_size x (prefetch + 1) = {PAGE_SIZE * (PREFETCH + 1):,} calls."
    )
    result.notes.extend(mismatches)
    return result
