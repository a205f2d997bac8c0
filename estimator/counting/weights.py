"""Value-aware analysis: what each module's *effective* weights are, rather than their shapes.

Read from the user's model (so meta and real runs see the same values): non-zeros (in all, and per kernel
position for padding-aware zero skipping), storage format and, for multiplication-free layers, the CSD cost of the
weights. The scan is vectorised and cached per module: a second profile of an unchanged model re-reads nothing.
A module's cache entry is keyed by the identity, storage and version counter (``tensor._version``, bumped by
every in-place change) of each tensor it owns, its parametrizations' included, so any change to a weight, a
mask or a pruning buffer invalidates it.

Variants tell the counter about themselves through a small duck-typed protocol on the module or on a
``torch.nn.utils.parametrize`` parametrization of its weight (the counter never imports the variants):

* ``weight_format``: ``"periodic"`` when the non-zero positions follow a rule instead of an index;
  ``pattern_table_bits``: the bits of the rule's pattern table.
* ``arithmetic``: ``"shift_add"`` when the weights are dyadic and multiplied by shifts and adds.
* ``weight_code_bits``: bits of a weight's code when the weights come from a small codebook (e.g. a dyadic
  candidate set); pricing stores weights in min(weight_bits, code bits).
* ``predefined_sparsity``: True when the zero pattern is fixed before training (a pre-defined mask): the
  gradients and optimiser updates of masked-out weights are then never computed nor stored.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .clone import is_compiled, uncompiled_name
from .csd import csd_digits
from .nonzeros import nonzero_count, nonzero_counts_along_rows


@dataclass(frozen=True)
class WeightInfo:
    """The effective weight of one module.

    Attributes:
        numel: elements of the weight tensor.
        nnz: its non-zero elements.
        rows: rows of its natural sparse layout (conv: C_out * C_in/groups kernels; linear: C_out).
        row_len: positions per row (conv: kernel taps; linear: C_in), which sets the index width.
        out_channels: the weight's first dimension (outputs that share a row set).
        nnz_per_tap: for a conv weight, its non-zeros at each kernel position (row-major), summed over filters
            and channels; empty for a 2-D weight.
        weight_format: "dense" or "periodic"; unstructured sparsity is a pricing decision from nnz.
        pattern_table_bits: bits of a periodic layer's pattern table (0 otherwise).
        code_bits: bits per weight of a codebook representation (0: none declared).
        shift_add: True when products with this weight are computed with shifts and adds.
        csd_adds: adds to apply every filter once: sum over output channels of (CSD terms over the channel's
            non-zero taps - 1), a channel without non-zero taps costing none (shift-add layers only).
        csd_shifts: total terms needing a shift (shift-add layers only).
        predefined: the zero pattern is a pre-defined mask (gradients of masked weights are never computed).
        values: False when the values were not read (a shape-only profile): nnz = numel, dense arithmetic.
    """

    numel: int
    nnz: int
    rows: int
    row_len: int
    out_channels: int
    nnz_per_tap: tuple[int, ...] = ()
    weight_format: str = "dense"
    pattern_table_bits: int = 0
    code_bits: int = 0
    shift_add: bool = False
    csd_adds: int = 0
    csd_shifts: int = 0
    predefined: bool = False
    values: bool = True

    @property
    def density(self) -> float:
        return self.nnz / self.numel if self.numel else 1.0


@dataclass(frozen=True)
class ModuleValues:
    """The value-aware facts of one module: its weight (if any) and the non-zeros of its other parameters."""

    weight: WeightInfo | None
    other_nnz: int


def parametrizations(module: nn.Module, tensor_name: str | None = None):
    """The module's ``torch.nn.utils.parametrize`` parametrizations (all of them, a ``ModuleDict``; or those of
    ``tensor_name``, a ``ParametrizationList``), or None where there are none, as ``parametrize.is_parametrized``
    decides. Read from the module's submodules, where ``register_parametrization`` keeps them:
    ``is_parametrized`` asks through ``nn.Module.__getattr__``, which formats an error message for every module
    without any (about 2 us each, several times per module of a profile)."""
    modules = module.__dict__.get("_modules")
    found = modules.get("parametrizations") if isinstance(modules, dict) else getattr(module, "parametrizations", None)
    if not isinstance(found, nn.ModuleDict) or not len(found):
        return None
    return found if tensor_name is None else found._modules.get(tensor_name)


def declared(module: nn.Module, attribute: str, default):
    """A protocol attribute from the module itself (an instance or class attribute) or from a parametrization of
    its weight. (Looked up in the instance's and the class's namespaces: ``hasattr`` on a module that lacks it goes
    through ``nn.Module.__getattr__``, which formats an error message each time.)"""
    if attribute in module.__dict__:
        return module.__dict__[attribute]
    if hasattr(type(module), attribute):
        return getattr(module, attribute)
    for p in parametrizations(module, "weight") or ():
        if hasattr(p, attribute):
            return getattr(p, attribute)
    return default


def weight_shape(module: nn.Module) -> tuple[int, ...] | None:
    """The shape of the weight the module computes with, read without computing it (parametrizations here are
    shape-preserving), or None when it has no weight of two or more dimensions."""
    plist = parametrizations(module, "weight")
    if plist is not None:
        if hasattr(plist, "original"):
            shape = tuple(plist.original.shape)
        else:  # a parametrization of several tensors (weight_norm: magnitude and direction): compute it once
            with torch.no_grad():
                shape = tuple(module.weight.shape)
    else:
        weight = getattr(module, "weight", None)
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else None
    return shape if shape is not None and len(shape) >= 2 else None


def own_tensors(module: nn.Module) -> list[torch.Tensor]:
    """Every tensor the module owns directly: parameters, buffers and its parametrizations' tensors."""
    tensors = [t for t in module._parameters.values() if t is not None]
    tensors += [t for t in module._buffers.values() if t is not None]
    found = parametrizations(module)
    if found is not None:
        tensors += list(found.parameters()) + list(found.buffers())
    return tensors


