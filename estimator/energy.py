"""Glue between the counter and the hardware models: price a Profile (the arithmetic lives in hwmodels)."""

from __future__ import annotations

import pandas as pd

import hwmodels
from hwmodels import EnergyTable

from .counting import Profile


def energy(profile: Profile | pd.DataFrame, hw="horowitz45", *, per_layer: bool = True, **config) -> EnergyTable:
    """Energy of every layer of ``profile`` on hardware ``hw`` for one or many configurations.

    Args:
        profile: a :class:`~estimator.counting.Profile` (or its ``layers`` table).
        hw: a preset name (``hwmodels.available()``), a TOML path, a HardwareModel, or a list of them.
        per_layer: also build the per-(configuration, layer) table (False: only the summary).
        **config: pricing parameters (``hwmodels.GRID_DEFAULTS``: weight_bits, act_bits, psum_bits,
            buffer_kib, dataflow, zero_skipping, pe_rows, pe_cols, number_format, mac_energy_pj); a list
            sweeps that parameter. Every combination is priced in one vectorised call.

    Returns:
        ``hwmodels.EnergyTable`` with ``layers`` (per configuration x layer, energies in pJ per component)
        and ``summary`` (per configuration).
    """
    layers = profile.layers if isinstance(profile, Profile) else profile
    return hwmodels.price(layers, hw=hw, per_layer=per_layer, **config)


def energy_table_text(table: EnergyTable, config: int = 0) -> str:
    """Per-layer energy of one configuration as a text table, in nJ, with the total and its breakdown."""
    rows = table.layers[table.layers["config"] == config].set_index("name")
    columns = [f"{c}_pj" for c in hwmodels.COMPONENTS] + ["energy_pj"]
    shown = rows[columns] / 1000.0
    shown.columns = [c.replace("_pj", "_nj") for c in columns]
    shown.insert(0, "type", rows["type"].astype(str))
    shown.insert(1, "weights", rows["weight_storage"].astype(str).where(rows["dram_weight_bits"] > 0, ""))
    shown.loc["TOTAL"] = ["", ""] + list(shown[shown.columns[2:]].sum())
    body = shown.to_string(float_format=lambda v: f"{v:,.1f}")
    summary = table.summary.iloc[config]
    settings = ", ".join(f"{k}={summary[k]}" for k in hwmodels.GRID_DEFAULTS if k in summary and pd.notna(summary[k]))
    shares = ", ".join(f"{c} {100 * summary[c + '_pj'] / summary['energy_pj']:.1f}%" for c in hwmodels.COMPONENTS)
    return (f"{body}\n\nenergy per inference: {summary['energy_pj'] / 1e6:,.3f} uJ "
            f"({summary['energy_mac16']:,.0f} x a 16-bit MAC) [{settings}]\nbreakdown: {shares}")
