"""Complex tensors counted in real operations, and the FFT formulas (which count real operations themselves).

The op formulas count at shapes, as if every element were real. An op on complex tensors does more, and
:func:`in_real_operations` rescales its count (stated conventions, the usual ones):

* a complex product is 4 real multiplications and 2 real additions, (a+bi)(c+di) = (ac-bd) + (ad+bc)i;
* a complex addition is 2 real additions;
* a complex multiply-accumulate is therefore 4 real MACs: 4 multiplications and 4 additions, so a K-term complex
  dot product costs 4K mults and 4K-2 adds (a real one K and K-1);
* a complex operand times a real one (a real weight on a complex signal) is 2 real products, each real part
  separately; a complex plus a real is 1 real addition;
* a unary op on a complex input (negation, a transcendental function) counts its real-valued formula twice for
  adds and mults, and is marked an estimate (the cost of complex transcendental functions varies by library).

FFTs follow the radix-2 convention of FFTW's flop count: a complex transform of length n costs 5 n log2 n real
flops, split as 2 n log2 n multiplications and 3 n log2 n additions (n/2 log2 n butterflies of one complex
product and two complex additions); a real-input or real-output transform costs half; a normalised transform adds
one real multiplication per real component of its output. Non-power-of-two lengths use the same n log2 n (an
estimate of a mixed-radix plan). These counts are estimates and are marked so.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from .registry import OpCount, register

aten = torch.ops.aten

FFT_OPS = frozenset(p for p in (getattr(aten, n, None) for n in ("_fft_c2c", "_fft_r2c", "_fft_c2r")) if p)
"""FFT ops, whose formulas already count real operations."""


def in_real_operations(count: OpCount, packet, args, out) -> OpCount:
    """``count`` of an op call rescaled to real operations when complex tensors take part (module doc)."""
    if packet in FFT_OPS:
        return count
    operands = [a for a in args if isinstance(a, torch.Tensor)]
    complex_operands = sum(a.is_complex() for a in operands[:2])
    if not complex_operands:
        return count
    if complex_operands == 2:
        return replace(count, macs=4 * count.macs, mults=4 * count.mults, adds=2 * count.adds + 2 * count.mults)
    if len(operands) == 1:  # a unary op on a complex input
        return replace(count, mults=2 * count.mults, adds=2 * count.adds, estimate=True)
    if count.mults:  # complex x real: each real part separately
        return replace(count, macs=2 * count.macs, mults=2 * count.mults, adds=2 * count.adds)
    return count  # complex + real: the real part only


def fft_count(x_shape, dims, normalization: int, out_shape, real_side: bool, real_output: bool) -> OpCount:
    """Real operations of one FFT op call (module doc): over the transformed ``dims`` of full length
    ``N = prod(n_d)`` (the longer of input and output along each: a one-sided spectrum holds n/2+1 of n), each
    of the ``batch`` transforms costs 2 N log2 N mults and 3 N log2 N adds, half when ``real_side`` (a real input
    or output); a normalised transform adds one mult per real output component."""
    full = [max(a, b) for a, b in zip(x_shape, out_shape, strict=True)]
    length = math.prod(full[d] for d in dims)
    batch = math.prod(full) // max(length, 1)
    work = batch * length * math.log2(length) if length > 1 else 0.0
    factor = 0.5 if real_side else 1.0
    scaling = (1 if real_output else 2) * math.prod(out_shape) if normalization else 0
    return OpCount(mults=round(factor * 2 * work) + scaling, adds=round(factor * 3 * work), estimate=True)


def fft_formula(real_side: bool, real_output: bool):
    def formula(x, dim, normalization, *args, out_shape, **kwargs) -> OpCount:
        return fft_count(tuple(x), [d % len(x) for d in dim], int(normalization), tuple(out_shape), real_side,
                         real_output)

    return formula


for _name, _real_side, _real_output in (("_fft_c2c", False, False), ("_fft_r2c", True, False),
                                        ("_fft_c2r", True, True)):
    if hasattr(aten, _name):
        register(getattr(aten, _name))(fft_formula(_real_side, _real_output))
