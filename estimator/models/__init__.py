"""Model zoo: the project's own definitions (no torchvision), reached through :func:`create`. The catalogue is
read without importing torch; a model's module is imported when it is first built."""

from .registry import (
           REGISTRY,
           ModelEntry,
           UnknownModelError,
           create,
           entry,
           list_models,
           register_model,
           unit_weight_model,
)

__all__ = ["REGISTRY", "ModelEntry", "UnknownModelError", "create", "entry", "list_models", "register_model",
           "unit_weight_model"]
