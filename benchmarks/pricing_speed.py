"""Pricing speed and memory, each beside the alternative that does the same work, measured in one run.

1. One configuration, the whole of ResNet-18 and of AlexNet, on ZigZag's tpu_like accelerator and mapping files:
   this tool (every layer priced: energy per level and operand, latency, utilisation; files re-read and caches cleared
   every round) with its default exact mapper (every factorisation and order) and with the loma mapper at lpf 4,
   against ZigZag evaluating the same network's conv and linear layers (its LOMA engine, lpf_limit 4).
   Interleaved, min of rounds. Targets: exact >= 100x, loma >= 1,000x.
2. Throughput over 10,000 configurations of a ResNet-18 (CIFAR) table (4 weight widths x 2 dataflows x 1,250
   buffer sizes on horowitz45) in one vectorised call, with each mapper, against the same configurations priced one
   per call (the default exact mapper; a Python loop, timed on a sample). The loma calls: min of interleaved rounds;
   the exact mapper's: one call each. Each call starts with the previous call's tables freed.
   Layer x configuration pairs per second, for the summary (what sweeps use)
   and with the per-layer and per-level tables. Target: >= 1,500,000 pairs/s.
3. Peak memory of pricing 100,000 configurations (summary only) in a fresh process that imports only hwmodels
   (the layer table read from a CSV). Target: <= 512 MiB.
4. The same with the per-layer and per-level tables, streamed to a folder of Parquet parts (``parts=``; held in
   memory they took 11.8 GiB). Target: <= 1 GiB.

Run: python benchmarks/pricing_speed.py [--rounds 2] [--network resnet18_cifar|resnet18_imagenet|alexnet_imagenet]
[--no-zigzag]
(ZigZag comes with the zigzag extra: pip install -e '.[zigzag]')
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hwmodels
import hwmodels.nest
import hwmodels.registry
from estimator import profile
from estimator.hwcheck import bundled, mac_layers
from estimator.models import create, entry
from estimator.workload import layer_table
from hwmodels.traffic import SEARCHES
from hwmodels.zigzag_run import ZIGZAG_PRECISION, run

GRID = {"weight_bits": [4, 8, 16, 32], "dataflow": ["ws", "os"], "buffer_kib": list(np.geomspace(1, 4096, 1250))}
MEMORY_SCRIPT = """
import resource, sys, tempfile, time
import numpy as np, pandas as pd
import hwmodels
table = pd.read_csv(sys.argv[1])
grid = {"weight_bits": [4, 8, 16, 32], "dataflow": ["ws", "os"], "buffer_kib": list(np.geomspace(1, 4096, 12500))}
with tempfile.TemporaryDirectory() as folder:
    start = time.perf_counter()
    if sys.argv[2] == "parts":  # the per-layer tables streamed to Parquet parts
        summary = hwmodels.price(table, parts=folder + "/parts", **grid).summary
    else:
        summary = hwmodels.price(table, per_layer=False, **grid).summary
    seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry over the parent's peak across fork and exec)
