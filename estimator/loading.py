"""Resolve a model given on the command line or in a sweep file: a registry name or ``path/to/file.py:factory``.
Imports torch only when a model is built, so that sweep files are checked without it."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from hwmodels.errors import UserError

from .models import create, entry

if TYPE_CHECKING:
    from torch import nn


class ModelLoadError(UserError):
    """A model reference that cannot be resolved or built."""


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,32,32"`` -> ``(1, 3, 32, 32)``; anything but positive integers is an error."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise UserError(f"input shape '{text}' is malformed; expected positive integers like 1,3,32,32")
    return shape


def is_file_reference(reference: str) -> bool:
    """True for ``path/to/file.py:factory`` (or a bare ``file.py``, which lacks its factory)."""
    return reference.endswith(".py") or ".py:" in reference


def reference_label(reference: str) -> str:
    """A file-name-safe label of a model reference: the name, or ``<file stem>.<factory>-<digest>`` for a file
    (the first 8 hex digits of its contents' SHA-256, so that an edited file labels another model)."""
    if is_file_reference(reference):
        path_text, _, factory = reference.rpartition(":")
        path = Path(path_text)
        return f"{path.stem}.{factory}-{file_digest(path)[:8] if path.is_file() else 'missing'}"
    return reference


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's contents (16 hex digits)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def factory_path(reference: str) -> Path:
    """The file of ``path/to/file.py:factory``, checked to exist (the file is not run)."""
    if ":" not in reference.rsplit(".py", 1)[-1]:
        raise ModelLoadError(f"model file reference '{reference}' needs a factory: path/to/file.py:factory")
    path = Path(reference.rpartition(":")[0])
    if not path.is_file():
        raise ModelLoadError(f"model file '{path}' does not exist; expected path/to/file.py:factory")
    return path


def load_factory_file(reference: str, **kwargs) -> nn.Module:
    """Build the model returned by ``factory(**kwargs)`` in ``path/to/file.py:factory`` (keywords the factory
    does not take, such as ``num_classes``, are left out)."""
    path = factory_path(reference)
    factory_name = reference.rpartition(":")[2]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # the user's file ends the process: an error, not a silent exit 0
        raise ModelLoadError(f"model file '{path}' called sys.exit({exc.code!r}) while imported; expected it to "
                             "define a factory") from None
    except Exception as exc:  # the user's file: report, whatever it raised
        raise ModelLoadError(f"model file '{path}' failed to import: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelLoadError(f"model file '{path}' has no callable '{factory_name}'")
    parameters = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    try:
        model = factory(**{k: v for k, v in kwargs.items() if takes_any or k in parameters})
    except SystemExit as exc:
        raise ModelLoadError(f"factory '{reference}' called sys.exit({exc.code!r}); expected it to return a "
                             "torch.nn.Module") from None
    except Exception as exc:
        raise ModelLoadError(f"factory '{reference}' raised {type(exc).__name__}: {exc}") from exc
    from torch import nn

    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"factory '{reference}' returned {type(model).__name__}, expected a torch.nn.Module")
    return model


def build(reference: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """A model from a registered name or ``path/to/file.py:factory``, with ``num_classes`` outputs where given
    (a file's factory receives it if it takes it) and factory options ``kwargs``."""
    if is_file_reference(reference):
        extra = {} if num_classes is None else {"num_classes": num_classes}
        return load_factory_file(reference, **extra, **kwargs)
    return create(reference, num_classes=num_classes, **kwargs)


BUILD_SEED = 0
"""Seed of the random initial weights of an untrained model built by :func:`load_model`: the counts that read
weight values (non-zeros, shift-add costs) are the same on every run."""


def load_model(reference: str, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
               ) -> tuple[nn.Module, tuple[int, ...]]:
    """The model, with initial weights drawn from :data:`BUILD_SEED` (the global generator is left as it was),
    and the input shape to profile it with.

    Args:
        reference: a registered name (``resnet18_cifar``) or ``path/to/file.py:factory``.
        input_shape: overrides the registered default input shape; required for factory files.
        num_classes: overrides the registered default number of classes.
    """
    if is_file_reference(reference) and input_shape is None:
        raise ModelLoadError(f"model '{reference}' has no default input shape; pass --input N,C,H,W")
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILD_SEED)
        model = build(reference, num_classes)
    return model, input_shape or entry(reference).input_shape
