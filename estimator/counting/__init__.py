"""The counter: capture (dispatch mode + module attribution), per-op formulas, value-aware analysis and the
Profile result. Never imports :mod:`hwmodels`."""

from .capture import ROOT, MetaInputError, UnsupportedOpError
from .inputs import TensorSpec
from .profile import Profile, profile
from .registry import COUNT_KINDS, FORMULAS, FREE_OPS, Nest, OpCount, register
from .weights import clear_cache

__all__ = ["COUNT_KINDS", "FORMULAS", "FREE_OPS", "ROOT", "MetaInputError", "Nest", "OpCount", "Profile",
           "TensorSpec", "UnsupportedOpError", "clear_cache", "profile", "register"]
