"""A :class:`~estimator.counting.Profile` as the layer table pricing consumes (``hwmodels.layers``): one row per
multiply-accumulate loop nest of a layer, and one row for each layer's work without a nest; for a training step
(a profile with ``backward=True``) also the backward units and the optimiser's update.

Forward: a layer's counts are shared among its nest rows in proportion to their MACs; zero skipping applies to
the nests whose W operand is the layer's weight (``nz_macs`` per nest; ``nz_macs_valid``, padding taps skipped
too, in the same share). Repeated calls of a nest whose W operand is not a weight (an attention matmul) become its G
loop. A layer's parameters other than its weight (bias, normalisation) are read once, with its first row.

Training step (what is assumed, stated):

* every forward unit's output is kept for the backward pass: stored at the top level (DRAM) whatever the
  inter-layer policy;
* a weight-gradient nest reads its saved input X back from the top level; input-gradient nests pass dY and dX
  between layers like forward activations (the inter-layer policy applies);
* a layer's backward work without a nest (normalisation, activation, pooling) reads dY and its saved input and
  writes dX;
* zero skipping in the backward pass: input gradients skip zero weights; weight gradients of a pre-defined
  pattern (periodic masks applied by this package, which declare it) are neither computed nor stored: the kept
  ones are written and read in the compressed form of the weight (the weight-gradient row carries the weight's
  sizes); a mask found otherwise (``torch.nn.utils.prune``) is computed dense;
* activation densities (the profile's, measured or given) are the forward units'; gradients are not measured and
  backward units are dense;
* the update (:data:`OPTIMIZERS`) reads and writes every updated parameter, its gradient and the optimiser's
  state once, at the weights' width (``weight_bits``); only the kept weights of a pre-defined pattern are
  updated; biases and normalisation parameters are updated densely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwmodels.errors import UserError
from hwmodels.layers import COUNT_KINDS as PRICED_KINDS

from .counting import Profile
from .counting.densities import COLUMNS as DENSITY_COLUMNS
from .counting.registry import COUNT_KINDS

LOOPS = ("B", "K", "C", "G", "OY", "OX", "FY", "FX", "SY", "SX", "DY", "DX", "PY", "PX")
WEIGHT_COLUMNS = ("weight_elems", "weight_nnz", "weight_rows", "weight_row_len", "weight_format",
                  "pattern_table_bits", "weight_code_bits", "predefined_sparsity")
BACKWARD = "_bwd"


@dataclass(frozen=True)
class Optimizer:
    """Work of one optimiser step per updated parameter.

    Attributes:
        name: ``sgd`` or ``adam`` (PyTorch's, with L2 weight decay).
        mults, adds, other_ops: operations per parameter.
        states: optimiser state tensors per parameter (read and written each step).
        rule: the update, for the record.
    """

    name: str
    mults: int
    adds: int
    other_ops: int
    states: int
    rule: str


OPTIMIZERS = {
    "sgd": Optimizer("sgd", 3, 3, 0, 1, "g += wd*w (1 mult, 1 add); b = momentum*b + g (1, 1); w -= lr*b (1, 1)"),
    "adam": Optimizer("adam", 8, 5, 2, 2, "g += wd*w (1, 1); m = b1*m + (1-b1)*g (2, 1); v = b2*v + (1-b2)*g*g (3, "
                                          "1); d = sqrt(v)*(1/sqrt(c2)) + eps (1 sqrt, 1, 1); w -= (lr/c1)*m/d (1 "
                                          "division, 1, 1)"),
}
"""Optimisers priced for the update phase; c1, c2 are the bias corrections (per step, not per parameter)."""


def layer_table(profile: Profile, optimizer: str = "sgd") -> pd.DataFrame:
    """The units of ``profile`` as a ``hwmodels.layers`` table: forward; for a training-step profile also backward
    and the ``optimizer``'s update (``sgd`` with momentum, or ``adam``)."""
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer '{optimizer}'; expected one of {', '.join(OPTIMIZERS)}")
    training = profile.backward
    layers = dict(zip(profile.layers.index, profile.layers.to_dict("records"), strict=True))
    by_phase: dict[str, dict[str, list[dict]]] = {"forward": {}, "backward": {}}
    for nest in profile.nests.to_dict("records"):
        if nest["phase"] in by_phase:
            by_phase[nest["phase"]].setdefault(nest["name"], []).append(nest)
    rows = []
    for name, layer in layers.items():
        rows += forward_rows(name, layer, by_phase["forward"].get(name), training)
        if training:
            rows += backward_rows(name, layer, by_phase["backward"].get(name))
    if training:
        rows += update_rows(layers, OPTIMIZERS[optimizer])
    return pd.DataFrame(rows)


def forward_rows(name: str, layer: dict, nests: list[dict] | None, training: bool) -> list[dict]:
    has_work = any(layer[k] for k in COUNT_KINDS) or layer["in_elems"] or layer["out_elems"]
    if nests is None and not has_work and not layer["params"]:
        return []
    base = {"name": name, "type": layer["type"], "phase": "forward", "in_elems": int(layer["in_elems"]),
            "out_elems": int(layer["out_elems"]), "other_params": max(int(layer["params"] - layer["weight_elems"]), 0),
            "save_output": training}
    densities = {c: float(layer[c]) for c in DENSITY_COLUMNS}
    if nests is None:
        return [base | {k: int(layer[k]) for k in PRICED_KINDS} | densities]
    return [row | densities for row in nest_rows(layer, nests, base, suffix="")]


def backward_rows(name: str, layer: dict, nests: list[dict] | None) -> list[dict]:
    if nests is None and not any(layer[k + BACKWARD] for k in COUNT_KINDS):
        return []
    base = {"name": name, "type": layer["type"], "phase": "backward"}
    if nests is None:  # reads dY and the saved input, writes dX
        return [base | {"in_elems": int(layer["out_elems"]), "saved_elems": int(layer["in_elems"]),
                        "out_elems": int(layer["in_elems"])} | {k: int(layer[k + BACKWARD]) for k in PRICED_KINDS}]
    return nest_rows(layer, nests, base, suffix=BACKWARD)


def nest_rows(layer: dict, nests: list[dict], base: dict, suffix: str) -> list[dict]:
    """One row per nest of a layer in one phase (the profile's nest records), the layer's counts of that phase
    shared among them."""
    macs = np.array([n["macs"] for n in nests], dtype=np.float64)
    share = macs / macs.sum() if macs.sum() else np.full(len(macs), 1.0 / len(macs))
    # padding taps skipped (forward only): in the share of the weight's nests' skipped MACs
    weighted = np.array([bool(n["weight_operand"]) and n["role"] == "forward" for n in nests], dtype=bool)
    skipped_valid = (layer["nz_macs"] - layer["nz_macs_valid"]) if not suffix else 0
    weighted_macs = macs[weighted].sum()
    parts = {k: split(int(layer[k + suffix]), share) for k in PRICED_KINDS}
    rows = []
    for i, nest in enumerate(nests):
        row = dict(base) if i == 0 else {"name": base["name"], "type": base["type"], "phase": base["phase"]}
        loops = {d: int(nest[d]) for d in LOOPS}
        if not nest["weight_operand"]:
            loops["G"] *= int(nest["calls"])
        uses_weight = bool(nest["weight_operand"]) and nest["role"] != "grad_weight"  # dW's W operand is dY
        valid = skipped_valid * macs[i] / weighted_macs if weighted[i] and weighted_macs else 0.0
        row.update(loops, role=nest["role"], kind=nest["kind"], transposed=bool(nest["transposed"]),
                   weight_operand=uses_weight, macs=int(nest["macs"]), arithmetic=layer["arithmetic"],
                   nz_macs=int(nest["nz_macs"]), nz_macs_valid=int(round(nest["nz_macs"] - valid)))
        row.update({k: parts[k][i] for k in PRICED_KINDS})
        if uses_weight:
            row.update({c: layer[c] for c in WEIGHT_COLUMNS})
        if nest["role"] == "grad_weight":  # reads the saved input X, keeps dW for the update (compressed when the
            # weight's pattern is pre-defined: the weight's sizes say how much)
            row.update(saved_elems=int(layer["in_elems"]), save_output=True, weight_elems=int(layer["weight_elems"]),
                       weight_nnz=int(layer["weight_nnz"]), predefined_sparsity=bool(layer["predefined_sparsity"]))
        rows.append(row)
    return rows


def update_rows(layers: dict[str, dict], optimizer: Optimizer) -> list[dict]:
    """One update unit per layer with parameters (``layers``: the profile's layer records by name): only the kept
    weights of a pre-defined pattern are updated."""
    rows = []
    for name, layer in layers.items():
        if not layer["params"]:
            continue
        weights = int(layer["weight_nnz"] if layer["predefined_sparsity"] else layer["weight_elems"])
        updated = weights + max(int(layer["params"] - layer["weight_elems"]), 0)
        rows.append({"name": name, "type": layer["type"], "phase": "update", "role": "update",
                     "mults": optimizer.mults * updated, "adds": optimizer.adds * updated,
                     "other_ops": optimizer.other_ops * updated,
                     "param_reads": (2 + optimizer.states) * updated,  # weight, gradient, state
                     "param_writes": (1 + optimizer.states) * updated})  # weight, state
    return rows


def split(total: int, share: np.ndarray) -> list[int]:
    """``total`` shared in proportion to ``share``, in whole numbers that add up to it (the rest on the first)."""
    parts = np.floor(total * share).astype(np.int64)
    parts[0] += total - parts.sum()
    return parts.tolist()
