"""Reference implementations of the seed papers' variants, and the one entry point that applies a variant
named on the command line, in a sweep or in a training run."""

from __future__ import annotations

from torch import nn

from .dyadic import CandidateSet, DyadicLevel, approximate, parse_level, plan_sigmoid, plan_tanh
from .periodic import PAPER_VARIANTS, PeriodicSpec, apply_periodic_sparsity, parse_spec

DYADIC_PREFIX = "dyadic:"


def apply_variant(model: nn.Module, spec: str, *, inplace: bool = False) -> nn.Module:
    """``model`` transformed by variant ``spec`` (a copy unless ``inplace``; dyadic variants always copy):
    ``dense``, a periodic-sparsity name (``PSD1_P16``, ``PS2_P6``, ``pSC2``, ...) or a dyadic level
    (``dyadic:t2e-8``; see :func:`~estimator.variants.dyadic.parse_level`), whose weights train with a
    straight-through estimator."""
    if spec.startswith(DYADIC_PREFIX):
        return approximate(model, parse_level(spec))
    return apply_periodic_sparsity(model, parse_spec(spec), inplace=inplace)


__all__ = ["PAPER_VARIANTS", "CandidateSet", "DyadicLevel", "PeriodicSpec", "apply_periodic_sparsity",
           "apply_variant", "approximate", "parse_level", "parse_spec", "plan_sigmoid",
           "plan_tanh"]
