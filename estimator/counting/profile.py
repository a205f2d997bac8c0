"""``profile()``: count a model once, layer by layer, into a :class:`Profile`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from .capture import BOOKKEEPING, ROOT, CountingMode, ModuleStack
from .clone import clone_model
from .registry import COUNT_KINDS
from .weights import analyze_model, count_nonzero, effective_parameters, own_parameters

BACKWARD_SUFFIX = "_bwd"
TABLE_COLUMNS = ("type", "params", "nnz_params", "macs", "nz_macs", "mults", "adds", "shifts", "compares",
                 "other_ops")


class Profile:
    """The result of :func:`profile`: one cached table, several views.

    Attributes:
        layers: one row per module that did work or owns parameters, indexed by its fully-qualified name
            from ``named_modules()`` (work done in the top-level forward itself is the row ``"(root)"``).
            Counts are in operations (MACs, mults, adds, shifts, compares, other_ops); ``nz_macs`` are
            the MACs left when exactly-zero weights are skipped; element counts (``params``,
            ``weight_elems``, ``in_elems``, ``out_elems``) are in tensor elements, not bytes.
            With ``backward=True`` the training step's backward work is in ``*_bwd`` columns.
        unsupported: op name -> ``{"count": calls, "modules": set of row names}`` for ops without a
            formula (never counted as zero silently).
        free_ops: ops seen that are free by decision (views, copies, concatenation, allocation).
    """

    def __init__(self, layers: pd.DataFrame, unsupported: dict, free_ops: Sequence[str], backward: bool,
                 tallies: dict | None = None):
        self.layers = layers
        self.unsupported = unsupported
        self.free_ops = sorted(free_ops)
        self.backward = backward
        self._tallies = tallies or {}

    def reweigh(self, model: nn.Module) -> Profile:
        """The profile of ``model``, an architecture identical to the profiled one with other weight values
        (masks, pruning, rounding), without running it again: shape-derived counts are reused, value-aware
        columns (non-zeros, zero-skipping MACs, shift-add arithmetic, storage format) come from ``model``.

        Raises:
            ValueError: if a counted module is missing from ``model`` or has a weight of another size.
        """
        infos = analyze_model(model)
        modules = dict(model.named_modules())
        for name, tally in self._tallies.items():
            qualified = "" if name == ROOT else name
            if qualified not in modules:
                raise ValueError(f"reweigh: module '{name}' of the profiled model is not in the given model")
            sizes = {numel for _, numel in tally.weighted}
            if sizes and (qualified not in infos or sizes != {infos[qualified].numel}):
                raise ValueError(f"reweigh: module '{name}' has a weight of another size than the profiled one")
        layers = build_layers(model, self._tallies, infos, self.backward)
        return Profile(layers, self.unsupported, self.free_ops, self.backward, self._tallies)

    def total(self) -> pd.Series:
        """Whole-model sums of every numeric column, plus ``flops`` = 2 x ``macs`` (derived)."""
        totals = self.layers.select_dtypes("number").sum()
        totals["flops"] = 2 * totals["macs"]
        return totals

    def by_type(self) -> pd.DataFrame:
        """Numeric columns summed per module type."""
        numeric = self.layers.select_dtypes("number").columns.drop("depth")
        return self.layers.groupby("type")[list(numeric)].sum().sort_values("macs", ascending=False)

    def rolled_up(self, max_depth: int) -> pd.DataFrame:
        """Rows aggregated to modules at most ``max_depth`` deep (the root is depth 0)."""
        names = self.layers.index.to_series()
        keys = names.where(names == ROOT, names.str.split(".").str[:max_depth].str.join("."))
        numeric = self.layers.select_dtypes("number").columns.drop("depth")
        rolled = self.layers[numeric].groupby(keys.values, sort=False).sum()
        types = self.layers["type"].groupby(keys.values, sort=False).agg(
            lambda t: t.iloc[0] if len(t) == 1 else "")
        rolled.insert(0, "type", types)
        rolled.index.name = "name"
        return rolled

    def to_table(self, max_depth: int | None = None) -> str:
        """A fixed-width text table, rows rolled up to ``max_depth``, with a total line."""
        frame = self.layers if max_depth is None else self.rolled_up(max_depth)
        columns = list(TABLE_COLUMNS) + (["macs" + BACKWARD_SUFFIX] if self.backward else [])
        shown = frame[columns].copy()
        shown.loc["TOTAL"] = [""] + [int(frame[c].sum()) for c in columns[1:]]
        for c in columns[1:]:
            shown[c] = shown[c].map(lambda v: f"{int(v):,}")
        text = shown.to_string()
        total = self.total()
        return (f"{text}\n\nMACs: multiply-accumulates of conv/linear/matmul (each also counted as 1 mult + "
                f"1 add); nz_macs: with zero weights skipped. FLOPs = 2 x MACs = {int(total['flops']):,} (derived).")

    def to_csv(self, path: str | Path | None = None) -> str | None:
        """The layer table as CSV (returned as text when ``path`` is None)."""
        return self.layers.to_csv(path)

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The layer table as JSON records, one per layer."""
        return self.layers.reset_index().to_json(path, orient="records", indent=1)


