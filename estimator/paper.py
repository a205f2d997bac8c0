"""The periodic-sparsity paper's results regenerated with this tool's counts and energy estimates
(``estimator paper kundu2020``).

The paper (Kundu et al. 2020, :data:`~estimator.literature.KUNDU2020`) publishes accuracy against MACs for 13
variants of ResNet18 and VGG16 on CIFAR-10 and Tiny ImageNet, and a comparison with ShuffleNet and MobileNetV2; it
publishes no energy. From its 64 published points (accuracies as read off its figures) and this tool's own counts
and prices of the same models and variants (analytical: unit weights, so only the variants' masks make zeros),
:func:`regenerate` writes:

* ``macs_<figure>.png``: each per-model figure's accuracy against the figure's MACs and this tool's, point by point,
  with every point outside the read error marked;
* ``energy_<figure>.png``: the same accuracies against inference energy per image and against the energy of one
  training step per image, on each hardware model, each panel with its Pareto front;
* ``comparison.png`` and ``comparison.csv``: the paper's pairing of ResNet18 variants with its baselines, with
  accuracy, MACs, parameters, inference and training energy, and the derived average accuracy gain beside the
  abstract's 2.8%;
* ``points.csv``: every point with its priced energy per memory tier and for arithmetic, per phase and hardware (a
  plain CSV); ``README.txt`` beside it says what it holds and cites the published points.

Accuracies are the paper's; energies are estimates of this tool (the captions say so, and on which hardware and
widths). Inference is one image at :data:`INFERENCE` widths; a training step is a batch of
:data:`TRAIN_BATCH` (the seed recipe's) at :data:`TRAINING` widths with SGD and momentum, as the paper trains.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .datasets import DATASETS
from .io import atomic_write_text
from .literature import (
    BASELINES,
    COMPARISON_FIGURE,
    KUNDU2020,
    READ_ERROR_GMAC,
    REGISTRY_MODELS,
    baseline_gains,
    citation,
    load,
)
from .plan import ModelChoice, Point
from .plots import STYLE, draw_pareto, place_labels, save, surrounding_text
from .points import Pricer
from .recipes import RECIPES
from .sweep import analytical_model
from .variants import Variant

PAPER_HARDWARE = ("horowitz45", "tpu_like")
"""The hardware the paper's points are priced on by default: the Horowitz 45 nm energy model and a ZigZag-style
TPU-like accelerator."""
INFERENCE = {"weight_bits": 8, "act_bits": 8}
"""Widths of an inference (one image)."""
TRAINING = {"weight_bits": 16, "act_bits": 16}
"""Widths of a training step (the paper trains in floating point; 16 bits is the narrowest width commonly trained
at, and every preset prices it)."""
TRAIN_BATCH = RECIPES["seed"]["batch_size"]
"""Images per priced training step: the seed recipe's batch."""
OPTIMIZER = "sgd"
"""The paper's optimiser (SGD with momentum: its state is one velocity per weight)."""
ABSTRACT_GAIN = 2.8
"""The abstract's "average accuracy improvement of 2.8%" over ShuffleNet and MobileNetV2."""
LEVEL_COLUMNS = ["tier_dram_pj", "tier_sram_pj", "tier_rf_pj", "arithmetic_pj", "energy_pj"]
"""The priced energy of each point kept in ``points.csv``: per memory tier, arithmetic, and the total."""


def published(figures: Sequence[str] | None = None) -> pd.DataFrame:
    """The published points (of ``figures``, default all), each with the registered model it is priced as."""
    points = load(KUNDU2020)
    if figures is not None:
        points = points[points["figure"].isin(figures)]
    return points.assign(registry=[REGISTRY_MODELS[m, d] for m, d in zip(points["model"], points["dataset"],
                                                                          strict=True)]).reset_index(drop=True)


