"""An analytical design-space sweep of ResNet-18 (CIFAR): every periodic variant of the seed paper x 4 weight
widths x 50 buffer sizes (2,600 points), against what a user of fvcore would do for the same study: run
FlopCountAnalysis once per variant (hardware does not change the counts).

The two do not do the same work: fvcore only counts (13 runs give 13 totals); it cannot price, so its energy,
memory traffic and latency at the 2,600 hardware points are missing from its side. estimator.sweep counts every
variant (one shape-only profile, re-weighed for every other variant) and prices all 2,600 points (energy per
level, latency, utilisation). Both tools are warmed up once first. Interleaved, min of rounds.
Run: python benchmarks/sweep_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from fvcore.nn import FlopCountAnalysis

from estimator.models import create
from estimator.sweep import SweepSpec, sweep
from estimator.variants import PAPER_VARIANTS, apply_variant

VARIANTS = ("dense",) + PAPER_VARIANTS
HARDWARE = {"weight_bits": [4, 8, 16, 32], "buffer_kib": list(np.geomspace(16, 8192, 50))}


def fvcore_per_variant(models: dict, x) -> list[int]:
    totals = []
    for model in models.values():
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        totals.append(analysis.total())
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    points = len(VARIANTS) * len(HARDWARE["weight_bits"]) * len(HARDWARE["buffer_kib"])
    base, x = create("resnet18_cifar").eval(), torch.randn(1, 3, 32, 32)
    models = {v: apply_variant(base, v).eval() for v in VARIANTS}
    spec = SweepSpec(["resnet18_cifar"], VARIANTS, hardware=HARDWARE)
    sweep(SweepSpec(["resnet18_cifar"], ["dense"], hardware={"weight_bits": 8}))  # warm-up, both tools
    fvcore_per_variant({"dense": base}, x)
    ours = theirs = float("inf")
    for _ in range(args.rounds):
        start = time.perf_counter()
        table = sweep(spec)
        ours = min(ours, time.perf_counter() - start)
        start = time.perf_counter()
        fvcore_per_variant(models, x)
        theirs = min(theirs, time.perf_counter() - start)
    assert len(table) == points
    print(f"ResNet-18 CIFAR: {len(VARIANTS)} variants x 4 widths x 50 buffer sizes = {points:,} points "
          f"(min of {args.rounds} interleaved rounds)")
    print(f"{'method':62s} {'seconds':>8s}")
    print(f"{'estimator.sweep: counts of 13 variants, priced at 2,600 points':62s} {ours:8.2f}")
    print(f"{'fvcore, one FlopCountAnalysis per variant: counts only':62s} {theirs:8.2f}")
    print(f"ratio fvcore / sweep: {theirs / ours:.2f}x -- fvcore cannot price: its side has no energy, traffic or "
          "latency for any of the 2,600 hardware points")


if __name__ == "__main__":
    main()
