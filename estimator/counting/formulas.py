"""Per-op arithmetic formulas. Every convention of the counter is stated here, where it is applied.

Conventions (see also :mod:`estimator.counting.registry`):

* A sum of K terms costs K-1 additions, everywhere: in a dot product, a reduction, a pooling window and a
  shift-add layer. A dense K-term dot product is therefore K mults and K-1 adds, and a bias is one more
  add: for conv/linear ``mults = macs`` and ``adds = macs - outputs (+ outputs if bias)``. (Hardware
  pricing still charges one MAC-unit operation per MAC; see :mod:`hwmodels.pricing`.)
* Elementwise add/sub cost one add per output element, mul one mult, div one ``other_ops`` (division is not
  a multiplication). Broadcasting is counted at the output size.
* ReLU, clamp, max-pool and comparisons are ``compares``; a max over K taps is K-1 compares.
* Transcendental functions are ``other_ops``, one per evaluation, with the rest of a composite function
  decomposed into the basic kinds (documented per formula).
* Pooling and reductions over K inputs cost K-1 adds (or compares) per output; averaging adds one scaling by
  1/K per output: a shift when K is a power of two (as a dyadic coefficient is), a multiplication otherwise
  (:func:`scaling`). Any scaling by a power of two is a shift, in float and shift-add models alike.
* Backward formulas count what the gradient computation does; conv/linear gradients cost one forward's
  MACs per requested gradient (input, weight).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch

from .registry import Nest, OpCount, register

aten = torch.ops.aten


def numel(shape: Sequence[int]) -> int:
    """Number of elements of a tensor of ``shape``."""
    return math.prod(shape)


def first(out_shape):
    """The primary output's shape of an op that returns a tuple (e.g. max-pool's values and indices)."""
    if isinstance(out_shape, (tuple, list)) and out_shape and not isinstance(out_shape[0], int):
        return out_shape[0]
    return out_shape


def elementwise(*, mults: int = 0, adds: int = 0, shifts: int = 0, compares: int = 0,
                other_ops: int = 0):
    """A formula costing the given operations per *output* element."""

    def formula(*args, out_shape, **kwargs) -> OpCount:
        n = numel(first(out_shape))
        return OpCount(mults=mults * n, adds=adds * n, shifts=shifts * n, compares=compares * n,
                       other_ops=other_ops * n)

    return formula


def packets(*names: str) -> list:
    """The aten op packets among ``names`` that exist in this torch build."""
    return [getattr(aten, n) for n in names if hasattr(aten, n)]


# --- matrix products -------------------------------------------------------------------------------
def matmul_count(macs: int, outputs: int, bias: bool, weight_arg: int | None, nests: tuple[Nest, ...] = (),
                 tap_positions: tuple[int, ...] = ()) -> OpCount:
    """``macs`` products summed into ``outputs`` dot products: one mult per product and K-1 adds per K-term
    sum (``macs - outputs``), plus one add per output for a bias (the addmm/baddbmm self term)."""
    return OpCount(macs=macs, mults=macs, adds=macs - outputs + (outputs if bias else 0), weight_arg=weight_arg,
                   nests=nests, tap_positions=tap_positions)


def matmul_nest(groups: int, rows: int, inner: int, cols: int) -> Nest:
    """``[groups, rows, inner] @ [groups, inner, cols]`` as a loop nest (B = rows, C = inner, K = cols)."""
    return Nest("forward", "matmul", B=rows, K=cols, C=inner, G=groups)


@register(aten.mm)
def mm_count(a, b, *, out_shape, **kwargs) -> OpCount:
    # [m, k] @ [k, n]: m*n outputs, k products each
    return matmul_count(a[0] * a[1] * b[1], a[0] * b[1], False, weight_arg=1,
                        nests=(matmul_nest(1, a[0], a[1], b[1]),))


@register(aten.addmm)
def addmm_count(bias, a, b, *args, out_shape, **kwargs) -> OpCount:
    # bias + [m, k] @ [k, n]; NB: beta/alpha scalings other than 1 (never used by nn.Linear) are ignored
    return matmul_count(a[0] * a[1] * b[1], a[0] * b[1], True, weight_arg=2, nests=(matmul_nest(1, a[0], a[1], b[1]),))


@register(aten.bmm)
def bmm_count(a, b, *, out_shape, **kwargs) -> OpCount:
    # [B, m, k] @ [B, k, n]
    return matmul_count(a[0] * a[1] * a[2] * b[2], a[0] * a[1] * b[2], False, weight_arg=1,
                        nests=(matmul_nest(a[0], a[1], a[2], b[2]),))


@register(aten.baddbmm)
def baddbmm_count(bias, a, b, *args, out_shape, **kwargs) -> OpCount:
    return matmul_count(a[0] * a[1] * a[2] * b[2], a[0] * a[1] * b[2], True, weight_arg=2,
                        nests=(matmul_nest(a[0], a[1], a[2], b[2]),))


def expanded(shape, dims) -> list[int]:
    """``shape`` with a 1 inserted at each of ``dims`` (in increasing order), as ``_trilinear`` expands its inputs."""
    out = list(shape)
    for d in sorted(dims):
        out.insert(d, 1)
    return out


@register(*packets("_trilinear"))
def trilinear_count(i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1, *args, out_shape,
                    **kwargs) -> OpCount:
    """``_trilinear`` (``nn.Bilinear``: x1^T W_k x2) as torch computes it, two products in turn: i1 with i2 summed
    over the ``sumdim`` dimensions i3 does not have (one MAC per term of their broadcast shape), then that with i3
    summed over the rest. nn.Bilinear(in1, in2, out) on N rows: N x out x in1 x in2 + N x out x in2 MACs."""
    e1, e2, e3 = expanded(i1, expand1), expanded(i2, expand2), expanded(i3, expand3)
    first_dims = [d for d in sumdim if e3[d] == 1]
    pair = [max(a, b) for a, b in zip(e1, e2, strict=True)]
    macs1 = numel(pair)
    kept = [1 if d in first_dims else n for d, n in enumerate(pair)]
    macs2 = numel([max(a, b) for a, b in zip(kept, e3, strict=True)])
    adds = macs1 - numel(kept) + macs2 - numel(first(out_shape))
    return OpCount(macs=macs1 + macs2, mults=macs1 + macs2, adds=adds)


# --- convolution -----------------------------------------------------------------------------------
def conv_macs(x_shape, w_shape, out_shape, transposed: bool) -> int:
    """MACs of a convolution, zeros of padding included (the fvcore/torch convention).

    A regular conv's weight is [C_out, C_in/groups, *k]: every output element is a dot product of
    C_in/groups * prod(k) taps. A transposed conv's weight is [C_in, C_out/groups, *k]: every *input*
    element is scattered through C_out/groups * prod(k) taps.
    """
    taps = numel(w_shape[1:])
    return numel(x_shape if transposed else out_shape) * taps


def as_list(value, ndim: int) -> list[int]:
    """A per-dimension conv argument (int or list) as a list of ``ndim`` ints."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return values * ndim if len(values) == 1 else values


