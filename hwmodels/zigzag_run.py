"""Running ZigZag (``pip install -e '.[zigzag]'``; zigzag-dse 3.9.1 also needs ``six``) on a layer table, and the
side-by-side cross-check of this package's pricing against it on the same hardware description.

The cross-check prices what ZigZag models, as ZigZag assumes it: the forward multiply-accumulate units only, every
layer reading its input from DRAM and writing its output there (``interlayer="dram"``), no zero skipping, ZigZag's
widths (weights 8, inputs 8, partial sums 16, final outputs 8 bits) and its LOMA mapper with its loop-factor limit.
Energies compared are the MAC energy plus the memory levels' (ZigZag prices nothing else).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MissingExtraError
from .layers import validate
from .model import LOOP_DIMS

ZIGZAG_PRECISION = {"weight_bits": 8, "act_bits": 8, "psum_bits": 16, "output_bits": 8}
"""The widths of ZigZag's example workloads, used by the cross-check on both sides."""


def workload(table: pd.DataFrame, *, weight_bits: int = 8, act_bits: int = 8, psum_bits: int = 16,
             output_bits: int = 8) -> list[dict]:
    """The forward multiply-accumulate units of a layer table (``hwmodels.layers``) as a ZigZag workload: its
    list-of-layer-dicts form, every layer reading its input from DRAM (``operand_source`` itself), its input at its
    real (unpadded) size: ``pr_loop_sizes`` is the padded span less the padding, which ZigZag makes on chip."""
    rows = validate(table)
    rows = rows[(rows["kind"] != "") & (rows["phase"] == "forward")]
    layers = []
    for i, row in enumerate(rows.itertuples(index=False)):
        ix = row.SX * (row.OX - 1) + row.DX * (row.FX - 1) + 1
        iy = row.SY * (row.OY - 1) + row.DY * (row.FY - 1) + 1
        layers.append({
            "id": i, "name": str(row.name), "operator_type": "Conv",
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "dimension_relations": [f"ix={row.SX}*ox+{row.DX}*fx", f"iy={row.SY}*oy+{row.DY}*fy"],
            "loop_dims": list(LOOP_DIMS),
            "loop_sizes": [int(getattr(row, d)) for d in LOOP_DIMS],
            "operand_precision": {"W": weight_bits, "I": act_bits, "O": psum_bits, "O_final": output_bits},
            "operand_source": {"I": i},
            "pr_loop_dims": ["IX", "IY"],
            "pr_loop_sizes": [max(int(ix) - 2 * int(row.PX), 1), max(int(iy) - 2 * int(row.PY), 1)],
            "padding": [[int(row.PX), int(row.PX)], [int(row.PY), int(row.PY)]],
        })
    return layers


def mac_units(table: pd.DataFrame) -> pd.DataFrame:
    """The forward multiply-accumulate units of a validated layer table (what ZigZag evaluates)."""
    return table[(table["kind"] != "") & (table["phase"] == "forward")].reset_index(drop=True)


def run(table: pd.DataFrame, accelerator: str | Path, mapping: str | Path, *, lpf_limit: int = 4,
        **precision) -> tuple[pd.DataFrame, float]:
    """ZigZag's own evaluation of the forward MAC units of ``table`` (its LOMA engine, minimum energy).

    Returns:
        One row per (unit, operand, level) with the unit's position among the MAC units and its name, accesses per
        direction (words), energy (pJ), and the unit's totals (energy, MAC energy, latency in cycles, spatial
        utilisation); and the seconds ZigZag took.
    """
    try:
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError as exc:
        raise MissingExtraError("the ZigZag cross-check needs zigzag-dse and six: pip install -e '.[zigzag]'") from exc
    layers = workload(table, **precision)
    logging.disable(logging.CRITICAL)  # ZigZag configures the root logger at INFO
    try:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            _, _, cmes = get_hardware_performance_zigzag(
                layers, str(accelerator), str(mapping), opt="energy", lpf_limit=lpf_limit,
                nb_spatial_mappings_generated=1, loma_show_progress_bar=False, dump_folder=folder,
                pickle_filename=f"{folder}/cmes.pickle")
            seconds = time.perf_counter() - start
    finally:
        logging.disable(logging.NOTSET)
    rows = []
    for layer, (cme, _) in zip(layers, cmes[0][1], strict=True):
        hierarchy = {op: [lv.name for lv in cme.accelerator.memory_hierarchy.get_memory_levels(
            cme.layer.memory_operand_links.layer_to_mem_op(op))] for op in cme.mem_energy_breakdown}
        for op, energies in cme.mem_energy_breakdown.items():
            for level, energy, accesses in zip(hierarchy[op], energies, cme.memory_word_access[op], strict=True):
                moved = {str(getattr(k, "value", k)): v for k, v in accesses.data.items()}
                rows.append({"unit": layer["id"], "name": layer["name"], "operand": str(op), "level": level,
                             "energy_pj": float(energy),
                             "reads": float(moved["rd_out_to_low"] + moved["rd_out_to_high"]),
                             "writes": float(moved["wr_in_by_low"] + moved["wr_in_by_high"]),
                             "layer_energy_pj": float(cme.energy_total), "mac_energy_pj": float(cme.mac_energy),
                             "latency_cycles": float(cme.latency_total2),
                             "utilization": float(cme.mac_spatial_utilization)})
    return pd.DataFrame(rows), seconds


