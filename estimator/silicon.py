"""This tool's prices of AlexNet on ``eyeriss65`` beside the measured Eyeriss chip (Chen et al., JSSC 2017,
Table V; ``estimator/literature/eyeriss_jssc17_table5.csv`` with its citation).

The chip ran Caffe's AlexNet CONV1-5 at batch 4 with 16-bit data in its row-stationary dataflow, each layer reading
its input from DRAM and writing its output there. Nothing is taken from the measurement: every figure here is this
tool's own and is compared, never fitted, but for one stated scale:

* global-buffer and DRAM accesses (MB per batch, 10^6 bytes), latency (ms per batch at the 200 MHz clock) and
  active PEs (spatial utilisation of the 168);
* on-chip energy per MAC: the preset is normalised to a 16-bit MAC (JSSC's own unit), so the comparison is the
  correlation over the five layers and the one scale, pJ per MAC unit, that fits them best by least squares (a fit,
  labelled as one).

The activations have the chip's measured densities: each layer's input density is 1 - Table V's input zeros, its
output density the next layer's input density, and CONV5's output density is taken equal to its input density (an
assumption: Table V stops at CONV5). ``eyeriss65`` declares what the chip does with them: zero inputs gate the MAC
and the weight read, and activations cross DRAM run-length coded (``act_sparsity=False`` prices them dense). The
weights are a random initialisation (no trained AlexNet weights here); the chip does not exploit weight zeros, so
their values do not change a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .literature import load

EYERISS_TABLE5 = "eyeriss_jssc17_table5"
"""The measured chip's per-layer table (:func:`estimator.literature.load` it; its citation is in the file)."""
PRICING = {"hw": "eyeriss65", "mac_energy_pj": 1.0, "weight_bits": 16, "act_bits": 16, "psum_bits": 16,
           "output_bits": 16, "interlayer": "dram"}
"""How the chip ran: 16-bit fixed point throughout, every layer's input and output through DRAM (energies stay in
units of a 16-bit MAC: ``mac_energy_pj`` 1)."""
BATCH = 4
MB = 1e6
"""Bytes per MB (Table V does not say 10^6 or 2^20: 4.6% apart)."""
CSV_COLUMNS = ("layer", "gb_mb", "gb_mb_chip", "dram_mb", "dram_mb_chip", "latency_ms", "latency_ms_chip",
               "pj_per_mac", "pj_per_mac_chip")
"""The columns of ``benchmarks/validate_eyeriss.py --csv`` (``_chip``: Table V's, unaltered)."""


def level_megabytes(levels: pd.DataFrame, layer: str, level: str, word_bits: int) -> float:
    """Reads plus writes of one layer at one level, MB."""
    rows = levels[(levels["name"] == layer) & (levels["level"] == level)]
    return float((rows["reads"].sum() + rows["writes"].sum()) * word_bits / 8 / MB)


def eyeriss_comparison(**overrides) -> pd.DataFrame:
    """Per AlexNet conv layer: this tool's global-buffer and DRAM traffic (MB), latency (ms), active PEs and
    on-chip energy per MAC (MAC units) beside the chip's, with ratios ours / chip. ``overrides``: pricing
    parameters changed from :data:`PRICING` (e.g. ``mapper="loma"``)."""
    from hwmodels import price
    from hwmodels.registry import resolve

    from .counting import profile
    from .models import create
    from .workload import layer_table

    chip = load(EYERISS_TABLE5)
    prof = profile(create("alexnet_caffe"), input_shape=(BATCH, 3, 227, 227), densities=chip_densities(chip))
    pricing = PRICING | overrides
    table = price(layer_table(prof), **pricing)
    hw = resolve(pricing["hw"])
    words = {lv.name: lv.word_bits for lv in hw.levels}
    pes = int(np.prod(hw.array.sizes))
    rows = []
    for i, measured in chip.iterrows():
        name = f"conv{i + 1}"
        layer = table.layers[table.layers["name"] == name].iloc[0]
        macs = float(prof.layers.loc[name, "macs"])
        rows.append({
            "layer": measured["layer"], "gmacs": macs / 1e9, "gmacs_chip": measured["macs_g"],
            "active_pes": round(float(layer["spatial_utilization"]) * pes), "active_pes_chip": measured["active_pes"],
            "gb_mb": level_megabytes(table.levels, name, "glb", words["glb"]), "gb_mb_chip": measured["gb_accesses_mb"],
            "dram_mb": level_megabytes(table.levels, name, "dram", words["dram"]),
            "dram_mb_chip": measured["dram_accesses_mb"],
            "latency_ms": float(layer["latency_s"]) * 1e3, "latency_ms_chip": measured["processing_latency_ms"],
            "onchip_mac_units_per_mac": float(layer["energy_pj"] - layer["dram_pj"]) / macs,
            "pj_per_mac_chip": measured["power_mw"] * measured["processing_latency_ms"] / 1e3 / measured["macs_g"]})
    out = pd.DataFrame(rows)
    for column in ("gb_mb", "dram_mb", "latency_ms"):
        out[f"{column}_ratio"] = out[column] / out[f"{column}_chip"]
    correlation, scale = energy_agreement(out)
    out["pj_per_mac"] = out["onchip_mac_units_per_mac"] * scale
    out.attrs.update(correlation=correlation, pj_per_mac_unit=scale)
    return out


def chip_densities(chip: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per AlexNet conv layer (``conv1``..``conv5``), input and output densities from Table V's input zeros: a
    layer's output density is the next layer's input density; the last layer's is its own input density (an
    assumption)."""
    inputs = (1.0 - chip["ifmap_zeros_pct"].to_numpy() / 100.0).tolist()
    outputs = inputs[1:] + inputs[-1:]
    return {f"conv{i + 1}": {"input": d_in, "output": d_out}
            for i, (d_in, d_out) in enumerate(zip(inputs, outputs, strict=True))}


def energy_agreement(comparison: pd.DataFrame) -> tuple[float, float]:
    """The correlation of this tool's on-chip energy per MAC with the chip's over the layers, and the least-squares
    scale (pJ per MAC unit) from one to the other: a fit, not a prediction."""
    ours = comparison["onchip_mac_units_per_mac"].to_numpy()
    chip = comparison["pj_per_mac_chip"].to_numpy()
    return float(np.corrcoef(ours, chip)[0, 1]), float(ours @ chip / (ours @ ours))
