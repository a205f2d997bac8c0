"""Layer-by-layer operation, memory-traffic and energy estimates for PyTorch CNNs."""

from .counting import Profile, UnsupportedOpError, profile
from .counting.crosscheck import crosscheck

__all__ = ["Profile", "UnsupportedOpError", "crosscheck", "profile"]
__version__ = "0.1.0"
