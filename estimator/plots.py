"""Publication-ready figures: accuracy vs energy with a Pareto front per group, per-layer energy split into memory
and arithmetic, and sweep heatmaps. Each function takes a table, writes PNG or SVG (by the file's suffix) when
given a path, and returns what it drew: the matplotlib Figure (made without pyplot: no display or global state; a
notebook shows it inline) with the data behind it, so that what a plot says can be checked."""

from __future__ import annotations

import io
import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from hwmodels.errors import UserError
from hwmodels.parameters import PARAMETERS

from .pareto import pareto_front
from .variants.variant import DENSE, Variant

GROUP_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Okabe-Ito colours, one per group: distinguishable in colour-blind vision (and fronts differ in dash, markers in
shape, for greyscale)."""
DASHES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
MARKERS = {"dense": "s", "periodic": "o", "pseudo-random": "v", "dyadic": "D", "baseline": "*"}
MARKER_SIZE = {"baseline": 90.0}
"""Marker areas (points^2) that differ from the default 34."""
MEMORY_COLOURS = {"dram": "#E69F00", "sram": "#56B4E9", "rf": "#009E73"}
ARITHMETIC_COLOURS = {"mac": "#D55E00", "mult": "#CC79A7", "add": "#0072B2", "shift": "#F0E442",
                      "compare": "#999999", "other": "#000000"}
GROUPINGS = {"model": ("model",), "hardware": ("hardware",), "model+hardware": ("model", "hardware"), "none": ()}
"""Ways to group points into fronts: by model (with its factory options: ``digits_cnn(width=8)`` and
``digits_cnn(width=32)`` are two families), by hardware configuration, by both, or one front for everything."""
AXIS_LABELS = {"energy_uj": "energy per inference (µJ, estimate)", "energy_pj": "energy per inference (pJ, estimate)",
               "test_top1": "test accuracy (%)", "test_top1_approximated": "test accuracy before fine-tuning (%)",
               "latency_s": "latency per inference (s, estimate)", "latency_cycles": "latency (cycles, estimate)",
               "edp_pj_s": "energy-delay product (pJ·s, estimate)", "macs": "MACs", "nz_macs": "MACs (zeros skipped)",
               "executed_mults": "multiplications executed", "params": "parameters",
               "memory_pj": "memory energy (pJ, estimate)", "utilization": "PE utilisation"}
"""Axis titles of the columns plotted most; any other column is titled by its name."""
HARDWARE_COLUMNS = tuple(p.name for p in PARAMETERS)
"""The pricing parameters (``hwmodels.PARAMETERS``) a results table carries: a configuration is their values."""

STYLE = {"font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 7.5, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
         "grid.alpha": 0.3, "grid.linewidth": 0.5, "savefig.dpi": 200, "savefig.bbox": "tight",
         "font.family": "DejaVu Sans"}


@dataclass
class Plot:
    """A drawn figure and the data behind it. Shows itself in a notebook.

    Attributes:
        figure: the matplotlib Figure.
        points: for a Pareto plot, every point with its ``group``, ``label``, ``front`` membership and where its
            marker and label were drawn (``marker_x``/``marker_y`` and ``label_box`` in display pixels); for a
            breakdown, every layer's memory and arithmetic energy.
        fronts: the Pareto front of each group (Pareto plots).
        splits: for a breakdown, the whole network's ``memory_pj`` and ``arithmetic_pj`` per image, one row per
            pricing drawn in the share panel.
    """

    figure: Figure
    points: pd.DataFrame
    fronts: dict[str, pd.DataFrame] = field(default_factory=dict)
    splits: pd.DataFrame = field(default_factory=pd.DataFrame)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


FIGURE_FORMATS = ("png", "svg", "pdf")
"""The file types a figure is written as, chosen by the output path's suffix."""


def figure_path(out: str | Path) -> Path:
    """``out`` as a figure's path, or a one-line error naming it where its suffix is not a figure format."""
    path = Path(out)
    if path.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
        raise UserError(f"{out}: expected a figure file ending in {', '.join('.' + f for f in FIGURE_FORMATS)}")
    return path


def save(fig: Figure, out: str | Path | None) -> None:
    """Write ``fig`` to ``out`` (its suffix names the format) where given."""
    if out:
        path = figure_path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)


