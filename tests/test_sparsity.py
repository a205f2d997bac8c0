"""Zeros at the PEs and in memory (hwmodels.sparsity): gating, skipping and compressed activations, priced by hand
on the 2 x 2 handchip of tests/hardware_files.py (arithmetic in comments)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from estimator import energy, profile
from hwmodels import load
from hwmodels.model import HardwareFileError
from hwmodels.sparsity import Compression
from tests.hardware_files import DRAM_ONLY, HANDCHIP


def chip(tmp_path, sparsity: str = "", dram: str = "") -> str:
    """The handchip with a [sparsity] table and extra DRAM-level fields."""
    text = HANDCHIP.replace('name = "handchip"', 'name = "sparsechip"')
    text = text.replace('read_energy_pj = 64.0', dram + '\nread_energy_pj = 64.0')
    path = tmp_path / f"chip{abs(hash(sparsity + dram))}.toml"
    path.write_text(text + ("\n[sparsity]\n" + sparsity if sparsity else ""))
    return str(path)


def conv(zero_weights: float = 0.0, densities=None):
    """A 1x1 conv, 2 -> 2 channels on a 4x4 input: 64 MACs, 16 temporal iterations on the 2 x 2 array (K x C)."""
    layer = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.weight.view(-1)[:int(zero_weights * 4)] = 0.0
    return profile(nn.Sequential(layer), input_shape=(1, 2, 4, 4), densities=densities)


def priced(hw: str, prof, **options):
    table = energy(prof, hw, interlayer="dram", **options)
    moved = {(r.level, r.operand): (r.reads, r.writes) for r in table.levels.itertuples()}
    return table.layers.iloc[0], moved


def test_gating_half_dense_inputs_halves_mac_energy_and_gated_reads_not_cycles(tmp_path):
    hw = chip(tmp_path, 'gate = ["I"]\nskip = []')
    dense, dense_moved = priced(hw, conv())
    gated, gated_moved = priced(hw, conv(densities=0.5))
    # dense (test_movement's hand count): 64 MACs x 1.5 pJ = 96 pJ; the stationary weights read 4 times; 25 cycles
    assert dense["mac_pj"] == pytest.approx(96.0) and dense_moved["rf_w", "W"] == (4.0, 4.0)
    # half the inputs are zero: 32 MACs run, 48 pJ; the weight-register reads feeding them halve: 2 (the 4 writes
    # loading the registers do not); the cycles stay 25 (a gated MAC still takes its cycle)
    assert gated["mac_pj"] == pytest.approx(48.0) and gated_moved["rf_w", "W"] == (2.0, 4.0)
    assert gated["cycles"] == dense["cycles"] == 25
    # the inputs themselves are still read (to find the zeros): SRAM and DRAM traffic unchanged
    assert gated_moved["sram", "I"] == dense_moved["sram", "I"] and gated_moved["dram", "I"] == dense_moved["dram", "I"]
    # the what-if switch prices the same hardware dense
    off, _ = priced(hw, conv(densities=0.5), act_sparsity=False)
    assert off["energy_pj"] == pytest.approx(dense["energy_pj"]) and off["mac_pj"] == pytest.approx(96.0)


def test_skipping_half_dense_inputs_halves_the_mac_cycles_too(tmp_path):
    hw = chip(tmp_path, 'skip = ["I"]')
    dense, _ = priced(hw, conv())
    skipped, moved = priced(hw, conv(densities=0.5))
    # 32 MACs at 1.5 pJ; the weight reads halve as under gating
    assert skipped["mac_pj"] == pytest.approx(48.0) and moved["rf_w", "W"] == (2.0, 4.0)
    # the 16 computing cycles become 8; loading (5) and writing back (4) are unchanged: 8 + 5 + 4 = 17
    assert dense["cycles"] == 25 and skipped["cycles"] == 17


def test_weight_zeros_skipped_or_gated_as_the_hardware_says(tmp_path):
    # half the weights are zero: 32 of 64 MACs have a non-zero weight
    skip, _ = priced(chip(tmp_path, 'skip = ["W"]'), conv(zero_weights=0.5))
    gate, _ = priced(chip(tmp_path, 'gate = ["W"]\nskip = []'), conv(zero_weights=0.5))
    neither, _ = priced(chip(tmp_path, 'skip = []'), conv(zero_weights=0.5))
    default, _ = priced(chip(tmp_path), conv(zero_weights=0.5))  # no [sparsity] table: weight zeros skipped
    assert skip["mac_pj"] == gate["mac_pj"] == default["mac_pj"] == pytest.approx(48.0)
    assert neither["mac_pj"] == pytest.approx(96.0)  # the hardware computes the zeros
    # skipping: 8 computing cycles (8 + 5 + 4); gating keeps the 16 (25), as does computing them
    assert skip["cycles"] == default["cycles"] == 17 and gate["cycles"] == neither["cycles"] == 25


def test_zeros_of_both_operands_multiply(tmp_path):
    # weights half zero (skipped) and inputs a quarter non-zero (gated): 64 x 0.5 x 0.25 = 8 MACs, 12 pJ; the
    # cycles follow the skipped weights only: 8 computing, 17 in all
    row, _ = priced(chip(tmp_path, 'gate = ["I"]\nskip = ["W"]'), conv(zero_weights=0.5, densities=0.25))
    assert row["mac_pj"] == pytest.approx(12.0) and row["cycles"] == 17


@pytest.mark.parametrize("table, message", [
    ('gate = ["X"]', r"sparsity.gate: got \['X'\]; expected a list of items among W, I: operands whose zeros gate"),
    ('gate = ["I"]\nskip = ["I"]', r"sparsity: got \['I'\]; expected an operand gated or skipped, not both"),
    ('skip = "W"', "sparsity.skip: got 'W'; expected a list of items among W, I: operands whose zeros are skipped"),
    ('gates = ["I"]', "gates"),
])
def test_bad_sparsity_tables_fail_in_one_line(tmp_path, table, message):
    with pytest.raises(HardwareFileError, match=message) as error:
        load(chip(tmp_path, table))
    assert "\n" not in str(error.value)


def test_a_sparse_layer_is_faster_in_proportion_on_skipping_hardware_only(tmp_path):
    def conv3x3(zero_weights):
        layer = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        with torch.no_grad():
            layer.weight.fill_(1.0)
            layer.weight.view(-1)[:int(zero_weights * layer.weight.numel())] = 0.0
        return profile(nn.Sequential(layer), input_shape=(1, 2, 8, 8))

    def cycles(hw, prof):
        return energy(prof, hw, interlayer="fit").layers.iloc[0]["cycles"]

    skipping, gating = chip(tmp_path, 'skip = ["W"]'), chip(tmp_path, 'gate = ["W"]\nskip = []')
    dense, half = conv3x3(0.0), conv3x3(0.5)  # 2,304 MACs; 18 of 36 weights zero: 1,152 executed
    # 8 x 8 pixels x 9 taps = 576 iterations of the 2 x 2 array: the layer is compute-bound, so skipping half the
    # MACs halves its cycles but for the loading before and the write-back after (a few cycles)
    assert cycles(skipping, half) / cycles(skipping, dense) == pytest.approx(0.5, abs=0.02)
    # gating: the same 576 computing cycles; the compressed weight (18 of 36 with their index) loads one cycle
    # sooner, 1163 against 1164
    assert cycles(gating, dense) - cycles(gating, half) == 1


def test_rlc_of_a_quarter_dense_tensor_is_a_third_of_dense():
    rlc = Compression("rlc", run_bits=5, word_bits=64)
    # 16-bit values: floor(64 / (16 + 5)) = 3 pairs per 64-bit word, 64/3 bits per non-zero; a quarter of the
    # elements: 0.25 x 64/3 = 5.33 bits per element, 1/3 of 16
    assert rlc.share(0.25, 16) == pytest.approx(1 / 3)
    # 8-bit values: floor(64 / 13) = 4 pairs, 16 bits per non-zero: 0.25 x 16 / 8 = 0.5; never above dense
    assert rlc.share(0.25, 8) == pytest.approx(0.5) and rlc.share(0.9, 16) == 1.0
    # zero-value coding: a 1-bit mask per element and the non-zeros: (1 + 0.25 x 16) / 16
    assert Compression("zvc").share(0.25, 16) == pytest.approx(5 / 16)


def test_compressed_inputs_cross_dram_in_a_third_of_the_words(tmp_path):
    hw = chip(tmp_path, dram='compression = "rlc"')
    dense, dense_moved = priced(hw, conv(densities=1.0), act_bits=16, output_bits=16)
    sparse, moved = priced(hw, conv(densities=0.25), act_bits=16, output_bits=16)
    # the input, 32 x 16 bits = 512 bits = 8 DRAM words dense; RLC at density 0.25: 512 / 3 = 170.7 bits, rounded up
    # to the 8-bit granularity 176 bits = 2.75 words
    assert dense_moved["dram", "I"] == (8.0, 0.0) and moved["dram", "I"] == (2.75, 0.0)
    # the output, 32 x 16 bits, is written at density 0.25 too: 2.75 words instead of 8
    assert dense_moved["dram", "O"] == (0.0, 8.0) and moved["dram", "O"] == (0.0, 2.75)
    # on chip the activations are dense: the SRAM sees the same words
    assert moved["sram", "I"] == dense_moved["sram", "I"]
    off, off_moved = priced(hw, conv(densities=0.25), act_bits=16, output_bits=16, act_sparsity=False)
    assert off_moved["dram", "I"] == (8.0, 0.0)


def test_partial_sums_spilled_to_dram_are_not_compressed(tmp_path):
    # outputs live in DRAM only: a Linear 4 -> 1 on one PE accumulates its sum there, 4 partial sums written and
    # read back; only the inputs, read once through the SRAM, are compressed
    text = DRAM_ONLY.replace('operands = ["W", "I", "O"]\nsize_kib', 'operands = ["W", "I"]\nsize_kib', 1)
    path = tmp_path / "spill.toml"
    path.write_text(text.replace('name = "dram"', 'name = "dram"\ncompression = "rlc"'))
    prof = {d: profile(nn.Sequential(nn.Linear(4, 1, bias=False)), input_shape=(1, 4), densities=d)
            for d in (1.0, 0.25)}
    moved = {d: {(r.level, r.operand): (r.reads, r.writes) for r in energy(
        prof[d], str(path), interlayer="dram", psum_bits=16).levels.itertuples()} for d in prof}
    assert moved[0.25]["dram", "O"] == moved[1.0]["dram", "O"] and moved[1.0]["dram", "O"][0] > 0
    # the input: 4 x 8 bits = 4 words dense; RLC at 0.25: 0.25 x 16 bits x 4 = 16 bits = 2 words
    assert moved[1.0]["dram", "I"] == (4.0, 0.0) and moved[0.25]["dram", "I"] == (2.0, 0.0)


@pytest.mark.parametrize("field, message", [
    ('compression = "lz4"', "compression: got 'lz4'; expected none or rlc or zvc"),
    ('compression = "rlc"\nrun_bits = 70', "run_bits: got 70; expected a positive number of bits below"),
])
def test_bad_compression_fails_in_one_line(tmp_path, field, message):
    with pytest.raises(HardwareFileError, match=message):
        load(chip(tmp_path, dram=field))
    on_chip = HANDCHIP.replace('read_energy_pj = 6.4', 'compression = "rlc"\nread_energy_pj = 6.4')
    (tmp_path / "onchip.toml").write_text(on_chip)
    with pytest.raises(HardwareFileError, match="compression: got 'rlc'; expected none on an on-chip level"):
        load(str(tmp_path / "onchip.toml"))


def test_a_periodic_sparse_network_is_faster_on_skipping_hardware_in_proportion(tmp_path):
    from estimator.models import create
    from estimator.variants import Variant
    from hwmodels.registry import resolve

    gating = tmp_path / "horowitz45_gating.toml"
    gating.write_text(resolve("horowitz45").path.read_text() + '\n[sparsity]\ngate = ["W"]\nskip = []\n')
    model = create("resnet18_cifar").eval()
    profiles = {v: profile(Variant.parse(v).apply(model) if v != "dense" else model, input_shape=(1, 3, 32, 32))
                for v in ("dense", "PS2_P6")}
    summary = {(v, hw): energy(p, hw, per_layer=False).summary.iloc[0] for v, p in profiles.items()
               for hw in ("horowitz45", str(gating))}
    executed = summary["PS2_P6", "horowitz45"]["executed_macs"] / summary["dense", "horowitz45"]["executed_macs"]
    faster = summary["PS2_P6", "horowitz45"]["latency_cycles"] / summary["dense", "horowitz45"]["latency_cycles"]
    # horowitz45 skips zero weights: PS2_P6 executes 24% of the dense MACs (2 of 9 taps kept, padding taps skipped
    # in both) and takes 26% of its cycles (measured 0.256 against 0.239: loading and write-back do not shrink)
    assert executed == pytest.approx(0.239, abs=0.01) and faster == pytest.approx(executed, rel=0.10)
    # the same chip gating instead: the computing cycles stay; only the compressed weights load sooner (1.6%)
    gated = summary["PS2_P6", str(gating)]["latency_cycles"] / summary["dense", str(gating)]["latency_cycles"]
    assert 0.97 < gated <= 1.0
