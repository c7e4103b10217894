"""Describe the machine, print the results as a Markdown table, and write them as JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from ._results import Row, ScenarioResult, Stat

_PACKAGES = ("activecalls-async", "aiohttp", "attrs", "cattrs", "ringcentral-engage-voice")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPUs, Python, platform, library versions."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "packages": {name: _version(name) for name in _PACKAGES},
    }


def _figure(value: float, unit: str) -> str:
    """A number with about three significant figures, and its unit."""
    if unit in ("calls/s", "B", "calls", "requests", "429s") or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def _size(value: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def _value(stat: Stat | None, unit: str) -> tuple[str, str]:
    if stat is None:
        return "—", ""
    show = _size if unit == "B" else (lambda v: _figure(v, unit))
    if stat.min == stat.max:
        return show(stat.median), ""
    return show(stat.median), f"{show(stat.min)} – {show(stat.max)}"


def _ratio(row: Row, baselines: set[tuple[str, str]]) -> str:
    if row.ratio is None:
        return "baseline" if (row.contender, row.metric) in baselines else ""
    stat = row.ratio
    if row.sense == "speedup":
        # The stored ratio is value ÷ baseline; a speedup reads better the other way up.
        median, low, high = 1 / stat.median, 1 / stat.max, 1 / stat.min
        text = f"**{median:.2f}x faster** ({low:.2f}–{high:.2f})"
    else:
        text = f"**{stat.median:.2f}x** ({stat.min:.2f}–{stat.max:.2f})"
    return f"{text} vs {row.baseline}"


def render(results: Sequence[ScenarioResult], info: dict[str, Any], out: TextIO) -> None:
    """Print every scenario's table, its target checks and notes, as Markdown."""
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
    print(
        f"Machine: {info['cpu_count']} CPUs ({info['cpu_model']}), "
        f"{info['implementation']} {info['python']}, {info['platform']}\n"
        f"Packages: {packages}\n",
        file=out,
    )
    for result in results:
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        print(f"### {result.title}\n\n_{params}; {result.seconds:.0f} s_\n", file=out)
        print("| contender | metric | median | min – max | ratio |", file=out)
        print("|---|---|--:|--:|---|", file=out)
        # A row is shown as a baseline when another row of the same metric refers to it.
        baselines = {(row.baseline, row.metric) for row in result.rows if row.baseline}
        for row in result.rows:
            median, spread = _value(row.value, row.unit)
            contender = f"{row.contender} ({row.note})" if row.note else row.contender
            ratio = _ratio(row, baselines)
            print(f"| {contender} | {row.metric} | {median} | {spread} | {ratio} |", file=out)
        if result.checks:
            print("", file=out)
            for check in result.checks:
                mark = "met" if check.met else "MISSED"
                print(
                    f"- target {check.name}: {check.value:.2f} {check.op} {check.limit:g} "
                    f"→ **{mark}**",
                    file=out,
                )
        for note in result.notes:
            print(f"- {note}", file=out)
        print("", file=out)


def render_targets(results: Sequence[ScenarioResult], out: TextIO) -> None:
    """Print every scenario's targets in one table: the run's verdict at a glance."""
    print("### Targets\n", file=out)
    print("| scenario | target | measured (median) | verdict |", file=out)
    print("|---|---|--:|---|", file=out)
    for result in results:
        for check in result.checks:
            verdict = "met" if check.met else "**MISSED**"
            print(
                f"| {result.name} | {check.name} | {check.value:.2f} | {verdict} |",
                file=out,
            )
    print("", file=out)


def write_json(
    results: Sequence[ScenarioResult], info: dict[str, Any], argv: Sequence[str], path: Path | None
) -> Path:
    """Write everything to ``path`` (default ``benchmarks/results/<timestamp>.json``)."""
    now = dt.datetime.now(dt.timezone.utc)
    if path is None:
        folder = Path(__file__).resolve().parent / "results"
        path = folder / f"bench-{now:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated": now.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, "-m", "benchmarks", *argv],
        "machine": info,
        "scenarios": [result.as_dict() for result in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
