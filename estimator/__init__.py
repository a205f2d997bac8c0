"""Layer-by-layer operation, memory-traffic and energy estimates for PyTorch CNNs."""

from .counting import Profile, UnsupportedOpError, profile
from .counting.crosscheck import crosscheck
from .energy import energy

__all__ = ["Profile", "UnsupportedOpError", "crosscheck", "energy", "profile"]
__version__ = "0.1.0"
