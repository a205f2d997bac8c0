"""An analytical design-space sweep of ResNet-18 (CIFAR): every periodic variant x 4 weight widths x 50 buffer
sizes (2,600 points), with estimator.sweep (one shape-only profile, re-weighed for every other variant, and
one vectorised pricing call per variant)
against re-profiling every point with fvcore's FlopCountAnalysis (which counts but cannot price; its time per
point is measured on a sample and multiplied out, as running all 2,600 would take minutes). Both tools are
warmed up once first (imports and first-call set-up are per process, not per sweep).

Target (issue 7): at least 100x faster.
Run: python benchmarks/sweep_speed.py [--fvcore-sample 60]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fvcore-sample", type=int, default=60, help="points re-profiled with fvcore")
    args = parser.parse_args()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    points = len(VARIANTS) * len(HARDWARE["weight_bits"]) * len(HARDWARE["buffer_kib"])
    base, x = create("resnet18_cifar").eval(), torch.randn(1, 3, 32, 32)
    sweep(SweepSpec(["resnet18_cifar"], ["dense"], hardware={"weight_bits": 8}))  # warm-up, both tools
    FlopCountAnalysis(base, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()

    start = time.perf_counter()
    table = sweep(SweepSpec(["resnet18_cifar"], VARIANTS, hardware=HARDWARE))
    ours = time.perf_counter() - start
    assert len(table) == points

    models = {v: apply_variant(base, v).eval() for v in VARIANTS}
    start = time.perf_counter()
    for i in range(args.fvcore_sample):
        analysis = FlopCountAnalysis(models[VARIANTS[i % len(VARIANTS)]], x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.total()
    per_point = (time.perf_counter() - start) / args.fvcore_sample
    fvcore_total = per_point * points

    print(f"ResNet-18 CIFAR: {len(VARIANTS)} variants x 4 widths x 50 buffer sizes = {points:,} points")
    print(f"{'method':46s} {'seconds':>10s}")
    print(f"{'estimator.sweep (1 profile, 12 re-weighed)':46s} {ours:10.2f}")
    print(f"{'fvcore, one FlopCountAnalysis per point':46s} {fvcore_total:10.2f}   "
          f"({per_point * 1000:.0f} ms/point measured on {args.fvcore_sample} points)")
    print(f"speed-up {fvcore_total / ours:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
