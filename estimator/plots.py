"""Publication-ready figures: accuracy vs energy with the Pareto front and baselines, per-layer energy
breakdown, and sweep heatmaps. Each function takes a table, writes PNG or SVG (by the file's suffix) and
returns the matplotlib Figure (made without pyplot: no display or global state needed; a notebook shows a
returned Figure inline)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

from .pareto import pareto_front

PALETTE = {"dense": "#000000", "periodic": "#0072B2", "pseudo-random": "#56B4E9", "dyadic": "#D55E00",
           "baseline": "#009E73"}
"""Okabe-Ito colours, distinguishable in colour-blind vision and in greyscale by marker."""
MARKERS = {"dense": "s", "periodic": "o", "pseudo-random": "v", "dyadic": "D", "baseline": "*"}
COMPONENT_COLOURS = {"dram": "#E69F00", "sram": "#56B4E9", "rf": "#009E73", "mult": "#D55E00",
                     "add": "#0072B2", "shift": "#CC79A7", "compare": "#F0E442", "other": "#999999"}

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
         "grid.alpha": 0.3, "grid.linewidth": 0.5, "savefig.dpi": 200, "savefig.bbox": "tight",
         "font.family": "DejaVu Sans"}


def family(variant: str, model: str, baselines: Sequence[str]) -> str:
    """Which group a point belongs to in the plots."""
    if model in baselines:
        return "baseline"
    if variant.startswith("dyadic:"):
        return "dyadic"
    if variant.startswith("pSC"):
        return "pseudo-random"
    return "dense" if variant == "dense" else "periodic"


def save(fig: Figure, out: str | Path | None) -> Figure:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    return fig


def label_of(row: pd.Series, baselines: Sequence[str]) -> str:
    if row["model"] in baselines:
        return row["model"].replace("_digits", "").replace("_cifar", "")
    return row["variant"].replace("dyadic:", "")


def plot_pareto(df: pd.DataFrame, out: str | Path | None = None, *, x: str = "energy_uj", y: str = "test_top1",
                baselines: Sequence[str] = (), title: str | None = None, xlabel: str = "energy per inference (µJ)",
                ylabel: str = "test accuracy (%)", log_x: bool = True) -> Figure:
    """Accuracy against energy, one marker per point, coloured by family, with the Pareto front drawn and the
    baselines (models named in ``baselines``) marked as stars and labelled."""
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(4.8, 3.4))
        ax = fig.subplots()
        data = df.assign(family=[family(v, m, baselines) for v, m in zip(df["variant"], df["model"], strict=True)])
        front = pareto_front(data, minimize=[x], maximize=[y]).sort_values(x)
        ax.step(front[x], front[y], where="post", color="#444444", linewidth=1.0, linestyle="--", zorder=1,
                label="Pareto front")
        for name, group in data.groupby("family", sort=False):
            ax.scatter(group[x], group[y], s=70 if name == "baseline" else 28, marker=MARKERS[name],
                       color=PALETTE[name], edgecolor="white", linewidth=0.5, zorder=3, label=name)
        for (px, py), offset in zip(zip(data[x], data[y], strict=True), label_offsets(data, x, y, log_x),
                                    strict=True):
            ax.annotate(label_of(data.loc[data[x].eq(px) & data[y].eq(py)].iloc[0], baselines), (px, py),
                        textcoords="offset points", xytext=offset, fontsize=6.5, color="#333333")
        if log_x:
            ax.set_xscale("log")
            decades = np.log10(data[x].max() / data[x].min()) if data[x].min() > 0 else 3.0
            subs = (1.0, 2.0, 3.0, 4.0, 6.0) if decades < 1.3 else (1.0, 2.0, 5.0) if decades < 3 else (1.0,)
            ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=30))
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        span = data[y].max() - data[y].min()
        ax.set_ylim(data[y].min() - 0.08 * span - 0.1, data[y].max() + 0.12 * span + 0.1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        return save(fig, out)


def label_offsets(data: pd.DataFrame, x: str, y: str, log_x: bool) -> list[tuple[int, int]]:
    """Label offsets (points) that alternate above and below for markers close to an earlier one."""
    xs = np.log10(data[x].to_numpy(dtype=float)) if log_x else data[x].to_numpy(dtype=float)
    ys = data[y].to_numpy(dtype=float)
    x_span = max(np.ptp(xs), 1e-12)
    y_span = max(np.ptp(ys), 1e-12)
    offsets, placed = [], []
    for px, py in zip(xs, ys, strict=True):
        crowded = sum(abs(px - qx) < 0.06 * x_span and abs(py - qy) < 0.05 * y_span for qx, qy in placed)
        offsets.append((4, 3 - 9 * crowded))
        placed.append((px, py))
    return offsets


def column_of(component: str) -> str:
    """The priced table's column of a breakdown component (memory tiers are ``tier_<tier>_pj``)."""
    return f"tier_{component}_pj" if component in ("dram", "sram", "rf") else f"{component}_pj"