def price_points(points: pd.DataFrame, hardware: Sequence[str], progress: bool = False,
                 workers: int | None = None) -> pd.DataFrame:
    """Every distinct (model, variant) of ``points`` priced for one inference and one training step on each
    hardware: one row per (registry model, variant, phase, hw), energies per image (a step's over its batch).
    Each registered model's variants are priced together (they share its profiles), the models in ``workers``
    processes (default: one per CPU; 1: in this process)."""
    from tqdm.auto import tqdm

    pairs = points[["registry", "variant"]].drop_duplicates()
    groups = [(registry, tuple(g["variant"])) for registry, g in pairs.groupby("registry", sort=False)]
    size = min(workers or os.cpu_count() or 1, len(groups))
    bar = tqdm(total=len(pairs), desc="pricing the paper's points", unit="model", disable=not progress)
    frames: dict[str, pd.DataFrame] = {}
    if size <= 1:
        for registry, variants in groups:
            frames[registry] = price_model(registry, variants, tuple(hardware))
            bar.update(len(variants))
    else:
        with ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(price_model, registry, variants, tuple(hardware)): (registry, len(variants))
                       for registry, variants in sorted(groups, key=lambda g: -len(g[1]))}  # the largest first
            for future in as_completed(futures):
                registry, count = futures[future]
                frames[registry] = future.result()
                bar.update(count)
    bar.close()
    return pd.concat([frames[registry] for registry, _ in groups], ignore_index=True)


def price_model(registry: str, variants: Sequence[str], hardware: tuple[str, ...]) -> pd.DataFrame:
    """One registered model's variants priced for an inference and a training step on each hardware (see
    :func:`price_points`; a process pool's task)."""
    inference = Pricer({"hw": list(hardware), **INFERENCE})
    training = Pricer({"hw": list(hardware), **TRAINING}, training=True, optimizer=OPTIMIZER)
    image = DATASETS[point_dataset(registry)].image_shape
    rows = []
    for variant in variants:
        model = analytical_model(Point(ModelChoice(registry), Variant.parse(variant)))
        labels = {"registry": registry, "variant": variant}
        for phase, pricer, batch in (("inference", inference, 1), ("training", training, TRAIN_BATCH)):
            priced = pricer.price(labels | {"phase": phase, "batch": batch}, model, (batch, *image))
            per_image = priced[LEVEL_COLUMNS] / batch
            rows.append(priced[["registry", "variant", "phase", "batch", "hw", "nz_macs", "macs", "params"]]
                        .join(per_image).assign(energy_uj=per_image["energy_pj"] / 1e6,
                                                executed_macs=priced["executed_macs"] / batch))
    return pd.concat(rows, ignore_index=True)


def point_dataset(registry: str) -> str:
    """The dataset a registered model of the paper is for."""
    return next(d for (_, d), r in REGISTRY_MODELS.items() if r == registry)


def priced_points(points: pd.DataFrame, priced: pd.DataFrame) -> pd.DataFrame:
    """The published points joined with their prices: one row per (point, phase, hw), with ``gmac_ours`` (this
    tool's MACs with zero weights skipped, G; measured at inference, batch 1) beside the figure's ``gmac_read``."""
    macs = priced[(priced["phase"] == "inference")].drop_duplicates(["registry", "variant"])
    macs = macs[["registry", "variant", "nz_macs", "params"]].rename(columns={"nz_macs": "macs_ours"})
    table = points.merge(macs, on=["registry", "variant"]).merge(
        priced.drop(columns=["nz_macs", "macs", "params"]), on=["registry", "variant"])
    error = table["macs_ours"] / 1e9 - table["gmac_read"]
    return table.assign(gmac_ours=table["macs_ours"] / 1e9, gmac_difference=error,
                        gmac_within_read_error=error.abs() <= table["dataset"].map(READ_ERROR_GMAC) + 1e-12,
                        test_top1=table["accuracy_pct"],
                        role=table["model"].map(lambda m: "baseline" if m in BASELINES else "variant"))


