"""Reference implementations of the seed papers' variants, and the one entry point that applies a variant
named on the command line, in a sweep or in a training run."""

from __future__ import annotations

from torch import nn

from .periodic import PAPER_VARIANTS, PeriodicSpec, apply_periodic_sparsity, layer_storage, parse_spec


def apply_variant(model: nn.Module, spec: str) -> nn.Module:
    """A copy of ``model`` transformed by variant ``spec``: ``dense``, a periodic-sparsity name (``PSD1_P16``,
    ``PS2_P6``, ``pSC2``, ...)."""
    return apply_periodic_sparsity(model, parse_spec(spec))


__all__ = ["PAPER_VARIANTS", "PeriodicSpec", "apply_periodic_sparsity", "apply_variant", "layer_storage",
           "parse_spec"]
