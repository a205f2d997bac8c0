"""im2col unrolling (hwmodels.im2col) on the SCALE-Sim twins shipped with benchmarks/validate_scalesim.py: the
flattened window's folds, the input read as the unrolled matrix's rows, and nests with no matrix product."""

import math
from pathlib import Path

import pytest
from torch import nn

import hwmodels
from estimator import energy, profile

TWINS = Path(__file__).resolve().parents[1] / "benchmarks" / "scalesim"


def twin(tmp_path: Path, dataflow: str, im2col: bool = True) -> str:
    """The shipped SCALE-Sim twin of ``dataflow`` (32 x 32), with im2col on or off."""
    text = (TWINS / f"{dataflow}.toml").read_text()
    assert "im2col = true" in text
    path = tmp_path / f"{dataflow}_{im2col}.toml"
    path.write_text(text if im2col else text.replace("im2col = true", "im2col = false"))
    return str(path)


def priced(layer: nn.Module, shape: tuple, hw: str):
    table = energy(profile(layer, input_shape=shape), hw, psum_bits=8, zero_skipping=False, interlayer="fit")
    return table.summary.iloc[0], table.levels.groupby("level")[["reads", "writes"]].sum()


def test_a_flattened_window_takes_ceil_of_its_taps_over_the_rows(tmp_path):
    # AlexNet's conv1 window, 11 x 11 x 3 = 363 taps, stride 4, on a 15 x 15 input: 2 x 2 = 4 output pixels, 32
    # filters (one column fold). Flattened on 32 rows: ceil(363 / 32) = 12 row folds; one loop per axis: C takes 3
    # rows, FX 10 of the 10 rows left for each channel (room 32 // 3 = 10), then FX twice and FY 11 times: 22 folds.
    # Each weight-stationary fold (per_fold, 32 x 32): 4 pixels + 2 x 32 + 32 - 2 = 98 cycles.
    layer, shape = nn.Conv2d(3, 32, 11, stride=4, bias=False), (1, 3, 15, 15)
    flat, _ = priced(layer, shape, twin(tmp_path, "ws"))
    nested, _ = priced(layer, shape, twin(tmp_path, "ws", im2col=False))
    assert abs(flat["latency_cycles"] - 12 * 98) <= 2
    assert abs(nested["latency_cycles"] - 22 * 98) <= 2


def test_the_input_is_read_as_the_unrolled_rows_but_stored_once(tmp_path):
    # An 8 x 8 x 3 window (192 taps = 6 row folds of 32), stride 4, on 12 x 12: 2 x 2 = 4 pixels, 32 filters. The
    # array reads the unrolled matrix, 4 pixels x 192 taps = 768 ifmap SRAM reads (SCALE-Sim's count: every tap of
    # every window, overlaps included); DRAM holds the real input, 3 x 12 x 12 = 432 elements, read once.
    _, moved = priced(nn.Conv2d(3, 32, 8, stride=4, bias=False), (1, 3, 12, 12), twin(tmp_path, "ws"))
    assert moved.loc["ifmap_sram", "reads"] == 4 * 192
    assert moved.loc["filter_sram", "reads"] == 32 * 192  # each weight once: it stays for its fold
    assert moved.loc["ofmap_sram", "writes"] == 6 * 4 * 32  # a partial sum per pixel and filter per row fold
    dram_input = 3 * 12 * 12
    assert moved.loc["dram", "reads"] == dram_input + 32 * 192


def test_output_stationary_pixels_flatten_onto_the_rows(tmp_path):
    # A 3x3 conv, 8 -> 32, on a 13 x 13 map (padding 1): 169 pixels flattened on 32 rows take ceil(169 / 32) = 6
    # folds (one loop per axis: OX 13, OY 2 -> 26 rows, 7 folds). Each output-stationary fold: 72 taps (8 x 3 x 3)
    # + 32 + 32 - 2 = 134 cycles; then the first tile's load and the last outputs' write-back, a few cycles.
    layer, shape = nn.Conv2d(8, 32, 3, padding=1, bias=False), (1, 8, 13, 13)
    flat, _ = priced(layer, shape, twin(tmp_path, "os"))
    nested, _ = priced(layer, shape, twin(tmp_path, "os", im2col=False))
    assert 0 <= flat["latency_cycles"] - 6 * 134 <= 8
    assert 0 <= nested["latency_cycles"] - 7 * 134 <= 8


@pytest.mark.parametrize("layer, shape", [(nn.ConvTranspose2d(8, 16, 3, stride=2, bias=False), (1, 8, 6, 6)),
                                          (nn.Linear(64, 48, bias=False), (20, 64))])
