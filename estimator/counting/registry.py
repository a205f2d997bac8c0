"""The op table: one formula per op, registered next to its definition.

A formula receives the *shapes* of the op's tensor arguments (``torch.Size``; non-tensor arguments pass through
unchanged) and ``out_shape`` (the shape, or a tuple of shapes, of the output) and returns an :class:`OpCount`.
Taking shapes rather than tensors is what lets counting run on meta tensors.

Ops are keyed by their overload packet (``torch.ops.aten.convolution``) or, for namespaces that may not be
loaded (``torchvision::roi_align``), by their qualified name, so that no optional library is imported here.

Ops that do no arithmetic (views, metadata changes, copies, allocation) are listed explicitly in
:data:`FREE_OPS`; an op that is in neither table is first counted through its decomposition (see
:mod:`estimator.counting.capture`) and otherwise reported as *unsupported*, never counted as zero.
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

NEST_ROLES = ("forward", "grad_input", "grad_weight", "backward")
"""What a loop nest computes: a forward product, the gradient of its input (the weight operand is the layer's
weight), the gradient of its weight, or another backward product (e.g. of an attention matmul)."""


@dataclass(frozen=True)
class Nest:
    """One multiply-accumulate loop nest (a conv, linear or matmul call) as a mapper sees it.

    The loops are ``O[b][g][k][oy][ox] += W[g][k][c][fy][fx] * I[b][g][c][iy][ix]`` with
    ``iy = sy * oy + dy * fy - py`` (and the same for x). A matmul ``[G, B, C] @ [G, C, K]`` is the nest with
    OY = OX = FY = FX = 1. A transposed convolution is recorded over its *input* positions (OY, OX are the
    input's spatial sizes), which is how it is computed as a scatter. Sizes are in elements.

    Attributes:
        role: one of :data:`NEST_ROLES`.
        kind: ``"conv"`` or ``"matmul"``.
        B, K, C, G, OY, OX, FY, FX: loop bounds (batch, output channels per group, input channels per group,
            groups, output rows/columns, filter rows/columns). 3-D convolutions fold depth into OY and FY.
        SY, SX, DY, DX, PY, PX: stride, dilation and padding (rows, columns).
        transposed: a transposed convolution.
        weight_operand: the W operand is a layer's parameter (not an activation, as in attention).
    """

    role: str
    kind: str
    B: int
    K: int
    C: int
    G: int = 1
    OY: int = 1
    OX: int = 1
    FY: int = 1
    FX: int = 1
    SY: int = 1
    SX: int = 1
    DY: int = 1
    DX: int = 1
    PY: int = 0
    PX: int = 0
    transposed: bool = False
    weight_operand: bool = True

    @property
    def macs(self) -> int:
        return self.B * self.K * self.C * self.G * self.OY * self.OX * self.FY * self.FX

    def with_role(self, role: str, weight_operand: bool | None = None) -> Nest:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["role"] = role
        if weight_operand is not None:
            values["weight_operand"] = weight_operand
        return Nest(**values)


@dataclass(frozen=True)
class OpCount:
    """Arithmetic done by one op call, in operations (not FLOPs).

    Attributes:
        macs: multiply-accumulates of conv/linear/matmul work (shape-derived, zeros included).
        mults: multiplications (including one per MAC).
        adds: additions and subtractions (including one per MAC).
        shifts: shifts by a constant (dyadic arithmetic).
        compares: comparisons, selections and 1-bit logic (ReLU, clamp, max-pool, argmax, masks).
        other_ops: everything else, one per evaluation: exp, log, tanh, sigmoid, erf, sqrt, rsqrt, division.
        weight_arg: index of the argument that is a layer's weight (conv/linear/matmul), or None. The
            value-aware pass uses it to apply zero-skipping and shift-add arithmetic.
        nests: the loop nests of the op's multiply-accumulate work (see :class:`Nest`).
        tap_positions: for a convolution with a weight, per kernel position (row-major), the (batch x output)
            positions where that tap multiplies a real input element rather than padding; empty otherwise.
        estimate: the count rests on an assumption about data the shapes do not fix (stated by the formula).
    """

    macs: int = 0
    mults: int = 0
    adds: int = 0
    shifts: int = 0
    compares: int = 0
    other_ops: int = 0
    weight_arg: int | None = None
    nests: tuple[Nest, ...] = ()
    tap_positions: tuple[int, ...] = ()
    estimate: bool = False

    def __add__(self, other: OpCount) -> OpCount:
        merged = {kind: getattr(self, kind) + getattr(other, kind) for kind in COUNT_KINDS}
        return OpCount(**merged, weight_arg=self.weight_arg, nests=self.nests + other.nests,
                       tap_positions=self.tap_positions, estimate=self.estimate or other.estimate)


Formula = Callable[..., OpCount]

FORMULAS: dict[object, Formula] = {}
"""Op packet or qualified op name (``"torchvision::nms"``) -> formula. Filled by :func:`register`; the only op
table there is."""

FREE_OP_NAMES = (
    # views
    "view", "_unsafe_view", "reshape", "_reshape_alias", "expand", "expand_as", "permute", "transpose", "t",
    "squeeze", "unsqueeze", "flatten", "unflatten", "as_strided", "alias", "detach", "slice", "select", "split",
    "split_with_sizes", "chunk", "narrow", "unbind", "view_as", "unfold", "unsafe_split", "unsafe_split_with_sizes",
    "unsafe_chunk", "diagonal", "movedim", "swapaxes", "swapdims", "view_as_real", "view_as_complex", "_neg_view",
    "_conj", "lift", "lift_fresh", "lift_fresh_copy",
    # metadata only: in-place views, strides, layout and storage changes, resizing
    "as_strided_", "transpose_", "t_", "squeeze_", "unsqueeze_", "detach_", "swapaxes_", "swapdims_", "set_",
    "resize_", "resize_as_", "_resize_output_", "_reshape_copy", "sym_size", "sym_stride", "sym_numel",
    "sym_storage_offset", "is_same_size", "_has_compatible_shallow_copy_type",
    # copies and data movement (traffic, not arithmetic)
    "cat", "stack", "clone", "copy_", "_to_copy", "contiguous", "constant_pad_nd", "index_select", "gather",
    "repeat", "roll", "flip", "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "_unsafe_index",
    "index", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "_local_scalar_dense", "item", "scalar_tensor",
    "embedding", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d", "replication_pad1d",
    "replication_pad2d", "replication_pad3d", "slice_scatter", "select_scatter", "diagonal_scatter",
    "as_strided_scatter", "masked_select", "take", "scatter", "scatter_", "diag", "diag_embed", "diagonal_copy",
    "expand_copy", "permute_copy", "view_copy", "transpose_copy", "unsqueeze_copy", "squeeze_copy", "t_copy",
    "slice_copy", "select_copy", "alias_copy", "as_strided_copy", "unbind_copy", "split_copy", "detach_copy",
    # allocation and initialisation
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "zeros_like", "new_zeros",
    "ones", "ones_like", "new_ones", "full", "full_like", "new_full", "fill_", "fill", "zero_", "arange",
    "_efficientzerotensor", "eye", "linspace", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
    "randint_like", "normal_", "uniform_", "random_", "exponential_", "bernoulli",
    # randomness that is bookkeeping of eval-mode dropout
    "bernoulli_",
)

FREE_OPS: frozenset = frozenset(getattr(aten, name) for name in FREE_OP_NAMES if hasattr(aten, name))
"""Ops that do no arithmetic. Listed explicitly so that 'free' is a decision, not an omission."""


def qualified_name(packet) -> str:
    """``aten::convolution`` for ``torch.ops.aten.convolution`` (any namespace)."""
    return packet._qualified_op_name


def register(*targets: object) -> Callable[[Formula], Formula]:
    """Register ``formula`` for each op packet or qualified op name in ``targets``; a second registration, or a
    formula for a free op, is an error."""

    def decorate(formula: Formula) -> Formula:
        for target in targets:
            if target in FORMULAS:
                raise RuntimeError(f"a formula for {target} is already registered")
            if target in FREE_OPS:
                raise RuntimeError(f"{target} is listed as free and cannot also have a formula")
            FORMULAS[target] = formula
        return formula

    return decorate


def formula_for(packet) -> Formula | None:
    """The formula of an op packet: registered under the packet or its qualified name (then cached by packet)."""
    formula = FORMULAS.get(packet)
    if formula is None:
        formula = FORMULAS.get(qualified_name(packet))
        if formula is not None:
            FORMULAS[packet] = formula
    return formula
