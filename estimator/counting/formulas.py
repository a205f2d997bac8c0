"""Per-op arithmetic formulas. Every convention of the counter is stated here, where it is applied.

Conventions (see also :mod:`estimator.counting.registry`):

* A MAC is one multiplication and one addition. The accumulator of every output starts at zero, so the
  first product of an output also costs its add (this is what a MAC unit does); a bias adds one more add
  per output. Hence for dense conv/linear: ``mults = macs`` and ``adds = macs (+ outputs if bias)``.
* Elementwise add/sub cost one add per output element, mul one mult, div one ``other_ops`` (division is not
  a multiplication). Broadcasting is counted at the output size.
* ReLU, clamp, max-pool and comparisons are ``compares``; a max over K taps is K-1 compares.
* Transcendental functions are ``other_ops``, one per evaluation, with the rest of a composite function
  decomposed into the basic kinds (documented per formula).
* Pooling and reductions over K inputs cost K-1 adds (or compares) per output; averaging adds one
  scaling multiplication per output.
* Backward formulas count what the gradient computation does; conv/linear gradients cost one forward's
  MACs per requested gradient (input, weight).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .registry import OpCount, register

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
def matmul_count(macs: int, bias_adds: int, weight_arg: int) -> OpCount:
    """Each MAC is one mult + one add; a bias (addmm/baddbmm self term) adds one add per output."""
    return OpCount(macs=macs, mults=macs, adds=macs + bias_adds, weight_arg=weight_arg)


@register(aten.mm)
def mm_count(a, b, *, out_shape, **kwargs) -> OpCount:
    # [m, k] @ [k, n]: m*n outputs, k products each
    return matmul_count(a[0] * a[1] * b[1], 0, weight_arg=1)


@register(aten.addmm)
def addmm_count(bias, a, b, *args, out_shape, **kwargs) -> OpCount:
    # bias + [m, k] @ [k, n]; NB: beta/alpha scalings other than 1 (never used by nn.Linear) are ignored
    return matmul_count(a[0] * a[1] * b[1], numel(out_shape), weight_arg=2)


@register(aten.bmm)
def bmm_count(a, b, *, out_shape, **kwargs) -> OpCount:
    # [B, m, k] @ [B, k, n]
    return matmul_count(a[0] * a[1] * a[2] * b[2], 0, weight_arg=1)


@register(aten.baddbmm)
def baddbmm_count(bias, a, b, *args, out_shape, **kwargs) -> OpCount:
    return matmul_count(a[0] * a[1] * a[2] * b[2], numel(out_shape), weight_arg=2)


# --- convolution -----------------------------------------------------------------------------------
def conv_macs(x_shape, w_shape, out_shape, transposed: bool) -> int:
    """MACs of a convolution, zeros of padding included (the fvcore/torch convention).

    A regular conv's weight is [C_out, C_in/groups, *k]: every output element is a dot product of
    C_in/groups * prod(k) taps. A transposed conv's weight is [C_in, C_out/groups, *k]: every *input*
    element is scattered through C_out/groups * prod(k) taps.
    """
    taps = numel(w_shape[1:])
    return numel(x_shape if transposed else out_shape) * taps


@register(aten.convolution)
def convolution_count(x, w, bias, stride, padding, dilation, transposed, output_padding, groups, *,
                      out_shape, **kwargs) -> OpCount:
    macs = conv_macs(x, w, out_shape, transposed)
    return matmul_count(macs, numel(out_shape) if bias is not None else 0, weight_arg=1)


@register(aten.convolution_backward)
def convolution_backward_count(grad_out, x, w, bias_sizes, stride, padding, dilation, transposed,
                               output_padding, groups, output_mask, *, out_shape, **kwargs) -> OpCount:
    # grad_input is a (transposed) conv and grad_weight a correlation, each with the forward's MACs;
    # grad_bias sums grad_out over everything but the channel axis (one add per grad_out element).
    macs = conv_macs(x, w, grad_out, transposed) * (int(output_mask[0]) + int(output_mask[1]))
    return matmul_count(macs, numel(grad_out) if output_mask[2] else 0, weight_arg=2)


# --- attention -------------------------------------------------------------------------------------
def attention_count(q, k, v) -> OpCount:
    """softmax(q k^T * scale) v for q [..., L, E], k [..., S, E], v [..., S, Ev].

    MACs: L*S*E for the scores and L*S*Ev for the weighted sum. The scale is one mult per score; the
    softmax over each row of S scores is decomposed as for :func:`softmax_count`.
    """
    batch = numel(q[:-2])
    length, e, s, ev = q[-2], q[-1], k[-2], v[-1]
    macs = batch * length * s * (e + ev)
    scores = batch * length * s
    return OpCount(macs=macs, mults=macs + scores, adds=macs + 2 * scores, compares=scores,
                   other_ops=2 * scores)


@register(*packets("_native_multi_head_attention"))
def native_mha_count(query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, *args,
                     out_shape, **kwargs) -> OpCount:
    """nn.MultiheadAttention's fused kernel, counted as its decomposition: q, k, v and output projections
    (E x E each; biases one add per output) around per-head scaled dot-product attention."""
    batch, length, e = query
    s = key[-2]
    projections = batch * (2 * length + 2 * s) * e * e  # q and out over L positions, k and v over S
    bias_adds = batch * (2 * length + 2 * s) * e if qkv_bias is not None else 0
    head = e // num_heads
    attention = attention_count((batch, num_heads, length, head), (batch, num_heads, s, head),
                                (batch, num_heads, s, head))
    return matmul_count(projections, bias_adds, weight_arg=None) + attention


@register(*packets("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
                   "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention"))
def sdpa_count(q, k, v, *args, out_shape, **kwargs) -> OpCount:
    return attention_count(q, k, v)


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


def softmax_count(x, dim, *args, out_shape, **kwargs) -> OpCount:
    """softmax over each row: max (1 compare/elem), x - max (1 add), exp (other), row sum (1 add),
    normalise (1 division = other): per element 1 compare, 2 adds, 2 other."""
    n = numel(out_shape)
    return OpCount(compares=n, adds=2 * n, other_ops=2 * n)


register(*packets("_softmax", "_safe_softmax"))(softmax_count)


@register(*packets("_log_softmax"))
def log_softmax_count(x, dim, *args, out_shape, **kwargs) -> OpCount:
    # x - max - log(sum exp(x - max)): per element 1 compare, 3 adds, 1 exp; per row 1 log
    n = numel(out_shape)
    rows = n // out_shape[dim] if out_shape else 1
    return OpCount(compares=n, adds=3 * n, other_ops=n + rows)


register(*packets("_softmax_backward_data"))(elementwise(mults=2, adds=2))
register(*packets("_log_softmax_backward_data"))(elementwise(other_ops=1, mults=1, adds=2))
# dropout while training: draw and compare a random number, scale the kept values
register(*packets("native_dropout"))(elementwise(compares=1, mults=1))
register(*packets("native_dropout_backward"))(elementwise(mults=1))


# --- reductions ------------------------------------------------------------------------------------
def reduction(*, scale: bool = False, compare: bool = False):
    """A reduction of the input onto the output: (inputs - outputs) adds or compares, plus one scaling
    mult per output for means."""

    def formula(x, *args, out_shape, **kwargs) -> OpCount:
        n_in, n_out = numel(x), numel(first(out_shape))
        if compare:
            return OpCount(compares=n_in - n_out)
        return OpCount(adds=n_in - n_out, mults=n_out if scale else 0)

    return formula


register(*packets("sum"))(reduction())
register(*packets("mean"))(reduction(scale=True))
register(*packets("amax", "amin", "max", "min", "argmax", "argmin"))(reduction(compare=True))


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
        # K-1 adds per output, then one scaling by 1/K (none for a sum pool, divisor_override=1)
        n = numel(out_shape)
        return OpCount(adds=n * (pool_taps(kernel_size, ndim) - 1), mults=0 if divisor_override == 1 else n)

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
        if average:
            return OpCount(adds=taps - n_out, mults=n_out)
        return OpCount(compares=taps - n_out)

    return formula


register(*packets("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d"))(
    adaptive_pool(average=True))
register(*packets("adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d"))(
    adaptive_pool(average=False))


@register(*packets("avg_pool2d_backward", "avg_pool3d_backward"))
def avg_pool_backward_count(grad_out, x, kernel_size, *args, out_shape, **kwargs) -> OpCount:
    # every output gradient is scaled once and spread over its K taps (K-1 adds where windows overlap)
    n = numel(grad_out)
    return OpCount(mults=n, adds=n * (pool_taps(kernel_size, len(x) - 2) - 1))


@register(*packets("_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward"))
def adaptive_avg_pool_backward_count(grad_out, x, *, out_shape, **kwargs) -> OpCount:
    return OpCount(mults=numel(out_shape))


# routing a max-pool gradient to its arg-max is data movement
register(*packets("max_pool2d_with_indices_backward", "max_pool3d_with_indices_backward"))(elementwise())


# --- normalisation ---------------------------------------------------------------------------------
def normalize_count(n: int, groups: int, affine: bool) -> OpCount:
    """Batch statistics and normalisation of n elements in ``groups`` groups (training-mode BN, LayerNorm,
    GroupNorm). Per element: mean accumulate (1 add), x - mean (1 add), its square (1 mult), variance
    accumulate (1 add), times 1/std (1 mult), then gamma (1 mult) and beta (1 add) if affine. Per group:
    scale mean and variance by 1/n (2 mults) and one rsqrt (other)."""
    return OpCount(adds=n * (3 + affine), mults=n * (2 + affine) + 2 * groups, other_ops=groups)


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
    return OpCount(mults=4 * n, adds=6 * n)


# --- resampling ------------------------------------------------------------------------------------
# A linear interpolation a + t (b - a) is 1 mult + 2 adds, with t precomputed per output position.
register(*packets("upsample_linear1d"))(elementwise(mults=1, adds=2))
register(*packets("upsample_bilinear2d", "_upsample_bilinear2d_aa"))(elementwise(mults=3, adds=6))
register(*packets("upsample_trilinear3d"))(elementwise(mults=7, adds=14))
# bicubic: four 4-tap horizontal filters and one vertical 4-tap filter per output
register(*packets("upsample_bicubic2d", "_upsample_bicubic2d_aa"))(elementwise(mults=20, adds=15))
