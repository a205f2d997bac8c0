"""Pluggable hardware cost models: per-action and per-access energies (data files with their sources), a
data-movement model and vectorised pricing of a profile's layers. Never imports torch."""

from .model import ACTIONS, LEVELS, ComputeEnergy, HardwareFileError, HardwareModel, MemoryLevel, load
from .movement import DATAFLOWS, movement, weight_storage_bits
from .pricing import COMPONENTS, GRID_DEFAULTS, EnergyTable, configuration_grid, price
from .registry import available, get, resolve

__all__ = ["ACTIONS", "COMPONENTS", "DATAFLOWS", "GRID_DEFAULTS", "LEVELS", "ComputeEnergy", "EnergyTable",
           "HardwareFileError", "HardwareModel", "MemoryLevel", "available", "configuration_grid", "get", "load",
           "movement", "price", "resolve", "weight_storage_bits"]