def inversions(table: pd.DataFrame) -> list[str]:
    """Every (model, dataset, phase, hardware) where a periodic variant costs more than the pseudo-random (pSC)
    variant of the same density, one line each with the cause this tool finds where it is the one below: the MACs
    each executes per image once zero weights, and kept weights' taps on zero padding, are skipped (pSC's random
    positions fall on the padded border more often than a periodic pattern's)."""
    priced = table.drop_duplicates(["registry", "variant", "phase", "hw"])
    parsed = {v: Variant.parse(v) for v in priced["variant"].unique()}
    priced = priced.assign(kind=priced["variant"].map(lambda v: parsed[v].kind),
                           density=priced["variant"].map(lambda v: parsed[v].sparsity.density()))
    lines = []
    for (model, dataset, phase, hw), group in priced.groupby(["model", "dataset", "phase", "hw"], sort=True):
        for psc in group[group["kind"] == "pseudo-random"].itertuples():
            periodic = group[(group["kind"] == "periodic") & ((group["density"] - psc.density).abs() < 1e-9)]
            for more in periodic[periodic["energy_uj"] > psc.energy_uj].itertuples():
                line = (f"{model} {dataset} {phase} on {hw}: {more.variant} {more.energy_uj:,.1f} uJ per image > "
                        f"{psc.variant} {psc.energy_uj:,.1f} (+{100 * (more.energy_uj / psc.energy_uj - 1):.2f}%)")
                if psc.executed_macs < more.executed_macs:
                    line += (f": {psc.variant} executes {100 * (1 - psc.executed_macs / more.executed_macs):.1f}% "
                             f"fewer MACs ({psc.executed_macs / 1e6:,.1f} M against {more.executed_macs / 1e6:,.1f} M "
                             "per image): its random kept positions fall on zero padding more often, and zero "
                             "skipping skips those taps, which outweighs the index it stores")
                lines.append(line)
    return lines


FIGURE_TITLES = {"Res_CIFAR-10": "ResNet-18, CIFAR-10", "Res_Tiny_ImageNet": "ResNet-18, Tiny ImageNet",
                 "VGG_CIFAR-10": "VGG-16, CIFAR-10", "VGG_Tiny_ImageNet": "VGG-16, Tiny ImageNet",
                 COMPARISON_FIGURE: "the paper's variants against ShuffleNet and MobileNetV2"}
"""Titles of the paper's result figures (their file names in the authors' repository are the keys)."""
DATASET_NAMES = {"cifar10": "CIFAR-10", "tinyimagenet": "Tiny ImageNet"}
METRIC_NAMES = {"top1": "top-1", "top5": "top-5"}


def caption(hardware: Sequence[str]) -> str:
    """What every figure's numbers are."""
    return (f"Accuracies: published (Kundu et al. 2020, read off its figures). Energies: this tool's estimates on "
            f"{', '.join(hardware)}; inference of one image at {INFERENCE['weight_bits']}-bit, a training step of "
            f"{TRAIN_BATCH} images at {TRAINING['weight_bits']}-bit with SGD + momentum, per image.")


def plot_macs(table: pd.DataFrame, figure: str, out: Path) -> int:
    """Accuracy against the figure's MACs (filled) and this tool's (hollow), joined; a point outside the read
    error is ringed and labelled with the difference. Returns the number of points drawn."""
    points = table.drop_duplicates(["figure", "variant", "model"])
    metric = points["metric"].iloc[0]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        FigureCanvasAgg(fig)  # a canvas to measure text on
        for row in points.itertuples():
            ax.plot([row.gmac_read, row.gmac_ours], [row.accuracy_pct] * 2, color="#999999", linewidth=0.8,
                    zorder=1)
        outside = points[~points["gmac_within_read_error"]]
        ax.scatter(outside["gmac_ours"], outside["accuracy_pct"], s=140, facecolors="none", edgecolors="#D55E00",
                   linewidths=1.0, zorder=4)
        ax.scatter(points["gmac_read"], points["accuracy_pct"], s=30, color="#0072B2", zorder=3,
                   label="the figure's MACs (read)")
        ax.scatter(points["gmac_ours"], points["accuracy_pct"], s=30, facecolors="none", edgecolors="#000000",
                   zorder=3, label="this tool's MACs")
        ax.set_xlabel("GMACs per image (zero weights skipped)")
        ax.set_ylabel(f"{METRIC_NAMES[metric]} accuracy (%), published")
        ax.set_title(f"{FIGURE_TITLES[figure]}: {len(points)} points, {len(points) - len(outside)} within the read "
                     f"error (+-{READ_ERROR_GMAC[points['dataset'].iloc[0]]} G)", loc="left")
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        # each variant named at its read point, and a point outside the read error labelled with the difference
        # at this tool's count, placed so that no two texts overlap
        anchors = np.concatenate([points[["gmac_read", "accuracy_pct"]].to_numpy(float),
                                  outside[["gmac_ours", "accuracy_pct"]].to_numpy(float)])
        texts = list(points["variant"]) + [f"{d:+.3f} G" for d in outside["gmac_difference"]]
        place_labels(ax, texts, ax.transData.transform(anchors), 3.5 * fig.dpi / 72, 6.5, surrounding_text(ax),
                     ["#222222"] * len(points) + ["#D55E00"] * len(outside))
        fig.text(0.01, -0.02, "Accuracies and read MACs: Kundu et al. 2020 (read off the figure); hollow: this "
                 "tool's count.", fontsize=6.5)
        save(fig, out)
    return len(points)


