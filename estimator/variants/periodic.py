"""Pre-defined periodic sparsity (Kundu et al., IEEE Trans. Computers 2020; docs/references.md s.1).

Only 3x3 convolutions are thinned; the first convolution of the model, every 1x1 convolution and every Linear
stay dense. Kernel (i, j) of a weight [C_out, C_in/groups, 3, 3] (filter i, input channel j of the weight
tensor, 0-based) uses slot t = (i + j + 1) mod P, so patterns cycle with period P along the input channels and
each next filter sees the cycle rotated by one. For grouped and depthwise convolutions the rule runs over the
weight tensor's own indices (depthwise: j = 0, so the pattern cycles along the filters only).

Masks are a ``torch.nn.utils.parametrize`` parametrization (weight = original x mask): masked weights are
exactly zero in every forward pass whatever SGD, momentum or weight decay do to the original. The mask is
regenerated from the rule, never stored in checkpoints.
"""

from __future__ import annotations

import copy
import functools
import itertools

import torch
from torch import nn
from torch.nn.utils import parametrize

from .specs import KERNEL_POSITIONS, PeriodicSpec, parse_spec


@functools.lru_cache(maxsize=256)
def periodic_mask(spec: PeriodicSpec, out_channels: int, in_channels: int) -> torch.Tensor:
    """The rule's mask for a weight shape (cached: the rule gives the same mask every time; do not modify)."""
    return kernel_mask(spec, out_channels, in_channels)


def kernel_mask(spec: PeriodicSpec, out_channels: int, in_channels: int, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """The 0/1 mask of a [out_channels, in_channels, 3, 3] weight under ``spec``."""
    if spec.kind == "dense":
        return torch.ones(out_channels, in_channels, 3, 3)
    if spec.kind == "pSC":  # every kernel draws one of the C(9, k) position sets uniformly
        subsets = torch.tensor(list(itertools.combinations(range(KERNEL_POSITIONS), spec.k)))
        table = torch.zeros(len(subsets), KERNEL_POSITIONS).scatter_(1, subsets, 1.0)
        choice = torch.randint(0, len(subsets), (out_channels, in_channels), generator=generator)
        return table[choice].view(out_channels, in_channels, 3, 3)
    table = torch.zeros(spec.period, KERNEL_POSITIONS)
    for t, positions in enumerate(spec.slots()):
        table[t, list(positions)] = 1.0
    slot = (torch.arange(out_channels)[:, None] + torch.arange(in_channels)[None, :] + 1) % spec.period
    return table[slot].view(out_channels, in_channels, 3, 3)


class PeriodicMask(nn.Module):
    """Parametrization ``weight = original * mask`` for one 3x3 conv, with the counter's storage protocol.

    Attributes:
        weight_format: ``"periodic"`` for PS/PSD (positions follow the rule), ``"kernel_subset"`` for pSC (k
            positions per kernel, chosen at random: pricing indexes them as its ``psc_index`` parameter says).
        pattern_table_bits: P x 9 bits for PS/PSD, 0 otherwise.
        predefined_sparsity: True: the zero pattern is fixed before training, so a training step neither computes
            nor stores the gradients of masked weights (nor updates them).
    """

    predefined_sparsity = True

    def __init__(self, spec: PeriodicSpec, shape: torch.Size, layer_index: int):
        super().__init__()
        self.spec = spec
        if spec.kind == "pSC":
            mask = kernel_mask(spec, shape[0], shape[1], torch.Generator().manual_seed(spec.seed * 7919 + layer_index))
        else:
            mask = periodic_mask(spec, shape[0], shape[1])
        self.register_buffer("mask", mask, persistent=False)
        periodic = spec.kind in ("PS", "PSD")
        self.weight_format = "periodic" if periodic else "kernel_subset"
        self.pattern_table_bits = spec.period * KERNEL_POSITIONS if periodic else 0

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


def eligible_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The 3x3 Conv2d layers that get masks: all but the model's first conv (in named_modules() order)."""
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return [(n, m) for n, m in convs[1:] if tuple(m.kernel_size) == (3, 3)]


def apply_periodic_sparsity(model: nn.Module, spec: str | PeriodicSpec, *, inplace: bool = False) -> nn.Module:
    """Mask every eligible 3x3 conv of ``model`` (a copy unless ``inplace``) with ``spec``.

    The original weights are zeroed where masked, so parameters and checkpoints show the sparsity too.
    """
    spec = parse_spec(spec)
    model = model if inplace else copy.deepcopy(model)
    if spec.kind == "dense":
        return model
    for index, (_, conv) in enumerate(eligible_convs(model)):
        mask = PeriodicMask(spec, conv.weight.shape, index).to(conv.weight.device)
        with torch.no_grad():
            conv.weight.mul_(mask.mask)
        parametrize.register_parametrization(conv, "weight", mask, unsafe=True)  # shape-preserving by construction
    return model
