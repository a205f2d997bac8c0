"""Accuracy at the priced bit width: post-training fake quantisation of a trained float model.

A point priced at ``weight_bits``/``act_bits`` below the float32 it was trained in is tested as the hardware would
compute it (to first order):

* **weights** of every convolution and linear layer, per output channel, symmetric: scale
  ``s = max|w| / (2^(b-1) - 1)``, ``w_q = clamp(round(w / s), -(2^(b-1) - 1), 2^(b-1) - 1) * s`` (zeros stay
  zero: masks and pruning are kept);
* **activations** entering those layers, per tensor, symmetric (unsigned, ``[0, 2^b - 1]``, where the calibration
  saw no negative value, e.g. after a ReLU): the scale is the largest magnitude seen on a calibration batch, the
  first :data:`CALIBRATION_IMAGES` training images in dataset order (no augmentation).

Nothing is re-trained; widths of 32 bits or more are the float model itself. This is the simplest standard PTQ
(no per-layer search, no bias correction), stated as such wherever its accuracy is reported.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

CALIBRATION_IMAGES = 256
"""Training images (the first, in dataset order) that set the activation ranges."""
FLOAT_BITS = 32
"""Widths at or above this are the float model (not quantised)."""
QUANTISED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)
"""The layers whose weights and input activations are quantised."""


def quantise_weights(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """``weight`` fake-quantised per output channel (dimension 0), symmetric, to ``bits`` bits."""
    levels = 2 ** (bits - 1) - 1
    flat = weight.detach().reshape(weight.shape[0], -1)
    scale = (flat.abs().amax(dim=1) / levels).clamp_min(torch.finfo(weight.dtype).tiny)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return (weight / scale.reshape(shape)).round().clamp(-levels, levels) * scale.reshape(shape)


class ActivationQuantiser:
    """A forward pre-hook that records an input's range (calibration), then fake-quantises inputs to it."""

    def __init__(self, bits: int):
        self.bits = bits
        self.low = 0.0
        self.high = 0.0
        self.calibrating = True

    def __call__(self, module: nn.Module, inputs: tuple):
        x = inputs[0]
        if self.calibrating:
            self.low = min(self.low, float(x.min()))
            self.high = max(self.high, float(x.max()))
            return None
        if self.low >= 0:  # unsigned: [0, 2^b - 1] steps
            scale = max(self.high, 1e-30) / (2 ** self.bits - 1)
            q = (x / scale).round().clamp(0, 2 ** self.bits - 1) * scale
        else:
            levels = 2 ** (self.bits - 1) - 1
            scale = max(-self.low, self.high, 1e-30) / levels
            q = (x / scale).round().clamp(-levels, levels) * scale
        return (q,) + tuple(inputs[1:])


class WeightQuantiser(nn.Module):
    """A parametrization: the weight as it computes (after any mask), fake-quantised by :func:`quantise_weights`."""

    def __init__(self, bits: int):
        super().__init__()
        self.bits = bits

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return quantise_weights(weight, self.bits)


def quantised_model(model: nn.Module, weight_bits: int, act_bits: int, calibration: torch.Tensor) -> nn.Module:
    """A copy of ``model`` (eval mode) with fake-quantised weights and input activations of :data:`QUANTISED`
    layers; ``calibration`` is a prepared input batch (see the module doc). Widths of :data:`FLOAT_BITS` or more
    leave that part in float. ``model`` is never changed: the weight quantiser is appended to the copy's
    parametrizations (a mask's zeros stay zero), none is removed (removing one would delete the weight property
    from the class a deep copy shares with the original)."""
    quantised = copy.deepcopy(model).eval()
    layers = [m for m in quantised.modules() if isinstance(m, QUANTISED)]
    with torch.no_grad():
        if weight_bits < FLOAT_BITS:
            for layer in layers:
                parametrize.register_parametrization(layer, "weight", WeightQuantiser(weight_bits))
        if act_bits < FLOAT_BITS:
            hooks = [ActivationQuantiser(act_bits) for _ in layers]
            handles = [layer.register_forward_pre_hook(hook) for layer, hook in zip(layers, hooks, strict=True)]
            quantised(calibration)
            for hook in hooks:
                hook.calibrating = False
            quantised.quantiser_handles = handles  # kept alive with the model
    return quantised
