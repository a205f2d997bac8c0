"""ZigZag (KU Leuven, PyPI ``zigzag-dse``) interoperability, torch-free: read its accelerator and mapping YAML files
as they are (PyYAML only), export a layer table as a ZigZag workload, and run ZigZag on it for a cross-check when
it is installed (``pip install -e '.[zigzag]'``).

Reading an accelerator: every memory becomes a :class:`~hwmodels.model.Level` (``I1`` = inputs I, ``I2`` =
weights W, ``O`` = outputs), with ``r_cost``/``w_cost`` as the energy of one access of its read/write port's
maximum bandwidth, the port's minimum bandwidth as the rounding granularity, and ``served_dimensions`` as the array
dimensions one instance serves. The outermost memory of each operand is taken as unbounded (off-chip; ZigZag's
DRAM declares 10^10 bits). The array's ``unit_energy`` is the energy of one MAC at the workload's precision; other
actions are derived from it (see :mod:`hwmodels.model`). ZigZag has no clock: 1 GHz is assumed (an estimate; cycles
do not depend on it). A mapping YAML's ``default`` entry gives the spatial unrolling.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .model import (
    LOOP_DIMS,
    Array,
    ComputeEnergy,
    HardwareFileError,
    HardwareModel,
    Level,
    check_hierarchy,
    unroll_spec,
)

OPERAND_NAMES = {"I1": "I", "I2": "W", "O": "O"}
"""ZigZag's memory operands -> this package's operands (I1 inputs, I2 weights, O outputs)."""
ASSUMED_CLOCK_MHZ = 1000.0


class Reader:
    """Typed access to a parsed YAML document, failing with one line that names the file and the field."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, expected: str, got=None) -> None:
        found = "missing" if got is None else f"got {got!r}"
        raise HardwareFileError(f"{self.path}: {field}: {found}; expected {expected}")

    def get(self, table, key: str, where: str, kind, expected: str, default=...):
        if not isinstance(table, dict) or key not in table:
            if default is not ...:
                return default
            self.fail(f"{where}.{key}" if where else key, expected)
        value = table[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            self.fail(f"{where}.{key}" if where else key, expected, value)
        return value


def parse_yaml(path: Path):
    import yaml

    if not path.is_file():
        raise HardwareFileError(f"{path}: file not found; expected a ZigZag YAML file")
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise HardwareFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def read_mapping(path: str | Path, dims: tuple[str, ...] | None = None) -> tuple[tuple[tuple[str, int], ...], ...]:
    """The (loop, unrolling) pairs each array dimension unrolls, from a ZigZag mapping YAML's ``default`` entry (in
    the order of ``dims``, or of the entry itself).

    Raises:
        HardwareFileError: no default entry, a dimension that is not one of ``dims``, or a loop dimension that is
            not one of B, K, C, G, OY, OX, FY, FX; one line naming the file and the field.
    """
    path = Path(path)
    data = parse_yaml(path)
    read = Reader(path)
    if not isinstance(data, list):
        read.fail("(top level)", "a list of mapping entries", type(data).__name__)
    entries = {e.get("name"): e for e in data if isinstance(e, dict)}
    entry = entries.get("default") or entries.get("Conv")
    if entry is None:
        read.fail("default", "an entry named 'default' with a spatial_mapping")
    spatial = read.get(entry, "spatial_mapping", "default", dict, "a table of array dimension -> ['LOOP, size']")
    unroll = {}
    for dim, loops in spatial.items():
        where = f"default.spatial_mapping.{dim}"
        if dims is not None and dim not in dims:
            read.fail(where, f"an array dimension of the accelerator ({', '.join(dims)})", dim)
        if not isinstance(loops, list) or not loops or not all(isinstance(x, str) for x in loops):
            read.fail(where, "a list of 'LOOP, size' entries", loops)
        pairs = []
        for entry_text in loops:
            loop, _, size = (part.strip() for part in entry_text.partition(","))
            if loop not in LOOP_DIMS:
                read.fail(where, f"a loop dimension among {', '.join(LOOP_DIMS)}", loop)
            if not size.isdigit() or int(size) < 1:
                read.fail(where, "'LOOP, size' with a positive integer size", entry_text)
            pairs.append((loop, int(size)))
        unroll[dim] = tuple(pairs)
    order = dims or tuple(unroll)
    missing = [d for d in order if d not in unroll]
    if missing:
        read.fail(f"default.spatial_mapping.{missing[0]}", "an unrolling for every array dimension")
    return tuple(unroll[d] for d in order)


def port_widths(read: Reader, memory: dict, where: str, operands: list[str]) -> dict[str, tuple[int, int]]:
    """(minimum, maximum) bandwidth of the ports that read out ('r') and write in ('w') the memory's operands."""
    widths: dict[str, tuple[int, int]] = {}
    ports = read.get(memory, "ports", where, list, "a list of ports")
    for i, port in enumerate(ports):
        at = f"{where}.ports[{i}]"
        kind = read.get(port, "type", at, str, "read, write or read_write")
        low = read.get(port, "bandwidth_min", at, int, "bits per cycle")
        high = read.get(port, "bandwidth_max", at, int, "bits per cycle")
        if low <= 0 or high < low:
            read.fail(f"{at}.bandwidth_min", f"a positive number of bits no larger than bandwidth_max ({high})", low)
        for direction in ("r", "w"):
            if direction in kind.replace("read", "r").replace("write", "w").split("_"):
                widths.setdefault(direction, (low, high))
    for direction, meaning in (("r", "a read port"), ("w", "a write port")):
        if direction not in widths:
            read.fail(f"{where}.ports", meaning, [p.get("type") for p in ports])
    return widths


def read_accelerator(path: str | Path, mapping: str | Path | None = None) -> HardwareModel:
    """A :class:`HardwareModel` from a ZigZag accelerator YAML, with the spatial unrolling of ``mapping`` (a ZigZag
    mapping YAML) or, without one, ZigZag's default order K, C, OX, OY over the array dimensions.

    Raises:
        HardwareFileError: a missing memory table or field, an operand held by no memory, a port without
            bandwidths, a mapping naming a missing dimension; one line naming the file and the field.
    """
    path = Path(path)
    data = parse_yaml(path)
    read = Reader(path)
    if not isinstance(data, dict):
        read.fail("(top level)", "a table with name, memories and operational_array", type(data).__name__)
    array_table = read.get(data, "operational_array", "", dict, "a table with dimensions, sizes and unit_energy")
    dims = tuple(read.get(array_table, "dimensions", "operational_array", list, "a list like [D1, D2]"))
    sizes = tuple(read.get(array_table, "sizes", "operational_array", list, "one PE count per dimension"))
    if len(sizes) != len(dims) or any(not isinstance(s, int) or s < 1 for s in sizes):
        read.fail("operational_array.sizes", f"{len(dims)} positive integers", list(sizes))
    unit_energy = read.get(array_table, "unit_energy", "operational_array", (int, float), "pJ per MAC")
    notes = [f"clock: {ASSUMED_CLOCK_MHZ:g} MHz assumed (ZigZag files have no clock; cycles do not depend on it)"]
    if mapping is not None:
        unroll = read_mapping(mapping, dims)
    else:
        unroll = unroll_spec(("K", "C", "OX", "OY")[:len(dims)], sizes)
        notes.append(f"spatial unrolling: ZigZag's default order {', '.join(('K', 'C', 'OX', 'OY')[:len(dims)])} "
                     "(no mapping file given)")
    systolic = tuple(read.get(array_table, "systolic_dimensions", "operational_array", list, "dimensions", []))
    memories = read.get(data, "memories", "", dict, "a table of memories")
    if not memories:
        read.fail("memories", "at least one memory")
    levels = []
    for name, memory in memories.items():
        where = f"memories.{name}"
        operands = read.get(memory, "operands", where, list, "a list among I1, I2, O")
        if not operands or any(op not in OPERAND_NAMES for op in operands):
            read.fail(f"{where}.operands", "a non-empty list among I1, I2, O", operands)
        size = read.get(memory, "size", where, int, "the capacity in bits")
        served = tuple(read.get(memory, "served_dimensions", where, list, f"array dimensions among {dims}"))
        if any(d not in dims for d in served):
            read.fail(f"{where}.served_dimensions", f"dimensions among {', '.join(dims)}", list(served))
        widths = port_widths(read, memory, where, operands)
        shared = any(isinstance(port, dict) and port.get("type") == "read_write" for port in memory["ports"])
        (read_min, read_max), (write_min, write_max) = widths["r"], widths["w"]
        if (read_min, read_max) != (write_min, write_max):
            notes.append(f"level {name}: write port {write_min}-{write_max} bits, read port {read_min}-{read_max} "
                         "bits; the read port's widths are used for both")
        levels.append(Level(name=name, operands=frozenset(OPERAND_NAMES[o] for o in operands), size_bits=float(size),
                            read_energy=float(read.get(memory, "r_cost", where, (int, float), "pJ per read")),
                            write_energy=float(read.get(memory, "w_cost", where, (int, float), "pJ per write")),
                            word_bits=read_max, min_bits=read_min, bandwidth_bits=float(read_max),
                            served_dims=served, shared_port=shared, source=f"{path.name}: memories.{name}"))
    for operand, label in (("W", "I2 (weights)"), ("I", "I1 (inputs)"), ("O", "O (outputs)")):
        if not any(operand in lv.operands for lv in levels):
            read.fail("memories", f"a memory holding operand {label}", f"operand {label} held by no memory")
    top = max(levels, key=lambda lv: (len(lv.operands), lv.size_bits))
    levels = [replace(lv, size_bits=math.inf) if lv is top else lv for lv in levels]
    notes.append(f"level {top.name}: capacity {int(top.size_bits)} bits taken as unbounded (off-chip)")
    check_hierarchy(read, tuple(levels), "memories")
    compute = (ComputeEnergy("int8", "mac", float(unit_energy), f"{path.name}: operational_array.unit_energy"),)
    return HardwareModel(name=str(data.get("name", path.stem)), description=f"ZigZag accelerator {path.name}",
                         technology_nm=math.nan, unit="pj", clock_mhz=ASSUMED_CLOCK_MHZ,
                         array=Array(dims, sizes, unroll, systolic, f"{path.name}: operational_array"),
                         levels=tuple(levels), compute=compute, path=path, provenance=tuple(notes))


def workload(table: pd.DataFrame, *, weight_bits: int = 8, act_bits: int = 8, psum_bits: int = 16,
             output_bits: int = 8) -> list[dict]:
    """The forward multiply-accumulate units of a layer table (``hwmodels.layers``) as a ZigZag workload: its
    list-of-layer-dicts form, every layer reading its input from DRAM (``operand_source`` itself)."""
    from .layers import validate

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
            "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [int(ix), int(iy)],
            "padding": [[int(row.PX), int(row.PX)], [int(row.PY), int(row.PY)]],
        })
    return layers


