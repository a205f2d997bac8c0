"""Model zoo: the project's own definitions (no torchvision), reached through :func:`create`."""

from . import resnet  # noqa: F401  (registers models)
from .registry import REGISTRY, ModelEntry, UnknownModelError, create, entry, list_models, register_model

__all__ = ["REGISTRY", "ModelEntry", "UnknownModelError", "create", "entry", "list_models", "register_model"]
