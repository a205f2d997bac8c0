"""Layer-by-layer operation, memory-traffic and energy estimates for PyTorch CNNs."""

from .counting import MetaInputError, Profile, UnsupportedOpError, profile
from .counting.crosscheck import crosscheck
from .energy import energy
from .variants import apply_periodic_sparsity, apply_variant, approximate, plan_sigmoid

__all__ = ["MetaInputError", "Profile", "UnsupportedOpError", "apply_periodic_sparsity", "apply_variant", "approximate",
           "crosscheck", "energy", "plan_sigmoid", "profile"]
__version__ = "0.1.0"
