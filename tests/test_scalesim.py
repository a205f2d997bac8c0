"""The SCALE-Sim twins against SCALE-Sim 3.0.0's own reports, stored as test data (tests/data/scalesim_reference.csv,
written by benchmarks/validate_scalesim.py --reference, which runs SCALE-Sim in its own environment): every conv of
ResNet-18-CIFAR and AlexNet on 32x32 and 16x16 arrays, ws and os, priced here by the script's own pricing."""

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = pd.read_csv(ROOT / "tests" / "data" / "scalesim_reference.csv", comment="#")
SHAPES = ["array", "dataflow", "C", "K", "kernel", "stride", "padding", "side"]


def validation_script():
    spec = importlib.util.spec_from_file_location("validate_scalesim", ROOT / "benchmarks" / "validate_scalesim.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_holds_every_layer_of_both_networks_arrays_and_dataflows():
    # 20 ResNet-18-CIFAR convs and 5 AlexNet convs, on 2 arrays, in 2 dataflows
    assert len(REFERENCE) == (20 + 5) * 2 * 2
    assert REFERENCE.groupby(["network", "array", "dataflow"]).size().to_dict() == {
        (n, a, d): c for n, c in (("alexnet_imagenet", 5), ("resnet18_cifar", 20)) for a in (16, 32)
        for d in ("os", "ws")}


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_the_twin_agrees_with_scalesim_within_two_percent_on_every_layer(dataflow):
    script = validation_script()
    layers = REFERENCE[REFERENCE["dataflow"] == dataflow].drop_duplicates(SHAPES)  # repeated shapes priced once
    for row in layers.itertuples():
        conv = nn.Conv2d(row.C, row.K, row.kernel, row.stride, row.padding, bias=False)
        ours = script.ours(conv, row.side, dataflow, row.array)
        for measure in ("cycles", "ifmap_reads", "filter_reads"):
            ratio = ours[measure] / getattr(row, measure)
            assert abs(ratio - 1) <= script.TOLERANCE, (row.network, row.layer, row.array, measure, ratio)
        # ofmap writes: equal in ws; in os SCALE-Sim adds rows + columns (2 x array) writes to each of its
        # ceil(pixels / array) x ceil(K / array) folds (systolic_compute_os.py), which this tool does not count.
        # Beyond that, os layers with a partial fold differ by up to 0.2% (AlexNet conv2 on 16x16: 140,208 writes
        # here for its 729 x 192 = 139,968 outputs): the registers' write-back to the SRAM is priced per average fold
        if dataflow == "ws":
            assert ours["ofmap_writes"] == row.ofmap_writes
        else:
            pixels = ((row.side + 2 * row.padding - row.kernel) // row.stride + 1) ** 2
            folds = math.ceil(pixels / row.array) * math.ceil(row.K / row.array)
            assert ours["ofmap_writes"] + folds * 2 * row.array == pytest.approx(row.ofmap_writes, rel=3e-3)