def run(table: pd.DataFrame, accelerator: str | Path, mapping: str | Path, *, lpf_limit: int = 4,
        **precision) -> tuple[pd.DataFrame, float]:
    """ZigZag's own evaluation of the forward MAC units of ``table`` (its LOMA engine, minimum energy): one row per
    (layer, operand, level) with accesses per direction and energy, the layer's totals, latency and utilisation,
    and the seconds ZigZag took. Needs ``zigzag-dse`` (and ``six``)."""
    import logging

    try:
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError as exc:
        raise ImportError("the ZigZag cross-check needs zigzag-dse: pip install -e '.[zigzag]'") from exc
    layers = workload(table, **precision)
    logging.disable(logging.CRITICAL)  # ZigZag configures the root logger at INFO
    try:
        import tempfile

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
                directions = {str(k.value) if hasattr(k, "value") else str(k): v for k, v in accesses.data.items()}
                rows.append({"name": layer["name"], "operand": {"W": "W", "I": "I", "O": "O"}[str(op)],
                             "level": level, "energy_pj": float(energy),
                             "reads": float(directions["rd_out_to_low"] + directions["rd_out_to_high"]),
                             "writes": float(directions["wr_in_by_low"] + directions["wr_in_by_high"]),
                             "layer_energy_pj": float(cme.energy_total), "mac_energy_pj": float(cme.mac_energy),
                             "latency_cycles": float(cme.latency_total2), "ideal_cycles": float(cme.ideal_cycle),
                             "utilization": float(cme.mac_spatial_utilization)})
    return pd.DataFrame(rows), seconds


def ratio(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """ours / theirs, with 1 where both are zero and inf where only theirs is."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(theirs == 0, np.where(ours == 0, 1.0, np.inf), ours / theirs)