def varying(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``table`` among ``columns`` that take more than one value."""
    return [c for c in columns if c in table and table[c].nunique(dropna=False) > 1]


def hardware_label(row: pd.Series, columns: Sequence[str]) -> str:
    """``hw=..., weight_bits=...``: the hardware parameters that vary, or the hardware name when none does."""
    parts = [f"{row[c]}" if c == "hw" else f"{c}={row[c]}" for c in columns]
    return ", ".join(parts) if parts else str(row.get("hw", "hardware"))


def axis_label(column: str) -> str:
    """The axis title of a plotted column (:data:`AXIS_LABELS`, else its name)."""
    return AXIS_LABELS.get(column, column.replace("_", " "))


def group_names(table: pd.DataFrame, group_by: str) -> pd.Series:
    """The group of every row under ``group_by`` (:data:`GROUPINGS`)."""
    if group_by not in GROUPINGS:
        raise UserError(f"group_by '{group_by}' is unknown; expected one of {', '.join(GROUPINGS)}")
    hardware = varying(table, HARDWARE_COLUMNS)
    parts = []
    for key in GROUPINGS[group_by]:
        if key == "model":
            parts.append(table["model"].astype(str))
        else:
            parts.append(table.apply(hardware_label, axis=1, columns=hardware))
    if not parts:
        return pd.Series("all points", index=table.index)
    return parts[0].str.cat(parts[1:], sep=" · ") if len(parts) > 1 else parts[0]


def point_label(row: pd.Series, widths: Sequence[str] = ()) -> str:
    """Model and variant (a baseline or a dense model names its model alone), and the bit widths among ``widths``
    (the width columns that vary in the table: ``w4``, ``a8``)."""
    name = row["model"] if row.get("role") == "baseline" or row["variant"] == DENSE else (
        f"{row['model']} {row['variant'].removeprefix('dyadic:')}")
    marks = {"weight_bits": "w", "act_bits": "a"}
    return " ".join([name] + [f"{marks[c]}{row[c]}" for c in widths])


def marker_kind(row: pd.Series) -> str:
    """The marker of a point: baselines are stars, others show their variant's kind."""
    if row.get("role") == "baseline":
        return "baseline"
    kind = row.get("variant_kind")
    return kind if isinstance(kind, str) and kind else Variant.parse(row["variant"]).kind


def default_title(table: pd.DataFrame, x: str = "energy_uj", y: str = "test_top1") -> str:
    """What is plotted and what the data are: the axes, the dataset, the hardware and the bit widths, from the
    table's own columns."""
    def values(column: str) -> str:
        if column not in table:
            return "?"
        unique = [str(v) for v in pd.unique(table[column].dropna())]
        return "/".join(unique) if unique else "?"

    data = values("data") if "data" in table and table["data"].notna().any() else "none (analytical)"
    what = f"{axis_label(y).split(' (')[0]} vs {axis_label(x).split(' (')[0]}"
    return (f"{what} · data: {data} · hardware: {values('hw')} · {values('weight_bits')}-bit weights, "
            f"{values('act_bits')}-bit activations")


LABEL_OFFSETS = tuple((dx * r, dy * r) for r in (1.0, 2.0, 3.2, 4.6, 6.4, 8.6, 11.0, 14.0) for dx, dy in
                      ((1, 0.2), (1, -1), (-1, 0.2), (-1, -1), (0, 1.4), (0, -1.9), (1, 1.4), (-1, 1.4)))
"""Candidate label offsets (multiples of the marker radius) around a marker, nearest first."""


def surrounding_text(ax: Axes) -> list[Bbox]:
    """What a point label must not cover, in display pixels, with the figure drawn as it stands: ``ax``'s drawn
    tick labels, axis labels and title, its legend, and every other panel of the figure whole."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    texts = [ax.xaxis.label, ax.yaxis.label] + [c for c in ax.get_children() if isinstance(c, Text)]  # titles
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        texts += [tick.label1 for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text().strip()]
    legend = ax.get_legend()
    boxes += [legend.get_window_extent(renderer)] if legend is not None else []
    return boxes + [other.get_tightbbox(renderer) for other in ax.figure.axes if other is not ax]


def place_labels(ax: Axes, texts: Sequence[str], markers_px: np.ndarray, radius_px: float,
                 fontsize: float, obstacles: Sequence[Bbox] = (), colours: Sequence[str] | None = None) -> list[Bbox]:
    """Draw each label at the first candidate offset (:data:`LABEL_OFFSETS`) where it overlaps no marker, no
    label placed before, none of ``obstacles`` (display pixels) and stays inside the axes; a label far from its
    marker gets a leader line. ``colours``: one per label (default dark grey). Returns the label boxes in display
    pixels."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    marker_boxes = [Bbox.from_extents(x - radius_px, y - radius_px, x + radius_px, y + radius_px)
                    for x, y in markers_px] + list(obstacles)
    placed: list[Bbox] = []
    to_data = ax.transData.inverted()
    for text, (mx, my), colour in zip(texts, markers_px, colours or ["#222222"] * len(texts), strict=True):
        best = None
        for dx, dy in LABEL_OFFSETS:
            anchor = (mx + dx * radius_px, my + dy * radius_px)
            artist = ax.text(*to_data.transform(anchor), text, fontsize=fontsize, color=colour, zorder=5,
                             ha="left" if dx >= 0 else "right", va="center")
            box = artist.get_window_extent(renderer).expanded(1.04, 1.1)
            overlaps = sum(box.overlaps(b) for b in placed + marker_boxes) + (
                not inside.contains(box.x0, box.y0)) + (not inside.contains(box.x1, box.y1))
            if best is None or overlaps < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlaps, artist, box, anchor)
            else:
                artist.remove()
            if overlaps == 0:
                break
        _, artist, box, anchor = best
        if np.hypot(anchor[0] - mx, anchor[1] - my) > 2.5 * radius_px:
            ax.annotate("", xy=to_data.transform((mx, my)), xytext=to_data.transform(anchor), zorder=4,
                        arrowprops={"arrowstyle": "-", "color": "#888888", "linewidth": 0.5, "shrinkA": 0,
                                    "shrinkB": radius_px * 0.8})
        placed.append(box)
    return placed


