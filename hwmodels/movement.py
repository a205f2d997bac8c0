"""Data movement: accesses per memory level per layer, from tensor sizes, bit widths, non-zeros and the
weight storage format. Vectorised: configuration parameters are columns (K, 1), layer quantities rows (1, L).

Assumptions are parameters, not constants:

Weight storage (read from DRAM once per inference):
    dense:        elements x weight_bits
    unstructured: nnz x (weight_bits + index_bits) + (rows + 1) x pointer_bits, index_bits = ceil(log2 row_len),
                  pointer_bits = ceil(log2 (nnz + 1)) (CSR over kernels for conv, over output rows for linear)
    periodic:     nnz x weight_bits + pattern_table_bits (the mask follows from a rule; no per-weight index)
    A periodic layer is stored periodically; any other is stored in the smaller of dense and unstructured.
    Other parameters (bias, folded BatchNorm scale and shift) are stored dense. A layer whose weights come
    from a codebook (``weight_code_bits`` > 0, e.g. dyadic candidates) stores min(weight_bits, code bits) per
    weight. NB: per-channel scales of such layers are not charged.

Activations, tiling rule: a layer whose working set (weights + input + output bits) fits the on-chip buffer
keeps its activations on chip (no DRAM activation traffic). Otherwise half of the buffer holds a weight tile
and the input is streamed from DRAM once per weight tile, the output written once:
    dram_act_bits = in_bits x ceil(weight_bits / (buffer_bits / 2)) + out_bits.
NB: the network's own input and output are not charged; the tiling ignores halo re-reads.

On-chip accesses (M = MACs done: nz_macs when zero_skipping, else macs; a spatial array of R x C PEs,
pe_rows x pe_cols; one buffer read is broadcast along a PE row or column, and partial sums are forwarded
through the array before they return to the buffer):
    ws (weight-stationary): a weight is loaded into a PE register file once and used from there; inputs are
    broadcast to the C PEs of a row; partial sums accumulate down the R PEs of a column:
        rf    = M weight reads;
        sram  = W weight reads (W = weights used) + M / C input reads + 2 M / R partial-sum reads and writes.
    os (output-stationary): a partial sum stays in its PE's register file until the output is done; weights
    are broadcast to the R PEs of a column and inputs to the C PEs of a row:
        rf    = 2 M partial-sum reads and writes;
        sram  = M / R weight reads + M / C input reads + O output writes.
    Layers without MACs (normalisation, activation, pooling) read their input and write their output through
    the buffer: sram = in_elems + out_elems, rf = 0.
Words are weight_bits, act_bits or psum_bits wide as named; energy per bit is linear within an access.
NB: a first-order model (no halo, edge or utilisation effects); Timeloop/ZigZag search mappings instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DATAFLOWS = {"ws": "weight-stationary", "os": "output-stationary"}


def row(layers: pd.DataFrame, name: str) -> np.ndarray:
    """A layer quantity as a float (1, L) row."""
    return layers[name].to_numpy(dtype=np.float64)[None, :]


def config_column(values, dtype=np.float64) -> np.ndarray:
    """A configuration parameter as a (K, 1) column."""
    return np.asarray(values, dtype=dtype)[:, None]


def weight_storage_bits(layers: pd.DataFrame, weight_bits: np.ndarray) -> dict[str, np.ndarray]:
    """Bits of each layer's weights in dense, unstructured and periodic form, and the form used, (K, L)."""
    elems, nnz = row(layers, "weight_elems"), row(layers, "weight_nnz")
    rows, row_len = row(layers, "weight_rows"), row(layers, "weight_row_len")
    index_bits = np.ceil(np.log2(np.maximum(row_len, 2)))
    pointer_bits = np.ceil(np.log2(nnz + 2))
    dense = elems * weight_bits
    unstructured = nnz * (weight_bits + index_bits) + (rows + 1) * pointer_bits * (elems > 0)
    periodic_table = row(layers, "pattern_table_bits")
    periodic = nnz * weight_bits + periodic_table
    is_periodic = (layers["weight_format"].to_numpy() == "periodic")[None, :]
    stored = np.where(is_periodic, periodic, np.minimum(dense, unstructured))
    form = np.where(is_periodic, "periodic", np.where(unstructured < dense, "unstructured", "dense"))
    return {"dense": dense, "unstructured": unstructured, "periodic": periodic, "stored": stored, "form": form}


def movement(layers: pd.DataFrame, *, weight_bits, act_bits, psum_bits, buffer_kib, dataflow, zero_skipping,
             pe_rows, pe_cols) -> dict[str, np.ndarray]:
    """Per-configuration, per-layer traffic in bits at each level, shape (K, L).

    Args:
        layers: a profile's layer table.
        weight_bits, act_bits, psum_bits: word widths, arrays of shape (K,).
        buffer_kib: on-chip buffer capacity in KiB, (K,).
        dataflow: "ws" or "os" per configuration, (K,).
        zero_skipping: whether zero weights are skipped (work and weight reads), (K,).
        pe_rows, pe_cols: the PE array's size, (K,).
    """
    wb, ab, pb = (config_column(v) for v in (weight_bits, act_bits, psum_bits))
    buffer_bits = config_column(buffer_kib) * 8192
    skip = config_column(zero_skipping, bool)
    rows_pe, cols_pe = config_column(pe_rows), config_column(pe_cols)
    ws = config_column(dataflow, object) == "ws"

    code_bits = row(layers, "weight_code_bits") if "weight_code_bits" in layers else np.zeros((1, len(layers)))
    word = np.where(code_bits > 0, np.minimum(wb, code_bits), wb)  # weight word per (config, layer)
    storage = weight_storage_bits(layers, word)
    other_params = np.maximum(row(layers, "params") - row(layers, "weight_elems"), 0) * wb
    weight_dram = storage["stored"] + other_params
    in_bits, out_bits = row(layers, "in_elems") * ab, row(layers, "out_elems") * ab
    fits = weight_dram + in_bits + out_bits <= buffer_bits
    weight_passes = np.maximum(1, np.ceil(weight_dram / (buffer_bits / 2)))
    act_dram = np.where(fits, 0.0, in_bits * weight_passes + out_bits)

    macs = np.where(skip, row(layers, "nz_macs"), row(layers, "macs"))
    weights_used = np.where(skip, row(layers, "weight_nnz"), row(layers, "weight_elems"))
    has_macs = macs > 0
    ws_sram = weights_used * word + macs / cols_pe * ab + 2 * macs / rows_pe * pb
    os_sram = macs / rows_pe * word + macs / cols_pe * ab + row(layers, "out_elems") * ab
    passthrough = (row(layers, "in_elems") + row(layers, "out_elems")) * ab
    sram = np.where(has_macs, np.where(ws, ws_sram, os_sram), passthrough)
    rf = np.where(has_macs, np.where(ws, macs * word, 2 * macs * pb), 0.0)
    shape = sram.shape
    return {"dram_weight_bits": np.broadcast_to(weight_dram, shape), "dram_act_bits": act_dram,
            "dram_bits": weight_dram + act_dram, "sram_bits": sram, "rf_bits": rf,
            "fits_on_chip": np.broadcast_to(fits, shape), "weight_storage": np.broadcast_to(storage["form"], shape)}
