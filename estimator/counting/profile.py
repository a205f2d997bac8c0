"""``profile()``: count a model once, layer by layer, into a :class:`Profile`."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune

from hwmodels.errors import UserError

from . import densities as activation_densities
from . import recurrent as recurrent_layers
from .capture import BOOKKEEPING, ROOT, CountingMode, LayerTally, ModuleStack, reference_kernels, skipped_macs
from .clone import clone_model
from .inputs import run_inputs
from .registry import COUNT_KINDS, Nest
from .weights import ModuleValues, WeightInfo, counted_modules, module_values, own_parameters, parametrizations

BACKWARD_SUFFIX = "_bwd"
TABLE_COLUMNS = ("type", "params", "nnz_params", "macs", "nz_macs", "mults", "adds", "shifts", "compares",
                 "other_ops")
NEST_FIELDS = tuple(f.name for f in fields(Nest))


@dataclass(frozen=True)
class ModuleEntry:
    """What the table needs of one module, read when it is profiled (the model may change afterwards)."""

    name: str
    type: str
    depth: int
    params: int
    values: ModuleValues | None
    shares_weight: str = ""


class Profile:
    """The result of :func:`profile`: one cached table, several views. The tables are built on first use.

    Attributes:
        layers: one row per module that did work or owns parameters, indexed by its fully-qualified name
            from ``named_modules()`` (work done in the top-level forward itself is the row ``"(root)"``).
            Counts are in operations (MACs, mults, adds, shifts, compares, other_ops); ``nz_macs`` are
            the MACs left when exactly-zero weights are skipped, ``nz_macs_valid`` those left when the taps that
            fall on zero padding are skipped too; element counts (``params``, ``weight_elems``, ``in_elems``:
            what the module consumes, ``out_elems``: what it produces) are in tensor elements, not bytes.
            ``input_density`` and ``output_density`` are the non-zero shares of its floating-point activations
            over the batch and its calls (:mod:`~estimator.counting.densities`: measured on real inputs, given, or
            1 where neither; :attr:`density_source` says which).
            With ``backward=True`` the training step's backward work is in ``*_bwd`` columns (``nz_macs_bwd``:
            input gradients skipping zero weights, weight gradients of pre-defined masks not computed).
            ``decomposed`` names ops counted through their decomposition, ``estimated`` ops whose formula
            rests on an assumption (both listed in :meth:`to_table`).
        nests: one row per module and distinct multiply-accumulate loop nest (a conv, linear or matmul call):
            its role (forward, grad_input, grad_weight, backward), loop bounds B, K, C, G, OY, OX, FY, FX,
            stride, dilation, padding, and ``calls``; what a mapper needs (see :class:`~.registry.Nest`).
        unsupported: op name -> ``{"count": calls, "modules": set of row names}`` for ops without a formula
            or decomposition (never counted as zero silently).
        free_ops: ops seen that are free by decision (views, copies, concatenation, allocation).
        values: whether weight values were read (False: a shape-only profile, every weight counted dense).
        density_source: where the activation densities come from
            (:data:`~estimator.counting.densities.SOURCES`).
    """

    def __init__(self, entries: list[ModuleEntry], tallies: dict[str, LayerTally], io: dict[str, list[int]],
                 unsupported: dict, free_ops, backward: bool, values: bool,
                 densities: activation_densities.Densities = activation_densities.DENSE):
        self._entries = entries
        self._densities = densities
        self.density_source = densities.source
        self._tallies = tallies
        self._io = io
        self.unsupported = unsupported
        self.free_ops = sorted(str(op) for op in free_ops)
        self.backward = backward
        self.values = values

    @cached_property
    def columns(self) -> dict[str, list]:
        """The layer table as plain column lists (what :attr:`layers` is made from)."""
        return build_columns(self._entries, self._tallies, self._io, self.backward, self._densities)

    @cached_property
    def layers(self) -> pd.DataFrame:
        columns = dict(self.columns)
        index = pd.Index(columns.pop("name"), name="name")
        return pd.DataFrame({k: np.asarray(v, dtype=np.int64) if k in INT_COLUMNS else v
                             for k, v in columns.items()}, index=index)

    @cached_property
    def nests(self) -> pd.DataFrame:
        return build_nests(self._tallies, {e.name: e.values.weight for e in self._entries if e.values})

    def reweigh(self, model: nn.Module) -> Profile:
        """The profile of ``model``, an architecture identical to the profiled one with other weight values
        (masks, pruning, rounding), without running it again: shape-derived counts are reused, value-aware
        columns (non-zeros, zero-skipping MACs, shift-add arithmetic, storage format) come from ``model``.

        Raises:
            ValueError: if a counted module is missing from ``model`` or has a weight of another size.
        """
        entries = snapshot(model, self._tallies, values=True)
        weights = {e.name: e.values.weight if e.values else None for e in entries}
        modules = {e.name for e in entries}
        for name, tally in self._tallies.items():
            if name not in modules:
                raise UserError(f"reweigh: module '{name}' of the profiled model is not in the given model")
            sizes = {numel for _, numel in tally.weighted}
            if sizes and (weights[name] is None or sizes != {weights[name].numel}):
                raise UserError(f"reweigh: module '{name}' has a weight of another size than the profiled one")
        return Profile(entries, self._tallies, self._io, self.unsupported, self.free_ops, self.backward, True,
                       self._densities)

    def densities(self) -> pd.DataFrame:
        """Each layer's ``input_density`` and ``output_density`` (fractions of non-zero elements), indexed by
        name: measured on a real input, the calibration to give a meta profile of the same model
        (``profile(..., densities=table)``)."""
        return self.layers[list(activation_densities.COLUMNS)]

    def save_densities(self, path: str | Path) -> None:
        """:meth:`densities` as a CSV file (written atomically), for ``profile(..., densities=path)`` or the
        command line's ``--densities``."""
        activation_densities.write(self.densities(), path)

    def total(self) -> pd.Series:
        """Whole-model sums of every numeric column, plus ``flops`` = 2 x ``macs`` (derived)."""
        totals = {k: sum(v) for k, v in self.columns.items() if k in INT_COLUMNS and k != "depth"}
        totals["flops"] = 2 * totals["macs"]
        return pd.Series(totals, dtype="int64")

    def by_type(self) -> pd.DataFrame:
        """Numeric columns summed per module type (densities: averaged over the elements)."""
        return grouped(self.layers, self.layers["type"].to_numpy(), sort=True).sort_values("macs", ascending=False)

    def rolled_up(self, max_depth: int) -> pd.DataFrame:
        """Rows aggregated to modules at most ``max_depth`` deep (the root is depth 0); counts summed, densities
        averaged over the elements."""
        names = self.layers.index.to_series()
        keys = names.where(names == ROOT, names.str.split(".").str[:max_depth].str.join("."))
        rolled = grouped(self.layers, keys.values, sort=False)
        types = self.layers["type"].groupby(keys.values, sort=False).agg(
            lambda t: t.iloc[0] if len(t) == 1 else "")
        rolled.insert(0, "type", types)
        rolled.index.name = "name"
        return rolled

    def to_table(self, max_depth: int | None = None) -> str:
        """A fixed-width text table, rows rolled up to ``max_depth``, with a total line and notes."""
        frame = self.layers if max_depth is None else self.rolled_up(max_depth)
        columns = list(TABLE_COLUMNS) + (["macs" + BACKWARD_SUFFIX] if self.backward else [])
        shown = frame[columns].copy()
        shown.loc["TOTAL"] = [""] + [int(frame[c].sum()) for c in columns[1:]]
        for c in columns[1:]:
            shown[c] = shown[c].map(lambda v: f"{int(v):,}")
        total = self.total()
        notes = [f"MACs: multiply-accumulates of conv/linear/matmul (each also counted as 1 mult; a K-term sum is "
                 f"K-1 adds); nz_macs: with zero weights skipped. FLOPs = 2 x MACs = {int(total['flops']):,} "
                 "(derived)."]
        for column, label in (("decomposed", "counted through their decomposition"),
                              ("estimated", "estimates (their formula states the assumption)")):
            listed = sorted({op for ops in self.layers[column] if ops for op in ops.split(",")})
            if listed:
                notes.append(f"ops {label}: {', '.join(listed)}")
        notes.append(self._densities.note())
        if not self.values:
            notes.append("shape-only profile (values=False): every weight counted dense, MAC arithmetic.")
        return shown.to_string() + "\n\n" + "\n".join(notes)

    def to_csv(self, path: str | Path | None = None) -> str | None:
        """The layer table as CSV (returned as text when ``path`` is None)."""
        return self.layers.to_csv(path)

    def to_json(self, path: str | Path | None = None, *, model: str | None = None,
                input_shape: Sequence[int] | None = None) -> str | None:
        """The profile as a JSON object: ``model`` and ``input`` (as given; null where not), ``totals`` (the
        :meth:`total` row, operations and elements) and ``layers`` (one record per row of :attr:`layers`, its
        ``name`` first). Written to ``path`` where given, else returned."""
        layers = json.loads(self.layers.reset_index().to_json(orient="records"))
        totals = json.loads(self.total().to_json())
        text = json.dumps({"model": model, "input": list(input_shape) if input_shape is not None else None,
                           "totals": totals, "layers": layers}, indent=1)
        if path is None:
            return text
        Path(path).write_text(text)
        return None


