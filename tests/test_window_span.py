"""The input positions a tile of a windowed loop nest touches (hwmodels.nest.window_span, ZigZag's
calc_pr_dimension_size), checked by enumeration."""

import itertools

import numpy as np

from hwmodels.layers import LOOP_DIMS
from hwmodels.nest import DIM, Nest, relevance, window_span


def distinct_positions(outputs: int, taps: int, stride: int, dilation: int) -> int:
    """Input positions stride x o + dilation x f for o < outputs, f < taps, counted one by one."""
    return len({stride * o + dilation * f for o in range(outputs) for f in range(taps)})


def test_the_span_formula_counts_every_distinct_position():
    # every tile of up to 13 outputs and 11 taps, strides 1-4, dilations 1-3 (1,716 cases), against enumeration
    for outputs, taps, stride, dilation in itertools.product(range(1, 14), range(1, 12), range(1, 5), range(1, 4)):
        assert window_span(outputs, taps, stride, dilation) == distinct_positions(outputs, taps, stride, dilation)


def test_a_strided_13x13_layers_input_tiles_by_enumeration():
    # a 3x3 conv, stride 2, no padding, 4 -> 8 channels on a 27 x 27 input: 13 x 13 outputs. A tile of t_o x t_o
    # outputs, t_f x t_f taps and c channels reads c x |{2o + f}|^2 input words; e.g. 5 outputs x 3 taps span
    # 2 x 4 + 2 + 1 = 11 rows, so 2 channels read 2 x 11 x 11 = 242 words. The whole input is 4 x 27 x 27.
    bounds = dict.fromkeys(LOOP_DIMS, 1) | {"K": 8, "C": 4, "OY": 13, "OX": 13, "FY": 3, "FX": 3}
    nest = Nest(tuple(bounds[d] for d in LOOP_DIMS), (2, 2), (1, 1), tuple(relevance("conv", "forward", False).items()))
    for outputs, taps, channels in itertools.product(range(1, 14), range(1, 4), (1, 2, 4)):
        tile = np.ones(len(LOOP_DIMS))
        tile[[DIM["OY"], DIM["OX"]]], tile[[DIM["FY"], DIM["FX"]]], tile[DIM["C"]] = outputs, taps, channels
        assert nest.elements("I", tile) == channels * distinct_positions(outputs, taps, 2, 1) ** 2
    assert distinct_positions(5, 3, 2, 1) == 11
    assert nest.elements("I", np.array([bounds[d] for d in LOOP_DIMS], dtype=float)) == 4 * 27 * 27
