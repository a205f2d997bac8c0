"""The op table: one formula per aten op, registered next to its definition.

A formula receives the *shapes* of the op's tensor arguments (``torch.Size``; non-tensor arguments
pass through unchanged) and ``out_shape`` (the shape, or a tuple of shapes, of the output) and returns an
:class:`OpCount`. Taking shapes rather than tensors is what lets counting run on meta tensors.

Ops that do no arithmetic (views, copies, concatenation, allocation) are listed explicitly in
:data:`FREE_OPS`; an op that is in neither table is *unsupported* and is reported, never counted as zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

aten = torch.ops.aten

COUNT_KINDS = ("macs", "mults", "adds", "shifts", "compares", "other_ops")
"""The kinds every count carries. ``macs`` is the shape-derived multiply-accumulate count of
conv/linear/matmul ops (the convention of fvcore and of published "FLOPs"); each MAC is *also* counted as
one mult and one add in ``mults``/``adds``, which are what hardware pricing uses."""


@dataclass(frozen=True)
class OpCount:
    """Arithmetic done by one op call, in operations (not FLOPs).

    Attributes:
        macs: multiply-accumulates of conv/linear/matmul work (shape-derived, zeros included).
        mults: multiplications (including one per MAC).
        adds: additions and subtractions (including one per MAC).
        shifts: shifts by a constant (dyadic arithmetic).
        compares: comparisons and selections (ReLU, clamp, max-pool, argmax).
        other_ops: everything else, one per evaluation: exp, log, tanh, sigmoid, erf, sqrt, rsqrt, division.
        weight_arg: index of the argument that is a layer's weight (conv/linear/matmul), or None. The
            value-aware pass uses it to apply zero-skipping and shift-add arithmetic.
    """

    macs: int = 0
    mults: int = 0
    adds: int = 0
    shifts: int = 0
    compares: int = 0
    other_ops: int = 0
    weight_arg: int | None = None

    def __add__(self, other: OpCount) -> OpCount:
        merged = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)
                  if f.name in COUNT_KINDS}
        return OpCount(**merged, weight_arg=self.weight_arg)


Formula = Callable[..., OpCount]

FORMULAS: dict[object, Formula] = {}
"""aten OpOverloadPacket -> formula. Filled by :func:`register`; the only op table there is."""

FREE_OPS: frozenset = frozenset(
    getattr(aten, name) for name in (
        # views and metadata
        "view", "_unsafe_view", "reshape", "_reshape_alias", "expand", "expand_as", "permute", "transpose",
        "t", "squeeze", "unsqueeze", "flatten", "unflatten", "as_strided", "alias", "detach", "slice",
        "select", "split", "split_with_sizes", "chunk", "narrow", "unbind", "view_as", "unfold",
        "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
        "lift_fresh", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size",
        # copies and data movement (traffic, not arithmetic)
        "cat", "stack", "clone", "copy_", "_to_copy", "contiguous", "constant_pad_nd", "index_select",
        "gather", "repeat", "roll", "flip", "upsample_nearest1d", "upsample_nearest2d",
        "upsample_nearest3d", "_unsafe_index", "index", "channel_shuffle", "pixel_shuffle",
        "pixel_unshuffle", "_local_scalar_dense", "item", "scalar_tensor", "embedding", "reflection_pad1d",
        "reflection_pad2d", "reflection_pad3d", "replication_pad1d", "replication_pad2d", "replication_pad3d",
        # allocation and initialisation
        "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "zeros_like",
        "new_zeros", "ones", "ones_like", "new_ones", "full", "full_like", "new_full", "fill_", "fill",
        "zero_", "arange", "resize_", "set_", "_efficientzerotensor",
        # dropout in eval is the identity and never reaches aten; these are its bookkeeping
        "bernoulli_", "_has_compatible_shallow_copy_type",
    ) if hasattr(aten, name)
)
"""Ops that do no arithmetic. Listed explicitly so that 'free' is a decision, not an omission."""


def register(*targets: object) -> Callable[[Formula], Formula]:
    """Register ``formula`` for each aten op packet in ``targets``; a second registration is an error."""

    def decorate(formula: Formula) -> Formula:
        for target in targets:
            if target in FORMULAS:
                raise RuntimeError(f"a formula for {target} is already registered")
            if target in FREE_OPS:
                raise RuntimeError(f"{target} is listed as free and cannot also have a formula")
            FORMULAS[target] = formula
        return formula

    return decorate