def grouped(layers: pd.DataFrame, keys, sort: bool) -> pd.DataFrame:
    """The numeric columns of ``layers`` aggregated by ``keys``: counts summed, each density averaged over the
    elements it is a share of (``input_density`` over ``in_elems``, ``output_density`` over ``out_elems``; 1
    where a group has none)."""
    numeric = [c for c in layers.select_dtypes("number").columns if c != "depth"]
    weighted = layers[numeric].copy()
    for column, elements in zip(DENSITY_COLUMNS, ("in_elems", "out_elems"), strict=True):
        weighted[column] = layers[column] * layers[elements]
    out = weighted.groupby(keys, sort=sort).sum()
    for column, elements in zip(DENSITY_COLUMNS, ("in_elems", "out_elems"), strict=True):
        out[column] = (out[column] / out[elements].where(out[elements] > 0)).fillna(1.0)
    return out


def prepare_copy(model: nn.Module, meta: bool) -> nn.Module:
    """A private copy of ``model`` to run. On the meta device no weight storage is copied; on a real device the
    copy's parameters share the model's storage (the run never writes them) and its buffers are copied (a
    training-mode run updates BatchNorm statistics). Pruning masks are baked into plain weights so that mask
    arithmetic is not counted as model work. (Parametrizations stay: their work is recognised as bookkeeping by
    :func:`module_names`.)"""
    if meta:
        def tensor(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to("meta")
    else:
        def tensor(t: torch.Tensor) -> torch.Tensor:
            return t.detach() if isinstance(t, nn.Parameter) else t.detach().clone()

    clone = clone_model(model, tensor)
    for module in clone.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return clone


def survey(model: nn.Module) -> tuple[dict[nn.Module, str], dict[int, torch.Tensor], dict[int, tuple[str, ...]],
                                      bool]:
    """One pass over ``model``: module -> row name (qualified name; the root is :data:`ROOT`; parametrization
    modules, whose work is not model work, map to :data:`BOOKKEEPING`), its parameters and buffers by id (held,
    so that no activation takes the id of a buffer the forward replaces, as timm's ConViT replaces its relative
    indices), the rows holding each parameter (first owner first), and whether it has recurrent layers."""
    names, tensors, owners, recurrent = {}, {}, {}, False
    for name, module in model.named_modules():
        names[module] = BOOKKEEPING if ".parametrizations." in f".{name}." else (name or ROOT)
        for t in module._parameters.values():
            if t is not None:
                tensors[id(t)] = t
                if names[module] != BOOKKEEPING:
                    owners[id(t)] = owners.get(id(t), ()) + (names[module],)
        tensors.update((id(t), t) for t in module._buffers.values() if t is not None)
        recurrent = recurrent or isinstance(module, nn.RNNBase)
    return names, tensors, owners, recurrent


def run_counted(clone: nn.Module, args: tuple, kwargs: dict, mode: CountingMode, stack: ModuleStack,
                backward: bool, recurrent: bool) -> None:
    """Forward (and, for a training step, backward of the sum of the outputs) under the counting mode. A strict
    mode's refusal raised inside a TorchScript module (which wraps it in a plain ``RuntimeError``) is raised as
    itself."""
    try:
        run_forward_backward(clone, args, kwargs, mode, stack, backward, recurrent)
    except RuntimeError as error:
        if mode.refusal is not None and not isinstance(error, type(mode.refusal)):
            raise mode.refusal from None
        raise


def run_forward_backward(clone: nn.Module, args: tuple, kwargs: dict, mode: CountingMode, stack: ModuleStack,
                         backward: bool, recurrent: bool) -> None:
    """:func:`run_counted`'s run."""
    with stack, reference_kernels(recurrent):
        if not backward:
            with torch.no_grad(), mode:
                clone(*args, **kwargs)
            return
        with mode:
            out = clone(*args, **kwargs)
        loss = sum(t.float().sum() for t in torch.utils._pytree.tree_flatten(out)[0]
                   if isinstance(t, torch.Tensor) and t.requires_grad)
        mode.backward = True
        with mode:
            loss.backward()


def profile(model: nn.Module, inputs=None, *, input_shape=None, dtype: torch.dtype | None = None,
            backward: bool = False, strict: bool = False, values: bool = True, densities=None) -> Profile:
    """Count what ``model`` computes, layer by layer.

    Args:
        model: any ``nn.Module``; it is never modified (the run uses a private copy, in eval mode for
            inference and in train mode when ``backward``).
        inputs: a tensor, a tuple of tensors, or a dict of keyword inputs (``{"input_ids": ...,
            "decoder_input_ids": ...}``) to run on (real run).
        input_shape: instead of ``inputs``, what to run on as meta tensors (no compute, the same table as a real
            run): a shape, a :class:`~estimator.counting.inputs.TensorSpec` (shape and dtype, e.g. integer token
            ids), a list of them (positional inputs) or a dict of them (keyword inputs).
        dtype: the dtype of the inputs given as plain shapes (default: the model's first floating-point
            parameter's, so a bf16 or fp16 model needs nothing more).
        backward: also count one training step's backward pass (of the sum of the outputs).
        strict: raise :class:`~estimator.counting.capture.UnsupportedOpError` on an op with neither a formula nor
            a decomposition instead of reporting it in ``Profile.unsupported``.
        values: read the weights' values for the value-aware columns (non-zeros, padding-aware zero skipping,
            shift-add arithmetic; cached per module, so a second profile of an unchanged model re-reads
            nothing); False gives a pure shape-only count (every weight dense, MAC arithmetic).
        densities: the activations' non-zero shares, for hardware that gates, skips or compresses zeros (None:
            measured on real inputs, dense on meta ones); or given: a fraction for every layer's input and output,
            a mapping from layer name to a fraction (its input) or to ``{"input": ..., "output": ...}``, the
            :meth:`Profile.densities` table of a real-input profile, or the CSV file
            :meth:`Profile.save_densities` wrote. Layers not given are dense.

    Returns:
        A :class:`Profile`.

    Raises:
        MetaInputError: on meta inputs, an op whose result cannot exist there (e.g. ``nonzero`` in a detector).
    """
    args, kwargs, meta = run_inputs(model, inputs, input_shape, dtype)
    clone = prepare_copy(model, meta)
    clone.train(backward)
    names, tracked, owners, recurrent = survey(clone)
    known = None if densities is None else activation_densities.given(densities, [ROOT, *names.values()])
    stack = ModuleStack(names, tracked, backward, measure=known is None and not meta)
    mode = CountingMode(stack, tracked, strict, owners)
    if not backward:  # recurrent layers in closed form (a training step keeps the per-step count)
        recurrent_layers.install(names, mode.record_module)
        recurrent = any(not recurrent_layers.closed_form(m) for m in names if isinstance(m, nn.RNNBase))
    run_counted(clone, args, kwargs, mode, stack, backward, recurrent)
    entries = snapshot(model, mode.tallies, values)
    if mode.unsupported:
        listed = ", ".join(f"{op} (x{v['count']} in {', '.join(sorted(v['modules']))})"
                           for op, v in mode.unsupported.items())
        warnings.warn(f"estimator.profile: no formula or decomposition for {listed}; their work is not in the "
                      "totals", stacklevel=2)
    if known is None:
        known = activation_densities.measured(stack.nonzeros) if stack.measure else activation_densities.DENSE
    return Profile(entries, mode.tallies, stack.io, mode.unsupported, mode.free_seen, backward, values, known)


def module_type(module: nn.Module) -> str:
    """The module's class name (for a parametrized module, the class it was made from; for a TorchScript module,
    the class it was scripted from)."""
    if isinstance(module, torch.jit.ScriptModule):
        return getattr(module, "original_name", type(module).__name__)
    cls = type(module).__bases__[0] if parametrizations(module) is not None else type(module)
    return cls.__name__


COUNT_COLUMNS = list(COUNT_KINDS) + ["nz_macs", "nz_macs_valid", "in_elems", "out_elems"]
BACKWARD_COLUMNS = [k + BACKWARD_SUFFIX for k in COUNT_KINDS] + ["nz_macs" + BACKWARD_SUFFIX]
INT_COLUMNS = frozenset(COUNT_COLUMNS + BACKWARD_COLUMNS + [
    "depth", "params", "nnz_params", "weight_elems", "weight_nnz", "weight_rows", "weight_row_len",
    "pattern_table_bits", "weight_code_bits"])
WEIGHT_COLUMNS = ["params", "nnz_params", "weight_elems", "weight_nnz", "weight_rows", "weight_row_len",
                  "weight_format", "pattern_table_bits", "weight_code_bits", "arithmetic", "predefined_sparsity",
                  "decomposed", "estimated"]
DENSITY_COLUMNS = list(activation_densities.COLUMNS)


def snapshot(model: nn.Module, tallies: dict[str, LayerTally], values: bool) -> list[ModuleEntry]:
    """The modules that did work or own parameters, in ``named_modules()`` order, with their values read now. A
    parameter tensor held by several modules (tied weights) counts in the first one's ``params`` only, as
    ``model.parameters()`` counts it; the others record whose weight they share."""
    entries = []
    first_owner: dict[int, str] = {}
    for qualified, module in counted_modules(model):
        name = qualified or ROOT
        owns = bool(module._parameters or module._buffers or parametrizations(module) is not None)
        if not owns and name not in tallies:
            continue
        held = own_parameters(module)
        weight = dict(module._parameters.items()).get("weight")  # (a script module's is a C++ wrapper)
        shares = first_owner.get(id(weight), "") if weight is not None else ""
        params = sum(p.numel() for p in held if id(p) not in first_owner)
        for p in held:
            first_owner.setdefault(id(p), name)
        entries.append(ModuleEntry(name, module_type(module), 0 if not qualified else qualified.count(".") + 1,
                                   params, module_values(module, values) if owns else None, shares))
    return entries


def build_columns(entries: list[ModuleEntry], tallies: dict[str, LayerTally], io: dict[str, list[int]],
                  backward: bool, densities: activation_densities.Densities) -> dict[str, list]:
    """The layer table's columns: counts from the tallies made value-aware with each module's values."""
    count_columns = COUNT_COLUMNS + (BACKWARD_COLUMNS if backward else [])
    columns: dict[str, list] = {c: [] for c in ["name", "type", "depth"] + count_columns + WEIGHT_COLUMNS
                                + DENSITY_COLUMNS}
    for entry in entries:
        tally = tallies.get(entry.name)
        own = entry.values
        info = own.weight if own else None
        columns["name"].append(entry.name)
        columns["type"].append(entry.type)
        columns["depth"].append(entry.depth)
        if tally is not None:
            counts, nz_macs, nz_valid = tally.forward_counts(info)
            for kind in COUNT_KINDS:
                columns[kind].append(counts[kind])
            columns["nz_macs"].append(nz_macs)
            columns["nz_macs_valid"].append(nz_valid)
            if backward:
                for kind in COUNT_KINDS:
                    columns[kind + BACKWARD_SUFFIX].append(tally.backward[kind])
                columns["nz_macs" + BACKWARD_SUFFIX].append(tally.backward_nz_macs(info))
        else:
            for column in COUNT_KINDS + ("nz_macs", "nz_macs_valid") + (tuple(BACKWARD_COLUMNS) if backward else ()):
                columns[column].append(0)
        elements = io.get(entry.name, (0, 0))
        columns["in_elems"].append(elements[0])
        columns["out_elems"].append(elements[1])
        columns["params"].append(entry.params)
        columns["nnz_params"].append((info.nnz if info and not entry.shares_weight else 0)
                                     + (own.other_nnz if own else 0))
        columns["weight_elems"].append(info.numel if info else 0)
        columns["weight_nnz"].append(info.nnz if info else 0)
        columns["weight_rows"].append(info.rows if info else 0)
        columns["weight_row_len"].append(info.row_len if info else 0)
        columns["weight_format"].append(info.weight_format if info else "")
        columns["pattern_table_bits"].append(info.pattern_table_bits if info else 0)
        columns["weight_code_bits"].append(info.code_bits if info else 0)
        columns["arithmetic"].append(("shift_add" if info.shift_add else "mac") if info else "")
        columns["predefined_sparsity"].append(bool(info.predefined) if info else False)
        columns["decomposed"].append(",".join(sorted(tally.decomposed)) if tally else "")
        columns["estimated"].append(",".join(sorted(tally.estimated)) if tally else "")
        for column, value in zip(DENSITY_COLUMNS, densities.of(entry.name), strict=True):
            columns[column].append(value)
    return columns


def row_dimension(nest: Nest) -> str | None:
    """The loop over activation rows of a product with a layer weight (None without one): B, or C for a weight
    gradient computed as a matmul (which sums over the rows)."""
    if not nest.weight_operand:
        return None
    return "C" if nest.kind == "matmul" and nest.role == "grad_weight" else "B"


def build_nests(tallies: dict[str, LayerTally], weights: dict[str, WeightInfo | None]) -> pd.DataFrame:
    """One row per (module, distinct loop nest), with its calls, MACs and the MACs left when zeros are skipped
    (``nz_macs``: products with zero weights, and the gradients of weights a pre-defined pattern masks).

    Calls of one layer weight's product within a module are merged into one nest over all their rows (B summed):
    the weight is reused across them, and backends differ in how they split them (the CPU reference LSTM
    projects all time steps at once, its meta decomposition one step at a time). Other products keep their calls.
    """
    merged: dict[tuple[str, Nest], int] = {}
    for name, tally in tallies.items():
        for nest, calls in tally.nests.items():
            rows = row_dimension(nest)
            key = (name, replace(nest, **{rows: 1}) if rows else nest)
            merged[key] = merged.get(key, 0) + (getattr(nest, rows) if rows else 1) * calls
    rows = []
    for (name, nest), count in merged.items():
        dimension = row_dimension(nest)
        nest, calls = (replace(nest, **{dimension: count}), 1) if dimension else (nest, count)
        skipped = skipped_macs(nest, weights.get(name))
        rows.append((name, "forward" if nest.role == "forward" else "backward",
                     *(getattr(nest, f) for f in NEST_FIELDS), calls, nest.macs * calls,
                     (nest.macs - skipped) * calls))
    rows.sort(key=lambda row: (row[0], row[2:]))  # deterministic whatever order the backend issued them in
    return pd.DataFrame(rows, columns=["name", "phase", *NEST_FIELDS, "calls", "macs", "nz_macs"])
