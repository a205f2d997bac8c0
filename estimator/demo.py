"""The demo: variants and baselines on the accuracy-vs-energy plane, on the bundled digits data.

Trains a dense CNN, four periodic-sparse variants (densities 4/9 to 1/9), takes three dyadic approximations
of the dense model, and trains small MobileNetV2- and ShuffleNetV2-style baselines; prices everything with
horowitz45 at 8 bits; writes results.csv, pareto.png and breakdown.png and prints a summary.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .counting import profile
from .energy import energy
from .models import create, entry
from .pareto import pareto_front
from .plots import plot_breakdown, plot_pareto
from .sweep import SweepSpec, stderr_progress, sweep

DEMO_MODEL = "digits_cnn"
DEMO_VARIANTS = ("dense", "PS4_P4", "PSD2_P8", "PS2_P6", "PS1_P9", "dyadic:t1e-4", "dyadic:t2e-4", "dyadic:t3e-8")
DEMO_BASELINES = ("mobilenetv2_digits", "shufflenetv2_digits")
DEMO_HARDWARE = {"hw": "horowitz45", "weight_bits": 8, "act_bits": 8}


def demo_spec(out_dir: Path, epochs: int) -> SweepSpec:
    return SweepSpec(models=[DEMO_MODEL], variants=DEMO_VARIANTS, baselines=DEMO_BASELINES, data="digits",
                     epochs=epochs, runs_dir=str(out_dir / "runs"), hardware=DEMO_HARDWARE)


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """What the demo prints: one row per point, cheapest first, with Pareto membership."""
    front = set(pareto_front(results, minimize=["energy_uj"], maximize=["test_top1"]).index)
    table = results.assign(pareto=["*" if i in front else "" for i in results.index])
    columns = ["model", "variant", "params", "nz_macs", "executed_mults", "shifts", "energy_uj", "test_top1", "pareto"]
    return table[columns].sort_values("energy_uj").reset_index(drop=True)


def run_demo(out: str | Path = "demo_out", epochs: int = 15, workers: int | None = None, progress: bool = True):
    """Run the demo into ``out`` (resumable: finished points are kept) and return the summary table."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = stderr_progress if progress else None
    results = sweep(demo_spec(out_dir, epochs), out=out_dir / "results.csv", workers=workers, progress=say)
    plot_pareto(results, out_dir / "pareto.png", baselines=DEMO_BASELINES,
                title="8x8 digits: accuracy vs energy (horowitz45, 8-bit)")
    layers = energy(profile(create(DEMO_MODEL), input_shape=entry(DEMO_MODEL).input_shape), **DEMO_HARDWARE).layers
    plot_breakdown(layers, out_dir / "breakdown.png", title=f"{DEMO_MODEL} (dense): energy per layer", unit="nJ")
    return summary_table(results)
