"""A private copy of a model for the counting run, made faster than ``copy.deepcopy``.

Modules, containers and tensors are copied structurally (tensors through a given map, e.g. to meta
tensors); every other attribute value goes through ``copy.deepcopy``, so the copy shares no mutable state
with the original, exactly as a deep copy would.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

IMMUTABLE = frozenset({str, bytes, int, float, complex, bool, type(None), torch.dtype, torch.device, torch.layout,
                       torch.memory_format, type})
CONTAINERS = frozenset({dict, OrderedDict, list, tuple})
EMPTIABLE = frozenset({dict, OrderedDict, list, set})


def is_compiled(module: nn.Module) -> bool:
    """True for the wrapper ``torch.compile`` returns (``OptimizedModule``, holding the module as ``_orig_mod``),
    recognised without importing ``torch._dynamo``."""
    return type(module).__name__ == "OptimizedModule" and isinstance(getattr(module, "_orig_mod", None), nn.Module)


def uncompiled_name(name: str) -> str:
    """A qualified module name with the ``_orig_mod`` steps of ``torch.compile`` wrappers left out."""
    return ".".join(part for part in name.split(".") if part != "_orig_mod")


def clone_script_module(module: torch.jit.ScriptModule, tensor: Callable[[torch.Tensor], torch.Tensor]):
    """A copy of a TorchScript module (its own deep copy, which copies the compiled state), its parameters and
    buffers then replaced by ``tensor(t)`` through attribute assignment (a script module cannot be moved to the
    meta device with ``.to``)."""
    new = copy.deepcopy(module)
    for part in new.modules():
        for name, param in list(part.named_parameters(recurse=False)):
            setattr(part, name, nn.Parameter(tensor(param), param.requires_grad))
        for name, buffer in list(part.named_buffers(recurse=False)):
            setattr(part, name, tensor(buffer))
    return new


def clone_model(model: nn.Module, tensor: Callable[[torch.Tensor], torch.Tensor]) -> nn.Module:
    """A deep copy of ``model`` whose tensors are ``tensor(t)`` (parameters stay parameters). ``torch.compile``
    wrappers are replaced by copies of the modules they wrap (the count is of the original module's eager code;
    names lose their ``_orig_mod`` step); TorchScript modules are copied by :func:`clone_script_module`."""
    memo: dict[int, object] = {}

    def clone(value):
        kind = type(value)
        if kind in IMMUTABLE:
            return value
        key = id(value)
        if key in memo:
            return memo[key]
        if isinstance(value, nn.Module) and is_compiled(value):
            memo[key] = clone(value._orig_mod)
            return memo[key]
        if isinstance(value, torch.jit.ScriptModule):
            memo[key] = clone_script_module(value, tensor)
            return memo[key]
        if isinstance(value, nn.Module):
            new = kind.__new__(kind)
            memo[key] = new
            attributes = value.__dict__.copy()
            for k, v in attributes.items():
                if type(v) not in IMMUTABLE:
                    attributes[k] = type(v)() if type(v) in EMPTIABLE and not v else kind_copy(v)
            new.__dict__.update(attributes)
            return new
        if isinstance(value, torch.Tensor):
            new = tensor(value)
            if isinstance(value, nn.Parameter) and not isinstance(new, nn.Parameter):
                new = nn.Parameter(new, value.requires_grad)
            memo[key] = new
            return new
        return kind_copy(value)

    def kind_copy(value):
        """Containers structurally (empty ones cheaply), modules and tensors by ``clone``, the rest deep-copied."""
        kind = type(value)
        if kind in CONTAINERS:
            key = id(value)
            if key in memo:
                return memo[key]
            if kind is tuple:
                if all(type(v) in IMMUTABLE for v in value):
                    return value
                new = tuple(clone(v) for v in value)
            elif kind is list:
                new = []
                memo[key] = new
                new.extend(clone(v) for v in value)
            else:
                new = kind()
                memo[key] = new
                if value:
                    new.update((k, clone(v)) for k, v in value.items())
            memo[key] = new
            return new
        if kind is set and not value:
            return set()
        if isinstance(value, (nn.Module, torch.Tensor)):
            return clone(value)
        return copy.deepcopy(value, memo)

    return clone(model)
