"""Pluggable hardware cost models: memory hierarchies, PE arrays and per-action energies (data files with their
sources, or ZigZag's own YAML), a mapping-aware data-movement model, and vectorised pricing of a layer table.
Never imports torch."""

from .layers import COUNT_KINDS, SCHEMA, LayerTableError, validate
from .model import ACTIONS, OPERANDS, Array, ComputeEnergy, HardwareFileError, HardwareModel, Level, Port, load
from .movement import weight_storage_bits
from .parameters import DEFAULTS, PARAMETERS, Parameter
from .pricing import ARITHMETIC, TIERS, EnergyTable, configuration_grid, price
from .registry import available, get, resolve

__all__ = ["ACTIONS", "ARITHMETIC", "COUNT_KINDS", "DEFAULTS", "OPERANDS", "PARAMETERS", "SCHEMA", "TIERS", "Array",
           "ComputeEnergy", "EnergyTable", "HardwareFileError", "HardwareModel", "LayerTableError", "Level",
           "Parameter", "Port", "available", "configuration_grid", "get", "load", "price", "resolve", "validate",
           "weight_storage_bits"]