def conv_nest(x, w, out, stride, padding, dilation, transposed: bool, groups: int) -> Nest:
    """The loop nest of a convolution. Spatial dimensions beyond two are folded into the rows (OY, FY), which
    keeps the loop bounds' product (the MACs) exact; stride, dilation and padding are those of the last two."""
    nd = len(x) - 2
    stride, padding, dilation = as_list(stride, nd), as_list(padding, nd), as_list(dilation, nd)
    k, positions = list(w[2:]), list(x[2:] if transposed else out[2:])
    if nd == 1:
        k, positions = [1] + k, [1] + positions
        stride, padding, dilation = [1] + stride, [0] + padding, [1] + dilation
    channels_in, channels_out = (w[0], w[1] * groups) if transposed else (w[1] * groups, w[0])
    return Nest("forward", "conv", B=x[0], K=channels_out // groups, C=channels_in // groups, G=groups,
                OY=math.prod(positions[:-1]), OX=positions[-1], FY=math.prod(k[:-1]), FX=k[-1],
                SY=stride[-2], SX=stride[-1], DY=dilation[-2], DX=dilation[-1], PY=padding[-2], PX=padding[-1],
                transposed=transposed)


def valid_taps(size_in: int, size_out: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """For each kernel offset f along one dimension, the output positions o whose tap o*stride - padding +
    f*dilation lands on a real input element (not on padding)."""
    o = np.arange(size_out)[:, None] * stride - padding + np.arange(kernel)[None, :] * dilation
    return ((o >= 0) & (o < size_in)).sum(axis=0)


@functools.lru_cache(maxsize=4096)
def tap_positions(x: tuple[int, ...], w: tuple[int, ...], out: tuple[int, ...], stride: tuple[int, ...],
                  padding: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[int, ...]:
    """For every kernel position (row-major over the kernel), the (batch x output) positions where it multiplies
    a real input element: the padding-aware count of a tap's applications."""
    grid = np.full(1, x[0], dtype=np.int64)
    for i, (s, p, d) in enumerate(zip(stride, padding, dilation, strict=True)):
        grid = np.multiply.outer(grid, valid_taps(x[2 + i], out[2 + i], w[2 + i], s, p, d)).ravel()
    return tuple(grid.tolist())


@register(aten.convolution)
def convolution_count(x, w, bias, stride, padding, dilation, transposed, output_padding, groups, *,
                      out_shape, **kwargs) -> OpCount:
    macs = conv_macs(x, w, out_shape, transposed)
    nest = conv_nest(x, w, out_shape, stride, padding, dilation, transposed, groups)
    # NB: a transposed conv's taps that land on cropped outputs are counted (no padding-aware count)
    nd = len(x) - 2
    taps = () if transposed else tap_positions(tuple(x), tuple(w), tuple(out_shape), *(
        tuple(as_list(v, nd)) for v in (stride, padding, dilation)))
    # a transposed conv scatters: an output sums a varying number of products, K-1 adds counted per output
    return matmul_count(macs, numel(out_shape), bias is not None, weight_arg=1, nests=(nest,), tap_positions=taps)


@register(aten._convolution)
def traced_convolution_count(x, w, bias, stride, padding, dilation, transposed, output_padding, groups, *args,
                             out_shape, **kwargs) -> OpCount:
    """``aten._convolution``, which a ``torch.jit.trace``d model calls: :func:`convolution_count` (its extra
    arguments are backend choices: benchmark, deterministic, cudnn, tf32)."""
    return convolution_count(x, w, bias, stride, padding, dilation, transposed, output_padding, groups,
                             out_shape=out_shape, **kwargs)


@register(aten.convolution_backward)
def convolution_backward_count(grad_out, x, w, bias_sizes, stride, padding, dilation, transposed,
                               output_padding, groups, output_mask, *, out_shape, **kwargs) -> OpCount:
    # grad_input is a (transposed) conv summing into the input's elements and grad_weight a correlation summing
    # into the weight's elements, each with the forward's MACs; grad_bias sums grad_out over everything but the
    # channel axis (numel(grad_out) - channels adds).
    forward = conv_nest(x, w, grad_out, stride, padding, dilation, transposed, groups)
    macs = conv_macs(x, w, grad_out, transposed)
    count = OpCount(weight_arg=2)
    for role, wanted, outputs in (("grad_input", output_mask[0], numel(x)), ("grad_weight", output_mask[1], numel(w))):
        if wanted:
            count = count + matmul_count(macs, outputs, False, weight_arg=2, nests=(forward.with_role(role),))
    bias_adds = numel(grad_out) - grad_out[1] if output_mask[2] else 0
    return count + OpCount(adds=bias_adds, weight_arg=2)


# --- elementwise arithmetic ------------------------------------------------------------------------
@register(*packets("add", "add_", "sub", "sub_", "rsub"))
def add_count(*args, out_shape, alpha=1, **kwargs) -> OpCount:
    # one add per output; an alpha other than 1 scales the second operand first (one mult)
    n = numel(out_shape)
    return OpCount(adds=n, mults=n if alpha != 1 else 0)


register(*packets("mul", "mul_"))(elementwise(mults=1))
register(*packets("div", "div_", "reciprocal", "reciprocal_"))(elementwise(other_ops=1))
register(*packets("neg", "neg_"))(elementwise(adds=1))
register(*packets("addcmul", "addcmul_"))(elementwise(mults=2, adds=1))
register(*packets("addcdiv", "addcdiv_"))(elementwise(mults=1, adds=1, other_ops=1))
register(*packets("lerp", "lerp_"))(elementwise(mults=1, adds=2))
register(*packets("exp", "exp_", "log", "log_", "sqrt", "sqrt_", "rsqrt", "rsqrt_", "erf", "erf_",
                  "sin", "cos", "tan", "log1p", "expm1"))(elementwise(other_ops=1))


@register(*packets("pow"))
def pow_count(base, exponent, *, out_shape, **kwargs) -> OpCount:
    # x**2 is one mult; any other power is one transcendental evaluation
    n = numel(out_shape)
    return OpCount(mults=n) if exponent == 2 else OpCount(other_ops=n)


# --- activations -----------------------------------------------------------------------------------
register(*packets("relu", "relu_", "threshold", "threshold_", "clamp_min", "clamp_min_", "clamp_max",
                  "clamp_max_", "abs", "abs_", "sign", "maximum", "minimum", "eq", "ne", "lt", "le",
                  "gt", "ge", "where", "threshold_backward"))(elementwise(compares=1))
register(*packets("hardtanh", "hardtanh_", "hardtanh_backward"))(elementwise(compares=2))


@register(*packets("clamp", "clamp_"))
def clamp_count(x, lo=None, hi=None, *, out_shape, **kwargs) -> OpCount:
    # one compare per bound given
    return OpCount(compares=numel(out_shape) * ((lo is not None) + (hi is not None)))


register(*packets("leaky_relu", "leaky_relu_", "leaky_relu_backward", "_prelu_kernel"))(
    elementwise(compares=1, mults=1))
# hardshrink: |x| > lambda (two compares); softshrink also moves x towards 0 by lambda (one add)
register(*packets("hardshrink"))(elementwise(compares=2))
register(*packets("softshrink"))(elementwise(compares=2, adds=1))
# mish(x) = x * tanh(softplus(x)) = x * tanh(log(1 + exp(x))): exp, log, tanh, one add, one mult
register(*packets("mish", "mish_"))(elementwise(other_ops=3, adds=1, mults=1))
# sigmoid and tanh: one evaluation of the function each (a sigmoid/tanh unit or a lookup table)
register(*packets("sigmoid", "sigmoid_", "tanh", "tanh_"))(elementwise(other_ops=1))
# silu(x) = x * sigmoid(x)
register(*packets("silu", "silu_"))(elementwise(other_ops=1, mults=1))
# hardswish(x) = x * clamp(x + 3, 0, 6) / 6 ; hardsigmoid(x) = clamp(x + 3, 0, 6) / 6 (the /6 is a mult)
register(*packets("hardswish", "hardswish_", "hardswish_backward"))(elementwise(adds=1, compares=2, mults=2))
register(*packets("hardsigmoid", "hardsigmoid_", "hardsigmoid_backward"))(
    elementwise(adds=1, compares=2, mults=1))
# elu(x) = x if x > 0 else alpha * (exp(x) - 1)
register(*packets("elu", "elu_"))(elementwise(compares=1, other_ops=1, adds=1, mults=1))
# softplus(x) = log(1 + exp(x))
register(*packets("softplus"))(elementwise(other_ops=2, adds=1))
# derivative of sigmoid/tanh from the saved output y: g * y * (1 - y), g * (1 - y^2)
register(*packets("sigmoid_backward", "tanh_backward"))(elementwise(mults=2, adds=1))
register(*packets("silu_backward"))(elementwise(other_ops=1, mults=3, adds=2))
register(*packets("gelu_backward"))(elementwise(other_ops=2, mults=4, adds=2))


@register(*packets("gelu", "gelu_"))
def gelu_count(x, *args, out_shape, approximate="none", **kwargs) -> OpCount:
    n = numel(out_shape)
    if approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): x^3 (2 mults), 0.044715 x^3, sqrt(2/pi)*(.),
        # 0.5*x, product: 6 mults; two adds; one tanh
        return OpCount(mults=6 * n, adds=2 * n, other_ops=n)
    # 0.5 x (1 + erf(x / sqrt 2)): x/sqrt2, 0.5*x, product: 3 mults; one add; one erf
    return OpCount(mults=3 * n, adds=n, other_ops=n)


def rows_along(shape, dim: int) -> int:
    """Number of rows of ``shape`` along dimension ``dim`` (the outputs of a reduction over it): the product of the
    other dimensions (an empty tensor, e.g. ``topk`` of no detections, may have zero rows or zero-length rows)."""
    if not len(shape):
        return 1
    along = dim % len(shape)
    return math.prod(s for i, s in enumerate(shape) if i != along)


def softmax_count(x, dim, *args, out_shape, **kwargs) -> OpCount:
    """softmax over each row of R elements: row max (R-1 compares), x - max (R adds), exp (R other), row sum
    (R-1 adds), normalise (R divisions = other)."""
    n, rows = numel(out_shape), rows_along(out_shape, dim)
    return OpCount(compares=n - rows, adds=2 * n - rows, other_ops=2 * n)


register(*packets("_softmax", "_safe_softmax"))(softmax_count)


@register(*packets("_log_softmax"))
def log_softmax_count(x, dim, *args, out_shape, **kwargs) -> OpCount:
    # x - max - log(sum exp(x - max)) over rows of R: R-1 compares, R subtractions, R exp, R-1 adds of the sum,
    # one log per row, R subtractions of it
    n, rows = numel(out_shape), rows_along(out_shape, dim)
    return OpCount(compares=n - rows, adds=3 * n - rows, other_ops=n + rows)


register(*packets("_softmax_backward_data"))(elementwise(mults=2, adds=2))
register(*packets("_log_softmax_backward_data"))(elementwise(other_ops=1, mults=1, adds=2))
# dropout while training: draw and compare a random number, scale the kept values
register(*packets("native_dropout"))(elementwise(compares=1, mults=1))
register(*packets("native_dropout_backward"))(elementwise(mults=1))


# --- reductions ------------------------------------------------------------------------------------
def scaling(n: int, divisor: float | None) -> OpCount:
    """``n`` values divided by ``divisor``: free for 1, a shift each for a power of two, else (or for divisors
    that vary, None) a multiplication each by the precomputed reciprocal."""
    if divisor == 1:
        return OpCount()
    power_of_two = divisor is not None and divisor > 0 and math.log2(divisor) == int(math.log2(divisor))
    return OpCount(shifts=n) if power_of_two else OpCount(mults=n)


def reduction(*, scale: bool = False, compare: bool = False):
    """A reduction of the input onto the output: (inputs - outputs) adds or compares, plus one scaling per output
    for means (:func:`scaling`)."""

    def formula(x, *args, out_shape, **kwargs) -> OpCount:
        n_in, n_out = numel(x), numel(first(out_shape))
        if compare:
            return OpCount(compares=n_in - n_out)
        return OpCount(adds=n_in - n_out) + (scaling(n_out, n_in / n_out) if scale else OpCount())

    return formula


register(*packets("sum"))(reduction())
register(*packets("mean"))(reduction(scale=True))
register(*packets("amax", "amin", "max", "min", "argmax", "argmin"))(reduction(compare=True))


EMBEDDING_BAG_MODES = ("sum", "mean", "max")
"""``nn.EmbeddingBag``'s reductions, by the mode number the aten op takes."""


@register(*packets("_embedding_bag", "_embedding_bag_forward_only"))
def embedding_bag_count(weight, indices, offsets=None, scale_grad_by_freq=False, mode=0, sparse=False,
                        per_sample_weights=None, *args, out_shape, **kwargs) -> OpCount:
    """n looked-up rows of D elements reduced into B bags (the output's B x D), every bag taken as non-empty (its
    rows' values are not known from shapes): sum, (n - B) x D adds, with per-sample weights n x D mults before
    them; mean, the sum and B x D divisions (other_ops); max, (n - B) x D compares. The lookup itself is free."""
    bags, width = first(out_shape)[0], first(out_shape)[-1]
    merges = max(numel(indices) - bags, 0) * width
    if EMBEDDING_BAG_MODES[mode] == "max":
        return OpCount(compares=merges)
    weighted = numel(indices) * width if per_sample_weights is not None else 0
    divisions = bags * width if EMBEDDING_BAG_MODES[mode] == "mean" else 0
    return OpCount(mults=weighted, adds=merges, other_ops=divisions)


# --- selection, sorting, logic, rounding, scatter ---------------------------------------------------------
# 1-bit logic on masks and element selection are compare-class operations, one per output element
register(*packets("bitwise_and", "bitwise_and_", "bitwise_or", "bitwise_or_", "bitwise_xor", "bitwise_not",
                  "logical_and", "logical_or", "logical_xor", "logical_not", "masked_fill", "masked_fill_",
                  "isnan", "isinf", "isfinite", "isin"))(elementwise(compares=1))
# rounding to an integer (floor, ceil, round, trunc) is one add per element (adding the rounding constant)
register(*packets("floor", "floor_", "ceil", "ceil_", "round", "round_", "trunc", "trunc_", "frac"))(
    elementwise(adds=1))
register(*packets("log2", "log10", "exp2", "atan2", "atan", "asin", "acos", "sinh", "cosh", "fmod",
                  "remainder", "floor_divide"))(elementwise(other_ops=1))


@register(*packets("nonzero", "argwhere"))
def nonzero_count(x, *args, out_shape, **kwargs) -> OpCount:
    # one test against zero per input element; writing out the indices found is data movement
    return OpCount(compares=numel(x))


@register(*packets("any", "all"))
def any_all_count(x, *args, out_shape, **kwargs) -> OpCount:
    # a logical reduction of n inputs onto m outputs: n - m compare-class ops
    return OpCount(compares=numel(x) - numel(first(out_shape)))


@register(*packets("cumsum", "cumsum_"))
def cumsum_count(x, dim, *args, out_shape, **kwargs) -> OpCount:
    # a running sum over rows of R: R - 1 adds per row
    return OpCount(adds=numel(x) - rows_along(x, dim))


def sort_compares(shape, dim: int, kept: int) -> int:
    """Compares to order every row of ``shape`` along ``dim`` (R elements) and keep ``kept`` of them:
    R * ceil(log2 R) for a full sort; for the top k, R * (1 + ceil(log2 k)) (each element is compared with a
    k-element heap's minimum and an insertion sifts through its ceil(log2 k) levels; an upper bound)."""
    length = shape[dim] if len(shape) else 1
    rows = rows_along(shape, dim) if len(shape) else 1
    if kept >= length:
        return rows * length * max(math.ceil(math.log2(max(length, 1))), 0)
    return rows * length * (1 + math.ceil(math.log2(max(kept, 1))))


@register(*packets("sort", "argsort"))
def sort_count(x, *args, out_shape, dim=-1, **kwargs) -> OpCount:
    dim = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), dim)
    return OpCount(compares=sort_compares(x, dim, x[dim] if len(x) else 1))


