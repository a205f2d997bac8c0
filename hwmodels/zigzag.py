"""ZigZag's (KU Leuven, PyPI ``zigzag-dse``) accelerator and mapping YAML files, read as they are with PyYAML only
(ZigZag itself is not needed; :mod:`hwmodels.zigzag_run` exports workloads to it and runs it).

Reading an accelerator: every memory becomes a :class:`~hwmodels.model.Level` (``I1`` = inputs I, ``I2`` = weights W,
``O`` = outputs), with ``r_cost``/``w_cost`` as the energy of one access of the maximum bandwidth of the port reading
out its first operand, that port's minimum bandwidth as the rounding granularity, its ports with what each carries
(``allocation``), and ``served_dimensions`` as the array dimensions one instance serves. The outermost memory of each
operand is taken as unbounded (off-chip; ZigZag's DRAM declares 10^10 bits). The array's ``unit_energy`` is the energy
of one MAC at the workload's precision; other actions are derived from it (see :mod:`hwmodels.model`). ZigZag has no
clock: 1 GHz is assumed (an estimate; cycles do not depend on it). A mapping YAML's ``default`` entry gives the spatial
unrolling."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from .model import (
    LOOP_DIMS,
    Array,
    ComputeEnergy,
    HardwareFileError,
    HardwareModel,
    Level,
    Port,
    Validator,
    check_hierarchy,
    check_ports,
    unroll_spec,
)

OPERAND_NAMES = {"I1": "I", "I2": "W", "O": "O"}
PORT_DIRECTIONS = {"read": ("tl", "th"), "write": ("fh", "fl"), "read_write": ("fh", "tl", "fl", "th")}
"""The directions (:data:`hwmodels.model.DIRECTIONS`) each kind of ZigZag port may carry."""
"""ZigZag's memory operands -> this package's operands (I1 inputs, I2 weights, O outputs)."""
ASSUMED_CLOCK_MHZ = 1000.0


MAX_YAML_NODES = 200_000
"""The most nodes a hardware or mapping YAML may expand to (aliases counted at every use): a small file whose
aliases expand exponentially (an alias bomb) is refused before it is built."""


def parse_yaml(path: Path):
    """The parsed contents of a YAML file (PyYAML's safe loader: plain data only), refused in one line when not
    YAML or when its aliases expand beyond :data:`MAX_YAML_NODES` nodes."""
    import yaml

    if not path.is_file():
        raise HardwareFileError(f"{path}: file not found; expected a ZigZag YAML file")
    try:
        # libyaml's safe loader where PyYAML has it (same safety, several times faster)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(path.read_bytes().decode("utf-8"))
        try:
            node = loader.get_single_node()
            if node is not None and expanded_nodes(node) > MAX_YAML_NODES:
                raise HardwareFileError(f"{path}: aliases expand to more than {MAX_YAML_NODES:,} nodes; expected a "
                                        "hardware description (an alias bomb?)")
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise HardwareFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def expanded_nodes(root) -> int:
    """Nodes of a composed YAML document with every alias expanded, counted without expanding (shared nodes are
    counted once per use); stops early past :data:`MAX_YAML_NODES`."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        value = node.value
        children = ([n for pair in value for n in pair] if isinstance(value, list) and value and isinstance(
            value[0], tuple) else value if isinstance(value, list) else [])
        if children_done or not children:
            visiting.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            continue
        if id(node) in visiting:  # a recursive alias: a node inside itself
            return MAX_YAML_NODES + 1
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def unrolling_pairs(read: Validator, dim: str, loops, dims: tuple[str, ...] | None) -> tuple[tuple[str, int], ...]:
    """The (loop, unrolling) pairs of one array dimension's ``spatial_mapping`` entry (a list of 'LOOP, size')."""
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
    return tuple(pairs)


def read_mapping(path: str | Path, dims: tuple[str, ...] | None = None) -> tuple[tuple[tuple[str, int], ...], ...]:
    """The (loop, unrolling) pairs each array dimension unrolls, from a ZigZag mapping YAML's ``default`` entry (in
    the order of ``dims``, or of the entry itself).

    Raises:
        HardwareFileError: no default entry, a dimension that is not one of ``dims``, or a loop dimension that is
            not one of B, K, C, G, OY, OX, FY, FX; one line naming the file and the field.
    """
    path = Path(path)
    data = parse_yaml(path)
    read = Validator(path)
    if not isinstance(data, list):
        read.fail("(top level)", "a list of mapping entries", type(data).__name__)
    entries = {e.get("name"): e for e in data if isinstance(e, dict)}
    entry = entries.get("default") or entries.get("Conv")
    if entry is None:
        read.fail("default", "an entry named 'default' with a spatial_mapping")
    spatial = read.get(entry, "spatial_mapping", "default", dict, "a table of array dimension -> ['LOOP, size']")
    unroll = {dim: unrolling_pairs(read, dim, loops, dims) for dim, loops in spatial.items()}
    order = dims or tuple(unroll)
    missing = [d for d in order if d not in unroll]
    if missing:
        read.fail(f"default.spatial_mapping.{missing[0]}", "an unrolling for every array dimension")
    return tuple(unroll[d] for d in order)


def memory_ports(read: Validator, memory: dict, where: str,
                 operands: list[str]) -> tuple[tuple[Port, ...], tuple[int, int]]:
    """The memory's ports with what each carries (its ``allocation`` of ``"OPERAND, direction"`` entries), and the
    (minimum, maximum) bandwidth of the port reading out its first operand (the level's access width)."""
    ports, widths = [], {}
    for i, port in enumerate(read.get(memory, "ports", where, list, "a list of ports")):
        at = f"{where}.ports[{i}]"
        kind = read.get(port, "type", at, str, "read, write or read_write")
        if kind not in PORT_DIRECTIONS:
            read.fail(f"{at}.type", "read, write or read_write", kind)
        low = read.get(port, "bandwidth_min", at, int, "bits per cycle")
        high = read.get(port, "bandwidth_max", at, int, "bits per cycle")
        if low <= 0 or high < low:
            read.fail(f"{at}.bandwidth_min", f"a positive number of bits no larger than bandwidth_max ({high})", low)
        serves = set()
        for j, entry in enumerate(read.get(port, "allocation", at, list, "a list of 'OPERAND, direction' entries")):
            parts = [p.strip() for p in entry.split(",")] if isinstance(entry, str) else []
            if len(parts) != 2 or parts[0] not in operands or parts[1] not in PORT_DIRECTIONS[kind]:
                read.fail(f"{at}.allocation[{j}]", f"'OPERAND, direction' with an operand among {', '.join(operands)} "
                          f"and a direction among {', '.join(PORT_DIRECTIONS[kind])} (a {kind} port)", entry)
            serves.add((OPERAND_NAMES[parts[0]], parts[1]))
            widths.setdefault((parts[0], parts[1]), (low, high))
        ports.append(Port(str(port.get("name", f"port{i}")), float(high), frozenset(serves)))
    first = operands[0]
    for direction in ("tl", "fh"):
        if (first, direction) in widths:
            return tuple(ports), widths[(first, direction)]
    read.fail(f"{where}.ports", f"a port reading or writing operand {first}")


def read_memory(read: Validator, name: str, memory: dict, dims: tuple, path: Path) -> Level:
    """One ``memories`` entry as a :class:`Level` (its capacity, per-access energies, operands, ports)."""
    where = f"memories.{name}"
    operands = read.get(memory, "operands", where, list, "a list among I1, I2, O")
    if not operands or any(op not in OPERAND_NAMES for op in operands):
        read.fail(f"{where}.operands", "a non-empty list among I1, I2, O", operands)
    size = read.get(memory, "size", where, int, "the capacity in bits")
    if size <= 0:
        read.fail(f"{where}.size", "a positive capacity in bits", size)
    served = tuple(read.get(memory, "served_dimensions", where, list, f"array dimensions among {dims}"))
    if any(d not in dims for d in served):
        read.fail(f"{where}.served_dimensions", f"dimensions among {', '.join(dims)}", list(served))
    ports, (low, high) = memory_ports(read, memory, where, operands)
    return Level(name=name, operands=frozenset(OPERAND_NAMES[o] for o in operands), size_bits=float(size),
                 read_energy=float(read.nonnegative(memory, "r_cost", where, "pJ per read")),
                 write_energy=float(read.nonnegative(memory, "w_cost", where, "pJ per write")),
                 word_bits=high, min_bits=low, ports=ports, served_dims=served, source=f"{path.name}: memories.{name}")


def read_accelerator(path: str | Path, mapping: str | Path | None = None) -> HardwareModel:
    """A :class:`HardwareModel` from a ZigZag accelerator YAML, with the spatial unrolling of ``mapping`` (a ZigZag
    mapping YAML) or, without one, ZigZag's default order K, C, OX, OY over the array dimensions.

    Raises:
        HardwareFileError: a missing memory table or field, an operand held by no memory, a port without
            bandwidths, a mapping naming a missing dimension; one line naming the file and the field.
    """
    path = Path(path)
    data = parse_yaml(path)
    read = Validator(path)
    if not isinstance(data, dict):
        read.fail("(top level)", "a table with name, memories and operational_array", type(data).__name__)
    array_table = read.get(data, "operational_array", "", dict, "a table with dimensions, sizes and unit_energy")
    dims = tuple(read.get(array_table, "dimensions", "operational_array", list, "a list like [D1, D2]"))
    sizes = tuple(read.get(array_table, "sizes", "operational_array", list, "one PE count per dimension"))
    if len(sizes) != len(dims) or any(not isinstance(s, int) or s < 1 for s in sizes):
        read.fail("operational_array.sizes", f"{len(dims)} positive integers", list(sizes))
    unit_energy = read.nonnegative(array_table, "unit_energy", "operational_array", "pJ per MAC")
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
    levels = [read_memory(read, name, memory, dims, path) for name, memory in memories.items()]
    for operand, label in (("W", "I2 (weights)"), ("I", "I1 (inputs)"), ("O", "O (outputs)")):
        if not any(operand in lv.operands for lv in levels):
            read.fail("memories", f"a memory holding operand {label}", f"operand {label} held by no memory")
    top = max(levels, key=lambda lv: (len(lv.operands), lv.size_bits))
    levels = [replace(lv, size_bits=math.inf) if lv is top else lv for lv in levels]
    notes.append(f"level {top.name}: capacity {int(top.size_bits)} bits taken as unbounded (off-chip)")
    check_hierarchy(read, tuple(levels), "memories")
    check_ports(read, levels, "memories", {"W": "I2", "I": "I1", "O": "O"})
    compute = (ComputeEnergy("int8", "mac", float(unit_energy), f"{path.name}: operational_array.unit_energy"),)
    return HardwareModel(name=str(data.get("name", path.stem)), description=f"ZigZag accelerator {path.name}",
                         technology_nm=math.nan, unit="pj", clock_mhz=ASSUMED_CLOCK_MHZ,
                         array=Array(dims, sizes, unroll, systolic, f"{path.name}: operational_array"),
                         levels=tuple(levels), compute=compute, path=path, provenance=tuple(notes))
