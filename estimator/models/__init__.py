"""Model zoo: the project's own definitions (no torchvision), reached through :func:`create`."""

from . import alexnet, densenet, mobilenet, resnet, shufflenet, small, vgg  # noqa: F401  (register models)
from .registry import REGISTRY, ModelEntry, UnknownModelError, create, entry, list_models, register_model

__all__ = ["REGISTRY", "ModelEntry", "UnknownModelError", "create", "entry", "list_models", "register_model"]
