"""Dynamically quantised layers (``torch.ao.nn.quantized.dynamic`` Linear and Conv2d), counted from their packed
integer weights.

* ``quantized::linear_dynamic(x, packed, reduce_range)``: x [..., in] times the packed weight [out, in]: one MAC
  per (output element, input feature), one multiplication each, K-1 additions per K-term sum and one more per
  output for the bias when the packed parameters hold one.
* ``quantized::conv2d_dynamic(x, packed, reduce_range)``: one MAC per (output element, tap of its in/groups x kh x
  kw window), zero padding included as for a float convolution.
* Both quantise their input on the fly (per tensor: its min and max, 2 compares per element, and one
  multiplication per element to scale it) and scale the int32 result back (one multiplication per output).

The MACs are integer MACs at the packed weight's width (8 bits for ``qint8``: price them with ``weight_bits=8``).
The packed weights are not Parameters: ``model.parameters()`` does not list them, so neither do ``params`` nor
the value-aware columns (their zeros are not skipped), and the layer's row is marked an estimate, which says so.
"""

from __future__ import annotations

import math

import torch

from .formulas import conv_nest, matmul_count, matmul_nest, numel
from .registry import OpCount, register

quantized = torch.ops.quantized


def packed_weight(packed) -> torch.Tensor:
    """The integer weight of a packed-parameters object."""
    return packed.unpack()[0]


def with_quantisation(count: OpCount, inputs: int, outputs: int) -> OpCount:
    """``count`` plus the on-the-fly quantisation of ``inputs`` elements and the rescaling of ``outputs``."""
    return count + OpCount(compares=2 * inputs, mults=inputs + outputs, estimate=True)


@register(quantized.linear_dynamic)
def linear_dynamic_count(x, packed, *args, out_shape, **kwargs) -> OpCount:
    weight, bias = packed.unpack()
    features, outputs = x[-1], numel(out_shape)
    rows = outputs // weight.shape[0]
    count = matmul_count(outputs * features, outputs, bias is not None, weight_arg=None,
                         nests=(matmul_nest(1, rows, features, weight.shape[0]),))
    return with_quantisation(count, numel(x), outputs)


@register(quantized.conv2d_dynamic)
def conv2d_dynamic_count(x, packed, *args, out_shape, **kwargs) -> OpCount:
    weight, bias = packed.unpack()
    taps, outputs = math.prod(weight.shape[1:]), numel(out_shape)
    nest = conv_nest(tuple(x), tuple(weight.shape), tuple(out_shape), packed.stride(), packed.padding(),
                     packed.dilation(), False, packed.groups())
    count = matmul_count(outputs * taps, outputs, bias is not None, weight_arg=None, nests=(nest,))
    return with_quantisation(count, numel(x), outputs)


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