def draw_pareto(ax: Axes, table: pd.DataFrame, *, x: str = "energy_uj", y: str = "test_top1",
                group_by: str = "model+hardware", title: str | None = None, xlabel: str | None = None,
                ylabel: str | None = None, log_x: bool = True) -> Plot:
    """Draw ``y`` (maximised) against ``x`` (minimised) on ``ax``: a Pareto front per group (:data:`GROUPINGS`),
    one colour per group, marker shape per variant kind (stars: baselines). Every marker sits exactly at its
    values (the returned ``points`` carry the drawn positions, read back from the figure); labels (model,
    variant, and the bit widths where they vary) move to avoid overlaps, with a leader line when far from their
    marker. Axis titles and the default title follow ``x`` and ``y``."""
    if not len(table):
        raise UserError("nothing to plot: the results table has no rows with both "
                         f"{x} and {y}")
    data = table.reset_index(drop=True).copy()
    data["group"] = group_names(data, group_by)
    data["label"] = data.apply(point_label, axis=1, widths=varying(data, ("weight_bits", "act_bits")))
    if "seed" in varying(data, ("seed",)):
        data["label"] += " s" + data["seed"].astype(str)
    twins = data["label"].duplicated(keep=False)
    if twins.any():  # the same model and variant on two hardware configurations: say what differs
        differing = varying(data[twins], HARDWARE_COLUMNS)
        data.loc[twins, "label"] += " · " + data[twins].apply(hardware_label, axis=1, columns=differing)
    data["kind"] = data.apply(marker_kind, axis=1)
    data["front"] = False
    fronts = {}
    for group, members in data.groupby("group", sort=False):
        front = pareto_front(members, minimize=[x], maximize=[y]).sort_values(x)
        data.loc[front.index, "front"] = True
        fronts[str(group)] = front
    if log_x:
        ax.set_xscale("log")
    pad_limits(ax, data[x].to_numpy(float), data[y].to_numpy(float), log_x)
    FigureCanvasAgg(ax.figure)  # a canvas to measure text on
    if log_x:
        set_log_ticks(ax)
    radius_px = 5.0 * ax.figure.dpi / 72
    values = data[[x, y]].to_numpy(float)
    colours = dict(zip(fronts, itertools.cycle(GROUP_COLOURS), strict=False))
    for (group, front), dash in zip(fronts.items(), itertools.cycle(DASHES), strict=False):
        label = f"front: {group}" if len(fronts) > 1 else "Pareto front"
        if len(front) == 1:  # one point dominates the rest: a ring marks it (a step line through one point is empty)
            ax.scatter(front[x], front[y], s=150, facecolors="none", edgecolors=colours[group], linewidths=1.1,
                       zorder=2, label=f"{label} (one point)")
        else:
            ax.step(front[x], front[y], where="post", color=colours[group], linewidth=1.1, linestyle=dash, zorder=2,
                    label=label)
    drawn = np.full((len(data), 2), np.nan)
    for kind in MARKERS:
        chosen = (data["kind"] == kind).to_numpy()
        if chosen.any():
            artist = ax.scatter(values[chosen, 0], values[chosen, 1], s=MARKER_SIZE.get(kind, 34.0),
                                marker=MARKERS[kind], c=[colours[g] for g in data.loc[chosen, "group"]],
                                edgecolors="white", linewidths=0.6, alpha=0.9, zorder=3)
            drawn[chosen] = np.asarray(artist.get_offsets(), dtype=float)
            ax.scatter([], [], s=MARKER_SIZE.get(kind, 34.0), marker=MARKERS[kind], color="#777777", label=kind)
    data["marker_x"], data["marker_y"] = drawn[:, 0], drawn[:, 1]
    # a panel alone in its figure keeps its legend right of it; beside other panels the legend goes inside, where
    # it covers the fewest markers and front lines, so that it never reaches a neighbour
    if len(ax.figure.axes) == 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.legend(loc="best", frameon=True, framealpha=0.85, edgecolor="none")
    ax.set_xlabel(xlabel or axis_label(x))
    ax.set_ylabel(ylabel or axis_label(y))
    ax.set_title(title or default_title(data, x, y), loc="left")
    boxes = place_labels(ax, list(data["label"]), ax.transData.transform(drawn), radius_px, 6.3,
                         surrounding_text(ax))
    data["label_box"] = [tuple(b.extents) for b in boxes]
    return Plot(ax.figure, data, fronts)