def prepare_copy(model: nn.Module, meta: bool) -> nn.Module:
    """A private copy of ``model`` to run: on the meta device when ``meta`` (weights are never copied),
    with pruning masks baked into plain weights so that mask arithmetic is not counted as model work.
    (Parametrizations stay: their work is recognised as bookkeeping by :func:`module_names`.)"""

    def tensor(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to("meta") if meta else t.detach().clone()

    clone = clone_model(model, tensor)
    for module in clone.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return clone


def module_names(model: nn.Module) -> dict[nn.Module, str]:
    """Module -> row name (qualified name; the root is :data:`ROOT`). Parametrization modules (masks,
    reparametrizations) map to :data:`BOOKKEEPING`: what they compute is not model work."""
    names = {}
    for name, module in model.named_modules():
        names[module] = BOOKKEEPING if ".parametrizations." in f".{name}." else (name or ROOT)
    return names


def as_inputs(inputs, input_shape, device) -> tuple:
    """The positional inputs of the run: given tensors, or meta tensors of the given shape(s)."""
    if (inputs is None) == (input_shape is None):
        raise ValueError("profile() needs exactly one of inputs= (tensors) or input_shape= (a shape)")
    if inputs is not None:
        return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    shapes = input_shape if input_shape and isinstance(input_shape[0], (tuple, list)) else [input_shape]
    for shape in shapes:
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise ValueError(f"input_shape must be positive integers, e.g. (1, 3, 32, 32); got {tuple(shape)}")
    return tuple(torch.empty(tuple(s), device=device) for s in shapes)


def run_counted(clone: nn.Module, args: tuple, mode: CountingMode, stack: ModuleStack, backward: bool) -> None:
    """Forward (and, for a training step, backward of the sum of the outputs) under the counting mode."""
    with stack:
        if not backward:
            with torch.no_grad(), mode:
                clone(*args)
            return
        with mode:
            out = clone(*args)
        loss = sum(t.float().sum() for t in torch.utils._pytree.tree_flatten(out)[0]
                   if isinstance(t, torch.Tensor) and t.requires_grad)
        mode.backward = True
        with mode:
            loss.backward()


def profile(model: nn.Module, inputs=None, *, input_shape: Sequence[int] | None = None,
            backward: bool = False, strict: bool = False) -> Profile:
    """Count what ``model`` computes, layer by layer.

    Args:
        model: any ``nn.Module``; it is never modified (the run uses a private copy, in eval mode for
            inference and in train mode when ``backward``).
        inputs: a tensor or tuple of tensors to run on (real run).
        input_shape: instead of ``inputs``, a shape (or list of shapes) to run on meta tensors: no compute,
            the same shape-derived counts. Value-aware columns come from the model's real weights either way.
        backward: also count one training step's backward pass (of the sum of the outputs).
        strict: raise :class:`~estimator.counting.capture.UnsupportedOpError` on an op with no formula
            instead of reporting it in ``Profile.unsupported``.

    Returns:
        A :class:`Profile`.
    """
    weight_infos = analyze_model(model)
    meta = input_shape is not None
    args = as_inputs(inputs, input_shape, "meta")
    clone = prepare_copy(model, meta)
    clone.train(backward)
    names = module_names(clone)
    stack = ModuleStack(names)
    tracked = {id(t) for t in list(clone.parameters()) + list(clone.buffers())}
    mode = CountingMode(stack, tracked, strict)
    run_counted(clone, args, mode, stack, backward)
    tallies = dict(mode.tallies)
    layers = build_layers(model, tallies, weight_infos, backward)
    if mode.unsupported:
        listed = ", ".join(f"{op} (x{v['count']} in {', '.join(sorted(v['modules']))})"
                           for op, v in mode.unsupported.items())
        warnings.warn(f"estimator.profile: no formula for {listed}; their work is not in the totals",
                      stacklevel=2)
    return Profile(layers, mode.unsupported, mode.free_seen, backward, tallies)


def module_type(module: nn.Module) -> str:
    """The module's class name (for a parametrized module, the class it was made from)."""
    cls = type(module).__bases__[0] if parametrize.is_parametrized(module) else type(module)
    return cls.__name__


def build_layers(model: nn.Module, tallies: dict, weight_infos: dict, backward: bool) -> pd.DataFrame:
    """One row per module that did work or owns parameters, in ``named_modules()`` order."""
    rows = []
    for qualified, module in model.named_modules():
        if isinstance(module, parametrize.ParametrizationList) or ".parametrizations." in f".{qualified}.":
            continue
        name = qualified or ROOT
        own = own_parameters(module)
        tally = tallies.get(name)
        if tally is None and not own:
            continue
        info = weight_infos.get(qualified)
        row = {"name": name, "type": module_type(module), "depth": 0 if not qualified else qualified.count(".") + 1}
        if tally is not None:
            counts, nz_macs = tally.forward_counts(info)
            row.update(counts)
            row.update({"nz_macs": nz_macs, "in_elems": tally.in_elems, "out_elems": tally.out_elems})
            if backward:
                row.update({k + BACKWARD_SUFFIX: v for k, v in tally.backward.items()})
        row["params"] = sum(p.numel() for p in own)
        others = effective_parameters(module, skip=("weight",) if info else ())
        row["nnz_params"] = (info.nnz if info else 0) + count_nonzero(others)
        row["weight_elems"] = info.numel if info else 0
        row["weight_nnz"] = info.nnz if info else 0
        row["weight_rows"] = info.rows if info else 0
        row["weight_row_len"] = info.row_len if info else 0
        row["weight_format"] = info.weight_format if info else ""
        row["pattern_table_bits"] = info.pattern_table_bits if info else 0
        row["weight_code_bits"] = info.code_bits if info else 0
        row["arithmetic"] = ("shift_add" if info and info.shift_add else "mac") if info else ""
        rows.append(row)
    count_columns = list(COUNT_KINDS) + ["nz_macs", "in_elems", "out_elems"]
    if backward:
        count_columns += [k + BACKWARD_SUFFIX for k in COUNT_KINDS]
    order = (["name", "type", "depth"] + count_columns
             + ["params", "nnz_params", "weight_elems", "weight_nnz", "weight_rows", "weight_row_len",
                "weight_format", "pattern_table_bits", "weight_code_bits", "arithmetic"])
    frame = pd.DataFrame(rows, columns=order)
    for column in count_columns:
        frame[column] = frame[column].fillna(0).astype("int64")
    return frame[order].set_index("name")
