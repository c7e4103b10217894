"""Listing speed and requests per snapshot, against the official SDK, from benchmark runs.

**Listing speed** runs the first regime of the ``listing`` benchmark
(benchmarks/listing.py, with its contenders and its simulator in a child process): seven
listings of 1,000 calls in pages of 100, 20 ms a request, no rate limit; the official
SDK's page loop, a hand-written aiohttp loop, this machine's floor (hand-written aiohttp
that knows every page beforehand, 16 at once), and the SDK's fan-out on a fresh client
and again on the same client, against the ideal bound (``⌈pages ÷ 16⌉`` round trips).
The median of five repetitions (one of smaller listings with ``--quick``).

**Requests per snapshot** counts, at the simulator, the requests one snapshot of a whole
account costs (the ``snapshot`` benchmark, benchmarks/snapshot.py): accounts of 100,
3,000 and 30,000 calls (no 30,000 with ``--quick``), on a server honouring any
``maxRows`` and on one capping pages at 500 rows; the SDK's first and next snapshot with
one client, one told ``server_max_rows``, and the official SDK's page loop asking the
SDK's default page size (1,000 rows), which takes a short page for the end.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from pathlib import Path

import _style
import attrs
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from activecalls_async.pagination import DEFAULT_PAGE_SIZE
from activecalls_async.testing import Faults, Simulator
from benchmarks import listing, snapshot
from benchmarks._contenders import OfficialSdk, official_available
from benchmarks._server import ServerInfo, SimulatorProcess

SPEED = "listing-speed"
SPEED_TITLE = "Listing a contact centre against the official SDK"
SNAPSHOT = "snapshot-requests"
SNAPSHOT_TITLE = "Requests per snapshot of an account, against the official SDK"

#: Said in a title when the official SDK could not be measured (a quick run without it).
MISSING = " (not installed here: not drawn)"

OFFICIAL = "official SDK,\nsequential get() loop"
RAW = "aiohttp,\nhand-written loop"
FLOOR = "aiohttp, every page\nknown, 16 at once"
FIRST = "SDK fan-out,\nfresh client"
SECOND = "SDK fan-out,\nsame client again"
IDEAL = "ideal bound"


@attrs.frozen
class Speed:
    """Medians of one listing-speed run: seconds and requests per contender."""

    seconds: dict[str, float]
    requests: dict[str, float]
    pages: int
    proof: int  # the fewest requests that also prove each listing's end
    calls: int
    listings: int
    repetitions: int


def measure_speed(*, quick: bool) -> Speed:
    """Run the listing benchmark's contenders (the official SDK only when installed)."""
    sizes = dict.fromkeys(listing.LISTINGS, 200) if quick else listing.LISTINGS
    repeat = 1 if quick else 5
    listings = listing._listings(sizes)
    expected = sum(sizes.values())
    contenders = [OFFICIAL] if official_available() is None else []
    contenders += [RAW, FLOOR, FIRST, SECOND]
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    requests: dict[str, list[float]] = {name: [] for name in contenders}
    with SimulatorProcess(calls=0, latency=listing.LATENCY, listings=sizes) as process:
        server = process.server

        def note(name: str, took: float, seen: set[str]) -> None:
            if len(seen) != expected:
                raise AssertionError(f"{name!r} listed {len(seen)} of {expected} calls")
            seconds[name].append(took)
            requests[name].append(process.stats()["requests"])

        def floor(name: str, took: float, seen: int) -> None:
            # The floor walks twice; the fresh connections' walk is the one drawn.
            if name == listing.FLOOR:
                if seen != expected:
                    raise AssertionError(f"{FLOOR!r} listed {seen} of {expected} calls")
                seconds[FLOOR].append(took)
                requests[FLOOR].append(process.stats()["requests"])
            process.reset()

        async def sdk_twice() -> None:
            async with listing._client(server, rate_limit=None) as client:
                for name in (FIRST, SECOND):
                    process.reset()
                    started = time.perf_counter()
                    seen = await listing._fan_out(client, listings)
                    note(name, time.perf_counter() - started, seen)

        for _ in range(repeat):
            if OFFICIAL in contenders:
                process.reset()
                note(OFFICIAL, *listing._timed(lambda: listing._official(server, listings)))
            process.reset()
            note(RAW, *listing._timed(lambda: listing._raw(server, listings)))
            process.reset()
            listing._floor(server, listings, floor)
            asyncio.run(sdk_twice())
    return Speed(
        seconds={name: statistics.median(v) for name, v in seconds.items()},
        requests={name: statistics.median(v) for name, v in requests.items()},
        pages=sum(math.ceil(n / listing.PAGE_SIZE) for _, _, n in listings),
        proof=sum(snapshot.minimum(n, None, listing.PAGE_SIZE) for _, _, n in listings),
        calls=expected,
        listings=len(listings),
        repetitions=repeat,
    )


