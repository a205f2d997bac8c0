"""im2col: a convolution run as the matrix product of its unrolled input, as SCALE-Sim's and a TPU's arrays run it.

An array whose file says ``im2col = true`` flattens loop dimensions onto its axes: the rows of the product are the
output pixels of every image (B x OY x OX), its contraction the window (C x FY x FX), its columns the filters (K),
groups (G) staying a loop of their own. An axis unrolling any of a group's dimensions takes the flattened group,
``min(PEs, product)`` of it at a time and ``ceil(product / PEs)`` folds: an 11x11x3 window on 32 rows takes
ceil(363 / 32) = 12 row folds, where one loop per axis takes 22 (3 channels x 10 columns, then 2 x 11). The input
is moved as the rows of the unrolled matrix (every window tap one access, as SCALE-Sim reads its ifmap SRAM), at
most the real input's elements per tile (a level holding the whole input holds it once).

A nest whose unrolled form is no matrix product (a transposed convolution, whose output is windowed while its
input is not) keeps its loop nest, and the axes unroll its loops one at a time.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from .layers import LOOP_DIMS
from .model import OPERANDS, Array, HardwareModel
from .nest import DIM, IRRELEVANT, RELEVANT, Nest

GEMM = {"B": "B", "OY": "B", "OX": "B", "C": "C", "FY": "C", "FX": "C", "K": "K", "G": "G"}
"""The dimension of the unrolled matrix product each loop dimension flattens into (named as a matmul nest's)."""


def lowered(nest: Nest, hw: HardwareModel) -> tuple[Nest, HardwareModel]:
    """``nest`` as its unrolled matrix product and ``hw`` with its axes unrolling the flattened groups, when
    ``hw.array.im2col`` and the nest has one (see the module doc); else both unchanged."""
    if not hw.array.im2col:
        return nest, hw
    product = matrix_product(nest)
    array = replace(hw.array, im2col=False) if product is None else flattened(hw.array)
    return (nest if product is None else product), replace(hw, array=array)


@functools.lru_cache(maxsize=1024)
def matrix_product(nest: Nest) -> Nest | None:
    """The im2col matrix product of ``nest`` (the nest itself if it has no window), or None where an unrolled
    dimension would index all three operands (a transposed convolution). Either product says how many distinct
    elements each operand has (``Nest.distinct``), so that its folds are counted at their own sizes."""
    relevance = nest.relevance
    whole = tuple((role, float(nest.elements(role, np.array(nest.bounds, dtype=float)))) for role in OPERANDS)
    if all(code in (IRRELEVANT, RELEVANT) for codes in relevance.values() for code in codes):
        return replace(nest, distinct=whole)
    codes = {}
    for role in OPERANDS:
        indexed = {GEMM[d] for d, code in zip(LOOP_DIMS, relevance[role], strict=True) if code != IRRELEVANT}
        codes[role] = tuple(RELEVANT if d in indexed else IRRELEVANT for d in LOOP_DIMS)
    if any(all(codes[role][DIM[d]] == RELEVANT for role in OPERANDS) for d in ("B", "C", "K")):
        return None
    bounds = [1] * len(LOOP_DIMS)
    for d, bound in zip(LOOP_DIMS, nest.bounds, strict=True):
        bounds[DIM[GEMM[d]]] *= bound
    return Nest(tuple(bounds), (1, 1), (1, 1), tuple(codes.items()), distinct=whole)


@functools.lru_cache(maxsize=256)
def flattened(array: Array) -> Array:
    """``array`` with each axis unrolling the flattened dimensions of its loops (see :data:`GEMM`), in the order they
    first appear, each up to the product of its loops' caps and the axis."""
    unroll = []
    for pairs, size in zip(array.unroll, array.sizes, strict=True):
        caps: dict[str, int] = {}
        for loop, cap in pairs:
            caps[GEMM[loop]] = caps.get(GEMM[loop], 1) * cap
        unroll.append(tuple((loop, min(cap, size)) for loop, cap in caps.items()))
    return replace(array, unroll=tuple(unroll), im2col=False)
