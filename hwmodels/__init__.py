"""Pluggable hardware cost models: memory hierarchies, PE arrays and per-action energies (data files with their
sources, or ZigZag's own YAML), a mapping-aware data-movement model, and vectorised pricing of a layer table.
Never imports torch; its names are imported on first use (``import hwmodels`` is instant)."""

from __future__ import annotations

import lazy_loader

EXPORTS = {
    "errors": ("MissingExtraError", "UserError"),
    "layers": ("COUNT_KINDS", "SCHEMA", "LayerTableError", "validate"),
    "model": ("ACTIONS", "OPERANDS", "Array", "ComputeEnergy", "HardwareFileError", "HardwareModel", "Level", "Port"),
    "traffic": ("weight_storage_bits",),
    "parameters": ("DEFAULTS", "PARAMETERS", "Parameter"),
    "grid": ("configuration_grid",),
    "pricing": ("ARITHMETIC", "TIERS", "EnergyTable", "price"),
    "parts": ("read_parts",),
    "registry": ("available", "get", "load", "resolve"),
}
"""Public names by the submodule defining them."""
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs=EXPORTS)
