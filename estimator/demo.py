"""The demo: low-complexity variants and baselines on the accuracy-vs-energy plane, on the bundled digits data,
beside the seed paper's published CIFAR-10 points priced by this tool.

What it runs (stated in its output): the small 3x3 CNN for 8x8 digits at two widths (8 and 32 channels), each
dense, with three periodic-sparse variants (densities 4/9, 2/9, 1/9) and two dyadic approximations (one and two
power-of-two terms, fine-tuned for two epochs), and small MobileNetV2- and ShuffleNetV2-style baselines; all
trained for 8 epochs (Adam, seed 0) on scikit-learn's digits (1,437 training and 360 test images, a fixed
stratified split), priced on horowitz45 with 8-bit weights and activations. The narrow model's sparse variants
lose accuracy and the wide model's keep it, so the front spans a real trade-off. It writes results.sqlite (the
store), results.csv, pareto.png and breakdown.png, and resumes: finished points are kept.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from .counting import profile
from .energy import energy, weight_residency_note
from .plan import ModelChoice, SweepSpec
from .plots import STYLE, Plot, draw_pareto, plot_breakdown, save
from .reports import priced_literature
from .sweep import input_shape, sweep, trained_model
from .variants import Variant

DEMO_VARIANTS = ("dense", "PS4_P4", "PS2_P6", "PS1_P9", "dyadic:t1e-2", "dyadic:t2e-4")
DEMO_HARDWARE = {"hw": "horowitz45", "weight_bits": 8, "act_bits": 8}
DEMO_SPEC = SweepSpec(
    models=(ModelChoice("digits_cnn", (("width", 8),)), ModelChoice("digits_cnn", (("width", 32),))),
    variants=tuple(Variant.parse(v) for v in DEMO_VARIANTS),
    baselines=(ModelChoice("mobilenetv2_digits"), ModelChoice("shufflenetv2_digits")),
    data="digits", epochs=8, finetune_epochs=2, hardware=DEMO_HARDWARE)
"""The demo's sweep (its runs folder is set under the output folder)."""
BREAKDOWN_BATCH = 32
"""The batch the breakdown figure prices beside batch 1 (weights read once per batch)."""
SUMMARY_COLUMNS = ["model", "variant", "params", "nz_macs", "executed_mults", "shifts", "energy_uj", "test_top1",
                   "pareto"]


def demo_note(out: str | Path) -> str:
    """What the demo ran and what its columns mean."""
    return ("digits_cnn at widths 8 and 32 (dense, periodic PS4_P4/PS2_P6/PS1_P9, dyadic t1e-2/t2e-4 fine-tuned 2 "
            "epochs) and two baselines, trained 8 epochs (Adam, seed 0) on the bundled digits (1,437 train / 360 test "
            "images). nz_macs: MACs with zero weights skipped (FLOPs = 2 x MACs); executed_mults: multiplications "
            "done when zero weights are skipped; energy_uj: per inference on horowitz45 at 8 bits (an estimate); "
            "test_top1: accuracy in % at the priced 8 bits (post-training quantisation); * = on the Pareto front.\n"
            f"wrote {out}/results.sqlite, results.csv, pareto.png (right: the seed paper's published CIFAR-10 "
            "accuracy at this tool's energy estimate), breakdown.png")


def plot_demo(results: pd.DataFrame, literature: pd.DataFrame, out: Path) -> Plot:
    """Two panels: the demo's points with one front (one hardware configuration), and the literature's."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(14.0, 5.4))
        left, right = fig.subplots(1, 2, width_ratios=(1.3, 1.0), gridspec_kw={"wspace": 0.25})
        plot = draw_pareto(left, results, group_by="hardware", title="digits (trained here) · horowitz45 · 8-bit")
        draw_pareto(right, literature, group_by="none",
                    title="CIFAR-10: Kundu et al. 2020 accuracy (published) · our energy (horowitz45, 8-bit)")
        save(fig, out)
    return plot


def plot_breakdown_of(model, shape: tuple[int, ...], out: Path) -> Plot:
    """The breakdown figure of ``model``: energy per layer of one inference (batch 1, as the sweep prices it),
    with the whole network's split at batch 1 and at :data:`BREAKDOWN_BATCH` per image, and a note when the
    weights fit on chip yet are read from DRAM for every batch-1 inference."""
    alone = profile(model, input_shape=shape)
    table = energy(alone, **DEMO_HARDWARE)
    batched = energy(profile(model, input_shape=(BREAKDOWN_BATCH, *shape[1:])), **DEMO_HARDWARE).layers
    per_image = batched.assign(**{c: batched[c] / BREAKDOWN_BATCH for c in batched.columns if c.endswith("_pj")})
    return plot_breakdown(table.layers, out, title="digits_cnn(width=32), dense: energy per layer at batch 1 "
                          "(horowitz45, 8-bit)", unit="nJ", label="batch 1",
                          cases={f"batch {BREAKDOWN_BATCH}": per_image}, note=weight_residency_note(alone, table))


def run_demo(out: str | Path = "demo_out", workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run the demo into ``out`` (resumable) and return its summary: one row per point, cheapest first, with
    Pareto membership. The drawn plots' data are in ``summary.attrs["plot"]`` and ``summary.attrs["breakdown"]``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = replace(DEMO_SPEC, runs_dir=str(out / "runs"))
    results = sweep(spec, out / "results.sqlite", export=out / "results.csv", workers=workers, progress=progress)
    plot = plot_demo(results, priced_literature(hardware=DEMO_HARDWARE), out / "pareto.png")
    widest = next(p for p in spec.points() if p.model.kwargs.get("width") == 32 and p.variant.is_dense)
    breakdown = plot_breakdown_of(trained_model(widest), input_shape(widest), out / "breakdown.png")
    summary = plot.points.assign(pareto=plot.points["front"].map({True: "*", False: ""}))
    summary = summary[SUMMARY_COLUMNS].sort_values("energy_uj").reset_index(drop=True)
    summary.attrs["plot"] = plot
    summary.attrs["breakdown"] = breakdown
    return summary
