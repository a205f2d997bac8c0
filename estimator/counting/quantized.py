"""Quantised layers, counted from their packed integer weights: dynamically quantised Linear and Conv2d
(``torch.ao.nn.quantized.dynamic``) and statically (post-training) quantised ones (``torch.ao.nn.quantized``, with the
``quantize_per_tensor`` and ``dequantize`` at the model's float boundaries).

* ``quantized::linear_dynamic(x, packed, reduce_range)``: x [..., in] times the packed weight [out, in]: one MAC
  per (output element, input feature), one multiplication each, K-1 additions per K-term sum and one more per
  output for the bias when the packed parameters hold one.
* ``quantized::conv2d_dynamic(x, packed, reduce_range)``: one MAC per (output element, tap of its in/groups x kh x
  kw window), zero padding included as for a float convolution.
* Both quantise their input on the fly (per tensor: its min and max, 2 compares per element, and one
  multiplication per element to scale it) and scale the int32 result back (one multiplication per output).

* ``aten.quantized_lstm``, a dynamically quantised ``nn.LSTM``: see :func:`quantized_lstm_count`.
* Static: ``quantized::conv2d`` / ``linear`` (and their ``_relu`` fusions) take an already quantised input and
  requantise each int32 result to the output's scale and zero point: one multiplication, one addition and two
  compares (the clamp to the integer range) per output, one more compare with a fused ReLU. ``quantize_per_tensor``
  (and ``quantize_per_channel``) costs one multiplication (by 1 / scale), one addition (zero point) and two compares
  (clamp) per element, rounding taken as free; ``dequantize`` one addition (less the zero point) and one
  multiplication (scale) per element. These are the reference arithmetic (FBGEMM and QNNPACK fold the input's zero
  point into a per-output correction, one more multiply-add per output, not counted): estimates, marked so.

The MACs are integer MACs at the packed weight's width (8 bits for ``qint8``: price them with ``weight_bits=8``).
The packed weights are not Parameters: ``model.parameters()`` does not list them, so neither do ``params`` nor
the value-aware columns (their zeros are not skipped), and the layer's row is marked an estimate, which says so.
"""

from __future__ import annotations

import functools
import math

import torch

from .formulas import conv_nest, matmul_count, matmul_nest, numel
from .recurrent import cell_work, projection_inputs
from .registry import OpCount, register

quantized = torch.ops.quantized


def packed_weight(packed) -> torch.Tensor:
    """The integer weight of a packed-parameters object."""
    return packed.unpack()[0]


def with_quantisation(count: OpCount, inputs: int, outputs: int) -> OpCount:
    """``count`` plus the on-the-fly quantisation of ``inputs`` elements and the rescaling of ``outputs``."""
    return count + OpCount(compares=2 * inputs, mults=inputs + outputs, estimate=True)


