"""Hardware descriptions: preset values against their sources, estimates labelled, derivation rules, the grid,
monotonicity, and bad files failing in one line that names the file and the field."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import hwmodels
from estimator import energy, profile
from estimator.models import create
from hwmodels import HardwareFileError, load
from hwmodels.errors import UserError
from tests.hardware_files import HANDCHIP as CHIP

# (preset, level name, read energy in the preset's unit): docs/references.md s.3 and the presets' sources
LEVEL_SOURCES = [("horowitz45", "dram", 1300.0), ("eyeriss65", "dram", 200.0), ("eyeriss65", "glb", 6.0),
                 ("eyeriss65", "rf_w", 1.0), ("eyeriss65", "rf_i", 1.0), ("eyeriss65", "rf_o", 1.0),
                 ("tpu_like", "rf_128B", 0.095), ("tpu_like", "rf_2B", 0.021), ("tpu_like", "sram_2MB", 416.16),
                 ("tpu_like", "dram", 700.0)]
COMPUTE_SOURCES = [("horowitz45", "int8", "add", 0.03), ("horowitz45", "int16", "add", 0.05),
                   ("horowitz45", "int32", "add", 0.1), ("horowitz45", "fp16", "add", 0.4),
                   ("horowitz45", "fp32", "add", 0.9), ("horowitz45", "int8", "mult", 0.2),
                   ("horowitz45", "int32", "mult", 3.1), ("horowitz45", "fp16", "mult", 1.1),
                   ("horowitz45", "fp32", "mult", 3.7), ("horowitz45", "int8", "shift", 0.024),
                   ("horowitz45", "int32", "shift", 0.13), ("eyeriss65", "int16", "mac", 1.0),
                   ("tpu_like", "int8", "mac", 0.04)]
SRAM_SOURCES = [(8, 10.0), (32, 20.0), (1024, 100.0)]  # Horowitz: KiB, pJ per 64-bit access


@pytest.mark.parametrize("preset,level,value", LEVEL_SOURCES)
def test_level_energies_equal_their_sources(preset, level, value):
    lv = hwmodels.get(preset).level(level)
    assert lv.read_energy == value and lv.source


@pytest.mark.parametrize("preset,fmt,action,value", COMPUTE_SOURCES)
def test_compute_energies_equal_their_sources(preset, fmt, action, value):
    rows = [c for c in hwmodels.get(preset).compute if c.format == fmt and c.action == action]
    assert len(rows) == 1 and rows[0].energy == value and rows[0].source


def test_sram_size_table_and_interpolated_buffer():
    h = hwmodels.get("horowitz45")
    assert [(p.size_kib, p.energy) for p in h.sram_table] == SRAM_SOURCES
    # log-log between 32 KiB (20 pJ) and 1 MiB (100 pJ): 256 KiB is 3/5 of the way in log2 size,
    # 20 * 5^(3/5) = 52.5 pJ per 64-bit access, the preset's value
    assert h.level("sram").read_energy == pytest.approx(20 * 5 ** 0.6, rel=2e-3)
    assert h.energy_scale(np.array([1024 * 8192.0]), 256 * 8192.0)[0] == pytest.approx(100 / 52.5, rel=2e-3)


def test_unverified_values_are_labelled_estimates():
    h = hwmodels.get("horowitz45")
    shifts = [c for c in h.compute if c.action == "shift"]
    assert shifts and all(c.estimate and "not verified" in c.source for c in shifts)
    assert [p.estimate for p in h.sram_table] == [False, True, True]
    notes = h.estimates()
    assert any(n.startswith("level dram: write energy taken equal") for n in notes)
    assert any(n.startswith("level rf_w:") for n in notes)


def test_width_scaling_is_flagged_as_derived():
    h = hwmodels.get("horowitz45")
    mult16 = h.action_energy("mult", "int16")  # no 16-bit integer multiply in the table
    assert mult16.derived and mult16.value == pytest.approx(0.2 * (16 / 8) ** 2)
    assert not h.action_energy("add", "int16").derived
    assert h.action_energy("compare", "int8").value == 0.03  # compare = add
    # a file with only a MAC energy (ZigZag's): mult and add split it 0.2 : 0.03 (Horowitz 8-bit)
    t = hwmodels.get("tpu_like")
    assert t.action_energy("mult", "int8").value == pytest.approx(0.04 * 0.2 / 0.23)
    assert t.action_energy("add", "int8").derived


@pytest.mark.parametrize("preset", hwmodels.available())
@pytest.mark.parametrize("fmt", ["int8", "int16", "int32", "fp16", "fp32"])
def test_shift_never_dearer_than_multiply(preset, fmt):
    h = hwmodels.get(preset)
    try:
        mult = h.action_energy("mult", fmt).value
    except ValueError:
        pytest.skip(f"{preset} has no {fmt} arithmetic")
    assert h.action_energy("shift", fmt).value <= mult


def test_one_preset_per_dataflow_family():
    unroll = {name: [loop for _, loop in hwmodels.get(name).array.loops] for name in hwmodels.available()}
    assert unroll["tpu_like"] == ["K", "C"] and hwmodels.get("tpu_like").array.systolic  # weight stationary
    assert unroll["os45"] == ["K", "OX"]  # output stationary
    assert unroll["eyeriss65"] == ["FY", "C", "OY"]  # row stationary: filter rows (then channels) x output rows
    assert unroll["horowitz45"] == ["K", "C"]


@pytest.fixture(scope="module")
def digits_profile():
    return profile(create("digits_cnn"), input_shape=(1, 1, 8, 8))


def test_eyeriss_needs_a_mac_energy_and_scales_linearly(digits_profile):
    with pytest.raises(ValueError, match="mac_energy_pj"):
        energy(digits_profile, "eyeriss65")
    one = energy(digits_profile, "eyeriss65", mac_energy_pj=1.0).summary.loc[0, "energy_pj"]
    two = energy(digits_profile, "eyeriss65", mac_energy_pj=2.0).summary.loc[0, "energy_pj"]
    assert two == pytest.approx(2 * one)


def test_grid_equals_one_configuration_at_a_time(digits_profile):
    grid = {"weight_bits": [4, 8], "buffer_kib": [0.5, 64.0], "dataflow": ["ws", "os"],
            "zero_skipping": [True, False], "interlayer": ["fit", "dram"]}
    summary = energy(digits_profile, ["horowitz45", "eyeriss65"], mac_energy_pj=0.5, per_layer=False,
                     **grid).summary
    assert len(summary) == 2 * 2 * 2 * 2 * 2 * 2
    for hw, wb, kib, flow, skip, policy in itertools.product(["horowitz45", "eyeriss65"], *grid.values()):
        single = energy(digits_profile, hw, weight_bits=wb, buffer_kib=kib, dataflow=flow, zero_skipping=skip,
                        interlayer=policy, mac_energy_pj=0.5).summary.iloc[0]
        match = summary[(summary.hw == hw) & (summary.weight_bits == wb) & (summary.buffer_kib == kib)
                        & (summary.dataflow == flow) & (summary.zero_skipping == skip)
                        & (summary.interlayer == policy)]
        for column in ("energy_pj", "latency_cycles", "dram_reads"):
            assert match[column].item() == pytest.approx(single[column]), (hw, wb, kib, flow, skip, policy, column)


def sparse_linear_profile(n_zero: int):
    lin = nn.Linear(16, 16, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.weight.view(-1)[:n_zero] = 0.0
    return profile(nn.Sequential(lin), input_shape=(4, 16))


@pytest.mark.parametrize("preset", hwmodels.available())
def test_more_nonzeros_or_wider_words_never_cost_less(preset, digits_profile):
    costs = [energy(sparse_linear_profile(z), preset, mac_energy_pj=1.0).summary.loc[0, "energy_pj"]
             for z in (250, 200, 128, 64, 0)]
    assert np.all(np.diff(costs) >= 0), costs
    by_width = energy(digits_profile, preset, weight_bits=[2, 4, 8, 16, 32], act_bits=[8, 16], mac_energy_pj=1.0,
                      per_layer=False).summary
    for act in (8, 16):
        series = by_width[by_width.act_bits == act]["energy_pj"].to_numpy()
        assert np.all(np.diff(series) >= 0), series


def test_unknown_and_bad_pricing_parameters(digits_profile):
    with pytest.raises(UserError, match="did you mean weight_bits"):
        energy(digits_profile, weigth_bits=8)
    with pytest.raises(ValueError, match="dataflow: got 'diagonal'; expected one of native, ws, os, is, rs"):
        energy(digits_profile, dataflow="diagonal")
    with pytest.raises(ValueError, match="buffer_kib: got -1.0; expected a positive number"):
        energy(digits_profile, buffer_kib=-1.0)



BAD_FILES = {
    "missing field": ('energy_pj = 1.0\n', "", "compute[0].energy_pj: missing"),
    "negative energy": ("energy_pj = 1.0\n", "energy_pj = -1.0\n",
                        "compute[0].energy_pj: got -1.0; expected a non-negative"),
    "non-numeric energy": ("energy_pj = 1.0\n", 'energy_pj = "cheap"\n', "compute[0].energy_pj: got 'cheap'"),
    "unknown unit": ("energy_pj = 1.0\n", "energy_ev = 1.0\n", "compute[0].energy_ev: got \"unit 'ev'\""),
    "mixed units": ("energy_pj = 0.5\n", "energy_mac16 = 0.5\n", "energy fields: got 'mac16, pj'"),
    "unknown action": ('action = "mult"', 'action = "divide"', "compute[0].action: got 'divide'"),
    "wrong type": ("word_bits = 8\n", 'word_bits = "8"\n', "level[0].word_bits: got '8'"),
    "unknown operand": ('operands = ["W"]', 'operands = ["X"]', "level[0].operands: got ['X']"),
    "unknown field": ('name = "rf_w"', 'name = "rf_w"\ncolour = "red"', "level[0].colour"),
    "operand held nowhere": ('operands = ["W", "I", "O"]\nsize_bits = inf', 'operands = ["I", "O"]\nsize_bits = inf',
                             "an off-chip level (size inf) holding it at the top"),
    "no off-chip level": ("size_bits = inf", "size_bits = 65536", "(operand W): missing; expected an off-chip"),
    "unknown array dimension": ('served_dims = ["D1", "D2"]\nread_energy_pj = 64.0',
                                'served_dims = ["D9"]\nread_energy_pj = 64.0', "level[2].served_dims: got ['D9']"),
    "unknown loop": ('unroll = ["K", "C"]', 'unroll = ["K", "Q"]', "array.unroll: got ['K', 'Q']"),
    "min above word": ("word_bits = 8\n", "word_bits = 8\nmin_bits = 16\n", "level[0].min_bits: got 16"),
    "port without a direction": ('source = "one 8-bit weight register per PE"\n',
                                 'source = "one 8-bit weight register per PE"\n[[level.port]]\nname = "r"\n'
                                 'bandwidth_bits = 8\nserves = ["W, tl"]\n',
                                 "level[0].port: missing; expected a port carrying 'W, fh'"),
    "old memory format": ("[[level]]\nname = \"rf_w\"", "[[memory]]\nlevel = \"rf\"\n[[level]]\nname = \"rf_w\"",
                          "[[memory]]: got '[[memory]]'; expected [[level]] tables"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_hardware_files_name_file_and_field(tmp_path, kind):
    old, new, message = BAD_FILES[kind]
    assert old in CHIP
    path = tmp_path / "chip.toml"
    path.write_text(CHIP.replace(old, new, 1))
    with pytest.raises(HardwareFileError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_the_base_chip_loads_and_invalid_files_fail(tmp_path):
    path = tmp_path / "chip.toml"
    path.write_text(CHIP)
    chip = load(path)
    assert [lv.name for lv in chip.hierarchy("W")] == ["rf_w", "sram", "dram"]
    assert chip.level("sram").write_energy == 12.8 and chip.level("rf_w").ports[0].bandwidth_bits == 8
    path.write_text("[model\n")
    with pytest.raises(HardwareFileError, match="not valid TOML"):
        load(path)
    path.write_bytes(b"\x00\x01\xff binary")
    with pytest.raises(HardwareFileError, match="not valid TOML"):
        load(path)
    with pytest.raises(HardwareFileError, match="file not found"):
        load(tmp_path / "missing.toml")


def test_hwmodels_never_imports_torch():
    code = ("import sys, hwmodels; hwmodels.get('horowitz45'); hwmodels.get('tpu_like'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
