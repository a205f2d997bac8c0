"""HardwareModel: per-action and per-access energies, loaded from a validated TOML file.

Numbers live in the preset files with their sources; this module only validates and derives. Where a table
has no value for an action and width, it is derived by a stated rule and flagged as derived:

1. the same action at another width of the same family (int/fp), scaled from the nearest width:
   adders, shifters and comparators linearly in width, multipliers quadratically;
2. ``mac`` = ``mult`` + ``add``;
3. ``compare`` = ``add`` (a comparison is a subtraction);
4. ``shift`` = ``add`` when the family has no shift at any width (ShiftAddNet: a shift costs about an add);
5. ``other`` (exp, division, ...) = ``mult``, a lower bound.

An SRAM of a size the table lacks is priced per bit by log-log interpolation between the table's sizes
(extrapolated along the end segment), also flagged as derived.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

ACTIONS = ("mult", "add", "mac", "shift", "compare", "other")
LEVELS = ("dram", "sram", "array", "rf")
UNITS = {"pj": "picojoules per action or access", "mac16": "multiples of one 16-bit MAC (normalised)"}
"""Units of energy fields: a row gives its energy as ``energy_pj`` or ``energy_mac16`` (one unit per file)."""
FORMAT_PATTERN = re.compile(r"^(int|fp)(\d+)$")
WIDTH_EXPONENT = {"mult": 2, "add": 1, "shift": 1, "compare": 1, "other": 2}


class HardwareFileError(ValueError):
    """A hardware description that does not validate; the message names the file and the field."""


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
class MemoryLevel:
    """Energy of one access to a memory level.

    Attributes:
        level: one of :data:`LEVELS`.
        access_bits: width of one access, in bits.
        energy: energy per access, in the model's unit.
        size_kib: capacity in KiB (SRAM and RF; None for DRAM).
        source: where the number comes from.
        estimate: True when the number is not from the primary source.
    """

    level: str
    access_bits: int
    energy: float
    size_kib: float | None
    source: str
    estimate: bool = False

    @property
    def energy_per_bit(self) -> float:
        return self.energy / self.access_bits


@dataclass(frozen=True)
class Derived:
    """A value looked up or derived from the table, and how."""

    value: float
    derived: bool
    rule: str


class HardwareModel:
    """Per-action and per-access energies of one piece of hardware. Construct with :func:`load`.

    Attributes:
        name, description: identification.
        technology_nm: process node in nm.
        unit: ``"pj"`` or ``"mac16"`` (normalised to one 16-bit MAC; converted to pJ at pricing).
        compute: the table of :class:`ComputeEnergy` rows.
        memory: the table of :class:`MemoryLevel` rows.
        path: the file it was loaded from.
    """

    def __init__(self, name: str, description: str, technology_nm: float, unit: str,
                 compute: tuple[ComputeEnergy, ...], memory: tuple[MemoryLevel, ...], path: Path | None = None):
        self.name = name
        self.description = description
        self.technology_nm = technology_nm
        self.unit = unit
        self.compute = compute
        self.memory = memory
        self.path = path

    def __repr__(self) -> str:
        return f"HardwareModel({self.name!r}, {self.technology_nm} nm, unit={self.unit!r})"

    def action_energy(self, action: str, number_format: str) -> Derived:
        """Energy of ``action`` on ``number_format`` in the model's unit, by the rules in the module doc."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action '{action}'; expected one of {', '.join(ACTIONS)}")
        family, bits = parse_format(number_format)
        exact = [c for c in self.compute if c.action == action and c.format == number_format]
        if exact:
            return Derived(exact[0].energy, False, exact[0].source)
        same_family = [c for c in self.compute if c.action == action and parse_format(c.format)[0] == family]
        if same_family and action in WIDTH_EXPONENT:
            nearest = min(same_family, key=lambda c: (abs(parse_format(c.format)[1] - bits), parse_format(c.format)[1]))
            ratio = (bits / parse_format(nearest.format)[1]) ** WIDTH_EXPONENT[action]
            return Derived(nearest.energy * ratio, True,
                           f"{nearest.format} {action} x ({bits}/{parse_format(nearest.format)[1]})^"
                           f"{WIDTH_EXPONENT[action]}")
        fallback = {"mac": None, "compare": "add", "shift": "add", "other": "mult"}
        if action == "mac":
            mult, add = self.action_energy("mult", number_format), self.action_energy("add", number_format)
            return Derived(mult.value + add.value, True, "mult + add")
        if action in fallback:
            base = self.action_energy(fallback[action], number_format)
            return Derived(base.value, True, f"{action} = {fallback[action]}")
        raise ValueError(f"hardware model '{self.name}' has no {action} energy for the {family} family")

    def memory_energy_per_bit(self, level: str, size_kib: float | None = None) -> Derived:
        """Energy per bit moved at ``level`` (for SRAM, of a buffer of ``size_kib``), in the model's unit."""
        rows = [m for m in self.memory if m.level == level]
        if not rows:
            raise ValueError(f"hardware model '{self.name}' has no '{level}' memory level")
        if level != "sram" or size_kib is None:
            return Derived(rows[0].energy_per_bit, False, rows[0].source)
        exact = [m for m in rows if m.size_kib == size_kib]
        if exact:
            return Derived(exact[0].energy_per_bit, False, exact[0].source)
        sizes = sorted(m.size_kib for m in rows)
        return Derived(float(self.sram_energy_per_bit(np.array([size_kib]))[0]), True,
                       f"log-log interpolation over the table's SRAM sizes {sizes} KiB")

    def sram_energy_per_bit(self, sizes_kib: np.ndarray) -> np.ndarray:
        """Energy per bit of SRAM buffers of the given sizes (vectorised log-log interpolation; outside the
        table's sizes, extrapolated along the end segments; one table size: constant)."""
        rows = sorted((m for m in self.memory if m.level == "sram"), key=lambda m: m.size_kib)
        log_size = np.log(np.asarray([m.size_kib for m in rows]))
        log_energy = np.log(np.asarray([m.energy_per_bit for m in rows]))
        x = np.log(np.asarray(sizes_kib, dtype=np.float64))
        if len(rows) == 1:
            return np.full(x.shape, np.exp(log_energy[0]))
        y = np.interp(x, log_size, log_energy)
        low_slope = (log_energy[1] - log_energy[0]) / (log_size[1] - log_size[0])
        high_slope = (log_energy[-1] - log_energy[-2]) / (log_size[-1] - log_size[-2])
        y = np.where(x < log_size[0], log_energy[0] + (x - log_size[0]) * low_slope, y)
        y = np.where(x > log_size[-1], log_energy[-1] + (x - log_size[-1]) * high_slope, y)
        return np.exp(y)

    def access_bits(self, level: str, size_kib: float | None = None) -> int:
        """Width of one access at ``level`` (for SRAM, of the table's buffer nearest in size), in bits."""
        rows = [m for m in self.memory if m.level == level]
        if level == "sram" and size_kib is not None:
            rows.sort(key=lambda m: abs(math.log(m.size_kib / size_kib)))
        return rows[0].access_bits

    def mac16(self) -> float:
        """Energy of one 16-bit integer MAC in the model's unit (the normalisation of ``energy_mac16``)."""
        return self.action_energy("mac", "int16").value