LOG_SUBDIVISIONS = (tuple(range(1, 10)), (1, 2, 3, 4, 6), (1, 2, 5), (1, 3), (1,))
"""Tick positions within a decade of a log axis, finest first (:func:`set_log_ticks` takes the finest that fits)."""
TICK_GAP_PX = 4.0
"""The least room between two tick labels, pixels."""


def set_log_ticks(ax: Axes) -> None:
    """Readable ticks on a log x axis whose limits are set: the finest subdivision of a decade
    (:data:`LOG_SUBDIVISIONS`) whose labels, as the axis is drawn, leave :data:`TICK_GAP_PX` between neighbours;
    no minor labels."""
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    renderer = ax.figure.canvas.get_renderer()
    font = ax.xaxis.get_major_ticks()[0].label1.get_fontproperties()
    low, high = sorted(ax.get_xlim())
    y = ax.get_ylim()[0]
    for subs in LOG_SUBDIVISIONS:
        locator = ticker.LogLocator(base=10, subs=subs, numticks=100)
        values = [v for v in locator.tick_values(low, high) if low <= v <= high]
        centres = [ax.transData.transform((v, y))[0] for v in values]
        widths = [renderer.get_text_width_height_descent(f"{v:g}", font, ismath=False)[0] for v in values]
        if all(b - a >= (wa + wb) / 2 + TICK_GAP_PX for a, b, wa, wb in
               zip(centres, centres[1:], widths, widths[1:], strict=False)):
            break
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=100))


def pad_limits(ax: Axes, xs: np.ndarray, ys: np.ndarray, log_x: bool) -> None:
    """Axis limits with room for labels around the outermost points."""
    if log_x:
        lo, hi = np.log10(xs.min()), np.log10(xs.max())
        span = max(hi - lo, 0.2)
        ax.set_xlim(10 ** (lo - 0.12 * span), 10 ** (hi + 0.3 * span))
    else:
        span = max(np.ptp(xs), 1e-9)
        ax.set_xlim(xs.min() - 0.12 * span, xs.max() + 0.3 * span)
    span = max(np.ptp(ys), 0.5)
    ax.set_ylim(ys.min() - 0.12 * span, ys.max() + 0.22 * span)


