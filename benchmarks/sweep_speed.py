"""An analytical design-space sweep of ResNet-18 (CIFAR): every periodic variant of the seed paper x 4 weight
widths x 50 buffer sizes (2,600 points), against what a user of fvcore would do for the same study: run
FlopCountAnalysis once per variant (hardware does not change the counts).

Two comparisons. Like for like: the counts of the 13 variants (estimator: one profile, re-weighed for every other
variant, as the sweep does; fvcore: one FlopCountAnalysis each). Then the whole sweep, which does more than fvcore
can: it also prices all 2,600 points (energy per level, latency, utilisation), which fvcore cannot do at all, so
that ratio is printed only to show what the pricing adds. Both tools are warmed up once first. Interleaved, min of
rounds.
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
from estimator.plan import parse_spec
from estimator.points import Pricer
from estimator.sweep import sweep
from estimator.variants import PAPER_VARIANTS, apply_variant
from hwmodels.traffic import SEARCHES

VARIANTS = ("dense",) + PAPER_VARIANTS
HARDWARE = {"weight_bits": [4, 8, 16, 32], "buffer_kib": [float(b) for b in np.geomspace(16, 8192, 50)]}


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
    spec = parse_spec({"sweep": {"models": ["resnet18_cifar"], "variants": list(VARIANTS)}, "hardware": HARDWARE})
    sweep(parse_spec({"sweep": {"models": ["resnet18_cifar"]}}))  # warm-up, both tools
    fvcore_per_variant({"dense": base}, x)
    ours = counts = theirs = float("inf")
    searches = reused = 0
    for _ in range(args.rounds):
        fresh = [apply_variant(base, v).eval() for v in VARIANTS]  # new tensors: no value cache from a past round
        start = time.perf_counter()
        pricer = Pricer()
        for model in fresh:
            pricer.profile(model, tuple(x.shape))
        counts = min(counts, time.perf_counter() - start)
        SEARCHES.clear()  # every round searches afresh, as a new process would
        start = time.perf_counter()
        table = sweep(spec)
        ours = min(ours, time.perf_counter() - start)
        searches, reused = SEARCHES.searches, SEARCHES.reused
        start = time.perf_counter()
        fvcore_per_variant(models, x)
        theirs = min(theirs, time.perf_counter() - start)
    assert len(table) == points
    print(f"ResNet-18 CIFAR: {len(VARIANTS)} variants x 4 widths x 50 buffer sizes = {points:,} points "
          f"(min of {args.rounds} interleaved rounds)")
    print(f"{'method':62s} {'seconds':>8s}")
    print(f"{'estimator: counts of 13 variants (profile, then re-weigh)':62s} {counts:8.2f}")
    print(f"{'fvcore, one FlopCountAnalysis per variant: counts only':62s} {theirs:8.2f}")
    print(f"{'estimator.sweep: counts of 13 variants, priced at 2,600 points':62s} {ours:8.2f}")
    print(f"same work (counts): fvcore / estimator = {theirs / counts:.2f}x")
    print(f"mapping searches run: {searches:,} (reused: {reused:,}: repeated layer shapes and variants whose layers "
          "move alike)")
    print(f"whole sweep: {ours:.2f} s, of which pricing {ours - counts:.2f} s ({(ours - counts) / points * 1e3:.2f} ms "
          "a point); fvcore cannot price: its side has no energy, traffic or latency for any of the 2,600 points")


if __name__ == "__main__":
    main()
