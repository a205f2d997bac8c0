"""Glue between the counter and the hardware models: price a Profile (the arithmetic lives in hwmodels)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import hwmodels
from hwmodels import EnergyTable

from .counting import Profile
from .workload import layer_table


def energy(profile: Profile | pd.DataFrame, hw="horowitz45", *, per_layer: bool = True, optimizer: str = "sgd",
           parts: str | Path | None = None, **config) -> EnergyTable:
    """Energy, latency and data movement of every layer of ``profile`` on hardware ``hw``, for one or many
    configurations: one inference, or, for a profile of a training step (``backward=True``), the whole step
    (forward, input and weight gradients, and the ``optimizer``'s update; see :mod:`estimator.workload`).

    Args:
        profile: a :class:`~estimator.counting.Profile`, or a layer table in the ``hwmodels.layers`` format.
        hw: a preset name (``hwmodels.available()``), a TOML path, a ZigZag accelerator YAML (with ``mapping=`` a
            ZigZag mapping YAML), a HardwareModel, or a list of them.
        per_layer: also build the per-unit and per-level tables (False: only the summary).
        optimizer: ``sgd`` (with momentum) or ``adam``, for a training step.
        parts: a new or empty folder to stream the per-layer tables to as Parquet files instead of holding them
            (large grids; :func:`hwmodels.parts.read_parts` reads them back).
        **config: pricing parameters (every name in ``hwmodels.PARAMETERS``, ``estimator energy --help`` lists
            them with their defaults); a list sweeps that parameter.

    Returns:
        ``hwmodels.EnergyTable``: ``layers`` (per configuration x unit), ``levels`` (per level and operand),
        ``summary`` (per configuration) and ``notes`` (the estimates and derived values used).
    """
    table = layer_table(profile, optimizer) if isinstance(profile, Profile) else profile
    return hwmodels.price(table, hw=hw, per_layer=per_layer, parts=parts, **config)


def weight_storage(profile: Profile, weight_bits: int = 8, psc_index: str = "position_code") -> pd.DataFrame:
    """Bits of every weighted layer's weights in each storage form (``hwmodels.weight_storage_bits``): dense,
    unstructured (non-zeros with in-row indices and row pointers), periodic (non-zeros plus the pattern table),
    position code and per-weight position (the indexes of a random k-of-9 pSC kernel) and the form pricing uses
    (``psc_index`` picks it for pSC). Indexed by layer name; ``nnz`` is the non-zero weights."""
    layers = profile.layers[profile.layers["weight_elems"] > 0]
    bits = hwmodels.weight_storage_bits(
        layers["weight_elems"], layers["weight_nnz"], layers["weight_rows"], layers["weight_row_len"],
        layers["weight_format"], layers["pattern_table_bits"], layers["weight_code_bits"], weight_bits, psc_index)
    return pd.DataFrame({"nnz": layers["weight_nnz"], "dense_bits": bits["dense"],
                         "unstructured_bits": bits["unstructured"], "periodic_bits": bits["periodic"],
                         "position_code_bits": bits["position_code"], "per_weight_bits": bits["per_weight"],
                         "stored_bits": bits["stored"], "form": bits["form"]}, index=layers.index)


NOT_LEVELS = {f"{c}_pj" for c in hwmodels.ARITHMETIC} | {f"tier_{t}_pj" for t in hwmodels.TIERS} | {
    "energy_pj", "memory_pj", "arithmetic_pj"}
"""Energy columns of a priced table that are not memory levels."""


def energy_table_text(table: EnergyTable, config: int = 0, batch: int = 1) -> str:
    """Per-layer energy of one configuration as a text table (nJ per component and per level, cycles), with the
    total (per image too when the profiled batch is larger than one), latency, the breakdown, the other
    configurations' totals when several were priced, and the estimates behind the numbers."""
    rows = table.layers[table.layers["config"] == table.summary.index[config]]
    summary = table.summary.iloc[config]
    levels = [c for c in rows.columns if c.endswith("_pj") and c not in NOT_LEVELS]
    columns = levels + [f"{c}_pj" for c in hwmodels.ARITHMETIC] + ["energy_pj"]
    training = (rows["phase"] != "forward").any()
    label = rows["name"].astype(str) + (" [" + rows["phase"].astype(str) + "]" if training else "")
    grouped = rows.groupby(label.to_numpy(), sort=False)
    shown = grouped[columns].sum() / 1000.0
    shown.columns = [c.replace("_pj", "_nj") for c in columns]
    shown = shown.loc[:, (shown != 0).any()]
    shown.insert(0, "type", grouped["type"].first().astype(str))  # (text: the TOTAL row's type is blank)
    shown["cycles"] = grouped["cycles"].sum()
    shown["util"] = grouped.apply(lambda g: (g["executed_macs"].sum() / max(g["cycles"].sum(), 1) /
                                             pe_count(summary)), include_groups=False)
    total = list(shown[shown.columns[1:-2]].sum()) + [shown["cycles"].sum(), summary["utilization"]]
    shown.loc["TOTAL"] = [""] + total
    body = shown.to_string(float_format=lambda v: f"{v:,.2f}", formatters={"cycles": "{:,.0f}".format})
    settings = ", ".join(f"{p.name}={summary[p.name]}" for p in hwmodels.PARAMETERS
                         if p.name in summary and pd.notna(summary[p.name]) and p.name != "mapping")
    parts = [f"tier_{t}_pj" for t in hwmodels.TIERS] + [f"{c}_pj" for c in hwmodels.ARITHMETIC]
    shares = ", ".join(f"{c.removeprefix('tier_')[:-3]} {100 * summary[c] / summary['energy_pj']:.1f}%" for c in parts
                       if summary[c])
    notes = "\n".join(f"  - {note}" for note in table.notes)
    what = "training step" if training else "inference"
    if batch > 1:
        what += (f" of a batch of {batch} ({summary['energy_pj'] / 1e6 / batch:,.3f} uJ per image; weights read "
                 "once per batch)")
    phases = (f"\nof which forward {summary['energy_forward_pj'] / 1e6:,.3f} uJ, backward "
              f"{summary['energy_backward_pj'] / 1e6:,.3f} uJ, update {summary['energy_update_pj'] / 1e6:,.3f} uJ"
              if training else "")
    return (f"{body}\n\nenergy per {what}: {summary['energy_pj'] / 1e6:,.3f} uJ{phases} "
            f"({summary['energy_mac16']:,.0f} x a 16-bit MAC); latency {summary['latency_cycles']:,.0f} cycles = "
            f"{summary['latency_s'] * 1e3:,.3f} ms at {summary['clock_mhz']:g} MHz; utilization "
            f"{100 * summary['utilization']:.1f}%; EDP {summary['edp_pj_s']:.3g} pJ s\n"
            f"[{settings}]\nbreakdown: {shares}\n"
            f"util: executed MACs / (PEs x cycles). Estimates and derived values used:\n{notes}"
            + other_configurations(table, batch))


def other_configurations(table: EnergyTable, batch: int) -> str:
    """The total of every configuration priced, when there are several (a list on the command line)."""
    if len(table.summary) < 2:
        return ""
    varying = [p.name for p in hwmodels.PARAMETERS if p.name in table.summary
               and table.summary[p.name].astype(str).nunique() > 1]
    shown = table.summary[varying].copy()
    shown["energy_uj"] = table.summary["energy_pj"] / 1e6
    if batch > 1:
        shown["energy_uj_per_image"] = shown["energy_uj"] / batch
    shown["latency_cycles"] = table.summary["latency_cycles"]
    return (f"\n\nall {len(shown)} configurations (the table above is the first; energy estimates):\n"
            + shown.to_string(index=False, float_format=lambda v: f"{v:,.3f}",
                              formatters={"latency_cycles": "{:,.0f}".format}))


def pe_count(summary: pd.Series) -> int:
    return int(summary["pe_rows"]) * int(summary["pe_cols"])


def weight_residency_note(profile: Profile, table: EnergyTable, config: int = 0) -> str | None:
    """A line saying that the model's weights fit on chip yet are read from DRAM for every inference (each
    inference is priced alone: nothing stays on chip between two), or None when they do not fit (or the hardware
    has no resizable buffer). A batch of N reads them once per N images."""
    summary = table.summary.iloc[config]
    buffer_kib = summary.get("buffer_kib")
    weight_kib = int(profile.total()["params"]) * int(summary["weight_bits"]) / 8 / 1024
    if buffer_kib is None or pd.isna(buffer_kib) or weight_kib > float(buffer_kib):
        return None
    return (f"The weights ({weight_kib:,.1f} KiB at {int(summary['weight_bits'])} bits) fit the {float(buffer_kib):g} "
            "KiB on-chip buffer, yet each inference is priced alone and reads them from DRAM; a batch of N reads "
            "them once per N images.")
