"""Cycles and SRAM accesses of systolic arrays against SCALE-Sim v3 (a cycle-level simulator, independent of ZigZag).

Every convolution of ResNet-18-CIFAR (32x32 input) and AlexNet (224x224), batch 1, on a 32x32 and a 16x16 array,
in SCALE-Sim's weight-stationary (``ws``) and output-stationary (``os``) dataflows (and input stationary, ``is``,
with ``--dataflows is``), priced here on a twin of SCALE-Sim's array (``benchmarks/scalesim/<dataflow>.toml``, each
beside the SCALE-Sim configuration it mirrors): one register per PE for the stationary operand, separate ifmap,
filter and ofmap SRAMs whose ports never stall, SCALE-Sim's im2col unrolling (ws: the window C x FY x FX down the
rows, the filters K across; os: the output pixels OY x OX down the rows, K across; is: the window down the rows,
the pixels across), the stationary operand kept in the PEs for a whole fold (the twin's ``[order]``) and
``fill = "per_fold"``; 8-bit partial sums, so that one access is one element, as SCALE-Sim counts words. Beside
each layer, SCALE-Sim's own run of it: its "Total Cycles" (no prefetch), SRAM ifmap and filter reads and ofmap
writes.

SCALE-Sim has no padding and rounds its output count up; its topology gets the padded input rows the layer reads,
``(outputs - 1) x stride + kernel``, so that both count the same outputs (a stride-2 3x3 conv on a padded 34x34
input gives 16 outputs in torch, 17 in SCALE-Sim; given 33 rows SCALE-Sim gives 16).

Measured (2026-12-07, scalesim 3.0.0): every layer of both networks, both arrays and both dataflows within 2% of
SCALE-Sim's cycles (worst 1.018, a 16x16 os layer: this tool's first load and last write-back) and its ifmap and
filter reads (worst 1.002); ofmap writes 0.89-0.94x in os, where SCALE-Sim adds rows + columns writes per fold.
The 16x16 runs take SCALE-Sim about 25 minutes.

Set-up (a separate environment: scalesim 3.0.0 needs numpy < 2.3)::

    python3 -m venv /tmp/ssenv
    /tmp/ssenv/bin/pip install "numpy<2.3" scalesim==3.0.0 torch==2.13.0
    /tmp/ssenv/bin/pip install -e . "numpy<2.3"

Run: /tmp/ssenv/bin/python benchmarks/validate_scalesim.py [--networks resnet18_cifar alexnet_imagenet]
[--sizes 32 16] [--dataflows ws os] [--csv out.csv] [--reference tests/data/scalesim_reference.csv]
or, without SCALE-Sim, against its stored figures: python benchmarks/validate_scalesim.py --stored
tests/data/scalesim_reference.csv
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import io
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from estimator import energy, profile
from estimator.models import create

TWINS = Path(__file__).resolve().parent / "scalesim"
"""The twin hardware files (``<dataflow>.toml``) and the SCALE-Sim configurations they mirror (``<dataflow>.cfg``)."""
NETWORKS = {"resnet18_cifar": 32, "alexnet_imagenet": 224}
"""Networks and their input side, pixels."""
DATAFLOWS = ["ws", "os", "is"]
"""SCALE-Sim's dataflows, each with its twin: weight, output and input stationary."""
TOLERANCE = 0.02
"""Agreement asked of every layer: cycles and SRAM reads within 2% of SCALE-Sim's."""
MEASURES = {"cycles": ("latency", "Total Cycles"), "ifmap_reads": ("ifmap_sram", "SRAM IFMAP Reads"),
            "filter_reads": ("filter_sram", "SRAM Filter Reads"), "ofmap_writes": ("ofmap_sram", "SRAM OFMAP Writes")}
"""Each compared figure: (this tool's level or "latency", SCALE-Sim's report column)."""