@dataclass
class CrossCheck:
    """This package's pricing beside ZigZag's on the same layers and hardware.

    Attributes:
        layers: per MAC unit: name, energy (MAC + memories, pJ), latency (cycles) and spatial utilisation on
            both sides, and the ratios ours / ZigZag.
        levels: per (unit, level, operand): energy, reads and writes (words) on both sides and the ratios.
        ours_s, zigzag_s: seconds each side took for the whole table.
    """

    layers: pd.DataFrame
    levels: pd.DataFrame
    ours_s: float
    zigzag_s: float

    def total_ratio(self, column: str = "energy_pj") -> float:
        """Network total ours / ZigZag of ``energy_pj`` or ``latency_cycles``."""
        return float(self.layers[f"{column}_ours"].sum() / self.layers[f"{column}_zigzag"].sum())


ZigZagRun = Callable[..., tuple[pd.DataFrame, float]]
"""What evaluates the units on ZigZag's side: :func:`run`'s signature and result (a stored run in the tests)."""


def crosscheck(table: pd.DataFrame, accelerator: str | Path, mapping: str | Path, *, lpf_limit: int = 4,
               zigzag: ZigZagRun = run) -> CrossCheck:
    """Price the forward MAC units of ``table`` here and in ZigZag, as ZigZag assumes (see the module doc).
    ``zigzag`` evaluates the units on ZigZag's side (:func:`run`: ZigZag itself)."""
    from .pricing import price

    units = mac_units(validate(table))
    start = time.perf_counter()
    ours = price(units, hw=str(accelerator), mapping=str(mapping), interlayer="dram", zero_skipping=False,
                 mapper="loma", loop_factor_limit=lpf_limit, **ZIGZAG_PRECISION)
    ours_s = time.perf_counter() - start
    theirs, zigzag_s = zigzag(units, accelerator, mapping, lpf_limit=lpf_limit, **ZIGZAG_PRECISION)
    level_energy = ours.levels.groupby("unit")["energy_pj"].sum()
    per_unit = ours.layers.set_index("unit")
    mine = pd.DataFrame({"name": units["name"].astype(str),
                         "energy_pj_ours": per_unit["mac_pj"] + level_energy.reindex(per_unit.index, fill_value=0),
                         "latency_cycles_ours": per_unit["cycles"],
                         "utilization_ours": per_unit["spatial_utilization"]})
    first = theirs.drop_duplicates("unit").set_index("unit")
    layers = mine.assign(energy_pj_zigzag=first["layer_energy_pj"], latency_cycles_zigzag=first["latency_cycles"],
                         utilization_zigzag=first["utilization"])
    for column in ("energy_pj", "latency_cycles", "utilization"):
        layers[f"{column}_ratio"] = ratio(layers[f"{column}_ours"], layers[f"{column}_zigzag"])
    keys = ["unit", "level", "operand"]
    measured = keys + ["energy_pj", "reads", "writes"]
    levels = ours.levels[measured].merge(theirs[measured], on=keys, how="outer", suffixes=("_ours", "_zigzag"))
    levels = levels.fillna(0.0)
    levels.insert(1, "name", units["name"].astype(str).to_numpy()[levels["unit"].astype(int)])
    for column in ("energy_pj", "reads", "writes"):
        levels[f"{column}_ratio"] = ratio(levels[f"{column}_ours"], levels[f"{column}_zigzag"])
    return CrossCheck(layers.reset_index(drop=True), levels, ours_s, zigzag_s)


def ratio(ours, theirs) -> np.ndarray:
    """ours / theirs, with 1 where both are zero and inf where only theirs is."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(theirs == 0, np.where(ours == 0, 1.0, np.inf), ours / theirs)
