"""Activation approximations of the dyadic literature besides PLAN, as custom torch ops whose cost the counter
knows (:mod:`estimator.counting.shiftadd` holds PLAN). Each is a named option of
:func:`estimator.variants.dyadic.approximate` (``activations=``); its maximum error against the exact function is
measured by the tests and stated here (on a grid of step 1e-4 over [-10, 10]).

* ``asg`` (Alippi and Storti-Gajani 1991): the sigmoid from powers of two, sigma(x) ~ (1 + frac(x)) 2^(floor(x) - 1)
  for x <= 0 and 1 - that of -x above: linear between the points 2^(n-1) at the integers n <= 0. Per element: the
  integer/fraction split of a fixed-point x (free), one add (1 + frac), one shift by floor(x) - 1 (a variable
  shift), the sign test and one add for the symmetry: 1 compare, 1 shift, 2 adds. Max error 0.0189. tanh(x) =
  2 sigma(2x) - 1 with it: 2 more shifts and 1 add.
* ``linear`` (the first-order approximation with a dyadic slope): sigma(x) ~ clamp(x/4 + 1/2, 0, 1), tanh(x) ~
  clamp(x, -1, 1). Per element: 1 shift, 1 add, 2 compares (the tanh: 2 compares). Max error 0.1192 (sigmoid),
  0.2384 (tanh).
* ``quadratic`` (Kwan 1992, second order): sigma(x) ~ 1/2 + x/4 - x|x|/32 for |x| <= 4, else 0 or 1. It squares
  its input: 1 multiplication (x|x|, a product of two signals, which no shift-add form replaces), 2 shifts, 2 adds,
  3 compares (|x|, the two bounds). Max error 0.0216. tanh(x) = 2 sigma(2x) - 1 with it: 2 more shifts and 1 add
  (max error 0.0432).
* ``scaled_tanh`` (LeCun's recommended activation, 1.7159 tanh(2x/3), in dyadic form): 1.71875 (2 - 2^-2 - 2^-5)
  times PLAN's tanh of 0.65625 x (2^-1 + 2^-3 + 2^-5): the two constants cost 2 adds + 3 shifts each in CSD form,
  on top of PLAN's tanh (4 compares, 3 shifts, 3 adds): 4 compares, 9 shifts, 7 adds. Max error 0.0639 against
  1.7159 tanh(2x/3) (PLAN's tanh alone: 0.0379 against tanh).

Gradients (for straight-through fine-tuning) are each approximation's own derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .formulas import numel
from .registry import OpCount, register
from .shiftadd import plan_slope_offset, plan_tanh

SCALED_TANH_OUT = 2 - 2 ** -2 - 2 ** -5
"""1.71875: the dyadic form of LeCun's 1.7159 (3 CSD terms)."""
SCALED_TANH_IN = 2 ** -1 + 2 ** -3 + 2 ** -5
"""0.65625: the dyadic form of 2/3 (3 CSD terms)."""


def asg_sigmoid_values(x: torch.Tensor) -> torch.Tensor:
    negative = -x.abs()
    whole = torch.floor(negative)
    y = (1 + (negative - whole)) * torch.exp2(whole - 1)
    return torch.where(x <= 0, y, 1 - y)


def asg_sigmoid_slope(x: torch.Tensor) -> torch.Tensor:
    return torch.exp2(torch.floor(-x.abs()) - 1)  # d/dx of (1 + frac) 2^(floor - 1), mirrored above 0


def asg_tanh_values(x: torch.Tensor) -> torch.Tensor:
    return 2 * asg_sigmoid_values(2 * x) - 1


def asg_tanh_slope(x: torch.Tensor) -> torch.Tensor:
    return 4 * asg_sigmoid_slope(2 * x)


def linear_sigmoid_values(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x / 4 + 0.5, 0.0, 1.0)


def linear_sigmoid_slope(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x.abs() < 2, 0.25, 0.0).to(x.dtype)


def linear_tanh_values(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, -1.0, 1.0)


def linear_tanh_slope(x: torch.Tensor) -> torch.Tensor:
    return (x.abs() < 1).to(x.dtype)


def quadratic_sigmoid_values(x: torch.Tensor) -> torch.Tensor:
    inside = 0.5 + x / 4 - x * x.abs() / 32
    return torch.where(x.abs() <= 4, inside, (x > 0).to(x.dtype))


def quadratic_sigmoid_slope(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x.abs() <= 4, 0.25 - x.abs() / 16, torch.zeros_like(x))


def quadratic_tanh_values(x: torch.Tensor) -> torch.Tensor:
    return 2 * quadratic_sigmoid_values(2 * x) - 1


def quadratic_tanh_slope(x: torch.Tensor) -> torch.Tensor:
    return 4 * quadratic_sigmoid_slope(2 * x)


def scaled_tanh_values(x: torch.Tensor) -> torch.Tensor:
    return SCALED_TANH_OUT * plan_tanh(SCALED_TANH_IN * x)


def scaled_tanh_slope(x: torch.Tensor) -> torch.Tensor:
    return SCALED_TANH_OUT * SCALED_TANH_IN * 4 * plan_slope_offset((2 * SCALED_TANH_IN * x).abs())[0]


def activation_op(name: str, values: Callable, slope: Callable, count: OpCount):
    """A custom op ``estimator::<name>`` computing ``values`` with gradient ``slope`` (per element) and costing
    ``count`` per element to the counter."""
    op = torch.library.custom_op(f"estimator::{name}", mutates_args=(), schema="(Tensor x) -> Tensor")(
        lambda x: values(x))
    op.__doc__ = f"{name}: see estimator.counting.activations"

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * slope(x)

    def setup(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    op.register_fake(lambda x: torch.empty_like(x))
    op.register_autograd(backward, setup_context=setup)

    @register(getattr(torch.ops.estimator, name))
    def formula(x, *, out_shape, **kwargs) -> OpCount:
        n = numel(out_shape)
        return OpCount(mults=count.mults * n, adds=count.adds * n, shifts=count.shifts * n,
                       compares=count.compares * n)

    return op


asg_sigmoid = activation_op("asg_sigmoid", asg_sigmoid_values, asg_sigmoid_slope,
                            OpCount(compares=1, shifts=1, adds=2))
asg_tanh = activation_op("asg_tanh", asg_tanh_values, asg_tanh_slope, OpCount(compares=1, shifts=3, adds=3))
linear_sigmoid = activation_op("linear_sigmoid", linear_sigmoid_values, linear_sigmoid_slope,
                               OpCount(compares=2, shifts=1, adds=1))
linear_tanh = activation_op("linear_tanh", linear_tanh_values, linear_tanh_slope, OpCount(compares=2))
quadratic_sigmoid = activation_op("quadratic_sigmoid", quadratic_sigmoid_values, quadratic_sigmoid_slope,
                                  OpCount(mults=1, compares=3, shifts=2, adds=2))
quadratic_tanh = activation_op("quadratic_tanh", quadratic_tanh_values, quadratic_tanh_slope,
                               OpCount(mults=1, compares=3, shifts=4, adds=3))
scaled_tanh = activation_op("scaled_tanh", scaled_tanh_values, scaled_tanh_slope,
                            OpCount(compares=4, shifts=9, adds=7))
