"""Numbers from the literature, as data files with their citations (never constants in code)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwmodels.errors import UserError

FOLDER = Path(__file__).parent


def load(name: str) -> pd.DataFrame:
    """A literature table by file stem (e.g. ``kundu2020_published_points``); ``#`` lines are its citation header."""
    path = FOLDER / f"{name}.csv"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in FOLDER.glob("*.csv")))
        raise UserError(f"no literature table '{name}'; available: {available}")
    return pd.read_csv(path, comment="#")


def citation(name: str) -> str:
    """The citation header of a literature table."""
    lines = (FOLDER / f"{name}.csv").read_text().splitlines()
    return " ".join(line.lstrip("# ") for line in lines if line.startswith("#"))


KUNDU2020 = "kundu2020_published_points"
"""The periodic-sparsity paper's 64 published points (:func:`load` it)."""
REGISTRY_MODELS = {("resnet18", "cifar10"): "resnet18_cifar", ("resnet18", "tinyimagenet"): "resnet18_tiny",
                   ("vgg16", "cifar10"): "vgg16_cifar", ("vgg16", "tinyimagenet"): "vgg16_tiny",
                   ("mobilenetv2", "cifar10"): "mobilenetv2_cifar", ("mobilenetv2", "tinyimagenet"): "mobilenetv2_tiny",
                   ("shufflenet", "cifar10"): "shufflenetv2_cifar", ("shufflenet", "tinyimagenet"): "shufflenetv2_tiny"}
"""The registered model each published (model, dataset) is priced as (the paper's ShuffleNet is unspecified: its
MACs fit ShuffleNetV2 at width 1.5 on CIFAR)."""
READ_ERROR_GMAC = {"cifar10": 0.002, "tinyimagenet": 0.005}
"""How far a MAC count read off the paper's figures may be from the true value (G), per dataset."""
COMPARISON_FIGURE = "ShuffleNet_MobileNetV2_compare"
BASELINES = ("shufflenet", "mobilenetv2")


def baseline_gains(points: pd.DataFrame, model: str = "resnet18", variant: str = "PSD1_P16") -> pd.DataFrame:
    """The paper's comparison with its baselines, from its comparison figure's points: the accuracy of ``model``
    ``variant`` minus each baseline's, per dataset (the abstract's "average accuracy improvement of 2.8%"; the
    average of these four is 2.87), with both MAC counts."""
    figure = points[points["figure"] == COMPARISON_FIGURE]
    rows = []
    for dataset, group in figure.groupby("dataset", sort=False):
        ours = group[(group["model"] == model) & (group["variant"] == variant)].iloc[0]
        for baseline in BASELINES:
            base = group[group["model"] == baseline].iloc[0]
            rows.append({"dataset": dataset, "variant": f"{model} {variant}", "baseline": baseline,
                         "accuracy_pct": ours["accuracy_pct"], "baseline_accuracy_pct": base["accuracy_pct"],
                         "gain_pct": round(ours["accuracy_pct"] - base["accuracy_pct"], 2),
                         "gmac_read": ours["gmac_read"], "baseline_gmac_read": base["gmac_read"]})
    return pd.DataFrame(rows)
