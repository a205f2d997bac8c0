"""Multiplication-free operators, as custom torch ops whose cost the counter knows.

The dyadic variants build their arithmetic from these, so a profile reports shifts and adds where a float
model would multiply:

* ``estimator::shift_add_mul(x, c, adds, shifts)``: ``x * c`` for a dyadic constant tensor ``c`` (broadcast
  over ``x``), where ``adds`` and ``shifts`` are the CSD cost of multiplying one input by every element of
  ``c`` once (summed over ``c``'s elements). Costs ``adds`` and ``shifts`` per application of ``c``.
* ``estimator::plan_sigmoid(x)``: PLAN (Amin et al. 1997), a piecewise-linear sigmoid with dyadic slopes.
  Per element: |x| and the three segment thresholds (4 compares), one shift (the slope), one add (the
  offset), and one add for the symmetry y(-x) = 1 - y(x): 4 compares, 1 shift, 2 adds.
* ``estimator::plan_tanh(x)``: tanh(x) = 2 sigmoid(2x) - 1 with PLAN: per element 4 compares, 3 shifts
  (x2 in, slope, x2 out), 3 adds.
"""

from __future__ import annotations

import torch

from .formulas import numel
from .registry import OpCount, register

PLAN_SEGMENTS = ((5.0, 0.0, 1.0), (2.375, 0.03125, 0.84375), (1.0, 0.125, 0.625), (0.0, 0.25, 0.5))
"""(lower bound of |x|, slope, offset) of PLAN's segments, from the top: y = slope |x| + offset for x >= 0."""


@torch.library.custom_op("estimator::shift_add_mul", mutates_args=())
def shift_add_mul(x: torch.Tensor, c: torch.Tensor, adds: int, shifts: int) -> torch.Tensor:
    """``x * c`` for dyadic ``c``; ``adds``/``shifts`` are its CSD cost (for the counter only)."""
    return x * c


@shift_add_mul.register_fake
def _shift_add_mul_fake(x, c, adds, shifts):
    return torch.empty(torch.broadcast_shapes(x.shape, c.shape), dtype=x.dtype, device=x.device)


def _shift_add_mul_backward(ctx, grad):
    return grad * ctx.c, None, None, None


def _shift_add_mul_setup(ctx, inputs, output):
    ctx.c = inputs[1]


shift_add_mul.register_autograd(_shift_add_mul_backward, setup_context=_shift_add_mul_setup)


def plan_slope_offset(magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    slope = torch.full_like(magnitude, PLAN_SEGMENTS[-1][1])
    offset = torch.full_like(magnitude, PLAN_SEGMENTS[-1][2])
    for bound, a, b in reversed(PLAN_SEGMENTS[:-1]):
        above = magnitude >= bound
        slope = torch.where(above, a, slope)
        offset = torch.where(above, b, offset)
    return slope, offset


@torch.library.custom_op("estimator::plan_sigmoid", mutates_args=())
def plan_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """PLAN approximation of the logistic sigmoid (maximum error 0.01894)."""
    slope, offset = plan_slope_offset(x.abs())
    y = slope * x.abs() + offset
    return torch.where(x >= 0, y, 1 - y)


def _like_input(x):
    """Fake (meta) implementation of an elementwise op: an output shaped like its input."""
    return torch.empty_like(x)


def _save_input(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


def _plan_sigmoid_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return grad * plan_slope_offset(x.abs())[0]  # d/dx of a |x| + b (and of 1 - that for x < 0) is a


plan_sigmoid.register_fake(_like_input)
plan_sigmoid.register_autograd(_plan_sigmoid_backward, setup_context=_save_input)


@torch.library.custom_op("estimator::plan_tanh", mutates_args=())
def plan_tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1 with the PLAN sigmoid."""
    return 2 * plan_sigmoid(2 * x) - 1


def _plan_tanh_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return grad * 4 * plan_slope_offset((2 * x).abs())[0]  # chain rule through 2 sigma(2x) - 1


plan_tanh.register_fake(_like_input)
plan_tanh.register_autograd(_plan_tanh_backward, setup_context=_save_input)


@register(torch.ops.estimator.shift_add_mul)
def shift_add_mul_count(x, c, adds, shifts, *, out_shape, **kwargs) -> OpCount:
    # c is applied numel(out) / numel(c) times, each application costing the CSD cost of all of c
    applications = numel(out_shape) // max(numel(c), 1)
    return OpCount(adds=applications * adds, shifts=applications * shifts)


@register(torch.ops.estimator.plan_sigmoid)
def plan_sigmoid_count(x, *, out_shape, **kwargs) -> OpCount:
    n = numel(out_shape)
    return OpCount(compares=4 * n, shifts=n, adds=2 * n)


@register(torch.ops.estimator.plan_tanh)
def plan_tanh_count(x, *, out_shape, **kwargs) -> OpCount:
    n = numel(out_shape)
    return OpCount(compares=4 * n, shifts=3 * n, adds=3 * n)
