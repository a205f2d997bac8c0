"""HardwareModel: a memory hierarchy, a PE array, a clock and per-action energies, loaded from a validated file.

Numbers live in the preset files with their sources; this module combines what :mod:`hwmodels.file_format` declares
and validates key by key, checks what spans several keys, and derives. A description has:

* ``[[level]]`` rows, the memory hierarchy: a name, the operands it holds (W weights, I inputs, O outputs and partial
  sums), its capacity, read and write energies per access of ``word_bits``, the granularity transfers are rounded up to
  (``min_bits``), its ports (a read and a write port of ``bandwidth_bits`` bits per cycle each, or one port shared by
  reads and writes with ``shared_port``; ZigZag files name their ports), and the PE-array dimensions one instance serves
  (none: one instance per PE). Each operand's levels, smallest first, are its hierarchy; the largest (off-chip) level
  holds everything.
* ``[array]``: the PE array's dimensions and sizes, the loop dimension each unrolls (its native dataflow), and the
  dimensions along which it is systolic.
* ``[[compute]]`` rows: energy per arithmetic action and number format.
* ``[model]``: name, node, clock.
* a level's ``compression`` (``rlc`` or ``zvc``, the off-chip level only): activations cross it compressed.
* ``[order]`` (optional): the loop order the array's dataflow imposes on the innermost temporal loops
  (:mod:`hwmodels.order`), which the ``exact`` mapper honours.
* ``[sparsity]`` (optional): the operands whose zeros the PEs gate (``gate``, energy only) or skip (``skip``, energy
  and cycles), :mod:`hwmodels.sparsity`; without it zero weights are skipped and activations are dense.

Where the compute table has no value for an action and width, it is derived by a stated rule and flagged:

1. the same action at another width of the same family (int/fp), scaled from the nearest width:
   adders, shifters and comparators linearly in width, multipliers quadratically;
2. ``mac`` = ``mult`` + ``add``;
3. ``compare`` = ``add`` (a comparison is a subtraction);
4. ``shift`` = ``add`` when the family has no shift at any width (ShiftAddNet: a shift costs about an add);
5. ``other`` (exp, division, ...) = ``mult``, a lower bound;
6. where only a MAC energy is given (ZigZag files): ``mult`` and ``add`` split it as Horowitz's 8-bit multiply and
   add do (0.2 : 0.03), and a MAC at another width scales its multiply part quadratically, its add part linearly.

A level resized by a sweep (``buffer_kib``) keeps its energy per bit scaled by the file's ``[[sram_size]]`` table
(log-log interpolation between its sizes, extrapolated along the end segments), or, without one, by the square
root of the capacity ratio; either way the value is flagged as derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError
from .file_format import (
    ACTIONS,
    ARRAY,
    COMPUTE,
    DIRECTIONS,
    FILE,
    FORMAT_PATTERN,
    LEVEL,
    MODEL,
    OPERANDS,
    ORDER,
    PORT,
    SPARSITY,
    SRAM_SIZE,
    HardwareFileError,
    Validator,
)
from .layers import LOOP_DIMS
from .order import LoopOrder
from .parameters import MAX_PES
from .sparsity import NO_COMPRESSION, Compression, Sparsity

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

WIDTH_EXPONENT = {"mult": 2, "add": 1, "shift": 1, "compare": 1, "other": 2}
MAC_SPLIT = {"mult": 0.2 / 0.23, "add": 0.03 / 0.23}
"""Shares of a MAC's energy in its multiply and its add where only a MAC energy is given (Horowitz ISSCC 2014,
45 nm, 8-bit: multiply 0.2 pJ, add 0.03 pJ)."""
RESERVED_LEVEL_NAMES = ACTIONS + ("energy", "memory", "arithmetic")
"""Names a level may not take: priced tables have ``<level>_pj`` columns beside these."""


@dataclass(frozen=True)
class ComputeEnergy:
    """Energy of one arithmetic action on one number format.

    Attributes:
        format: ``int8``, ``int16``, ``int32``, ``fp16``, ``fp32`` (any ``intN``/``fpN``).
        action: one of :data:`ACTIONS`.
        energy: energy per action, in the model's unit.
        source: where the number comes from.
        estimate: True when the number is not from the primary source.
    """

    format: str
    action: str
    energy: float
    source: str
    estimate: bool = False


@dataclass(frozen=True)
class Port:
    """One physical port of a memory level: one access per cycle of up to ``bandwidth_bits`` bits.

    Attributes:
        name: the port's name.
        bandwidth_bits: bits per cycle.
        serves: the (operand, direction) pairs it carries, direction one of :data:`DIRECTIONS`.
    """

    name: str
    bandwidth_bits: float
    serves: frozenset


def separate_ports(operands, bandwidth_bits: float, shared: bool) -> tuple[Port, ...]:
    """A read port and a write port of ``bandwidth_bits`` each, or one port shared by reads and writes."""
    reads = {(op, d) for op in operands for d in ("tl", "th")}
    writes = {(op, d) for op in operands for d in ("fh", "fl")}
    if shared:
        return (Port("rw", float(bandwidth_bits), frozenset(reads | writes)),)
    return Port("r", float(bandwidth_bits), frozenset(reads)), Port("w", float(bandwidth_bits), frozenset(writes))


@dataclass(frozen=True)
class Level:
    """One level of the memory hierarchy.

    Attributes:
        name: the level's name (e.g. ``rf_w``, ``sram_2MB``, ``dram``).
        operands: the operands it holds, a subset of :data:`OPERANDS`.
        size_bits: capacity of one instance in bits (``inf`` for off-chip memory).
        read_energy, write_energy: energy of one read or write access of ``word_bits``, in the model's unit.
        word_bits: bits moved by one access.
        min_bits: transfers are rounded up to a multiple of this many bits (ZigZag's minimum bandwidth).
        ports: its ports; every (operand, direction) it moves is carried by one of them.
        served_dims: PE-array dimensions one instance serves (shares its data along); () means one per PE.
        source: where the numbers come from.
        estimate: the energies are not from the primary source (or were derived).
        write_estimate: the write energy was not given and is taken equal to the read energy.
        resizable: the level a ``buffer_kib`` parameter resizes.
        compression: how activations cross it (:class:`hwmodels.sparsity.Compression`; the off-chip level only).
    """

    name: str
    operands: frozenset
    size_bits: float
    read_energy: float
    write_energy: float
    word_bits: int
    min_bits: int
    ports: tuple[Port, ...]
    served_dims: tuple[str, ...] = ()
    source: str = ""
    estimate: bool = False
    write_estimate: bool = False
    resizable: bool = False
    compression: Compression = NO_COMPRESSION

    @property
    def offchip(self) -> bool:
        return math.isinf(self.size_bits)

    def port(self, operand: str, direction: str) -> Port:
        """The port carrying ``operand`` in ``direction`` (one of :data:`DIRECTIONS`)."""
        for port in self.ports:
            if (operand, direction) in port.serves:
                return port
        raise KeyError(f"level {self.name} has no port for operand {operand} direction {direction}")




@dataclass(frozen=True)
class Array:
    """The PE array.

    Attributes:
        dims: names of its dimensions (``D1``, ``D2``...).
        sizes: PEs along each dimension.
        unroll: per dimension, the loop dimensions (B, K, C, G, OY, OX, FY, FX) it unrolls natively, each with the
            most PEs it may take, in order: ``(("FY", 12), ("C", 12))`` unrolls the filter rows and uses the PEs left
            for channels.
        systolic: dimensions along which results drain one PE per cycle.
        source: where the description comes from.
        fill: when a systolic array pays its pipeline fill and drain (:data:`FILLS`): ``once`` per layer (the
            stationary tiles are double-buffered, as a TPU's weights are; ZigZag's model) or ``per_fold``, for every
            new tile of the stationary operand (SCALE-Sim's model).
        im2col: convolutions run as their unrolled matrix product, each axis taking the flattened groups of its
            loops (:mod:`hwmodels.im2col`).
    """

    dims: tuple[str, ...]
    sizes: tuple[int, ...]
    unroll: tuple[tuple[tuple[str, int], ...], ...]
    systolic: tuple[str, ...] = ()
    source: str = ""
    fill: str = "once"
    im2col: bool = False

    @property
    def pes(self) -> int:
        return math.prod(self.sizes)

    @property
    def loops(self) -> tuple[tuple[int, str], ...]:
        """(array dimension index, loop dimension) of every spatial loop, in order."""
        return tuple((j, loop) for j, pairs in enumerate(self.unroll) for loop, _ in pairs)

    def describe(self) -> str:
        return " x ".join(f"{d}={size} ({' '.join(loop for loop, _ in pairs)})"
                          for d, size, pairs in zip(self.dims, self.sizes, self.unroll, strict=True)) + (
            ", im2col" if self.im2col else "")


def hierarchy(levels: tuple[Level, ...], operand: str) -> tuple[Level, ...]:
    """The levels among ``levels`` holding ``operand``, smallest first."""
    return tuple(sorted((lv for lv in levels if operand in lv.operands), key=lambda lv: lv.size_bits))


def unroll_spec(values, sizes: tuple[int, ...]) -> tuple[tuple[tuple[str, int], ...], ...]:
    """Per array dimension, (loop, most PEs) pairs from loop names or lists of them (each may take the whole
    dimension)."""
    return tuple(tuple((loop, size) for loop in ([v] if isinstance(v, str) else v))
                 for v, size in zip(values, sizes, strict=True))


@dataclass(frozen=True)
class Derived:
    """A value looked up in or derived from the compute table, and how.

    Attributes:
        value: energy in the model's unit.
        derived: a rule derived it (an estimate); a table row flagged ``estimate`` is listed by
            :meth:`HardwareModel.estimates` instead, so that each estimate is reported once.
        rule: the rule, or the table row's source.
    """

    value: float
    derived: bool
    rule: str


@dataclass(frozen=True)
class SramPoint:
    """Energy per access of an SRAM of a given size (the table a resized level is scaled by)."""

    size_kib: float
    word_bits: int
    energy: float
    source: str
    estimate: bool = False

    @property
    def energy_per_bit(self) -> float:
        return self.energy / self.word_bits


@dataclass
class HardwareModel:
    """A hardware description. Construct with :func:`load` (TOML) or :func:`hwmodels.zigzag.read_accelerator`.

    Attributes:
        name, description: identification.
        technology_nm: process node in nm.
        unit: ``"pj"`` or ``"mac16"`` (normalised to one 16-bit MAC; converted to pJ at pricing).
        clock_mhz: clock frequency in MHz.
        array: the PE array.
        levels: the memory levels, innermost first.
        compute: the table of :class:`ComputeEnergy` rows.
        sram_table: SRAM sizes and energies used to rescale a resized level.
        path: the file it was loaded from.
        provenance: notes on values that are estimates or were derived while reading the file.
        source: where the description as a whole comes from (``[model] source``).
        sparsity: what the PEs do with zero operands (its ``[sparsity]`` table; :mod:`hwmodels.sparsity`).
        order: its dataflow's loop-order constraint (its ``[order]`` table; :mod:`hwmodels.order`), or None.
    """

    name: str
    description: str
    technology_nm: float
    unit: str
    clock_mhz: float
    array: Array
    levels: tuple[Level, ...]
    compute: tuple[ComputeEnergy, ...]
    sram_table: tuple[SramPoint, ...] = ()
    path: Path | None = None
    provenance: tuple[str, ...] = field(default=())
    source: str = ""
    sparsity: Sparsity = Sparsity()
    order: LoopOrder | None = None

    def __repr__(self) -> str:
        return f"HardwareModel({self.name!r}, {self.technology_nm} nm, {self.array.sizes} PEs, unit={self.unit!r})"

    def hierarchy(self, operand: str) -> tuple[Level, ...]:
        """The levels holding ``operand``, smallest first (the last one holds the whole tensor)."""
        return hierarchy(self.levels, operand)

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def action_energy(self, action: str, number_format: str) -> Derived:
        """Energy of ``action`` on ``number_format`` in the model's unit, by the rules in the module doc."""
        if action not in ACTIONS:
            raise UserError(f"unknown action '{action}'; expected one of {', '.join(ACTIONS)}")
        family, bits = parse_format(number_format)
        exact = [c for c in self.compute if c.action == action and c.format == number_format]
        if exact:
            return Derived(exact[0].energy, False, exact[0].source)
        same_family = [c for c in self.compute if c.action == action and parse_format(c.format)[0] == family]
        if same_family and action in WIDTH_EXPONENT:
            nearest = nearest_width(same_family, bits)
            width = parse_format(nearest.format)[1]
            return Derived(nearest.energy * (bits / width) ** WIDTH_EXPONENT[action], True,
                           f"{nearest.format} {action} x ({bits}/{width})^{WIDTH_EXPONENT[action]}")
        if action == "mac":
            return self.derived_mac(number_format)
        if action in ("mult", "add"):
            if not any(c.action == "mac" and parse_format(c.format)[0] == family for c in self.compute):
                raise UserError(f"hardware model '{self.name}' has no {action} energy for the {family} family")
            mac = self.action_energy("mac", number_format)
            return Derived(mac.value * MAC_SPLIT[action], True,
                           f"{action} = mac x {MAC_SPLIT[action]:.3f} (the Horowitz 45 nm 8-bit split: multiply "
                           "0.2 pJ, add 0.03 pJ)")
        fallback = {"compare": "add", "shift": "add", "other": "mult"}
        base = self.action_energy(fallback[action], number_format)
        return Derived(base.value, True, f"{action} = {fallback[action]}")

    def derived_mac(self, number_format: str) -> Derived:
        """A MAC energy the table does not give for ``number_format``: its mult plus its add where the family has
        both, else the nearest-width MAC scaled (multiply part quadratically, add part linearly)."""
        family, bits = parse_format(number_format)
        has = {a: any(c.action == a and parse_format(c.format)[0] == family for c in self.compute)
               for a in ("mult", "add")}
        if has["mult"] and has["add"]:
            mult, add = self.action_energy("mult", number_format), self.action_energy("add", number_format)
            return Derived(mult.value + add.value, True, "mult + add")
        macs = [c for c in self.compute if c.action == "mac" and parse_format(c.format)[0] == family]
        if not macs:
            raise UserError(f"hardware model '{self.name}' has no mac, mult or add energy for the {family} family")
        nearest = nearest_width(macs, bits)
        ratio = bits / parse_format(nearest.format)[1]
        value = nearest.energy * (MAC_SPLIT["mult"] * ratio**2 + MAC_SPLIT["add"] * ratio)
        return Derived(value, True, f"{nearest.format} mac scaled to {bits} bits (multiply part quadratically, add "
                                    "part linearly)")

    def mac16(self) -> float:
        """Energy of one 16-bit integer MAC in the model's unit (the normalisation of ``energy_mac16``)."""
        return self.action_energy("mac", "int16").value

    def energy_scale(self, sizes_bits: np.ndarray, base_bits: float) -> np.ndarray:
        """Factor on the energy per access of an SRAM resized from ``base_bits`` to ``sizes_bits`` (vectorised)."""
        if len(self.sram_table) >= 2:
            return self.sram_energy_per_bit(sizes_bits / 8192.0) / self.sram_energy_per_bit(
                np.array([base_bits / 8192.0]))[0]
        return np.sqrt(np.asarray(sizes_bits, dtype=np.float64) / base_bits)

    def sram_energy_per_bit(self, sizes_kib: np.ndarray) -> np.ndarray:
        """Energy per bit of SRAMs of the given sizes from the ``[[sram_size]]`` table (vectorised log-log
        interpolation; outside the table's sizes, extrapolated along the end segments)."""
        rows = sorted(self.sram_table, key=lambda m: m.size_kib)
        log_size = np.log(np.asarray([m.size_kib for m in rows]))
        log_energy = np.log(np.asarray([m.energy_per_bit for m in rows]))
        x = np.log(np.asarray(sizes_kib, dtype=np.float64))
        y = np.interp(x, log_size, log_energy)
        low_slope = (log_energy[1] - log_energy[0]) / (log_size[1] - log_size[0])
        high_slope = (log_energy[-1] - log_energy[-2]) / (log_size[-1] - log_size[-2])
        y = np.where(x < log_size[0], log_energy[0] + (x - log_size[0]) * low_slope, y)
        y = np.where(x > log_size[-1], log_energy[-1] + (x - log_size[-1]) * high_slope, y)
        return np.exp(y)

    def resizable_level(self) -> Level | None:
        """The level ``buffer_kib`` resizes: the one marked resizable, else the largest on-chip level (None: the
        hardware has no on-chip level)."""
        marked = [lv for lv in self.levels if lv.resizable]
        if marked:
            return marked[0]
        onchip = [lv for lv in self.levels if not lv.offchip]
        return max(onchip, key=lambda lv: lv.size_bits) if onchip else None

    def estimates(self) -> list[str]:
        """Every value of the description that is an estimate, in one line each, marked "(estimate)"."""
        notes = [f"compute {c.format} {c.action}: {c.source} (estimate)" for c in self.compute if c.estimate]
        for lv in self.levels:
            if lv.estimate:
                notes.append(f"level {lv.name}: {lv.source} (estimate)")
            elif lv.write_estimate:
                notes.append(f"level {lv.name}: write energy taken equal to the read energy, not in the source "
                             "(estimate)")
        return notes + list(self.provenance)


def nearest_width(rows: list[ComputeEnergy], bits: int) -> ComputeEnergy:
    """The row whose format is nearest ``bits`` wide (the narrower on a tie)."""
    return min(rows, key=lambda c: (abs(parse_format(c.format)[1] - bits), parse_format(c.format)[1]))


def parse_format(text: str) -> tuple[str, int]:
    """``"int8"`` -> ``("int", 8)``."""
    match = FORMAT_PATTERN.match(text)
    if not match:
        raise UserError(f"number format '{text}' is not of the form intN or fpN")
    return match.group(1), int(match.group(2))


def read_compute(check: Validator, rows: list, where: str = "compute") -> tuple[ComputeEnergy, ...]:
    compute = []
    for i, row in enumerate(rows):
        at = f"{where}[{i}]"
        value = check.read(row, at, COMPUTE)
        fmt, action = value["format"], value["action"]
        if not FORMAT_PATTERN.match(fmt):
            check.fail(f"{at}.format", COMPUTE.key("format").expected(), fmt)
        first = next((j for j, c in enumerate(compute) if (c.format, c.action) == (fmt, action)), None)
        if first is not None:
            check.fail(at, f"one row per format and action ({where}[{first}] already prices {fmt} {action})",
                       f"a second {fmt} {action}")
        compute.append(ComputeEnergy(fmt, action, value["energy"], value["source"], value["estimate"]))
    return tuple(compute)


def read_level(check: Validator, row: dict, at: str, array_dims: tuple[str, ...]) -> Level:
    value = check.read(row, at, LEVEL)
    operands = value["operands"]
    if not operands:
        check.fail(f"{at}.operands", "a non-empty list of operands among W, I, O", operands)
    if (value["size_kib"] is None) == (value["size_bits"] is None):
        check.fail(at, "one of size_bits or size_kib", "both" if value["size_kib"] is not None else None)
    size = value["size_bits"] if value["size_kib"] is None else value["size_kib"] * 8192.0
    word = value["word_bits"]
    minimum = word if value["min_bits"] is None else value["min_bits"]
    if minimum > word:
        check.fail(f"{at}.min_bits", f"a positive number of bits no larger than word_bits ({word})", minimum)
    served = tuple(value["served_dims"])
    if any(d not in array_dims for d in served):
        check.fail(f"{at}.served_dims", f"array dimensions among {', '.join(array_dims)}", list(served))
    if value["port"] is not None:
        if {"bandwidth_bits", "shared_port"} & set(row):
            check.fail(at, "either [[level.port]] tables or bandwidth_bits/shared_port", "both")
        ports = read_ports(check, value["port"], at, operands, {op: op for op in OPERANDS})
    else:
        bandwidth = word if value["bandwidth_bits"] is None else value["bandwidth_bits"]
        ports = separate_ports(operands, bandwidth, value["shared_port"])
    read, write = value["read_energy"], value["write_energy"]
    return Level(name=value["name"], operands=frozenset(operands), size_bits=float(size), read_energy=read,
                 write_energy=read if write is None else write, word_bits=word, min_bits=minimum,
                 ports=ports, served_dims=served, source=value["source"], estimate=value["estimate"],
                 write_estimate=write is None, resizable=value["resizable"],
                 compression=read_compression(check, value, at, size))


def read_compression(check: Validator, value: dict, at: str, size: float) -> Compression:
    """A level's ``compression`` with ``run_bits`` and ``pair_word_bits`` for ``rlc``, from its validated keys;
    modelled at the off-chip level, where activations cross the chip boundary."""
    fmt, run, word = value["compression"], value["run_bits"], value["pair_word_bits"]
    if fmt != "none" and not math.isinf(size):
        check.fail(f"{at}.compression", "none on an on-chip level (compressed activations are modelled where they "
                                        "cross the chip boundary: the off-chip level)", fmt)
    if word <= run:
        check.fail(f"{at}.run_bits", f"a positive number of bits below pair_word_bits ({word})", run)
    return Compression(fmt, run, word)


def read_sparsity(check: Validator, table: dict) -> Sparsity:
    """The ``[sparsity]`` table: ``gate`` and ``skip``, lists of operands (an operand gated or skipped, not both),
    and ``source``."""
    value = check.read(table, "sparsity", SPARSITY)
    gate, skip = frozenset(value["gate"]), frozenset(value["skip"])
    if gate & skip:
        check.fail("sparsity", "an operand gated or skipped, not both", sorted(gate & skip))
    return Sparsity(gate, skip, value["source"])


def read_order(check: Validator, table: dict | None) -> LoopOrder | None:
    """The ``[order]`` table: ``groups`` (lists of loop dimensions, innermost first), ``complete`` (dimensions
    whose group must be whole before the next starts), ``dataflow`` (the spatial dataflow it belongs to) and
    ``source``."""
    if table is None:
        return None
    value = check.read(table, "order", ORDER)
    groups = value["groups"]
    if not groups or any(not isinstance(g, list) or not g or any(d not in LOOP_DIMS for d in g) for g in groups):
        check.fail("order.groups", ORDER.key("groups").expected(), groups)
    named = [d for g in groups for d in g]
    if len(set(named)) != len(named):
        check.fail("order.groups", "each loop dimension in one group at most", groups)
    if any(d not in named for d in value["complete"]):
        check.fail("order.complete", f"loop dimensions among the groups' ({', '.join(named)})", value["complete"])
    return LoopOrder(tuple(tuple(g) for g in groups), frozenset(value["complete"]), value["dataflow"],
                     value["source"])


def read_array(check: Validator, table: dict) -> Array:
    value = check.read(table, "array", ARRAY)
    dims, sizes, unroll = tuple(value["dims"]), tuple(value["sizes"]), tuple(value["unroll"])
    if not dims or len(set(dims)) != len(dims):
        check.fail("array.dims", "distinct dimension names", list(dims))
    if len(sizes) != len(dims) or any(not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= MAX_PES
                                      for s in sizes):
        check.fail("array.sizes", f"{len(dims)} integers from 1 to {MAX_PES}", list(sizes))
    flat = [loop for u in unroll for loop in ([u] if isinstance(u, str) else u)]
    if len(unroll) != len(dims) or not flat or any(not isinstance(loop, str) or loop not in LOOP_DIMS for loop in flat):
        check.fail("array.unroll", f"{len(dims)} loop dimensions (or lists of them) among {', '.join(LOOP_DIMS)}",
                   list(unroll))
    if any(d not in dims for d in value["systolic"]):
        check.fail("array.systolic", f"dimensions among {', '.join(dims)}", value["systolic"])
    return Array(dims, sizes, unroll_spec(unroll, sizes), tuple(value["systolic"]), value["source"], value["fill"],
                 value["im2col"])


def check_ports(check: Validator, levels, where: str = "level", names: dict[str, str] | None = None) -> None:
    """Every direction an operand moves through a level has a port: inputs are read out to the level below and,
    below the top, written from above; outputs are written from below and read back for accumulation and, below
    the top, read out to and written back from above. ``names``: how the file names the operands."""
    names = names or {op: op for op in OPERANDS}
    for i, lv in enumerate(levels):
        for operand in sorted(lv.operands):
            top = lv.offchip
            needed = ("fl", "tl") + (() if top else ("th", "fh")) if operand == "O" else ("tl",) + (
                () if top else ("fh",))
            for direction in needed:
                if not any((operand, direction) in port.serves for port in lv.ports):
                    field = f"{where}[{i}].port" if where == "level" else f"{where}.{lv.name}.ports"
                    check.fail(field, f"a port carrying '{names[operand]}, {direction}' ({DIRECTIONS[direction]})")


def read_ports(check: Validator, rows, at: str, operands, names: dict[str, str]) -> tuple[Port, ...]:
    """Ports from a list of tables with a name, a bandwidth in bits per cycle and what they carry
    (``"OPERAND, direction"`` entries, operands named as in ``names``)."""
    ports = []
    spelled = {v: k for k, v in names.items()}
    for i, row in enumerate(rows):
        where = f"{at}.port[{i}]"
        value = check.read(row, where, PORT)
        serves = set()
        for j, entry in enumerate(value["serves"]):
            parts = [p.strip() for p in entry.split(",")] if isinstance(entry, str) else []
            if len(parts) != 2 or spelled.get(parts[0]) not in operands or parts[1] not in DIRECTIONS:
                check.fail(f"{where}.serves[{j}]", f"'OPERAND, direction' with an operand among "
                           f"{', '.join(names[o] for o in sorted(operands))} and a direction among "
                           f"{', '.join(DIRECTIONS)}", entry)
            serves.add((spelled[parts[0]], parts[1]))
        ports.append(Port(value["name"], float(value["bandwidth_bits"]), frozenset(serves)))
    return tuple(ports)


def check_hierarchy(check: Validator, levels: tuple[Level, ...], where: str = "level") -> None:
    """Every operand is held somewhere, and its largest level is off-chip (holds any tensor); names are unique."""
    names = [lv.name for lv in levels]
    for name in names:
        if name in RESERVED_LEVEL_NAMES or name.startswith("tier_"):
            check.fail(f"{where} (name = '{name}')", "a level name that is not a priced column's "
                       f"({', '.join(RESERVED_LEVEL_NAMES)}, tier_*)", name)
        if names.count(name) > 1:
            check.fail(f"{where} (name = '{name}')", "unique level names", f"{names.count(name)} levels")
    for operand in OPERANDS:
        held = [lv for lv in levels if operand in lv.operands]
        if not held:
            check.fail(f"{where} (operand {operand})", f"a level holding operand {operand}")
        if not any(lv.offchip for lv in held):
            check.fail(f"{where} (operand {operand})", "an off-chip level (size inf) holding it at the top")


def load_toml(path: str | Path) -> HardwareModel:
    """Load and validate a TOML hardware description in the format of ``hwmodels/presets`` (a ZigZag YAML goes
    through :func:`hwmodels.registry.load`).

    Raises:
        HardwareFileError: naming the file, the field and the expected form.
    """
    path = Path(path)
    check = Validator(path)
    if not path.is_file():
        raise HardwareFileError(f"{path}: file not found; expected a TOML hardware description")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        raise HardwareFileError(f"{path}: nested too deeply to be a hardware description") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HardwareFileError(f"{path}: not valid TOML ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict) and "memory" in data:
        check.fail("[[memory]]", "[[level]] tables (the memory hierarchy format; see hwmodels/presets)", "[[memory]]")
    top = check.read(data, "", FILE)
    head = check.read(top["model"], "model", MODEL)
    array = read_array(check, top["array"])
    compute = read_compute(check, top["compute"])
    levels = tuple(read_level(check, row, f"level[{i}]", array.dims) for i, row in enumerate(top["level"]))
    check_hierarchy(check, levels)
    check_ports(check, levels)
    table = []
    for i, row in enumerate(top["sram_size"]):
        at = f"sram_size[{i}]"
        value = check.read(row, at, SRAM_SIZE)
        size, word = value["size_kib"], value["word_bits"]
        first = next((j for j, p in enumerate(table) if (p.size_kib, p.word_bits) == (size, word)), None)
        if first is not None:
            check.fail(at, f"one row per size and word (sram_size[{first}] already has {size} KiB x {word} bits)",
                       "a duplicate")
        table.append(SramPoint(size, word, value["energy"], value["source"], value["estimate"]))
    if len(check.units) > 1:
        check.fail("energy fields", "one unit for the whole file", ", ".join(sorted(check.units)))
    model = HardwareModel(head["name"], head["description"], head["technology_nm"],
                          check.units.pop() if check.units else "pj", head["clock_mhz"],
                          array, levels, compute, tuple(table), path, source=head["source"],
                          sparsity=read_sparsity(check, top["sparsity"]), order=read_order(check, top["order"]))
    for family in {parse_format(c.format)[0] for c in compute}:
        fmts = [c.format for c in compute if parse_format(c.format)[0] == family]
        for action in ("mult", "add"):
            if not any(c.action in (action, "mac") and c.format in fmts for c in compute):
                check.fail(f"compute ({family} {action})", f"at least one {action} energy for the {family} family")
    if model.mac16() <= 0:
        check.fail("compute (mac)", "a 16-bit MAC of positive energy (the unit energy_mac16 is reported in; every "
                   "MAC, multiplication and addition costing 0 prices no arithmetic)", 0)
    return model