status = open("/proc/self/status").read() if sys.platform == "linux" else ""
hwm = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
print(len(summary), seconds, hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def versus_zigzag(network: str, rounds: int) -> None:
    accelerator, mapping = bundled("tpu_like")
    model = create(network)
    shape = entry(network).input_shape
    table = layer_table(profile(model, input_shape=shape))
    zigzag_table = mac_layers(model, shape, kinds=("conv", "matmul"))
    ours: dict[str, list[float]] = {"exact": [], "loma": []}
    theirs = []
    for _ in range(rounds):  # interleaved
        for mapper, times in ours.items():
            for _ in range(3):
                hwmodels.registry.read_versions.cache_clear()
                hwmodels.nest.cached_layout.cache_clear()
                SEARCHES.clear()
                start = time.perf_counter()
                hwmodels.price(table, hw=str(accelerator), mapping=str(mapping), interlayer="dram",
                               zero_skipping=False, mapper=mapper, loop_factor_limit=4, **ZIGZAG_PRECISION)
                times.append(time.perf_counter() - start)
        theirs.append(run(zigzag_table, accelerator, mapping, lpf_limit=4, **ZIGZAG_PRECISION)[1])
    print(f"1. {network}, one configuration on ZigZag's tpu_like files (min of {rounds} interleaved rounds)")
    print(f"   ZigZag, its {len(zigzag_table)} conv/linear layers (LOMA, lpf 4): {min(theirs):9.1f} s")
    for mapper, target in (("exact", "100x"), ("loma", "1,000x")):
        print(f"   this tool, all {len(table)} units, mapper {mapper}: {min(ours[mapper]) * 1e3:9.1f} ms, speed-up "
              f"{min(theirs) / min(ours[mapper]):,.0f}x   (target >= {target})")


def throughput(loop_sample: int, rounds: int) -> None:
    table = layer_table(profile(create("resnet18_cifar"), input_shape=(1, 3, 32, 32)))
    hwmodels.price(table, per_layer=False, **GRID)  # warm-up
    timings, loma = {}, {}
    for round_ in range(rounds):
        for per_layer in (False, True, "parts"):
            for mapper, into in (("exact", timings), ("loma", loma)):
                if mapper == "exact" and round_:
                    continue  # (13 s a call: timed once)
                SEARCHES.clear()  # no search reused from the warm-up: the work of a fresh process
                with tempfile.TemporaryDirectory() as folder:
                    options = {"parts": folder + "/parts"} if per_layer == "parts" else {"per_layer": per_layer}
                    start = time.perf_counter()
                    priced = hwmodels.price(table, mapper=mapper, **options, **GRID)
                    into[per_layer] = min(into.get(per_layer, np.inf), time.perf_counter() - start)
                del priced  # each call starts with the last one's tables freed, as in a fresh process
    grid = hwmodels.configuration_grid(**GRID)[0]
    configs, sample = len(grid), grid.head(loop_sample)
    SEARCHES.clear()  # every configuration of the loop is searched afresh, as in its own process
    start = time.perf_counter()
    for config in sample.itertuples():
        hwmodels.price(table, per_layer=False, weight_bits=config.weight_bits, dataflow=config.dataflow,
                       buffer_kib=config.buffer_kib)
    loop_s = (time.perf_counter() - start) / len(sample) * configs
    pairs = configs * len(table)
    print(f"\n2. ResNet-18 (CIFAR): {len(table)} units x {configs:,} configurations = {pairs:,} pairs (horowitz45)")
    print(f"   {'method':46s} {'seconds':>9s} {'pairs/s':>12s}")
    for mapper, times in (("exact", timings), ("loma", loma)):
        print(f"   {'one vectorised call, summary, ' + mapper:46s} {times[False]:9.2f} {pairs / times[False]:12,.0f}")
        print(f"   {'one vectorised call, per-layer tables, ' + mapper:46s} {times[True]:9.2f} "
              f"{pairs / times[True]:12,.0f}")
        print(f"   {'the same streamed to Parquet parts, ' + mapper:46s} {times['parts']:9.2f} "
              f"{pairs / times['parts']:12,.0f}")
    print(f"   {'one call per configuration (from a sample)':46s} {loop_s:9.1f} {pairs / loop_s:12,.0f}")
    print(f"   speed-up of the vectorised summary over the loop: {loop_s / timings[False]:,.0f}x   "
          "(targets: summary >= 1,500,000 pairs/s; per-layer tables >= 500,000 pairs/s)")


def memory() -> None:
    table = layer_table(profile(create("resnet18_cifar"), input_shape=(1, 3, 32, 32)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layers.csv"
        table.to_csv(path, index=False)
        for number, what, target in (("3.", "summary", "512 MiB"), ("4.", "parts", "1,024 MiB")):
            out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), what], check=True,
                                 capture_output=True, text=True).stdout.split()
            configs, seconds, rss_kib = int(out[0]), float(out[1]), int(out[2])
            kind = "summary only" if what == "summary" else "with per-layer tables streamed to Parquet parts"
            print(f"\n{number} {configs:,} configurations, {kind}, in a process importing only hwmodels: "
                  f"{seconds:.1f} s, peak RSS (VmHWM) {rss_kib / 1024:,.0f} MiB (target <= {target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds against ZigZag")
    parser.add_argument("--network", action="append",
                        choices=["resnet18_cifar", "resnet18_imagenet", "alexnet_imagenet"],
                        help="networks priced against ZigZag (default: resnet18_cifar and alexnet_imagenet)")
    parser.add_argument("--loop-sample", type=int, default=50, help="configurations timed one per call")
    parser.add_argument("--throughput-rounds", type=int, default=3,
                        help="interleaved rounds of part 2's loma calls, min taken (the exact mapper's: one)")
    parser.add_argument("--no-zigzag", action="store_true", help="leave out part 1 (ZigZag runs for minutes)")
    args = parser.parse_args()
    for network in [] if args.no_zigzag else args.network or ["resnet18_cifar", "alexnet_imagenet"]:
        versus_zigzag(network, args.rounds)
    throughput(args.loop_sample, args.throughput_rounds)
    memory()


if __name__ == "__main__":
    main()
