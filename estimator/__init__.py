"""Layer-by-layer operation, memory-traffic and energy estimates for PyTorch CNNs."""

from .counting import Profile, UnsupportedOpError, profile

__all__ = ["Profile", "UnsupportedOpError", "profile"]
__version__ = "0.1.0"
