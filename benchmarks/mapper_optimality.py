"""The exact mapper against LOMA's merged-factor search, every MAC layer of four networks on three accelerators.

For each forward conv/linear layer of ResNet-18 (CIFAR), AlexNet, MobileNetV2 (CIFAR) and VGG16 (CIFAR) on
``tpu_like``, ZigZag's ``edge_tpu_like`` example (its accelerator and mapping YAML, the zigzag extra) and
``eyeriss65``: the memory energy of this tool's free exact search (every factorisation and order of the temporal
loops, ``mapper = "free"``) beside the same cost model searched by LOMA's rule at ``loop_factor_limit`` 4 and 8.
The free search is the optimum over a space containing LOMA's, so it is never above either; the script counts the
layers where it would be (expected: none), and prints the median and largest saving. Both searches use the same
accounting, so the comparison is of the searches alone.

Run: python benchmarks/mapper_optimality.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import hwmodels
from estimator import profile
from estimator.hwcheck import bundled
from estimator.models import create
from estimator.workload import layer_table

NETWORKS = {"resnet18_cifar": (1, 3, 32, 32), "alexnet_imagenet": (1, 3, 224, 224),
            "mobilenetv2_cifar": (1, 3, 32, 32), "vgg16_cifar": (1, 3, 32, 32)}
SEARCHES = (("free", 4), ("loma", 4), ("loma", 8))


def hardware() -> dict[str, dict]:
    """Pricing options per accelerator (edge_tpu_like only where ZigZag's examples are installed)."""
    chosen = {"tpu_like": {"hw": "tpu_like"}, "eyeriss65": {"hw": "eyeriss65", "mac_energy_pj": 1.0}}
    try:
        accelerator, mapping = bundled("edge_tpu_like")
        if accelerator.is_file() and mapping.is_file():
            chosen["edge_tpu_like"] = {"hw": str(accelerator), "mapping": str(mapping)}
    except (ImportError, ModuleNotFoundError):
        print("edge_tpu_like left out: ZigZag's examples are not installed (pip install -e '.[zigzag]')")
    return chosen


def layer_energies(table: pd.DataFrame, options: dict) -> dict[tuple[str, int], np.ndarray]:
    """Memory energy per unit (pJ) under each search."""
    out = {}
    for mapper, limit in SEARCHES:
        priced = hwmodels.price(table, mapper=mapper, loop_factor_limit=limit, **options)
        out[(mapper, limit)] = priced.levels.groupby("unit")["energy_pj"].sum().to_numpy()
    return out


def main() -> int:
    rows = []
    for network, shape in NETWORKS.items():
        table = layer_table(profile(create(network), input_shape=shape))
        table = table[table["kind"].isin(["conv", "matmul"])].reset_index(drop=True)
        for name, options in hardware().items():
            energies = layer_energies(table, options)
            for limit in (4, 8):
                ratio = energies[("free", 4)] / energies[("loma", limit)]
                rows.append({"network": network, "hardware": name, "loma lpf": limit, "layers": len(ratio),
                             "free above loma": int((ratio > 1 + 1e-6).sum()), "median free/loma": np.median(ratio),
                             "lowest free/loma": ratio.min(), "highest free/loma": ratio.max()})
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 200):
        print("memory energy per layer, free exact search / LOMA at the same cost model (<= 1 expected)")
        print(frame.round(3).to_string(index=False))
    above = int(frame["free above loma"].sum())
    print(f"layers where the free search is above LOMA: {above} of {int(frame['layers'].sum())}")
    return 1 if above else 0


if __name__ == "__main__":
    raise SystemExit(main())
