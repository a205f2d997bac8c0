"""Glue between the counter and the hardware models: price a Profile (the arithmetic lives in hwmodels)."""

from __future__ import annotations

import pandas as pd

import hwmodels
from hwmodels import EnergyTable

from .counting import Profile
from .workload import layer_table


def energy(profile: Profile | pd.DataFrame, hw="horowitz45", *, per_layer: bool = True, optimizer: str = "sgd",
           **config) -> EnergyTable:
    """Energy, latency and data movement of every layer of ``profile`` on hardware ``hw``, for one or many
    configurations: one inference, or, for a profile of a training step (``backward=True``), the whole step
    (forward, input and weight gradients, and the ``optimizer``'s update; see :mod:`estimator.workload`).

    Args:
        profile: a :class:`~estimator.counting.Profile`, or a layer table in the ``hwmodels.layers`` format.
        hw: a preset name (``hwmodels.available()``), a TOML path, a ZigZag accelerator YAML (with ``mapping=`` a
            ZigZag mapping YAML), a HardwareModel, or a list of them.
        per_layer: also build the per-unit and per-level tables (False: only the summary).
        optimizer: ``sgd`` (with momentum) or ``adam``, for a training step.
        **config: pricing parameters (``hwmodels.PARAMETERS``: weight_bits, act_bits, psum_bits, output_bits,
            buffer_kib, pe_rows, pe_cols, dataflow, interlayer, zero_skipping, skip_padding, number_format,
            mac_energy_pj, clock_mhz, loop_factor_limit); a list sweeps that parameter.

    Returns:
        ``hwmodels.EnergyTable``: ``layers`` (per configuration x unit), ``levels`` (per level and operand),
        ``summary`` (per configuration) and ``notes`` (the estimates and derived values used).
    """
    table = layer_table(profile, optimizer) if isinstance(profile, Profile) else profile
    return hwmodels.price(table, hw=hw, per_layer=per_layer, **config)


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