def fingerprint(module: nn.Module) -> tuple:
    """Identity, storage and version of every tensor the module owns: equal fingerprints, equal values."""
    parts = tuple((id(t), t.data_ptr() if t.device.type != "meta" else 0, t._version) for t in own_tensors(module))
    extra = tuple(id(p) for p in parametrizations(module, "weight") or ())
    return parts + extra


def effective_parameters(module: nn.Module, skip: tuple[str, ...] = ()) -> list[torch.Tensor]:
    """The tensors the module computes with (parametrized tensors as computed, pruned tensors masked), but
    for those named in ``skip``."""
    names = {n for n, _ in module.named_parameters(recurse=False)}
    found = parametrizations(module)
    if found is not None:
        names |= set(found.keys())
    # torch.nn.utils.prune keeps weight_orig and computes weight = orig * mask
    names = {n[:-5] if n.endswith("_orig") and hasattr(module, n[:-5]) else n for n in names}
    return [getattr(module, name) for name in sorted(names) if name not in skip]


def own_parameters(module: nn.Module) -> list[torch.Tensor]:
    """Parameters a module owns directly, including the originals behind its parametrizations."""
    params = [p for p in module._parameters.values() if p is not None]
    found = parametrizations(module)
    if found is not None:
        for plist in found.values():
            params.extend(p for p in plist._parameters.values() if p is not None)
    return params


