"""Value-aware analysis: what each module's *effective* weights are, rather than their shapes.

Read once from the user's model before the counting run (so meta and real runs see the same values):
non-zeros, storage format and, for multiplication-free layers, the CSD cost of the weights.

Variants tell the counter about themselves through a small duck-typed protocol on the module or on a
``torch.nn.utils.parametrize`` parametrization of its weight (the counter never imports the variants):

* ``weight_format``: ``"periodic"`` when the non-zero positions follow a rule instead of an index;
  ``pattern_table_bits``: the bits of the rule's pattern table.
* ``arithmetic``: ``"shift_add"`` when the weights are dyadic and multiplied by shifts and adds.
* ``weight_code_bits``: bits of a weight's code when the weights come from a small codebook (e.g. a dyadic
  candidate set); pricing stores weights in min(weight_bits, code bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .csd import csd_digits


@dataclass(frozen=True)
class WeightInfo:
    """The effective weight of one module.

    Attributes:
        numel: elements of the weight tensor.
        nnz: its non-zero elements.
        rows: rows of its natural sparse layout (conv: C_out * C_in/groups kernels; linear: C_out).
        row_len: positions per row (conv: kernel taps; linear: C_in), which sets the index width.
        out_channels: the weight's first dimension (outputs that share a row set).
        weight_format: "dense" or "periodic"; unstructured sparsity is a pricing decision from nnz.
        pattern_table_bits: bits of a periodic layer's pattern table (0 otherwise).
        code_bits: bits per weight of a codebook representation (0: none declared).
        shift_add: True when products with this weight are computed with shifts and adds.
        csd_adds: adds to apply every filter once: sum over output channels of (CSD terms over the channel's
            non-zero taps - 1), a channel without non-zero taps costing none (shift-add layers only).
        csd_shifts: total terms needing a shift (shift-add layers only).
    """

    numel: int
    nnz: int
    rows: int
    row_len: int
    out_channels: int
    weight_format: str = "dense"
    pattern_table_bits: int = 0
    code_bits: int = 0
    shift_add: bool = False
    csd_adds: int = 0
    csd_shifts: int = 0


def declared(module: nn.Module, attribute: str, default):
    """A protocol attribute from the module itself or from a parametrization of its weight."""
    if hasattr(module, attribute):
        return getattr(module, attribute)
    if parametrize.is_parametrized(module, "weight"):
        for p in module.parametrizations["weight"]:
            if hasattr(p, attribute):
                return getattr(p, attribute)
    return default


def effective_weight(module: nn.Module) -> torch.Tensor | None:
    """The weight the module computes with (after parametrizations and pruning masks), or None."""
    weight = getattr(module, "weight", None)
    return weight if isinstance(weight, torch.Tensor) and weight.dim() >= 2 else None


def analyze_weight(module: nn.Module) -> WeightInfo | None:
    """The :class:`WeightInfo` of a module with a 2-D or larger weight, or None."""
    with torch.no_grad():
        weight = effective_weight(module)
        if weight is None:
            return None
        shape = tuple(weight.shape)
        meta = weight.device.type == "meta"
        nnz = int(weight.numel()) if meta else int(torch.count_nonzero(weight))
        row_len = int(np.prod(shape[2:])) if len(shape) > 2 else shape[1]
        shift_add = declared(module, "arithmetic", "mac") == "shift_add" and not meta
        adds = shifts = 0
        if shift_add:
            t, s = csd_digits(weight.detach().double().cpu().numpy().reshape(shape[0], -1))
            adds, shifts = int(np.maximum(t.sum(axis=1) - 1, 0).sum()), int(s.sum())
    return WeightInfo(
        numel=int(weight.numel()), nnz=nnz, rows=int(weight.numel()) // row_len, row_len=row_len,
        out_channels=shape[0], weight_format=declared(module, "weight_format", "dense"),
        pattern_table_bits=int(declared(module, "pattern_table_bits", 0)),
        code_bits=int(declared(module, "weight_code_bits", 0)), shift_add=shift_add,
        csd_adds=adds, csd_shifts=shifts)


def analyze_model(model: nn.Module) -> dict[str, WeightInfo]:
    """WeightInfo for every module of ``model`` that has a weight, keyed by qualified name."""
    infos = {}
    for name, module in model.named_modules():
        if ".parametrizations." in f".{name}." or isinstance(module, parametrize.ParametrizationList):
            continue
        info = analyze_weight(module)
        if info is not None:
            infos[name] = info
    return infos


def own_parameters(module: nn.Module) -> list[torch.Tensor]:
    """Parameters a module owns directly, including the originals behind its parametrizations."""
    params = list(module.parameters(recurse=False))
    if parametrize.is_parametrized(module):
        for plist in module.parametrizations.values():
            params.extend(plist.parameters(recurse=False))
    return params


def count_nonzero(tensors: list[torch.Tensor]) -> int:
    """Non-zeros over ``tensors`` (meta tensors count as dense)."""
    with torch.no_grad():
        return sum(int(t.numel()) if t.device.type == "meta" else int(torch.count_nonzero(t))
                   for t in tensors)


def effective_parameters(module: nn.Module, skip: tuple[str, ...] = ()) -> list[torch.Tensor]:
    """The tensors the module computes with (parametrized tensors as computed, pruned tensors masked), but
    for those named in ``skip``."""
    names = {n for n, _ in module.named_parameters(recurse=False)}
    if parametrize.is_parametrized(module):
        names |= set(module.parametrizations.keys())
    # torch.nn.utils.prune keeps weight_orig and computes weight = orig * mask
    names = {n[:-5] if n.endswith("_orig") and hasattr(module, n[:-5]) else n for n in names}
    return [getattr(module, name) for name in sorted(names) if name not in skip]