def linear_core(x, packed, out_shape) -> tuple[OpCount, int]:
    """The integer MACs of a quantised linear layer (and its bias adds), and its outputs."""
    weight, bias = packed.unpack()
    features, outputs = x[-1], numel(out_shape)
    count = matmul_count(outputs * features, outputs, bias is not None, weight_arg=None,
                         nests=(matmul_nest(1, outputs // weight.shape[0], features, weight.shape[0]),))
    return count, outputs


def conv2d_core(x, packed, out_shape) -> tuple[OpCount, int]:
    """The integer MACs of a quantised 2-D convolution (and its bias adds), and its outputs."""
    weight, bias = packed.unpack()
    taps, outputs = math.prod(weight.shape[1:]), numel(out_shape)
    nest = conv_nest(tuple(x), tuple(weight.shape), tuple(out_shape), packed.stride(), packed.padding(),
                     packed.dilation(), False, packed.groups())
    return matmul_count(outputs * taps, outputs, bias is not None, weight_arg=None, nests=(nest,)), outputs


@register(quantized.linear_dynamic)
def linear_dynamic_count(x, packed, *args, out_shape, **kwargs) -> OpCount:
    count, outputs = linear_core(x, packed, out_shape)
    return with_quantisation(count, numel(x), outputs)


@register(quantized.conv2d_dynamic)
def conv2d_dynamic_count(x, packed, *args, out_shape, **kwargs) -> OpCount:
    count, outputs = conv2d_core(x, packed, out_shape)
    return with_quantisation(count, numel(x), outputs)


def requantised(count: OpCount, outputs: int, relu: bool) -> OpCount:
    """``count`` plus the requantisation of ``outputs`` int32 results (and a fused ReLU's compare)."""
    return count + OpCount(mults=outputs, adds=outputs, compares=(3 if relu else 2) * outputs, estimate=True)


def static_count(core, relu: bool, x, packed, *args, out_shape, **kwargs) -> OpCount:
    """The formula of a statically quantised layer: its ``core`` (:func:`linear_core` or :func:`conv2d_core`)
    requantised, with or without a fused ReLU."""
    count, outputs = core(x, packed, out_shape)
    return requantised(count, outputs, relu)


for _packet, _core, _relu in ((quantized.linear, linear_core, False), (quantized.linear_relu, linear_core, True),
                              (quantized.conv2d, conv2d_core, False), (quantized.conv2d_relu, conv2d_core, True)):
    register(_packet)(functools.partial(static_count, _core, _relu))


@register(torch.ops.aten.quantize_per_tensor, torch.ops.aten.quantize_per_channel)
def quantize_count(x, *args, **kwargs) -> OpCount:
    return OpCount(mults=numel(x), adds=numel(x), compares=2 * numel(x), estimate=True)


@register(torch.ops.aten.dequantize)
def dequantize_count(x, *args, **kwargs) -> OpCount:
    return OpCount(mults=numel(x), adds=numel(x), estimate=True)


@register(torch.ops.aten.quantized_lstm)
def quantized_lstm_count(x, *args, out_shape, **kwargs) -> OpCount:
    """A dynamically quantised LSTM: per layer, direction and row (a time step of one sequence), the input and
    the recurrent projection to the 4 gates (4H x (I + H) integer MACs, I = the input size of the first layer and
    D x H above it), each on an input quantised on the fly and rescaled back; then per hidden unit the float LSTM
    cell as torch's reference kernel computes it: the two projections summed (4 adds) with their biases (8 adds),
    3 sigmoids and 2 tanh (other ops), c = f c + i g (2 mults, 1 add) and h = o tanh(c) (1 mult)."""
    if isinstance(args[0], (list, tuple)):  # .input(input, hx, params, has_biases, num_layers, dropout, train,
        # bidirectional, batch_first)
        hx, _, has_biases, layers, _, _, bidirectional, _ = args[:8]
        rows = x[0] * x[1]
    else:  # .data(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional): packed rows
        _, hx, _, has_biases, layers, _, _, bidirectional = args[:8]
        rows = x[0]
    hidden, directions = hx[0][-1], 2 if bidirectional else 1
    count = OpCount()
    for inner in projection_inputs(x[-1], hidden, layers, directions):
        projection = matmul_count(directions * rows * 4 * hidden * inner, directions * rows * 4 * hidden,
                                  bool(has_biases), weight_arg=None,
                                  nests=(matmul_nest(directions, rows, inner, 4 * hidden),))
        count = count + with_quantisation(projection, directions * rows * inner, directions * rows * 4 * hidden)
    return count + cell_work("LSTM", layers * directions * rows * hidden) + OpCount(estimate=True)


def conv_sizes(sizes, kernel, stride, padding, dilation) -> list[int]:
    """Output sizes of a convolution along each spatial dimension (torch's rule)."""
    return [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation,
                                                                            strict=True)]


def meta_output(packet, args) -> torch.Tensor | None:
    """The meta output of a dynamically quantised op from its input's shape and its packed weight (they have no
    meta kernel), or None for other ops."""
    if packet is quantized.linear_dynamic:
        x, packed = args[0], args[1]
        return torch.empty((*x.shape[:-1], packed_weight(packed).shape[0]), dtype=x.dtype, device="meta")
    if packet is quantized.conv2d_dynamic:
        x, packed = args[0], args[1]
        weight = packed_weight(packed)
        sizes = conv_sizes(x.shape[2:], weight.shape[2:], packed.stride(), packed.padding(), packed.dilation())
        return torch.empty((x.shape[0], weight.shape[0], *sizes), dtype=x.dtype, device="meta")
    return None