def plot_breakdown(layers: pd.DataFrame, out: str | Path | None = None, *, title: str | None = None,
                   unit: str = "nJ", top: int | None = 30) -> Figure:
    """Per-layer energy as bars stacked by component, from a priced layer table of one configuration
    (``EnergyTable.layers`` filtered to one ``config``). Layers without energy are left out; ``top`` keeps the
    most expensive layers in network order."""
    scale = {"pJ": 1.0, "nJ": 1e3, "uJ": 1e6}[unit]
    components = [c for c in COMPONENT_COLOURS if column_of(c) in layers.columns]
    data = layers[layers["energy_pj"] > 0]
    if top and len(data) > top:
        data = data.loc[data["energy_pj"].nlargest(top).index.sort_values()]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(max(4.8, 0.28 * len(data) + 1.5), 3.4))
        ax = fig.subplots()
        bottom = np.zeros(len(data))
        positions = np.arange(len(data))
        for component in components:
            values = data[column_of(component)].to_numpy() / scale
            if values.sum() > 0:
                ax.bar(positions, values, 0.75, bottom=bottom, color=COMPONENT_COLOURS[component], label=component,
                       edgecolor="white", linewidth=0.3)
                bottom += values
        ax.set_xticks(positions, data["name"].astype(str), rotation=70, ha="right", fontsize=6.5)
        ax.set_ylabel(f"energy per inference ({unit.replace('uJ', 'µJ')})")
        ax.grid(axis="x", visible=False)
        if title:
            ax.set_title(title, pad=22)
        ax.legend(ncols=len(components), frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  fontsize=7, handlelength=1.0, columnspacing=0.8)
        return save(fig, out)


def readable(value: float) -> str:
    """A cell label: thousands separators for large values, three significant digits for small ones."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plot_heatmap(df: pd.DataFrame, out: str | Path | None = None, *, x: str, y: str, value: str = "energy_uj",
                 title: str | None = None, cmap: str = "viridis") -> Figure:
    """A sweep heatmap: the mean of ``value`` for every (``x``, ``y``) pair, annotated."""
    grid = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index(ascending=False)
    with mpl.rc_context(STYLE | {"axes.grid": False}):
        fig = Figure(figsize=(0.75 * grid.shape[1] + 2.0, 0.5 * grid.shape[0] + 1.4))
        ax = fig.subplots()
        image = ax.imshow(grid.to_numpy(), cmap=cmap, aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [f"{c:.3g}" if isinstance(c, float) else str(c) for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(y.replace("_", " "))
        middle = np.nanmean(grid.to_numpy())
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            ax.text(j, i, readable(v), ha="center", va="center", fontsize=7, color="white" if v < middle else "black")
        fig.colorbar(image, ax=ax, label=value.replace("_", " "))
        if title:
            ax.set_title(title)
        return save(fig, out)