def draw_speed(speed: Speed, path: Path) -> Path:
    """Two bar charts: the time each contender took, and the requests it sent."""
    fig = _style.figure(11, 4.6)
    time_ax, requests_ax = fig.subplots(1, 2, width_ratios=[1.7, 1])
    names = list(speed.seconds)
    colours = [_style.OTHER if name in (OFFICIAL, RAW, FLOOR) else _style.SDK for name in names]
    ideal = math.ceil(speed.pages / listing.CONCURRENCY) * listing.LATENCY
    baseline = speed.seconds.get(OFFICIAL)
    rows = list(range(len(names)))[::-1]
    time_ax.barh(rows, [speed.seconds[n] for n in names], color=colours, height=0.62)
    time_ax.axvline(ideal, color=_style.LIMIT, ls="--", lw=1.2)
    time_ax.text(ideal, len(names) - 0.45, f" {IDEAL}: {ideal:.2f} s", fontsize=9, va="bottom")
    longest = max(speed.seconds.values())
    for row, name in zip(rows, names, strict=True):
        value = speed.seconds[name]
        label = f" {value:.2f} s"
        if baseline is not None and name != OFFICIAL:
            label += f", {baseline / value:.1f}x faster"
        time_ax.text(value + longest * 0.01, row, label, va="center", fontsize=9)
    time_ax.set_yticks(rows, names)
    time_ax.set_xlim(0, longest * 1.35)
    time_ax.set_ylim(-0.6, len(names) - 0.05)
    time_ax.grid(False, axis="y")
    time_ax.set_xlabel(f"seconds to list every call, no rate limit (median of {speed.repetitions})")
    time_ax.set_title(
        f"Time: {speed.listings} listings of {speed.calls // speed.listings:,} calls, pages of "
        f"{listing.PAGE_SIZE}, {listing.LATENCY * 1000:.0f} ms a request"
    )

    requests_ax.barh(rows, [speed.requests[n] for n in names], color=colours, height=0.62)
    requests_ax.axvline(speed.proof, color=_style.LIMIT, ls="--", lw=1.2)
    most = max(speed.requests.values())
    for row, name in zip(rows, names, strict=True):
        requests_ax.text(
            speed.requests[name] + most * 0.01,
            row,
            f" {speed.requests[name]:.0f}",
            va="center",
            fontsize=9,
        )
    requests_ax.text(
        speed.proof, len(names) - 0.45, f" fewest: {speed.proof}", fontsize=9, va="bottom"
    )
    requests_ax.set_yticks(rows, [""] * len(names))
    requests_ax.set_xlim(0, most * 1.3)
    requests_ax.set_ylim(-0.6, len(names) - 0.05)
    requests_ax.grid(False, axis="y")
    requests_ax.set_xlabel("requests sent (the server's count)")
    requests_ax.set_title("Requests")
    fig.suptitle(SPEED_TITLE + ("" if baseline is not None else MISSING))
    return _style.save(fig, path, title=SPEED_TITLE)


@attrs.frozen
class Snapshots:
    """Requests per snapshot, by server and account size, for each contender."""

    sizes: tuple[int, ...]
    #: ``requests[server][contender][size]``
    requests: dict[str, dict[str, dict[int, int]]]
    #: Calls the official loop listed, by server and size (it may stop early).
    official_listed: dict[str, dict[int, int]]


SERVERS = {"server honours any maxRows": None, f"server caps pages at {snapshot.CAP}": snapshot.CAP}
OFFICIAL_LOOP = f"official SDK, get() loop\n(maxRows={DEFAULT_PAGE_SIZE})"
SDK_FIRST = f"SDK, first snapshot\n(page_size={DEFAULT_PAGE_SIZE}, the default)"
SDK_NEXT = "SDK, next snapshot\n(same client)"
SDK_TOLD = f"SDK told\nserver_max_rows={snapshot.TOLD:,}"
LEAST = "fewest possible at 1,000 rows a page\n(at 500 where the server caps)"


async def _official_snapshot(calls: int, cap: int | None) -> tuple[int, int]:
    """The official SDK's page loop over a whole account: requests, and calls listed."""
    async with Simulator(calls=calls, seed=3, rate_limit=None) as sim:
        sim.faults = Faults(max_rows_cap=cap)
        server = ServerInfo(
            base_url=sim.base_url,
            root_url=sim.root_url,
            account_id=sim.account_id,
            token=sim.token,
            targets=(),
        )
        account = ("ACCOUNT", int(sim.account_id), calls)
        seen: set[str] = set()
        # The official SDK blocks: it runs in a thread while the loop serves it.
        await asyncio.to_thread(OfficialSdk(server).walk, account, seen, max_rows=DEFAULT_PAGE_SIZE)
        return len(sim.requests), len(seen)