def parse_format(text: str) -> tuple[str, int]:
    """``"int8"`` -> ``("int", 8)``."""
    match = FORMAT_PATTERN.match(text)
    if not match:
        raise ValueError(f"number format '{text}' is not of the form intN or fpN")
    return match.group(1), int(match.group(2))


class Validator:
    """Reads typed fields from a parsed TOML table, raising :class:`HardwareFileError` naming file and field."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, expected: str, got=None) -> None:
        found = "missing" if got is None else f"got {got!r}"
        raise HardwareFileError(f"{self.path}: {field}: {found}; expected {expected}")

    def get(self, table: dict, key: str, where: str, kind: type | tuple, expected: str, default=...):
        if key not in table:
            if default is not ...:
                return default
            self.fail(f"{where}.{key}", expected)
        value = table[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            self.fail(f"{where}.{key}", expected, value)
        return value

    def energy(self, table: dict, where: str) -> tuple[float, str]:
        """The row's energy and its unit, from its one ``energy_<unit>`` field."""
        fields = [k for k in table if k.startswith("energy_") or k == "energy"]
        expected = f"one energy_<unit> field with a non-negative number, unit one of {', '.join(UNITS)}"
        if not fields:
            self.fail(f"{where}.energy_pj", expected)
        if len(fields) > 1:
            self.fail(f"{where}", expected, ", ".join(fields))
        unit = fields[0].removeprefix("energy_")
        if unit not in UNITS:
            self.fail(f"{where}.{fields[0]}", expected, f"unit '{unit}'")
        value = self.get(table, fields[0], where, (int, float), f"a non-negative number (unit: {unit})")
        if value < 0 or not math.isfinite(value):
            self.fail(f"{where}.{fields[0]}", f"a non-negative number (unit: {unit})", value)
        return float(value), unit

    def check_known(self, table: dict, where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}", f"one of the fields {', '.join(sorted(allowed))}", key)