def convolutions(model: nn.Module, side: int) -> list[tuple[str, nn.Conv2d, int]]:
    """Every convolution of ``model`` with the side of its input (square inputs of ``side`` pixels)."""
    sides = {}
    handles = [m.register_forward_hook(lambda module, inputs, output, name=n: sides.__setitem__(name,
                                                                                              inputs[0].shape[-1]))
               for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    for handle in handles:
        handle.remove()
    return [(n, m, sides[n]) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def used_extent(conv: nn.Conv2d, side: int) -> int:
    """Padded input rows the convolution reads: (outputs - 1) x stride + kernel."""
    (k, _), (s, _), (p, _) = conv.kernel_size, conv.stride, conv.padding
    return ((side + 2 * p - k) // s) * s + k


def ours(conv: nn.Conv2d, side: int, dataflow: str, size: int) -> dict[str, float]:
    """This tool's figures for one convolution on the twin of ``dataflow`` resized to ``size`` x ``size``."""
    layer = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      groups=conv.groups, bias=False)
    table = energy(profile(layer, input_shape=(1, conv.in_channels, side, side)), str(TWINS / f"{dataflow}.toml"),
                   pe_rows=size, pe_cols=size, psum_bits=8, zero_skipping=False, interlayer="fit")
    moved = table.levels.groupby("level")[["reads", "writes"]].sum()
    return {"cycles": float(table.summary.loc[0, "latency_cycles"]),
            "ifmap_reads": float(moved.loc["ifmap_sram", "reads"]),
            "filter_reads": float(moved.loc["filter_sram", "reads"]),
            "ofmap_writes": float(moved.loc["ofmap_sram", "writes"])}


def scalesim(label: str, conv: nn.Conv2d, side: int, dataflow: str, size: int, folder: Path) -> dict[str, float]:
    """SCALE-Sim's figures for one convolution (its configuration ``<dataflow>.cfg`` at ``size`` x ``size``)."""
    from scalesim.scale_sim import scalesim as simulator

    config = configparser.ConfigParser()
    config.optionxform = str
    config.read(TWINS / f"{dataflow}.cfg")
    config["general"]["run_name"] = run = f"{dataflow}{size}_{label}"
    config["architecture_presets"]["ArrayHeight"] = config["architecture_presets"]["ArrayWidth"] = str(size)
    config_path, topology = folder / f"{run}.cfg", folder / f"{run}.csv"
    with config_path.open("w") as handle:
        config.write(handle)
    rows = used_extent(conv, side)
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                        f"Strides,\n{label}, {rows}, {rows}, {conv.kernel_size[0]}, {conv.kernel_size[1]}, "
                        f"{conv.in_channels}, {conv.out_channels}, {conv.stride[0]},\n")
    run_ = simulator(save_disk_space=True, verbose=False, config=str(config_path), topology=str(topology),
                     layout=str(topology))
    # scalesim 3.0.0's own summary step raises a TypeError after the layer reports are written
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(TypeError):
        run_.run_scale(top_path=str(folder))
    report = pd.concat([pd.read_csv(folder / run / name, skipinitialspace=True).iloc[0]
                        for name in ("COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")])
    return {measure: float(report[column]) for measure, (_, column) in MEASURES.items()}


GEOMETRY = ["network", "layer", "array", "dataflow", "C", "K", "kernel", "stride", "padding", "side"]
"""The columns naming a layer and the array it ran on (``side``: its input's, before padding)."""


def write_reference(table: pd.DataFrame, path: Path) -> None:
    """SCALE-Sim's figures per layer (nothing this tool computed), with where they come from, for the tests."""
    columns = {f"{m}_scalesim": m for m in MEASURES}
    header = (f"# SCALE-Sim {version('scalesim')}'s reports per layer (COMPUTE_REPORT 'Total Cycles', "
              "DETAILED_ACCESS_REPORT SRAM reads and writes), written by benchmarks/validate_scalesim.py --reference: "
              "the layer's padded used input as its topology, the configurations in benchmarks/scalesim/\n")
    path.write_text(header + table[GEOMETRY + list(columns)].rename(columns=columns).to_csv(index=False))


def read_stored(path: Path, wanted: list[tuple]) -> dict[tuple, dict[str, float]]:
    """SCALE-Sim's figures per (network, layer, array, dataflow) from a file :func:`write_reference` wrote; exits
    with one line naming the first layer it lacks, before any pricing."""
    table = pd.read_csv(path, comment="#")
    figures = {(r.network, r.layer, int(r.array), r.dataflow): {m: float(getattr(r, m)) for m in MEASURES}
               for r in table.itertuples()}
    missing = [key for key in wanted if key not in figures]
    if missing:
        sys.exit(f"{path}: no SCALE-Sim figures for {missing[0]} (network, layer, array, dataflow); run SCALE-Sim "
                 "without --stored")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 16])
    parser.add_argument("--dataflows", nargs="+", default=["ws", "os"], choices=DATAFLOWS)
    parser.add_argument("--csv", type=Path, help="also write the per-layer table here")
    parser.add_argument("--reference", type=Path, help="also write SCALE-Sim's figures alone here, as the tests' "
                                                       "reference (tests/data/scalesim_reference.csv)")
    parser.add_argument("--stored", type=Path, help="take SCALE-Sim's figures from a file --reference wrote (e.g. "
                                                    "tests/data/scalesim_reference.csv) instead of running SCALE-Sim")
    args = parser.parse_args()
    layers = {network: convolutions(create(network).eval(), NETWORKS[network]) for network in args.networks}
    stored = read_stored(args.stored, [(network, name, size, dataflow) for network, convs in layers.items()
                                       for size in args.sizes for dataflow in args.dataflows
                                       for name, _, _ in convs]) if args.stored else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for network, convs in layers.items():
            for size in args.sizes:
                for dataflow in args.dataflows:
                    for name, conv, side in convs:
                        mine = ours(conv, side, dataflow, size)
                        theirs = (stored[(network, name, size, dataflow)] if stored is not None
                                  else scalesim(name.replace(".", "_"), conv, side, dataflow, size, Path(tmp)))
                        row = {"network": network, "array": size, "dataflow": dataflow, "layer": name,
                               "C": conv.in_channels, "K": conv.out_channels, "kernel": conv.kernel_size[0],
                               "stride": conv.stride[0], "padding": conv.padding[0], "side": side}
                        for measure in MEASURES:
                            row[measure], row[f"{measure}_scalesim"] = mine[measure], theirs[measure]
                        rows.append(row)
                        print(f"{network} {size}x{size} {dataflow} {name:20s} " + "  ".join(
                            f"{m} {mine[m]:,.0f}/{theirs[m]:,.0f} = {mine[m] / theirs[m]:.3f}" for m in MEASURES),
                            flush=True)
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.reference:
        write_reference(table, args.reference)
    print("\n| network | array | dataflow | cycles within 2% | network cycles | ifmap reads within 2% | "
          "filter reads within 2% | ofmap writes (network) |\n|---|---|---|---|---|---|---|---|")
    failed = 0
    for (network, size, dataflow), group in table.groupby(["network", "array", "dataflow"], sort=False):
        cells = []
        for measure in ("cycles", "ifmap_reads", "filter_reads"):
            ratio = group[measure] / group[f"{measure}_scalesim"]
            within = (ratio - 1).abs() <= TOLERANCE
            failed += int((~within).sum())
            worst = ratio.iloc[(ratio - 1).abs().argmax()]
            cells.append(f"{int(within.sum())} of {len(group)} (worst {worst:.3f})")
            if measure == "cycles":
                cells.append(f"{group[measure].sum() / group[f'{measure}_scalesim'].sum():.4f}")
        cells.append(f"{group['ofmap_writes'].sum() / group['ofmap_writes_scalesim'].sum():.3f}")
        print(f"| {network} | {size}x{size} | {dataflow} | " + " | ".join(cells) + " |")
    print(f"\n{failed} (layer, figure) pairs outside {TOLERANCE:.0%}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