def shape_info(module: nn.Module, shape: tuple[int, ...]) -> WeightInfo:
    """A weight's WeightInfo from its shape and declarations alone: dense, MAC arithmetic (values not read)."""
    numel = math.prod(shape)
    row_len = math.prod(shape[2:]) if len(shape) > 2 else shape[1]
    taps = (numel // row_len,) * row_len if len(shape) > 2 else ()
    return WeightInfo(numel=numel, nnz=numel, rows=numel // row_len, row_len=row_len, out_channels=shape[0],
                      nnz_per_tap=taps, weight_format=declared(module, "weight_format", "dense"),
                      pattern_table_bits=int(declared(module, "pattern_table_bits", 0)),
                      code_bits=int(declared(module, "weight_code_bits", 0)),
                      predefined=bool(declared(module, "predefined_sparsity", False)), values=False)


def read_values(module: nn.Module, shape: tuple[int, ...]) -> ModuleValues:
    """Scan the module's effective weight and other parameters (vectorised)."""
    info = shape_info(module, shape)
    with torch.no_grad():
        others = effective_parameters(module, skip=("weight",))
        other_nnz = sum(int(t.numel()) if t.device.type == "meta" else nonzero_count(t) for t in others)
        weight = module.weight
        if weight.device.type == "meta":
            return ModuleValues(info, other_nnz)
        # one count per tensor (nonzeros: branch-free, in cache-sized chunks); per-tap counts only for a sparse
        # kernel (a dense one has every kernel's every tap: shape_info's counts)
        nnz = nonzero_count(weight)
        taps = info.nnz_per_tap
        if taps and nnz != info.numel:
            taps = tuple(nonzero_counts_along_rows(weight.reshape(shape[0] * shape[1], -1)).tolist())
        adds = shifts = 0
        shift_add = declared(module, "arithmetic", "mac") == "shift_add"
        if shift_add:
            t, s = csd_digits(weight.detach().double().cpu().numpy().reshape(shape[0], -1))
            adds, shifts = int(np.maximum(t.sum(axis=1) - 1, 0).sum()), int(s.sum())
    info = replace(info, nnz=nnz, nnz_per_tap=taps, shift_add=shift_add, csd_adds=adds, csd_shifts=shifts,
                   values=True)
    return ModuleValues(info, other_nnz)


CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, ModuleValues]] = weakref.WeakKeyDictionary()
"""Module -> (fingerprint, values) of its last value scan."""


def module_values(module: nn.Module, values: bool = True) -> ModuleValues:
    """The module's :class:`ModuleValues`: scanned when ``values`` (cached per weight tensor and version, so that an
    unchanged module is scanned once), else from shapes alone (cheap, never cached, never evicting a scan)."""
    shape = weight_shape(module)
    if not values:
        params = [t for t in effective_parameters(module, skip=("weight",)) if isinstance(t, torch.Tensor)]
        return ModuleValues(shape_info(module, shape) if shape else None, sum(int(t.numel()) for t in params))
    key = fingerprint(module)
    cached = CACHE.get(module)
    if cached is not None and cached[0] == key:
        return cached[1]
    if shape is None:
        with torch.no_grad():
            params = effective_parameters(module)
            result = ModuleValues(None, sum(int(t.numel()) if t.device.type == "meta" else nonzero_count(t)
                                            for t in params))
    else:
        result = read_values(module, shape)
    CACHE[module] = (key, result)
    return result


def counted_modules(model: nn.Module):
    """(qualified name, module) pairs of ``model``, the parametrization machinery and ``torch.compile`` wrappers
    left out (the wrapped module takes the wrapper's name, as in the counting run's copy)."""
    for name, module in model.named_modules():
        if (".parametrizations." in f".{name}." or isinstance(module, parametrize.ParametrizationList)
                or is_compiled(module)):
            continue
        yield uncompiled_name(name), module


def analyze_model(model: nn.Module, values: bool = True) -> dict[str, ModuleValues]:
    """:class:`ModuleValues` of every module of ``model`` that owns parameters, keyed by qualified name."""
    return {name: module_values(module, values) for name, module in counted_modules(model) if own_tensors(module)}


def clear_cache() -> None:
    """Forget every cached scan. Needed only after changing weights through ``tensor.data``, which bypasses the
    version counter that the cache relies on (in-place changes under ``torch.no_grad()`` do not need it)."""
    CACHE.clear()