def test_a_nest_without_a_window_product_keeps_its_loops(tmp_path, layer, shape):
    # A transposed conv's unrolled form would index all three operands by the window (no matrix product) and a
    # linear layer is one already: im2col changes neither (here the folds average whole elements - K = 48 on 32
    # columns: 32 and 16 - so counting each fold at its size equals the rounded average).
    flat, _ = priced(layer, shape, twin(tmp_path, "ws"))
    nested, _ = priced(layer, shape, twin(tmp_path, "ws", im2col=False))
    assert flat["energy_pj"] == nested["energy_pj"] and flat["latency_cycles"] == nested["latency_cycles"]


def test_the_file_format_reads_im2col(tmp_path):
    assert hwmodels.load(twin(tmp_path, "ws")).array.im2col
    assert not hwmodels.get("tpu_like").array.im2col  # ZigZag's array: one loop per axis


def test_an_input_stationary_fold_keeps_each_input_while_every_filter_streams(tmp_path):
    # SCALE-Sim's 'is' twin: a 1x1 conv, 16 -> 32, on 8 x 8: the 16 channels take 16 of 32 rows, the 64 pixels two
    # column folds of 32. Each input is read once (16 x 64 = 1,024) and stays while the 32 filters stream past it;
    # each fold reads every weight once (16 x 32 x 2 folds = 1,024). A fold loads its inputs first: 32 filters + 2 x
    # 32 + 32 - 2 = 126 cycles, 252 for both, then a few cycles of first load and last write-back.
    summary, moved = priced(nn.Conv2d(16, 32, 1, bias=False), (1, 16, 8, 8), str(TWINS / "is.toml"))
    assert moved.loc["ifmap_sram", "reads"] == 16 * 64
    assert moved.loc["filter_sram", "reads"] == 16 * 32 * 2
    assert 0 <= summary["latency_cycles"] - 2 * 126 <= 8


def test_the_input_stationary_dataflow_unrolls_channels_by_pixels():
    # dataflow = "is" on horowitz45's 16 x 16 array: a 3x3 conv, 16 -> 32, on 16 x 16 puts its 16 channels down the
    # rows and a 16-pixel output row across (full use); pinned input-stationary, the filters (K 32) run innermost.
    table = energy(profile(nn.Conv2d(16, 32, 3, padding=1, bias=False), input_shape=(1, 16, 16, 16)), "horowitz45",
                   dataflow="is", stationary="input", per_layer=True).layers.iloc[0]
    assert table["spatial_utilization"] == 1.0
    tokens = table["loop_order"].split()
    inner = next(i for i, t in enumerate(tokens) if not t.startswith("K"))
    assert math.prod(int(t[1:]) for t in tokens[:inner]) == 32


def test_a_partial_fold_is_read_at_its_own_size(tmp_path):
    # 27 taps (3 x 3 x 3) on 16 rows: a fold of 16 and a fold of 11, not two folds of the average 13.5 rounded up
    # to 14. A 3x3 conv, 3 -> 16, on 8 x 8 (padding 1): 64 pixels x 27 taps = 1,728 ifmap reads (SCALE-Sim's
    # count), not 64 x 28 = 1,792. Output stationary, 169 pixels (13 x 13) on 16 rows: 10 folds of 16 and one of 9,
    # each reading its pixels' 72 taps (8 x 3 x 3) for each of the 16 filters' column fold: 169 x 72 = 12,168.
    table = energy(profile(nn.Conv2d(3, 16, 3, padding=1, bias=False), input_shape=(1, 3, 8, 8)),
                   twin(tmp_path, "ws"), pe_rows=16, pe_cols=16, psum_bits=8, zero_skipping=False, interlayer="fit")
    assert table.levels.groupby("level")["reads"].sum()["ifmap_sram"] == 64 * 27
    table = energy(profile(nn.Conv2d(8, 16, 3, padding=1, bias=False), input_shape=(1, 8, 13, 13)),
                   twin(tmp_path, "os"), pe_rows=16, pe_cols=16, psum_bits=8, zero_skipping=False, interlayer="fit")
    assert table.levels.groupby("level")["reads"].sum()["ifmap_sram"] == 169 * 72
    # a matrix product on the same array folds the same way: Linear 27 -> 16 on a batch of 64, 64 x 27 = 1,728
    table = energy(profile(nn.Linear(27, 16, bias=False), input_shape=(64, 27)), twin(tmp_path, "ws"), pe_rows=16,
                   pe_cols=16, psum_bits=8, zero_skipping=False, interlayer="fit")
    assert table.levels.groupby("level")["reads"].sum()["ifmap_sram"] == 64 * 27