def plot_energy(table: pd.DataFrame, figure: str, hardware: Sequence[str], out: Path) -> int:
    """Accuracy against inference and training-step energy per image (rows) on each hardware (columns), each
    panel with its Pareto front. Returns the number of points per panel."""
    points = table[table["figure"] == figure]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.2 * len(hardware), 9.0))
        axes = fig.subplots(2, len(hardware), squeeze=False, gridspec_kw={"hspace": 0.45, "wspace": 0.35})
        counts = set()
        for i, phase in enumerate(("inference", "training")):
            for j, hw in enumerate(hardware):
                panel = points[(points["phase"] == phase) & (points["hw"] == hw)]
                counts.add(len(panel))
                what = "inference, per image" if phase == "inference" else f"training step of {TRAIN_BATCH}, per image"
                draw_pareto(axes[i][j], panel, group_by="none", title=f"{FIGURE_TITLES[figure]} · {hw} · {what}",
                            xlabel=f"energy (µJ per image, {what.split(',')[0]}; estimate)",
                            ylabel=f"{METRIC_NAMES[panel['metric'].iloc[0]]} accuracy (%), published")
        fig.text(0.01, 0.005, caption(hardware), fontsize=7)
        save(fig, out)
    (count,) = counts
    return count


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's comparison with its baselines: every point of its comparison figure with accuracy, MACs,
    parameters, and inference and training energy per image on each hardware."""
    points = table[table["figure"] == COMPARISON_FIGURE]
    energy = points.pivot_table(index=["dataset", "model", "variant"], columns=["phase", "hw"], values="energy_uj")
    energy.columns = [f"{phase}_uj_{hw}" for phase, hw in energy.columns]
    base = points.drop_duplicates(["dataset", "model", "variant"]).set_index(["dataset", "model", "variant"])
    columns = ["registry", "role", "accuracy_pct", "metric", "gmac_read", "gmac_ours", "params"]
    return base[columns].join(energy).reset_index()


def plot_comparison(comparison: pd.DataFrame, hardware: Sequence[str], out: Path) -> None:
    """Accuracy against inference energy of the comparison figure's points, one panel per dataset."""
    datasets = list(comparison["dataset"].unique())
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.2 * len(datasets), 4.6))
        axes = fig.subplots(1, len(datasets), squeeze=False, gridspec_kw={"wspace": 0.35})[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            rows = comparison[comparison["dataset"] == dataset]
            panel = rows.assign(energy_uj=rows[f"inference_uj_{hardware[0]}"], test_top1=rows["accuracy_pct"])
            title = f"{DATASET_NAMES[dataset]}: {FIGURE_TITLES[COMPARISON_FIGURE]} ({hardware[0]})"
            draw_pareto(ax, panel, group_by="none", title=title, xlabel="inference energy (µJ per image, estimate)",
                        ylabel=f"{METRIC_NAMES[rows['metric'].iloc[0]]} accuracy (%), published")
        fig.text(0.01, -0.02, f"Accuracies: published (Kundu et al. 2020, read off its comparison figure). Energies: "
                 f"this tool's estimates of one inference per image at {INFERENCE['weight_bits']}-bit on "
                 f"{hardware[0]}.", fontsize=7)
        save(fig, out)


def gains_text(points: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The derived accuracy gains over the baselines (from the published comparison points) and one line setting
    their average beside the abstract's."""
    gains = baseline_gains(points)
    mean = gains["gain_pct"].mean()
    return gains, (f"average accuracy gain of ResNet18 PSD1_P16 over ShuffleNet and MobileNetV2 on CIFAR-10 and Tiny "
                   f"ImageNet: {mean:.2f} points (derived from the published points), against the abstract's "
                   f"{ABSTRACT_GAIN}")


def regenerate(out: str | Path, hardware: Sequence[str] = PAPER_HARDWARE, figures: Sequence[str] | None = None,
               progress: bool = False, workers: int | None = None) -> dict:
    """Write the paper's figures, comparison and points with this tool's counts and prices into ``out`` (see the
    module doc). ``figures`` restricts the published figures (default: all five); ``workers``: pricing processes
    (default: one per CPU). Returns what was written: the figure files with their point counts, the comparison
    table, the gains, the notes and the priced points."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points = published(figures)
    table = priced_points(points, price_points(points, hardware, progress, workers))
    written = {"figures": {}}
    for figure in points["figure"].unique():
        if figure == COMPARISON_FIGURE:
            continue
        written["figures"][f"macs_{figure}.png"] = plot_macs(table[table["figure"] == figure], figure,
                                                             out / f"macs_{figure}.png")
        written["figures"][f"energy_{figure}.png"] = plot_energy(table, figure, hardware, out / f"energy_{figure}.png")
    if COMPARISON_FIGURE in set(points["figure"]):
        comparison = comparison_table(table)
        gains, line = gains_text(points)
        atomic_write_text(out / "comparison.csv", comparison.to_csv(index=False))
        plot_comparison(comparison, hardware, out / "comparison.png")
        written |= {"comparison": comparison, "gains": gains, "gain_line": line}
    columns = ["figure", "model", "registry", "dataset", "variant", "metric", "accuracy_pct", "gmac_read", "gmac_ours",
               "gmac_difference", "gmac_within_read_error", "params", "phase", "batch", "hw", *LEVEL_COLUMNS,
               "energy_uj"]
    atomic_write_text(out / "points.csv", table[columns].to_csv(index=False))  # a plain CSV; its source beside it
    written["inversions"] = inversions(table)
    atomic_write_text(out / "README.txt", f"points.csv: {caption(hardware)}\nPublished points: "
                                          f"{citation(KUNDU2020)}\n" + notes_text(written["inversions"]))
    written["points"] = table
    return written


def notes_text(inversions: list[str]) -> str:
    """The note on periodic variants costing more than pSC at equal density (empty where none does)."""
    if not inversions:
        return ""
    return ("Periodic variants costing more than the pSC variant of the same density:\n"
            + "".join(f"  {line}\n" for line in inversions))


def summary_text(written: dict, out: Path) -> str:
    """What :func:`regenerate` wrote and found, for the command line."""
    table = written["points"]
    once = table.drop_duplicates(["figure", "model", "variant", "dataset"])
    outside = once[~once["gmac_within_read_error"]]
    lines = [f"{len(once)} published points priced; this tool's MACs are within the read error on "
             f"{len(once) - len(outside)}"]
    lines += [f"  outside: {r.figure} {r.model} {r.variant} ({r.dataset}, priced as {r.registry}): {r.gmac_ours:.4f} G "
              f"against {r.gmac_read:.3f} read ({r.gmac_difference:+.4f})" for r in outside.itertuples()]
    if "comparison" in written:
        shown = written["comparison"].copy()
        lines += ["", shown.to_string(index=False, float_format=lambda v: f"{v:,.3f}"), "", written["gain_line"]]
    if written["inversions"]:
        lines += ["", notes_text(written["inversions"]).rstrip()]
    lines += [f"wrote {out}/" + ", ".join(list(written["figures"]) + (["comparison.png", "comparison.csv"]
                                                                      if "comparison" in written else [])
                                          + ["points.csv", "README.txt"])]
    return "\n".join(lines)
