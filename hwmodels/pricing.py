"""Pricing: energy = count x energy per action, summed, for every layer x hardware configuration at once.

The grid of configurations is the Cartesian product of the parameters given as lists; the layer x
configuration arithmetic is numpy broadcasting, with no Python loop per configuration (only per distinct
hardware model, number format and buffer size, to look up energies).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model import HardwareModel
from .movement import DATAFLOWS, movement
from .registry import resolve

COMPONENTS = ("dram", "sram", "rf", "mult", "add", "shift", "compare", "other")
"""Energy components; the priced table has a ``<component>_pj`` column for each and their sum ``energy_pj``."""

LEVELS_PRICED = ("dram", "sram", "rf")
ACCESS_WIDTHS = tuple(f"{level}_access_bits" for level in LEVELS_PRICED)

GRID_DEFAULTS = {"hw": "horowitz45", "weight_bits": 8, "act_bits": 8, "psum_bits": 32, "buffer_kib": 256.0,
                 "dataflow": "ws", "zero_skipping": True, "pe_rows": 16, "pe_cols": 16, "number_format": "int",
                 "mac_energy_pj": float("nan")}
"""Pricing parameters and their defaults. Any may be given as a list to sweep it."""


@dataclass
class EnergyTable:
    """Priced layers and the whole-model summary.

    Attributes:
        layers: one row per (configuration, layer): the configuration's parameters, the layer's name and type,
            traffic per level in bits and in accesses of the level's width, the weight storage form used,
            ``<component>_pj`` energies and ``energy_pj`` (their sum).
        summary: one row per configuration: sums over layers, plus ``energy_mac16`` (the total in multiples
            of one 16-bit MAC of the same hardware model).
    """

    layers: pd.DataFrame
    summary: pd.DataFrame


def configuration_grid(**params) -> pd.DataFrame:
    """The Cartesian product of the pricing parameters (scalars or lists), one row per configuration."""
    unknown = set(params) - set(GRID_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown pricing parameter(s) {', '.join(sorted(unknown))}; "
                        f"expected {', '.join(GRID_DEFAULTS)}")
    values = {k: params.get(k, default) for k, default in GRID_DEFAULTS.items()}
    axes = {k: (list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Series)) else [v]) for k, v in values.items()}
    for flow in axes["dataflow"]:
        if flow not in DATAFLOWS:
            raise ValueError(f"dataflow '{flow}' is unknown; expected one of {', '.join(DATAFLOWS)}")
    for key in ("weight_bits", "act_bits", "psum_bits", "buffer_kib", "pe_rows", "pe_cols"):
        for v in axes[key]:
            if not (isinstance(v, (int, float, np.integer, np.floating)) and v > 0):
                raise ValueError(f"{key} must be positive numbers; got {v!r}")
    models = [resolve(h) for h in axes["hw"]]
    axes["hw"] = [m.name for m in models]
    grid = pd.DataFrame(list(itertools.product(*axes.values())), columns=list(axes))
    grid.attrs["models"] = {m.name: m for m in models}
    return grid


def unit_energies(grid: pd.DataFrame) -> dict[str, np.ndarray]:
    """Energies per action (pJ) and per bit at each level (pJ/bit), and each level's access width
    (``<level>_access_bits``), one value per configuration, (K,).

    Looked up once per distinct (hardware model, number format) and per distinct hardware model, then
    gathered; SRAM energy is interpolated for all buffer sizes at once."""
    models: dict[str, HardwareModel] = grid.attrs["models"]
    to_pj = np.ones(len(grid))
    out = {name: np.empty(len(grid)) for name in COMPONENTS + ("mac16",) + ACCESS_WIDTHS}
    for hw, index in grid.groupby("hw").groups.items():
        model = models[hw]
        if model.unit != "pj":
            to_pj[index] = grid.loc[index, "mac_energy_pj"]
            if not np.all(np.isfinite(to_pj[index])):
                raise ValueError(f"hardware model '{hw}' is normalised to a 16-bit MAC (unit mac16); "
                                 "pass mac_energy_pj=<pJ per 16-bit MAC> to price it in pJ")
        out["dram"][index] = model.memory_energy_per_bit("dram").value
        out["rf"][index] = model.memory_energy_per_bit("rf").value
        out["sram"][index] = model.sram_energy_per_bit(grid.loc[index, "buffer_kib"].to_numpy())
        out["mac16"][index] = model.mac16()
        out["dram_access_bits"][index] = model.access_bits("dram")
        out["rf_access_bits"][index] = model.access_bits("rf")
        out["sram_access_bits"][index] = [model.access_bits("sram", kib) for kib in grid.loc[index, "buffer_kib"]]
    compute_bits = np.maximum(grid["weight_bits"], grid["act_bits"]).astype(int).astype(str)
    formats = grid["number_format"] + compute_bits
    for (hw, fmt), index in pd.DataFrame({"hw": grid["hw"], "fmt": formats}).groupby(["hw", "fmt"]).groups.items():
        for action in ("mult", "add", "shift", "compare", "other"):
            out[action][index] = models[hw].action_energy(action, fmt).value
    return {name: values if name in ACCESS_WIDTHS else values * to_pj for name, values in out.items()}


def repeat_labels(labels: np.ndarray, n_configs: int) -> pd.Categorical:
    """Per-layer labels repeated for every configuration, as a categorical (no string copies)."""
    categories, codes = np.unique(labels.astype(str), return_inverse=True)
    return pd.Categorical.from_codes(np.tile(codes, n_configs), categories)


def price(layers: pd.DataFrame, *, per_layer: bool = True, **params) -> EnergyTable:
    """Price a profile's layer table over a grid of hardware configurations in one vectorised pass.

    Args:
        layers: ``Profile.layers`` (any DataFrame with its columns).
        per_layer: build the per-(configuration, layer) table; False leaves ``EnergyTable.layers`` empty and
            only sums (faster for large grids).
        **params: see :data:`GRID_DEFAULTS`; ``hw`` is a preset name, a path to a TOML file or a
            :class:`HardwareModel`; a list for any parameter sweeps it.

    Returns:
        An :class:`EnergyTable`. Compute is priced per count kind: ``mults`` and ``adds`` (less the MACs on
        zero weights when ``zero_skipping``), ``shifts``, ``compares``, ``other_ops``, each at the number
        format ``<number_format><max(weight_bits, act_bits)>``. NB: accumulator adds are priced at that
        width too; the growth of partial sums is not modelled there (it is in ``psum_bits`` traffic).
    """
    grid = configuration_grid(**params)
    energy = unit_energies(grid)
    moved = movement(layers, weight_bits=grid["weight_bits"], act_bits=grid["act_bits"], psum_bits=grid["psum_bits"],
                     buffer_kib=grid["buffer_kib"], dataflow=grid["dataflow"], zero_skipping=grid["zero_skipping"],
                     pe_rows=grid["pe_rows"], pe_cols=grid["pe_cols"])

    def layer_row(name: str) -> np.ndarray:
        return layers[name].to_numpy(np.float64)[None, :]

    is_mac = (layers["arithmetic"].to_numpy() != "shift_add")[None, :]
    skip = grid["zero_skipping"].to_numpy(bool)[:, None] & is_mac
    skipped = np.where(skip, layer_row("macs") - layer_row("nz_macs"), 0.0)
    counts = {"mult": layer_row("mults") - skipped, "add": layer_row("adds") - skipped,
              "shift": layer_row("shifts"), "compare": layer_row("compares"), "other": layer_row("other_ops"),
              "dram": moved["dram_bits"], "sram": moved["sram_bits"], "rf": moved["rf_bits"]}
    parts = {f"{c}_pj": counts[c] * energy[c][:, None] for c in COMPONENTS}
    total = sum(parts.values())
    for level in LEVELS_PRICED:  # accesses of the level's width
        moved[f"{level}_accesses"] = moved[f"{level}_bits"] / energy[f"{level}_access_bits"][:, None]
    summary = grid.copy()
    summary.attrs = {}
    for key in ("dram_bits", "sram_bits", "rf_bits", "dram_accesses", "sram_accesses", "rf_accesses"):
        summary[key] = moved[key].sum(axis=1)
    for key, value in parts.items():
        summary[key] = value.sum(axis=1)
    summary["energy_pj"] = total.sum(axis=1)
    summary["energy_mac16"] = summary["energy_pj"] / energy["mac16"]
    if not per_layer:
        return EnergyTable(pd.DataFrame(), summary)
    n_configs, n_layers = total.shape
    table = {"config": np.repeat(np.arange(n_configs), n_layers)}
    for col in grid.columns:
        values = grid[col].to_numpy()
        table[col] = (pd.Categorical(values).take(table["config"]) if values.dtype == object
                      else np.repeat(values, n_layers))
    table["name"] = repeat_labels(layers.index.to_numpy(), n_configs)
    table["type"] = repeat_labels(layers["type"].to_numpy(), n_configs)
    for key in ("dram_weight_bits", "dram_act_bits", "dram_bits", "sram_bits", "rf_bits", "dram_accesses",
                "sram_accesses", "rf_accesses", "fits_on_chip"):
        table[key] = np.broadcast_to(moved[key], total.shape).ravel()
    storage = moved["weight_storage"]
    table["weight_storage"] = pd.Categorical(np.broadcast_to(storage, total.shape).ravel())
    for key, value in parts.items():
        table[key] = value.ravel()
    table["energy_pj"] = total.ravel()
    return EnergyTable(pd.DataFrame(table), summary)