def plot_pareto(table: pd.DataFrame, out: str | Path | None = None, **options) -> Plot:
    """:func:`draw_pareto` on a figure of its own, written to ``out`` (PNG or SVG) when given."""
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 4.2))
        plot = draw_pareto(fig.subplots(), table, **options)
        save(fig, out)
    return plot


SMALL_LAYER = 0.01
"""A layer below this fraction of the most expensive layer's energy is drawn in one bar of "other layers"."""
SMALL_SERIES = 0.005
"""A memory tier or arithmetic unit below this fraction of the network's energy is drawn in one "other" series."""


def layer_label(row) -> str:
    """A bar's label: the module path with its type, e.g. ``features.3 (Conv2d)``."""
    kind = getattr(row, "type", "")
    return f"{row.name} ({kind})" if isinstance(kind, str) and kind and kind != row.name else str(row.name)


def breakdown_bars(data: pd.DataFrame, columns: list[str], top: int | None) -> pd.DataFrame:
    """One row per drawn bar, in network order: each layer at or above :data:`SMALL_LAYER` of the largest (at
    most ``top`` of them), then one bar summing every other layer (labelled with how many)."""
    largest = data["energy_pj"].max()
    kept = data[data["energy_pj"] >= SMALL_LAYER * largest]
    if top and len(kept) > top:
        kept = kept.loc[kept["energy_pj"].nlargest(top).index.sort_values()]
    bars = kept[columns].set_axis([layer_label(r) for r in kept.itertuples()])
    rest = data.drop(kept.index)
    if len(rest):
        bars.loc[f"{len(rest)} smaller layers"] = rest[columns].sum()
    return bars


def breakdown_series(bars: pd.DataFrame, memory: list, arithmetic: list, total: float) -> list:
    """(label, values, colour, hatch) of each drawn series; tiers and units below :data:`SMALL_SERIES` of the
    network's energy are summed into one "other" series per family, and empty ones are left out."""
    series = []
    for family, members, colour, hatch in (("memory", memory, "#BBBBBB", ""),
                                           ("arithmetic", arithmetic, "#999999", "////")):
        small = [(c, n) for c, n, *_ in members if bars[c].sum() < SMALL_SERIES * total]
        series += [(f"{family}: {n}", bars[c].to_numpy(), col, h) for c, n, col, h in members
                   if (c, n) not in small and bars[c].sum() > 0]
        rest = sum((bars[c].to_numpy() for c, _ in small), np.zeros(len(bars)))
        if rest.sum() > 0:
            series.append((f"{family}: {', '.join(n for _, n in small)} (each < {SMALL_SERIES:.1%})", rest, colour,
                           hatch))
    return series


