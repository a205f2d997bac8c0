"""A :class:`~estimator.counting.Profile` as the layer table pricing consumes (``hwmodels.layers``): one row per
multiply-accumulate loop nest of a layer, and one row for each layer's work without a nest.

A layer's counts are shared among its nest rows in proportion to their MACs; zero skipping (``nz_macs``,
``nz_macs_valid``) applies to the nests whose W operand is the layer's weight. Repeated calls of a nest whose W
operand is not a weight (an attention matmul) become its G loop. A layer's parameters other than its weight (bias,
normalisation) are read once, with its first row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .counting import Profile
from .counting.registry import COUNT_KINDS

LOOPS = ("B", "K", "C", "G", "OY", "OX", "FY", "FX", "SY", "SX", "DY", "DX", "PY", "PX")
WEIGHT_COLUMNS = ("weight_elems", "weight_nnz", "weight_rows", "weight_row_len", "weight_format",
                  "pattern_table_bits", "weight_code_bits", "predefined_sparsity")
KINDS = tuple(k for k in COUNT_KINDS if k != "macs")


def layer_table(profile: Profile) -> pd.DataFrame:
    """The forward units of ``profile`` as a ``hwmodels.layers`` table."""
    layers = profile.layers
    nests = profile.nests
    nests = nests[nests["phase"] == "forward"]
    by_layer = {name: group for name, group in nests.groupby("name", sort=False)}
    rows = []
    for name, layer in layers.iterrows():
        own = by_layer.get(name)
        has_work = any(layer[k] for k in COUNT_KINDS) or layer["in_elems"] or layer["out_elems"]
        if own is None and not has_work and not layer["params"]:
            continue
        other_params = int(layer["params"] - layer["weight_elems"])
        base = {"name": name, "type": layer["type"], "phase": "forward", "in_elems": int(layer["in_elems"]),
                "out_elems": int(layer["out_elems"]), "other_params": max(other_params, 0)}
        if own is None:
            rows.append(base | {k: int(layer[k]) for k in KINDS})
            continue
        rows.extend(nest_rows(layer, own, base))
    return pd.DataFrame(rows)


def split(total: int, share: np.ndarray) -> list[int]:
    """``total`` shared in proportion to ``share``, in whole numbers that add up to it (the rest on the first)."""
    parts = np.floor(total * share).astype(np.int64)
    parts[0] += total - parts.sum()
    return parts.tolist()


def nest_rows(layer: pd.Series, nests: pd.DataFrame, base: dict) -> list[dict]:
    """One row per nest of a layer, the layer's counts and zero skipping shared among them."""
    macs = (nests["macs"]).to_numpy(dtype=np.float64)
    share = macs / macs.sum() if macs.sum() else np.full(len(macs), 1.0 / len(macs))
    weighted = nests["weight_operand"].to_numpy(dtype=bool)
    weighted_macs = macs[weighted].sum()
    rows = []
    for i, nest in enumerate(nests.itertuples(index=False)):
        row = dict(base) if i == 0 else {"name": base["name"], "type": base["type"], "phase": "forward"}
        loops = {d: int(getattr(nest, d)) for d in LOOPS}
        if not nest.weight_operand:
            loops["G"] *= int(nest.calls)
        row.update(loops, role="forward", kind=nest.kind, transposed=bool(nest.transposed),
                   weight_operand=bool(nest.weight_operand), macs=int(nest.macs), arithmetic=layer["arithmetic"])
        skipped = {k: (layer["macs"] - layer[k]) * macs[i] / weighted_macs if nest.weight_operand and weighted_macs
                   else 0.0 for k in ("nz_macs", "nz_macs_valid")}
        row.update({k: int(round(nest.macs - skipped[k])) for k in skipped})
        row.update({k: split(int(layer[k]), share)[i] for k in KINDS})
        if nest.weight_operand:
            row.update({c: layer[c] for c in WEIGHT_COLUMNS})
        rows.append(row)
    return rows
