"""The model registry: ``@register_model`` on a small entry point; ``create()`` and ``list_models()`` are the
only ways in (the timm pattern)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: registry name; the suffix names the input family (``_cifar``, ``_tiny``, ``_imagenet``...).
        factory: builds the module from ``num_classes`` and keyword options.
        input_shape: default input (N, C, H, W) for profiling, batch 1.
        num_classes: default number of classes.
        params: reference parameter count at the default classes, with its source, when one exists.
        reference: where the reference count comes from.
    """

    name: str
    factory: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    num_classes: int
    params: int | None = None
    reference: str = ""


REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, params: int | None = None,
                   reference: str = ""):
    """Register the decorated factory under ``name``; a duplicate name is an error."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in REGISTRY:
            raise RuntimeError(f"model '{name}' is already registered")
        REGISTRY[name] = ModelEntry(name, factory, input_shape, num_classes, params, reference)
        return factory

    return decorate


class UnknownModelError(KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name suggests the closest registered ones."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `estimator models`"
        raise UnknownModelError(f"unknown model '{name}'{hint}")
    return REGISTRY[name]


def create(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build registered model ``name`` (freshly initialised; no weights are ever downloaded)."""
    spec = entry(name)
    return spec.factory(num_classes=spec.num_classes if num_classes is None else num_classes, **kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching the shell-style ``pattern``, sorted."""
    return sorted(n for n in REGISTRY if fnmatch.fnmatch(n, pattern))