@register(*packets("_unique2", "_unique"))
def unique_count(x, *args, out_shape, **kwargs) -> OpCount:
    """The distinct values of n elements, as a sort does it: n x ceil(log2 n) compares to sort them and n - 1 to
    find where neighbours differ (inverse indices and counts are data movement)."""
    n = numel(x)
    return OpCount(compares=sort_compares((n,), 0, n) + max(n - 1, 0))


@register(*packets("topk"))
def topk_count(x, k, dim=-1, *args, out_shape, **kwargs) -> OpCount:
    return OpCount(compares=sort_compares(x, dim, k))


@register(*packets("index_put", "index_put_", "_index_put_impl_"))
def index_put_count(x, indices, values, accumulate=False, *args, out_shape, **kwargs) -> OpCount:
    # writing values at indices is data movement; accumulating them is one add per value written
    return OpCount(adds=numel(values) if accumulate else 0)


@register(*packets("scatter_add", "scatter_add_", "index_add", "index_add_", "scatter_reduce",
                   "scatter_reduce_"))
def scatter_add_count(x, dim, index, source, *args, out_shape, **kwargs) -> OpCount:
    # one add (or reduction op) per source element
    return OpCount(adds=numel(source) if not isinstance(source, (int, float)) else numel(index))


@register(*packets("linalg_vector_norm"))
def vector_norm_count(x, ord=2, dim=None, keepdim=False, *args, out_shape, **kwargs) -> OpCount:
    """||x||_p over n inputs onto m outputs. p = 2: n squares, n - m adds, m square roots; p = 1: n abs (compare
    class), n - m adds; p = inf: n abs and n - m compares; other p: n |x|^p and m p-th roots (other)."""
    n, m = numel(x), numel(first(out_shape))
    if ord == 2:
        return OpCount(mults=n, adds=n - m, other_ops=m)
    if ord == 1:
        return OpCount(compares=n, adds=n - m)
    if ord in (math.inf, -math.inf):
        return OpCount(compares=2 * n - m)
    return OpCount(other_ops=n + m, compares=n, adds=n - m)