def plot_breakdown(layers: pd.DataFrame, out: str | Path | None = None, *, title: str | None = None,
                   unit: str = "nJ", top: int | None = 30, label: str = "as priced",
                   cases: dict[str, pd.DataFrame] | None = None, note: str | None = None) -> Plot:
    """Per-layer energy split into memory (by tier: solid) and arithmetic (by unit: hatched), with the whole
    network's memory and arithmetic shares beside it, from a priced layer table of one configuration
    (``EnergyTable.layers`` filtered to one ``config``), energies per image.

    Bars are labelled with the module path and type. Layers without energy are left out; layers below
    :data:`SMALL_LAYER` of the largest share one "other layers" bar, and ``top`` keeps the most expensive layers
    in network order; tiers and units below :data:`SMALL_SERIES` of the total share one "other" series (the
    shares count everything).

    Args:
        label: what ``layers`` prices (e.g. ``batch 1``), under its share bar.
        cases: other pricings of the same model, as layer tables per image (e.g. ``{"batch 32": ...}``), drawn as
            share bars beside this one, each with its total.
        note: one line under the figure saying what the pricing assumes.
    """
    scale = {"pJ": 1.0, "nJ": 1e3, "uJ": 1e6}[unit]
    data = layers[layers["energy_pj"] > 0]
    memory = [(f"tier_{t}_pj", t, c, "") for t, c in MEMORY_COLOURS.items() if f"tier_{t}_pj" in data]
    arithmetic = [(f"{a}_pj", a, c, "////") for a, c in ARITHMETIC_COLOURS.items() if f"{a}_pj" in data]
    totals = pd.DataFrame({"name": data["name"].astype(str),
                           "memory_pj": data[[c for c, *_ in memory]].sum(axis=1),
                           "arithmetic_pj": data[[c for c, *_ in arithmetic]].sum(axis=1)})
    bars = breakdown_bars(data, [c for c, *_ in memory + arithmetic] + ["energy_pj"], top)
    series = breakdown_series(bars, memory, arithmetic, data["energy_pj"].sum())
    shares = {name: network_split(case, memory, arithmetic) for name, case in ({label: data} | (cases or {})).items()}
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(max(6.4, 0.32 * len(bars) + 2.6 + 1.4 * len(shares)), 3.6))
        ax, share_ax = fig.subplots(1, 2, width_ratios=(max(len(bars), 4), 1.2 + 2.0 * len(shares)))
        positions = np.arange(len(bars))
        bottom = np.zeros(len(bars))
        for name, values, colour, hatch in series:
            ax.bar(positions, values / scale, 0.75, bottom=bottom, color=colour, hatch=hatch, edgecolor="white",
                   linewidth=0.3, label=name)
            bottom += values / scale
        ax.set_xticks(positions, list(bars.index), rotation=70, ha="right", fontsize=6.5)
        ax.set_ylabel(f"energy per inference ({unit.replace('uJ', 'µJ')} per image, estimate)")
        ax.grid(axis="x", visible=False)
        lines = textwrap.wrap(note, 120) if note else []
        if lines:  # above the legend, under the title
            ax.annotate("\n".join(lines), (0, 1), xycoords="axes fraction", xytext=(0, 30), textcoords="offset points",
                        va="bottom", fontsize=6.5, color="#444444")
        ax.set_title(title or "energy per layer", loc="left", pad=34 + 8.5 * len(lines))
        ax.legend(ncols=min(len(series), 4), frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  fontsize=6.5, handlelength=1.2, columnspacing=0.8)
        draw_shares(share_ax, shares, scale, unit)
        save(fig, out)
    splits = pd.DataFrame(list(shares.values()), index=list(shares), columns=["memory_pj", "arithmetic_pj"])
    return Plot(fig, totals.reset_index(drop=True), splits=splits)


def network_split(layers: pd.DataFrame, memory: list, arithmetic: list) -> tuple[float, float]:
    """(memory, arithmetic) energy of a whole network, pJ, from a priced layer table and the series' columns."""
    return tuple(float(layers[[c for c, *_ in family if c in layers]].to_numpy().sum())
                 for family in (memory, arithmetic))


def draw_shares(ax, shares: dict[str, tuple[float, float]], scale: float, unit: str) -> None:
    """One stacked bar per pricing: memory (grey) under arithmetic (hatched), in % of that pricing's total, with
    the total per image under it."""
    positions = 1.8 * np.arange(len(shares))
    for x, (memory, arithmetic) in zip(positions, shares.values(), strict=True):
        part = memory / max(memory + arithmetic, 1e-30)
        ax.bar([x], [part * 100], 0.6, color="#7F7F7F")
        ax.bar([x], [(1 - part) * 100], 0.6, bottom=[part * 100], color="#D55E00", hatch="////", edgecolor="white")
        ax.text(x + 0.34, part * 50, f"memory\n{100 * part:.0f}%", va="center", fontsize=7)
        ax.text(x + 0.34, min(part * 100 + (1 - part) * 50, 96), f"arithmetic\n{100 * (1 - part):.0f}%",
                va="center", fontsize=7)
    ax.set_xticks(positions, [f"{name}\n{(m + a) / scale:,.0f} {unit.replace('uJ', 'µJ')}/image"
                              for name, (m, a) in shares.items()], fontsize=6.5)
    ax.set_xlim(-0.5, positions[-1] + 1.3)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the network's energy (%)")
    ax.grid(visible=False)


def readable(value: float) -> str:
    """A cell label: thousands separators for large values, three significant digits for small ones."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plot_heatmap(df: pd.DataFrame, out: str | Path | None = None, *, x: str, y: str, value: str = "energy_uj",
                 title: str | None = None, cmap: str = "viridis") -> Plot:
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
        save(fig, out)
    return Plot(fig, grid.reset_index())
