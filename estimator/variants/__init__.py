"""Reference implementations of the seed papers' variants, and the one entry point that applies a variant
named on the command line or in a sweep."""

from __future__ import annotations

from torch import nn


def apply_variant(model: nn.Module, spec: str) -> nn.Module:
    """Return a copy of ``model`` transformed by the variant ``spec`` (``dense`` returns the model)."""
    if spec == "dense":
        return model
    raise ValueError(f"unknown variant '{spec}'; expected dense")