# --- pooling ---------------------------------------------------------------------------------------
def pool_taps(kernel_size, ndim: int) -> int:
    """Taps of a pooling window given as an int or a per-dimension list."""
    ks = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [kernel_size]
    if len(ks) == 1:
        ks = ks * ndim
    return numel(ks)


def max_pool(ndim: int):
    def formula(x, kernel_size, *args, out_shape, **kwargs) -> OpCount:
        # a max over K taps is K-1 compares per output (padding taps included, as torch iterates them)
        return OpCount(compares=numel(first(out_shape)) * (pool_taps(kernel_size, ndim) - 1))

    return formula


def avg_pool(ndim: int):
    def formula(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None, *, out_shape, **kwargs) -> OpCount:
        # K-1 adds per output, then one scaling by 1/K (or by the divisor given: none for a sum pool)
        n, taps = numel(out_shape), pool_taps(kernel_size, ndim)
        return OpCount(adds=n * (taps - 1)) + scaling(n, divisor_override or taps)

    return formula


for _nd in (1, 2, 3):
    register(*packets(f"max_pool{_nd}d", f"max_pool{_nd}d_with_indices"))(max_pool(_nd))
    register(*packets(f"avg_pool{_nd}d"))(avg_pool(_nd))


def adaptive_window_taps(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> int:
    """Total taps of all windows of an adaptive pool, summed over the output grid.

    Window i of a dimension spans [floor(i*In/Out), ceil((i+1)*In/Out)); the total over a grid is the
    product over dimensions of the per-dimension sums of window lengths.
    """
    total = 1
    for n_in, n_out in zip(in_sizes, out_sizes, strict=True):
        total *= sum(-(-(i + 1) * n_in // n_out) - (i * n_in // n_out) for i in range(n_out))
    return total


def adaptive_pool(*, average: bool):
    def formula(x, output_size, *args, out_shape, **kwargs) -> OpCount:
        out = first(out_shape)
        nd = len(output_size)
        planes = numel(x[:-nd])
        taps = planes * adaptive_window_taps(x[-nd:], out[-nd:])
        n_out = numel(out)
        if not average:
            return OpCount(compares=taps - n_out)
        uniform = all(i % o == 0 for i, o in zip(x[-nd:], out[-nd:], strict=True))
        return OpCount(adds=taps - n_out) + scaling(n_out, taps // n_out if uniform else None)

    return formula


register(*packets("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d"))(
    adaptive_pool(average=True))
register(*packets("adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d"))(
    adaptive_pool(average=False))


@register(*packets("avg_pool2d_backward", "avg_pool3d_backward"))
def avg_pool_backward_count(grad_out, x, kernel_size, *args, out_shape, **kwargs) -> OpCount:
    # every output gradient is scaled once and spread over its K taps (K-1 adds where windows overlap)
    n, taps = numel(grad_out), pool_taps(kernel_size, len(x) - 2)
    return OpCount(adds=n * (taps - 1)) + scaling(n, taps)


@register(*packets("_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward"))
def adaptive_avg_pool_backward_count(grad_out, x, *, out_shape, **kwargs) -> OpCount:
    uniform = all(i % o == 0 for i, o in zip(x[2:], grad_out[2:], strict=True))
    return scaling(numel(out_shape), numel(x) // numel(grad_out) if uniform else None)


# routing a max-pool gradient to its arg-max is data movement
register(*packets("max_pool2d_with_indices_backward", "max_pool3d_with_indices_backward"))(elementwise())


# --- normalisation ---------------------------------------------------------------------------------
def normalize_count(n: int, groups: int, affine: bool) -> OpCount:
    """Batch statistics and normalisation of n elements in ``groups`` groups of m (training-mode BN, LayerNorm,
    GroupNorm). Per group: the sum for the mean and the sum of squares (m-1 adds each), scaling both by 1/m
    (2 mults), var + eps (1 add) and one rsqrt (other). Per element: x - mean (1 add), its square (1 mult),
    times 1/std (1 mult), then gamma (1 mult) and beta (1 add) if affine."""
    return OpCount(adds=n * (1 + affine) + 2 * (n - groups) + groups, mults=n * (2 + affine) + 2 * groups,
                   other_ops=groups)


@register(*packets("_native_batch_norm_legit_no_training"))
def batch_norm_eval_count(x, *args, out_shape, **kwargs) -> OpCount:
    # eval BN folds to y = x * a + c with per-channel a, c computed once at deployment: 1 mult + 1 add
    n = numel(x)
    return OpCount(mults=n, adds=n)


@register(*packets("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
                   "cudnn_batch_norm", "miopen_batch_norm"))
def batch_norm_count(x, weight, *args, out_shape, **kwargs) -> OpCount:
    training = next((a for a in args if isinstance(a, bool)), kwargs.get("training", False))
    if not training:
        return batch_norm_eval_count(x, out_shape=out_shape)
    return normalize_count(numel(x), x[1], weight is not None)


@register(*packets("native_layer_norm"))
def layer_norm_count(x, normalized_shape, weight, *args, out_shape, **kwargs) -> OpCount:
    n = numel(x)
    return normalize_count(n, n // numel(normalized_shape), weight is not None)


@register(*packets("native_group_norm"))
def group_norm_count(x, weight, bias, n_batch, channels, hw, groups, *args, out_shape, **kwargs) -> OpCount:
    return normalize_count(numel(x), n_batch * groups, weight is not None)


@register(*packets("native_batch_norm_backward", "native_layer_norm_backward", "native_group_norm_backward",
                   "cudnn_batch_norm_backward"))
def norm_backward_count(grad_out, *args, out_shape, **kwargs) -> OpCount:
    # NB: estimate. grad_input = (g - mean(g) - xhat * mean(g * xhat)) * gamma / std: per element 3 mults,
    # 4 adds (two row sums, two subtractions); grad_gamma/beta: 1 mult + 2 adds per element.
    n = numel(grad_out)
    return OpCount(mults=4 * n, adds=6 * n, estimate=True)


# --- resampling ------------------------------------------------------------------------------------
# A linear interpolation a + t (b - a) is 1 mult + 2 adds, with t precomputed per output position.
register(*packets("upsample_linear1d"))(elementwise(mults=1, adds=2))
register(*packets("upsample_bilinear2d", "_upsample_bilinear2d_aa"))(elementwise(mults=3, adds=6))
register(*packets("upsample_trilinear3d"))(elementwise(mults=7, adds=14))
# bicubic: four 4-tap horizontal filters and one vertical 4-tap filter per output
register(*packets("upsample_bicubic2d", "_upsample_bicubic2d_aa"))(elementwise(mults=20, adds=15))
