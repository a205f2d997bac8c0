"""The counter: capture (dispatch mode + module attribution), per-op formulas, value-aware analysis and the
Profile result. Never imports :mod:`hwmodels`."""

from .capture import ROOT, UnsupportedOpError
from .profile import Profile, profile
from .registry import COUNT_KINDS, FORMULAS, FREE_OPS, OpCount, register

__all__ = ["COUNT_KINDS", "FORMULAS", "FREE_OPS", "ROOT", "OpCount", "Profile", "UnsupportedOpError",
           "profile", "register"]
