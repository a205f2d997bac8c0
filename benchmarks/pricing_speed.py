"""Pricing throughput: one vectorised call over 10,000 hardware configurations of a ResNet-18 profile, against
a plain Python loop that prices one configuration per call (timed on a sample, rate per pair reported).

Target (issue 3): at least 1,000,000 (layer x configuration) pairs per second and at least 100x the loop.
Run: python benchmarks/pricing_speed.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import hwmodels
from estimator import profile
from estimator.models import create


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-sample", type=int, default=200, help="configurations timed in the loop")
    args = parser.parse_args()
    layers = profile(create("resnet18_cifar"), input_shape=(1, 3, 32, 32)).layers
    grid = {"weight_bits": [4, 8, 16, 32], "dataflow": ["ws", "os"], "buffer_kib": list(np.geomspace(1, 4096, 1250))}
    hwmodels.price(layers, **grid)  # warm-up
    start = time.perf_counter()
    table = hwmodels.price(layers, **grid)
    vector_s = time.perf_counter() - start
    pairs = len(table.layers)
    configs = hwmodels.configuration_grid(**grid).head(args.loop_sample)
    start = time.perf_counter()
    for _, config in configs.iterrows():
        hwmodels.price(layers, weight_bits=config.weight_bits, dataflow=config.dataflow, buffer_kib=config.buffer_kib)
    loop_s = time.perf_counter() - start
    loop_rate = len(configs) * len(layers) / loop_s
    vector_rate = pairs / vector_s
    print(f"ResNet-18 (CIFAR) profile: {len(layers)} layers x {len(table.summary):,} configurations = {pairs:,} pairs")
    print(f"{'method':34s} {'pairs/s':>14s}")
    print(f"{'one vectorised call':34s} {vector_rate:14,.0f}   ({vector_s:.3f} s)")
    print(f"{'Python loop, one config per call':34s} {loop_rate:14,.0f}   ({loop_s:.3f} s for {len(configs)})")
    print(f"speed-up: {vector_rate / loop_rate:,.0f}x   (targets: >= 1,000,000 pairs/s and >= 100x)")


if __name__ == "__main__":
    main()
