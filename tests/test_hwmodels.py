"""Hardware models: preset values against their sources, hand-priced layers, monotonicity, bad files."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
import torch
from torch import nn

import hwmodels
from estimator import energy, profile
from estimator.models import create
from hwmodels import HardwareFileError, load

# (preset, kind, format or level, action or size_kib, value in the preset's unit): REFERENCES.md section 3
SOURCE_ROWS = [
    ("horowitz45", "compute", "int8", "add", 0.03), ("horowitz45", "compute", "int16", "add", 0.05),
    ("horowitz45", "compute", "int32", "add", 0.1), ("horowitz45", "compute", "fp16", "add", 0.4),
    ("horowitz45", "compute", "fp32", "add", 0.9), ("horowitz45", "compute", "int8", "mult", 0.2),
    ("horowitz45", "compute", "int32", "mult", 3.1), ("horowitz45", "compute", "fp16", "mult", 1.1),
    ("horowitz45", "compute", "fp32", "mult", 3.7), ("horowitz45", "compute", "int8", "shift", 0.024),
    ("horowitz45", "compute", "int32", "shift", 0.13),
    ("horowitz45", "memory", "dram", None, 1300.0), ("horowitz45", "memory", "sram", 8, 10.0),
    ("horowitz45", "memory", "sram", 32, 20.0), ("horowitz45", "memory", "sram", 1024, 100.0),
    ("eyeriss65", "compute", "int16", "mac", 1.0), ("eyeriss65", "memory", "dram", None, 200.0),
    ("eyeriss65", "memory", "sram", 108, 6.0), ("eyeriss65", "memory", "array", None, 2.0),
    ("eyeriss65", "memory", "rf", 0.5, 1.0),
]


@pytest.mark.parametrize("preset,kind,key,detail,value", SOURCE_ROWS)
def test_preset_values_equal_their_sources(preset, kind, key, detail, value):
    model = hwmodels.get(preset)
    if kind == "compute":
        rows = [c for c in model.compute if c.format == key and c.action == detail]
    else:
        rows = [m for m in model.memory if m.level == key and (detail is None or m.size_kib == detail)]
    assert len(rows) == 1 and rows[0].energy == value and rows[0].source


def test_unverified_values_are_labelled_estimates():
    h = hwmodels.get("horowitz45")
    shifts = [c for c in h.compute if c.action == "shift"]
    assert shifts and all(c.estimate and "not verified" in c.source for c in shifts)
    assert [m.estimate for m in h.memory if m.level == "sram"] == [False, True, True]


def test_width_scaling_is_flagged_as_derived():
    h = hwmodels.get("horowitz45")
    mult16 = h.action_energy("mult", "int16")  # no 16-bit integer multiply in the table
    assert mult16.derived and mult16.value == pytest.approx(0.2 * (16 / 8) ** 2)
    assert not h.action_energy("add", "int16").derived
    assert h.action_energy("compare", "int8").value == 0.03  # compare = add


@pytest.mark.parametrize("preset", hwmodels.available())
@pytest.mark.parametrize("fmt", ["int8", "int16", "int32", "fp16", "fp32"])
def test_shift_never_dearer_than_multiply(preset, fmt):
    h = hwmodels.get(preset)
    try:
        mult = h.action_energy("mult", fmt).value
    except ValueError:
        pytest.skip(f"{preset} has no {fmt} arithmetic")
    assert h.action_energy("shift", fmt).value <= mult


CHIP = """
[model]
name = "roundchip"
[[compute]]
format = "int8"
action = "mult"
energy_pj = 1.0
source = "test"
[[compute]]
format = "int8"
action = "add"
energy_pj = 0.5
source = "test"
[[memory]]
level = "dram"
access_bits = 64
energy_pj = 640.0
source = "test"
[[memory]]
level = "sram"
size_kib = 8
access_bits = 64
energy_pj = 64.0
source = "test"
[[memory]]
level = "rf"
access_bits = 16
energy_pj = 1.6
source = "test"
"""


@pytest.fixture
def chip(tmp_path):
    path = tmp_path / "roundchip.toml"
    path.write_text(CHIP)
    return load(path)


@pytest.fixture
def one_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.rand_like(conv.weight) + 0.1)  # no zeros
    return profile(nn.Sequential(conv), input_shape=(1, 2, 6, 6), strict=True)


@pytest.mark.parametrize("dataflow,buffer_kib,expected", [
    # 1x2x6x6 -> 1x4x4x4: M = 64 outputs x 18 taps = 1152 MACs, W = 72 weights, I = 72, O = 64 elements.
    # Energies per bit: DRAM 640/64 = 10, SRAM 64/64 = 1, RF 1.6/16 = 0.1 pJ. PE array 4 rows x 2 cols.
    # Weights in DRAM: dense 72 x 8 = 576 bits (CSR would be 72 x 12 + 9 x 7 = 927) -> 5760 pJ.
    # Working set 576 + 576 + 512 = 1664 bits fits 1 KiB (8192 bits): no activation traffic.
    # ws: RF = 1152 x 8 = 9216 bits -> 921.6; SRAM = 576 + 1152/2 x 8 + 2 x 1152/4 x 32 = 23616 bits.
    ("ws", 1.0, {"dram_pj": 5760.0, "sram_pj": 23616.0, "rf_pj": 921.6}),
    # os: RF = 2 x 1152 x 32 = 73728 bits -> 7372.8; SRAM = 1152/4 x 8 + 1152/2 x 8 + 64 x 8 = 7424 bits.
    ("os", 1.0, {"dram_pj": 5760.0, "sram_pj": 7424.0, "rf_pj": 7372.8}),
    # 1024-bit buffer: 1664 does not fit; weight tiles ceil(576 / 512) = 2, so the input is read twice:
    # activation DRAM = 576 x 2 + 512 = 1664 bits -> 16640 pJ, plus the weights' 5760.
    ("ws", 0.125, {"dram_pj": 5760.0 + 16640.0, "sram_pj": 23616.0, "rf_pj": 921.6}),
    ("os", 0.125, {"dram_pj": 5760.0 + 16640.0, "sram_pj": 7424.0, "rf_pj": 7372.8}),
])
def test_one_conv_priced_by_hand(chip, one_conv, dataflow, buffer_kib, expected):
    table = energy(one_conv, chip, dataflow=dataflow, buffer_kib=buffer_kib, pe_rows=4, pe_cols=2)
    row = table.layers.iloc[0]
    assert row["mult_pj"] == pytest.approx(1152 * 1.0)
    assert row["add_pj"] == pytest.approx(1152 * 0.5)
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key
    assert row["energy_pj"] == pytest.approx(1152 * 1.5 + sum(expected.values()))
    # accesses of each level's width: 64-bit SRAM words (1 pJ/bit x 64), 16-bit RF words (0.1 pJ/bit x 16)
    assert row["sram_accesses"] == pytest.approx(expected["sram_pj"] / 64)
    assert row["rf_accesses"] == pytest.approx(expected["rf_pj"] / 0.1 / 16)
    assert table.summary.loc[0, "energy_pj"] == pytest.approx(row["energy_pj"])


def test_eyeriss_needs_a_mac_energy_and_scales_linearly(one_conv):
    with pytest.raises(ValueError, match="mac_energy_pj"):
        energy(one_conv, "eyeriss65")
    one = energy(one_conv, "eyeriss65", mac_energy_pj=1.0).summary.loc[0, "energy_pj"]
    two = energy(one_conv, "eyeriss65", mac_energy_pj=2.0).summary.loc[0, "energy_pj"]
    assert two == pytest.approx(2 * one)


def test_grid_equals_one_configuration_at_a_time():
    prof = profile(create("digits_cnn"), input_shape=(1, 1, 8, 8))
    grid = {"weight_bits": [4, 8, 16], "buffer_kib": [0.5, 64.0], "dataflow": ["ws", "os"],
            "zero_skipping": [True, False]}
    summary = energy(prof, ["horowitz45", "eyeriss65"], mac_energy_pj=0.5, **grid).summary
    assert len(summary) == 2 * 3 * 2 * 2 * 2
    for hw, wb, kib, flow, skip in itertools.product(["horowitz45", "eyeriss65"], *grid.values()):
        single = energy(prof, hw, weight_bits=wb, buffer_kib=kib, dataflow=flow, zero_skipping=skip,
                        mac_energy_pj=0.5).summary.iloc[0]
        match = summary[(summary.hw == hw) & (summary.weight_bits == wb) & (summary.buffer_kib == kib)
                        & (summary.dataflow == flow) & (summary.zero_skipping == skip)]
        assert match["energy_pj"].item() == pytest.approx(single["energy_pj"])


def sparse_linear_profile(n_zero: int):
    lin = nn.Linear(16, 16, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.weight.view(-1)[:n_zero] = 0.0
    return profile(nn.Sequential(lin), input_shape=(4, 16))


@pytest.mark.parametrize("preset", hwmodels.available())
def test_more_nonzeros_or_wider_words_never_cost_less(preset):
    costs = [energy(sparse_linear_profile(z), preset, mac_energy_pj=1.0).summary.loc[0, "energy_pj"]
             for z in (250, 200, 128, 64, 0)]
    assert np.all(np.diff(costs) >= 0), costs
    prof = profile(create("digits_cnn"), input_shape=(1, 1, 8, 8))
    by_width = energy(prof, preset, weight_bits=[2, 4, 8, 16, 32], act_bits=[8, 16], mac_energy_pj=1.0).summary
    for act in (8, 16):
        series = by_width[by_width.act_bits == act]["energy_pj"].to_numpy()
        assert np.all(np.diff(series) >= 0)


def test_sparse_weights_choose_the_smaller_storage():
    dense = energy(sparse_linear_profile(0), "horowitz45").layers.iloc[0]
    sparse = energy(sparse_linear_profile(240), "horowitz45").layers.iloc[0]
    assert dense["weight_storage"] == "dense" and dense["dram_weight_bits"] == 256 * 8
    # 16 non-zeros x (8 + 4 index bits) + 17 row pointers x ceil(log2(18)) = 192 + 85 = 277 bits
    assert sparse["weight_storage"] == "unstructured" and sparse["dram_weight_bits"] == 277


BAD_FILES = {
    "missing field": ("energy_pj = 1.0\n", "", "compute[0].energy_pj: missing"),
    "negative energy": ("energy_pj = 1.0\n", "energy_pj = -1.0\n",
                        "compute[0].energy_pj: got -1.0; expected a non-negative"),
    "non-numeric energy": ("energy_pj = 1.0\n", 'energy_pj = "cheap"\n', "compute[0].energy_pj: got 'cheap'"),
    "unknown unit": ("energy_pj = 1.0\n", "energy_ev = 1.0\n", "compute[0].energy_ev: got \"unit 'ev'\""),
    "mixed units": ("energy_pj = 0.5\n", "energy_mac16 = 0.5\n", "energy_* fields: got 'mac16, pj'"),
    "unknown action": ('action = "mult"', 'action = "divide"', "compute[0].action: got 'divide'"),
    "wrong type": ("access_bits = 64", 'access_bits = "64"', "memory[0].access_bits: got '64'"),
    "unknown level": ('level = "rf"', 'level = "l3"', "memory[2].level: got 'l3'"),
    "unknown field": ('source = "test"\n[[compute]]', 'source = "test"\ncolour = "red"\n[[compute]]',
                      "compute[0].colour"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_hardware_files_name_file_and_field(tmp_path, kind):
    old, new, message = BAD_FILES[kind]
    path = tmp_path / "chip.toml"
    path.write_text(CHIP.replace(old, new, 1))
    with pytest.raises(HardwareFileError) as error:
        load(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_missing_level_and_invalid_toml(tmp_path):
    path = tmp_path / "chip.toml"
    path.write_text(CHIP.replace('level = "rf"', 'level = "sram"\nsize_kib = 1'))
    with pytest.raises(HardwareFileError, match="level = 'rf'"):
        load(path)
    path.write_text("[model\n")
    with pytest.raises(HardwareFileError, match="not valid TOML"):
        load(path)


def test_hwmodels_never_imports_torch():
    import subprocess

    code = "import sys, hwmodels; hwmodels.get('horowitz45'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
