"""Layer-by-layer operation, memory-traffic and energy estimates for PyTorch CNNs. Names are imported on first use,
so that the command line starts without loading torch."""

from __future__ import annotations

import lazy_loader

__version__ = "0.1.0"

EXPORTS = {
    "counting": ("MetaInputError", "Profile", "TensorSpec", "UnsupportedOpError", "profile"),
    "counting.crosscheck": ("crosscheck",),
    "energy": ("energy",),
    "points": ("price_points",),
    "variants": ("Variant", "apply_periodic_sparsity", "apply_variant", "approximate", "plan_sigmoid"),
}
"""Public names by the submodule defining them."""
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs=EXPORTS)
