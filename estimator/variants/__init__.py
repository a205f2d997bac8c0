"""Reference implementations of the seed papers' variants, and the one typed value that names them
(:class:`Variant`), parsed once at the edge and applied everywhere else. Names are imported on first use, so that
naming and parsing variants does not load torch."""

from __future__ import annotations

import lazy_loader

EXPORTS = {
    "variant": ("DENSE", "DYADIC_PREFIX", "FORMS", "Variant", "VariantError", "apply_variant"),
    "specs": ("BUDGET_COSTS", "PAPER_VARIANTS", "DyadicBudget", "DyadicLevel", "PeriodicSpec", "parse_budget",
              "parse_level", "parse_spec"),
    "periodic": ("apply_periodic_sparsity",),
    "dyadic": ("CandidateSet", "approximate", "candidate_set", "plan_sigmoid", "plan_tanh", "solve_budgeted",
               "solve_milp"),
}
"""Public names by the submodule defining them."""
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs=EXPORTS)