def measure_snapshots(*, quick: bool) -> Snapshots:
    """Count every contender's requests per snapshot at the simulator."""
    sizes = (100, 3_000) if quick else (100, 3_000, 30_000)
    has_official = official_available() is None
    requests: dict[str, dict[str, dict[int, int]]] = {}
    listed: dict[str, dict[int, int]] = {}
    for server, cap in SERVERS.items():
        counts: dict[str, dict[int, int]] = {}
        for calls in sizes:
            if has_official:
                sent, seen = asyncio.run(_official_snapshot(calls, cap))
                counts.setdefault(OFFICIAL_LOOP, {})[calls] = sent
                listed.setdefault(server, {})[calls] = seen
            first, then = asyncio.run(snapshot._snapshots(calls, cap, {}))
            counts.setdefault(SDK_FIRST, {})[calls] = first
            counts.setdefault(SDK_NEXT, {})[calls] = then
            if cap is None:  # told a size the capping server does not honour: unfair
                told = asyncio.run(
                    snapshot._snapshots(calls, cap, {"server_max_rows": snapshot.TOLD})
                )
                counts.setdefault(SDK_TOLD, {})[calls] = max(told)
            counts.setdefault(LEAST, {})[calls] = snapshot.minimum(calls, cap, DEFAULT_PAGE_SIZE)
        requests[server] = counts
    return Snapshots(sizes=sizes, requests=requests, official_listed=listed)


def _snapshot_panel(ax: Axes, snapshots: Snapshots, server: str) -> None:
    counts = snapshots.requests[server]
    contenders = [name for name in counts if name != LEAST]
    colours = {
        OFFICIAL_LOOP: _style.OTHER,
        SDK_FIRST: _style.SDK,
        SDK_NEXT: _style.SDK_LIGHT,
        SDK_TOLD: _style.GOOD,
    }
    width = 0.8 / len(contenders)
    for group, calls in enumerate(snapshots.sizes):
        least = counts[LEAST][calls]
        for i, name in enumerate(contenders):
            x = group + (i - (len(contenders) - 1) / 2) * width
            value = counts[name][calls]
            label = name.replace("\n", " ") if group == 0 else None
            ax.bar(x, min(value, least), width * 0.92, color=colours[name], label=label)
            if value > least:  # what it spent beyond the fewest, hatched
                ax.bar(
                    x,
                    value - least,
                    width * 0.92,
                    bottom=least,
                    facecolor="white",
                    edgecolor=colours[name],
                    hatch="////",
                    lw=1.0,
                )
            ax.text(x, value * 1.08, f"{value}", ha="center", va="bottom", fontsize=9)
            listed = snapshots.official_listed.get(server, {}).get(calls)
            if name == OFFICIAL_LOOP and listed is not None and listed < calls:
                ax.text(
                    x,
                    value * 1.9,
                    f"only {listed:,}\nlisted",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color=_style.WARNING,
                    fontweight="bold",
                )
        ax.hlines(
            least,
            group - 0.45,
            group + 0.45,
            color=_style.LIMIT,
            ls="--",
            lw=1.2,
            label=LEAST.replace("\n", " ") if group == 0 else "_nolegend_",
        )
    ax.set_yscale("log")
    most = max(v for name in contenders for v in counts[name].values())
    ax.set_ylim(0.7, most * 6)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500) if t < most * 6]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xticks(range(len(snapshots.sizes)), [f"{c:,} calls" for c in snapshots.sizes])
    ax.grid(False, axis="x")
    ax.set_title(server[0].upper() + server[1:])


def make_speed(out: Path, *, quick: bool) -> list[Path]:
    """Run the listing contenders and draw the speed figure into ``out``."""
    if not quick and official_available() is not None:
        raise SystemExit(f"{SPEED} measures the official SDK: {official_available()}")
    return [draw_speed(measure_speed(quick=quick), out / f"{SPEED}.svg")]


def draw_snapshots(snapshots: Snapshots, path: Path) -> Path:
    """One panel per server: requests per snapshot by account size and contender."""
    fig = _style.figure(11, 5.4)
    axes = fig.subplots(1, len(SERVERS), sharey=True)
    for ax, server in zip(axes, SERVERS, strict=True):
        _snapshot_panel(ax, snapshots, server)
    axes[0].set_ylabel("requests per snapshot (log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Patch(facecolor="white", edgecolor=_style.OTHER, hatch="////"))
    labels.append("beyond the fewest")
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    measured = any(OFFICIAL_LOOP in counts for counts in snapshots.requests.values())
    fig.suptitle(SNAPSHOT_TITLE + ("" if measured else MISSING))
    return _style.save(fig, path, title=SNAPSHOT_TITLE)


def make_snapshots(out: Path, *, quick: bool) -> list[Path]:
    """Count the requests of every snapshot and draw the figure into ``out``."""
    if not quick and official_available() is not None:
        raise SystemExit(f"{SNAPSHOT} measures the official SDK: {official_available()}")
    return [draw_snapshots(measure_snapshots(quick=quick), out / f"{SNAPSHOT}.svg")]
