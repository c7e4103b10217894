"""The house style of the docs' figures, and how they are written: reproducible SVG.

Every figure uses these colours (Okabe and Ito's, told apart with any colour vision),
white paper, light grid lines, and text drawn as paths, so that it looks the same in
every browser; matplotlib keeps each text as an XML comment beside its paths, where
the tests read it. The files carry no date and a fixed hash salt: the same figure drawn
twice gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed, and no GUI toolkit imported

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: The colour of each priority, as every figure shows it.
PRIORITY_COLOURS = {
    "ACTION": "#D55E00",  # vermillion
    "READ": "#E69F00",  # orange
    "WATCH": "#009E73",  # bluish green
    "BULK": "#0072B2",  # blue
}
#: The SDK, the contenders it is set against, and the bounds.
SDK = "#0072B2"
SDK_LIGHT = "#56B4E9"
OTHER = "#7F7F7F"
OTHER_LIGHT = "#BDBDBD"
WARNING = "#D55E00"
GOOD = "#009E73"
LIMIT = "#222222"
#: Several members of a fleet, one colour each (repeating after eight).
MEMBERS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

STYLE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "activecalls-async",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
}
plt.style.use(STYLE)


def figure(width: float, height: float, **options: Any) -> Figure:
    """A new figure of ``width`` x ``height`` inches in the house style."""
    return plt.figure(figsize=(width, height), layout="constrained", **options)


def save(fig: Figure, path: Path, *, title: str) -> Path:
    """Write ``fig`` to ``path`` as SVG with ``title`` in its metadata, and close it."""
    fig.savefig(path, format="svg", metadata={"Title": title, "Date": None})
    plt.close(fig)
    return path
