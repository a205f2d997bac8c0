"""The movement, latency and utilisation model on layers small enough to price by hand (arithmetic in comments)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from estimator import energy, profile
from tests.hardware_files import HANDCHIP, SEPARATE_BUFFERS


@pytest.fixture(scope="module")
def handchip(tmp_path_factory):
    path = tmp_path_factory.mktemp("hw") / "handchip.toml"
    path.write_text(HANDCHIP)
    return str(path)


def conv_profile(c_in, c_out, kernel, size, padding=0, zero_fraction=0.0, bias=False):
    conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=bias)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.weight.view(-1)[:int(zero_fraction * conv.weight.numel())] = 0.0
    return profile(nn.Sequential(conv), input_shape=(1, c_in, size, size))


def accesses(table):
    return {(r.level, r.operand): (r.reads, r.writes) for r in table.levels.itertuples()}


def test_one_conv_priced_by_hand(handchip):
    # A 1x1 conv, 2 -> 2 channels on a 4x4 input: 16 outputs per channel, 64 MACs; W = 4, I = 32, O = 32 elements.
    # The 2x2 array unrolls K and C completely, leaving 16 temporal iterations (OY 4 x OX 4), all irrelevant to W.
    table = energy(conv_profile(2, 2, 1, 4), handchip, interlayer="dram", psum_bits=16)
    moved = accesses(table)
    # W is stationary: each PE's register is written once and read once for its 16 MACs (not 16 times):
    # 4 writes x 0.2 + 4 reads x 0.1 = 1.2 pJ.
    assert moved["rf_w", "W"] == (4.0, 4.0)
    # The 4 weights (32 bits) move once DRAM -> SRAM -> registers: 32 / 64 = 0.5 words at each end.
    assert moved["dram", "W"] == (0.5, 0.0) and moved["sram", "W"] == (0.5, 0.5)
    # I is read from DRAM once (every layer reads its input from DRAM): 32 x 8 = 256 bits = 4 words, written to the
    # SRAM (4 writes); each cycle the array takes 2 inputs (C = 2) = 16 bits = 0.25 words, 16 cycles: 4 reads.
    assert moved["dram", "I"] == (4.0, 0.0) and moved["sram", "I"] == (4.0, 4.0)
    # O: C is summed inside the array, so each cycle 2 final outputs (16 bits) reach the SRAM: 16 x 0.25 = 4 writes,
    # never read back (no partial sums); then 256 bits = 4 words go to DRAM: 4 SRAM reads, 4 DRAM writes.
    assert moved["sram", "O"] == (4.0, 4.0) and moved["dram", "O"] == (0.0, 4.0)
    row = table.layers.iloc[0]
    # energies: rf 1.2; SRAM (0.5 + 4 + 4) reads x 6.4 + (0.5 + 4 + 4) writes x 12.8 = 54.4 + 108.8 = 163.2;
    # DRAM (0.5 + 4) reads x 64 + 4 writes x 128 = 288 + 512 = 800; MAC 64 x (1.0 + 0.5) = 96.
    assert row["rf_w_pj"] == pytest.approx(1.2) and row["sram_pj"] == pytest.approx(163.2)
    assert row["dram_pj"] == pytest.approx(800.0) and row["mac_pj"] == pytest.approx(96.0)
    assert row["energy_pj"] == pytest.approx(1.2 + 163.2 + 800.0 + 96.0)
    # cycles (ZigZag's latency model): 16 computing; first loading: the weights, 32 bits, take one cycle on each of
    # the two boundaries (DRAM -> SRAM, SRAM -> register), the input 256 bits = 4 cycles; both inputs share the
    # SRAM and DRAM ports, so 1 (shared weight boundary) + max(4 (shared input boundary), 1 (half-shared weight
    # boundary)) = 5; writing the outputs back: 256 bits = 4 cycles; no stalls (every transfer fits its window).
    assert row["cycles"] == 16 + 5 + 4
    assert row["spatial_utilization"] == 1.0
    assert table.summary.loc[0, "latency_s"] == pytest.approx(25 / 100e6)
    assert table.summary.loc[0, "utilization"] == pytest.approx(64 / (4 * 25))


def test_three_input_channels_use_three_of_thirty_two(handchip):
    # tpu_like: a 32 x 32 array unrolling K x C. A conv with C = 3 and K = 32 unrolls K fully and C by 3 of 32:
    # 32 x 3 / 1024 = 3/32 of the PEs. MACs = 32 x 3 x 8 x 8 x 9 = 55296 over 576 temporal iterations
    # (8 x 8 outputs x 9 taps), and 55296 / (1024 x 576) = 0.09375.
    table = energy(conv_profile(3, 32, 3, 8, padding=1), "tpu_like", interlayer="dram")
    row = table.layers.iloc[0]
    assert row["spatial_utilization"] == pytest.approx(3 / 32)
    assert table.summary.loc[0, "utilization"] <= 3 / 32 + 1e-12
    # the same layer with 32 input channels fills the array
    assert energy(conv_profile(32, 32, 3, 8, padding=1), "tpu_like").layers.iloc[0]["spatial_utilization"] == 1.0


def test_stationary_weights_are_read_once_per_residency(handchip):
    # 2 -> 2 channels, 1x1, on a 16 x 16 input: 256 iterations, each weight held by its PE throughout.
    moved = accesses(energy(conv_profile(2, 2, 1, 16), handchip, interlayer="dram"))
    assert moved["rf_w", "W"] == (4.0, 4.0)  # 4 weights, one read each, for 1024 MACs


def test_fit_policy_keeps_activations_on_chip(handchip):
    # I (256 bits) and O (256 bits) fit the 8192-bit SRAM together: with "fit" neither goes to DRAM.
    prof = conv_profile(2, 2, 1, 4)
    kept = accesses(energy(prof, handchip, interlayer="fit"))
    assert kept["dram", "I"] == (0.0, 0.0) and kept["dram", "O"] == (0.0, 0.0)
    assert kept["dram", "W"] == (0.5, 0.0)  # weights still come from DRAM
    assert kept["sram", "I"] == (4.0, 0.0)  # the input is already in the SRAM: read, never written
    # a layer too large for the SRAM (I = 16 x 16 x 16 x 8 bits = 32768 > 8192) reads its input from DRAM anyway
    big = accesses(energy(conv_profile(16, 2, 1, 16), handchip, interlayer="fit"))
    assert big["dram", "I"][0] > 0


def test_zero_skipping_executes_and_moves_only_nonzero_weights(handchip):
    dense = energy(conv_profile(2, 2, 1, 4), handchip, interlayer="dram").layers.iloc[0]
    half = conv_profile(2, 2, 1, 4, zero_fraction=0.5)
    skipped = energy(half, handchip, interlayer="dram").layers.iloc[0]
    computed = energy(half, handchip, interlayer="dram", zero_skipping=False).layers.iloc[0]
    # half the weights are zero: 32 of 64 MACs executed at 1.5 pJ
    assert skipped["executed_macs"] == 32 and skipped["mac_pj"] == pytest.approx(48.0)
    assert computed["executed_macs"] == 64 and computed["mac_pj"] == pytest.approx(dense["mac_pj"])
    assert skipped["energy_pj"] < computed["energy_pj"] == pytest.approx(dense["energy_pj"])


def test_sparse_weights_are_stored_in_the_smaller_form(handchip):
    def linear(n_zero):
        lin = nn.Linear(16, 16, bias=False)
        with torch.no_grad():
            lin.weight.fill_(1.0)
            lin.weight.view(-1)[:n_zero] = 0.0
        return profile(nn.Sequential(lin), input_shape=(1, 16))

    dense = energy(linear(0), handchip, interlayer="dram")
    sparse = energy(linear(240), handchip, interlayer="dram")
    assert dense.layers.iloc[0]["weight_storage"] == "dense"
    assert sparse.layers.iloc[0]["weight_storage"] == "unstructured"
    # dense: 256 x 8 = 2048 bits = 32 DRAM words. Unstructured: 16 non-zeros x (8 + 4-bit index) + 17 row
    # pointers x ceil(log2(18)) = 5 bits = 192 + 85 = 277 bits, rounded up to the 8-bit granularity: 280 / 64.
    assert accesses(dense)["dram", "W"][0] == pytest.approx(2048 / 64)
    assert accesses(sparse)["dram", "W"][0] == pytest.approx(280 / 64)


def test_units_without_macs_move_their_input_and_output(handchip):
    # A ReLU on 1 x 2 x 4 x 4 (32 elements, 256 bits each way) with every layer going through DRAM:
    # DRAM 4 reads + 4 writes, SRAM 4 + 4, 32 compares.
    table = energy(profile(nn.Sequential(nn.ReLU()), input_shape=(1, 2, 4, 4)), handchip, interlayer="dram")
    moved = accesses(table)
    assert moved["dram", "I"] == (4.0, 0.0) and moved["dram", "O"] == (0.0, 4.0)
    assert moved["sram", "I"] == (4.0, 4.0) and moved["sram", "O"] == (4.0, 4.0)
    row = table.layers.iloc[0]
    assert row["compare_pj"] == pytest.approx(32 * 0.5)  # compare = add (an estimate)
    # the busiest port: the SRAM's read port sends the input down (4 words) and the output up (4 words), 64 bits a
    # cycle: 8 cycles (its write port takes the same 8; DRAM's ports 4 each)
    assert row["cycles"] == 8


def test_units_without_macs_on_separate_input_and_output_buffers(tmp_path):
    # the fidelity report's case: a hardware file with separate input and output SRAMs could not price a
    # BN/ReLU network (units without MACs were routed through one level holding both)
    path = tmp_path / "separate.toml"
    path.write_text(SEPARATE_BUFFERS)
    relu = profile(nn.Sequential(nn.ReLU()), input_shape=(1, 1, 4, 4))  # 16 elements in, 16 out
    for interlayer, dram in (("dram", True), ("fit", False)):
        table = energy(relu, str(path), interlayer=interlayer)
        moved = accesses(table)
        # (reads, writes) of 8-bit words: the input is read from sram_i (16) after arriving from DRAM (16 writes;
        # with "fit" it is already there); the output is written to sram_o (16) and read out to DRAM (16; with
        # "fit" it stays); with "dram" both cross DRAM: 16 input reads, 16 output writes
        assert moved[("sram_i", "I")] == (16.0, 16.0 if dram else 0.0)
        assert moved[("sram_o", "O")] == (16.0 if dram else 0.0, 16.0)
        assert moved.get(("dram", "I"), (0.0, 0.0))[0] == (16.0 if dram else 0.0)
        assert moved.get(("dram", "O"), (0.0, 0.0))[1] == (16.0 if dram else 0.0)


def systolic_chip(fill: str, unroll: str = '["K", "C"]') -> str:
    """DRAM_ONLY with a 4 x 4 systolic array (weight stationary by default: K down, C across) filling as ``fill``
    says, its ports 128 bits wide so that four 32-bit partial sums leave the array per cycle (the unrolling is
    full)."""
    from tests.hardware_files import DRAM_ONLY

    array = (f'[array]\ndims = ["D1", "D2"]\nsizes = [4, 4]\nunroll = {unroll}\nsystolic = ["D1", "D2"]\n'
             f'fill = "{fill}"\n')
    text = DRAM_ONLY.replace('[array]\ndims = ["D1"]\nsizes = [1]\nunroll = ["K"]\n', array)
    return text.replace('served_dims = ["D1"]', 'served_dims = ["D1", "D2"]').replace("bandwidth_bits = 64",
                                                                                        "bandwidth_bits = 128")


def test_systolic_fill_and_drain_once_or_per_fold(tmp_path):
    # Linear 8 -> 8 on a batch of 16: K = 8 over 4 rows, C = 8 over 4 columns, so the weight tiles are
    # ceil(8/4) x ceil(8/4) = 4 folds. Once per layer the pipeline costs R + C - 2 = 4 + 4 - 2 = 6 cycles; per fold
    # (SCALE-Sim) 2R + C - 2 = 10 cycles each, 40 in all: 34 more.
    prof = profile(nn.Linear(8, 8, bias=False), input_shape=(16, 8))
    cycles = {}
    for fill in ("once", "per_fold"):
        path = tmp_path / f"{fill}.toml"
        path.write_text(systolic_chip(fill))
        cycles[fill] = energy(prof, str(path), interlayer="dram").summary.loc[0, "latency_cycles"]
    assert cycles["per_fold"] - cycles["once"] == 40 - 6


def fill_difference(tmp_path, layer: nn.Module, shape: tuple, unroll: str) -> float:
    """Cycles with ``fill = "per_fold"`` less cycles with ``"once"``, on the 4 x 4 systolic chip."""
    prof = profile(layer, input_shape=shape)
    cycles = {}
    for fill in ("once", "per_fold"):
        path = tmp_path / f"{fill}.toml"
        path.write_text(systolic_chip(fill, unroll))
        cycles[fill] = energy(prof, str(path), interlayer="dram").summary.loc[0, "latency_cycles"]
    return cycles["per_fold"] - cycles["once"]


def test_an_output_stationary_fold_has_no_tile_to_load(tmp_path):
    # Linear 8 -> 8 on a batch of 16, K down and the batch across: the output tiles are ceil(8/4) x ceil(16/4) = 8
    # folds. An output-stationary fold starts with its partial sums in place: R + C - 2 = 6 cycles each (SCALE-Sim's
    # systolic_compute_os: T - 1 idle rows, then R rows drained, skewed over C - 1), 48 in all; once per layer 6.
    assert fill_difference(tmp_path, nn.Linear(8, 8, bias=False), (16, 8), '["K", "B"]') == 48 - 6


def test_a_fold_fills_the_whole_array_however_few_pes_it_uses(tmp_path):
    # Linear 8 -> 3 on a batch of 16, weight stationary: K = 3 uses 3 of 4 rows, C = 8 takes 2 folds. Once per
    # layer: 3 + 4 - 2 = 5 cycles for the PEs in use. Per fold the data crosses the whole 4 x 4 array (SCALE-Sim
    # pads each fold to the array): 2 x 4 + 4 - 2 = 10 cycles, 20 in all.
    assert fill_difference(tmp_path, nn.Linear(8, 3, bias=False), (16, 8), '["K", "C"]') == 20 - 5


def test_an_unknown_fill_is_one_line(tmp_path):
    from hwmodels import HardwareFileError, load

    path = tmp_path / "chip.toml"
    path.write_text(systolic_chip("sometimes"))
    with pytest.raises(HardwareFileError, match=r"array.fill.*once or per_fold"):
        load(str(path))


def test_a_padded_input_is_read_from_dram_at_its_real_size(tmp_path):
    # conv 1 -> 1, 3x3, padding 1, on a 4x4 map: the padded span is 6 x 6 = 36 positions, the real input 4 x 4 =
    # 16; the padding is made on chip. On DRAM_ONLY (everything else free), the layer reads W 9 + I 16 = 25 words
    # (1 pJ each) and writes O 16 (2 pJ each), not 9 + 36 reads.
    from tests.hardware_files import DRAM_ONLY

    path = tmp_path / "dram.toml"
    path.write_text(DRAM_ONLY)
    prof = profile(nn.Conv2d(1, 1, 3, padding=1, bias=False), input_shape=(1, 1, 4, 4))
    summary = energy(prof, str(path), interlayer="dram", zero_skipping=False).summary.iloc[0]
    assert (summary["dram_reads"], summary["dram_writes"]) == (9 + 16, 16)
    assert summary["dram_pj"] == 25 * 1.0 + 16 * 2.0


def test_an_unlimited_port_limits_no_unrolling(tmp_path):
    # bandwidth_bits = inf (allowed by the file format) once crashed the unrolling's bandwidth limit (inf // bits
    # is NaN). Unlimited ports limit nothing: Linear 8 -> 8 on a batch of 16 unrolls 4 x 4 in full, as with the
    # 128-bit ports, and takes as many cycles (16 x 2 x 2 = 64 temporal steps on either).
    prof = profile(nn.Linear(8, 8, bias=False), input_shape=(16, 8))
    tables = {}
    for bits in ("128", "inf"):
        path = tmp_path / f"{bits}.toml"
        path.write_text(systolic_chip("once").replace("bandwidth_bits = 128", f"bandwidth_bits = {bits}"))
        tables[bits] = energy(prof, str(path), interlayer="dram", per_layer=True).layers.iloc[0]
    assert tables["inf"]["spatial_utilization"] == tables["128"]["spatial_utilization"] == 1.0
    assert tables["inf"]["cycles"] <= tables["128"]["cycles"]