def energy_fields(row: dict) -> set[str]:
    """The row's energy fields (validated by :meth:`Validator.energy`)."""
    return {k for k in row if k.startswith("energy_") or k == "energy"}


def load(path: str | Path) -> HardwareModel:
    """Load and validate a hardware description (TOML; see ``hwmodels/presets`` for the format: a [model]
    table, [[compute]] rows of format, action, energy_<unit>, source and [[memory]] rows of level,
    access_bits, size_kib (SRAM), energy_<unit>, source; ``estimate = true`` marks unverified values).

    Raises:
        HardwareFileError: naming the file, the field and the expected form.
    """
    path = Path(path)
    check = Validator(path)
    if not path.is_file():
        raise HardwareFileError(f"{path}: file not found; expected a TOML hardware description")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise HardwareFileError(f"{path}: not valid TOML ({exc})") from exc
    check.check_known(data, "(top level)", {"model", "compute", "memory"})
    head = check.get(data, "model", "(top level)", dict, "a [model] table")
    check.check_known(head, "model", {"name", "description", "technology_nm"})
    units = set()
    compute = []
    for i, row in enumerate(check.get(data, "compute", "(top level)", list, "[[compute]] tables")):
        where = f"compute[{i}]"
        check.check_known(row, where, {"format", "action", "source", "estimate"} | energy_fields(row))
        fmt = check.get(row, "format", where, str, "a number format like int8 or fp32")
        if not FORMAT_PATTERN.match(fmt):
            check.fail(f"{where}.format", "a number format like int8 or fp32", fmt)
        action = check.get(row, "action", where, str, f"one of {', '.join(ACTIONS)}")
        if action not in ACTIONS:
            check.fail(f"{where}.action", f"one of {', '.join(ACTIONS)}", action)
        energy, unit = check.energy(row, where)
        units.add(unit)
        compute.append(ComputeEnergy(fmt, action, energy,
                                     check.get(row, "source", where, str, "a citation string"),
                                     check.get(row, "estimate", where, bool, "true or false", False)))
    memory = []
    for i, row in enumerate(check.get(data, "memory", "(top level)", list, "[[memory]] tables")):
        where = f"memory[{i}]"
        check.check_known(row, where, {"level", "access_bits", "size_kib", "source", "estimate"} | energy_fields(row))
        level = check.get(row, "level", where, str, f"one of {', '.join(LEVELS)}")
        if level not in LEVELS:
            check.fail(f"{where}.level", f"one of {', '.join(LEVELS)}", level)
        bits = check.get(row, "access_bits", where, int, "a positive integer number of bits")
        if bits <= 0:
            check.fail(f"{where}.access_bits", "a positive integer number of bits", bits)
        size = check.get(row, "size_kib", where, (int, float), "a positive size in KiB", None)
        if level == "sram" and (size is None or size <= 0):
            check.fail(f"{where}.size_kib", "a positive size in KiB for an SRAM level", size)
        energy, unit = check.energy(row, where)
        units.add(unit)
        memory.append(MemoryLevel(level, bits, energy, None if size is None else float(size),
                                  check.get(row, "source", where, str, "a citation string"),
                                  check.get(row, "estimate", where, bool, "true or false", False)))
    if len(units) > 1:
        check.fail("energy_* fields", "one unit for the whole file", ", ".join(sorted(units)))
    unit = units.pop() if units else "pj"
    levels = {m.level for m in memory}
    for needed in ("dram", "sram", "rf"):
        if needed not in levels:
            check.fail(f"memory (level = '{needed}')", f"a [[memory]] table with level = '{needed}'")
    model = HardwareModel(check.get(head, "name", "model", str, "a name"),
                          check.get(head, "description", "model", str, "a description", ""),
                          check.get(head, "technology_nm", "model", (int, float), "the node in nm", math.nan),
                          unit, tuple(compute), tuple(memory), path)
    for family in {parse_format(c.format)[0] for c in compute}:
        fmts = [c.format for c in compute if parse_format(c.format)[0] == family]
        for action in ("mult", "add"):
            if not any(c.action == action and c.format in fmts for c in compute):
                check.fail(f"compute ({family} {action})", f"at least one {action} energy for the {family} family")
    return model
