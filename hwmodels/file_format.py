"""The TOML hardware file's format, declared once: every table and key with its type, bounds, default and meaning.

:data:`TABLES` is the one declaration. :class:`Validator` reads a parsed file against it (unknown keys, missing
required keys, types, bounds and choices fail in one line naming the file and the field), defaults come from it,
and the README's format table is :func:`markdown_table` of it. What depends on several keys at once (``min_bits``
no larger than ``word_bits``, ``served_dims`` among the array's dimensions, a level's compression only off-chip)
is checked where the values are combined, :mod:`hwmodels.model`.

Energies are stems: a row gives ``read_energy`` as ``read_energy_pj`` or ``read_energy_mac16`` (:data:`UNITS`, one
unit per file).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .layers import LOOP_DIMS
from .parameters import DATAFLOW_UNROLL, MAX_CLOCK_MHZ
from .sparsity import COMPRESSIONS, SPARSE_OPERANDS, Compression, Sparsity

ACTIONS = ("mult", "add", "mac", "shift", "compare", "other")
OPERANDS = ("W", "I", "O")
UNITS = {"pj": "picojoules per action or access", "mac16": "multiples of one 16-bit MAC (normalised)"}
"""Units of energy fields: a row gives its energy as ``<field>_pj`` or ``<field>_mac16`` (one unit per file)."""
FORMAT_PATTERN = re.compile(r"^(int|fp)(\d+)$")
DIRECTIONS = {"fh": "written from the level above", "tl": "read out to the level below (or the array)",
              "fl": "written from the level below (or the array)", "th": "read out to the level above"}
"""The four directions of data through a level's ports (ZigZag's names)."""
FILLS = {"once": "the pipeline fills and drains once per layer: R + C - 2 cycles for R x C PEs in use (the "
                 "stationary tiles are double-buffered; ZigZag's model)",
         "per_fold": "it fills and drains for every fold, a new tile of the stationary operand: R + C - 2 cycles "
                     "each for the whole R x C array, plus R to load a weight or input tile first (2R + C - 2; "
                     "SCALE-Sim's model)"}
"""When a systolic array pays its pipeline fill and drain."""

KINDS = {"text": str, "integer": int, "number": (int, float), "boolean": bool, "list": list, "table": dict,
         "tables": list, "energy": (int, float)}
"""The value types a key may declare, and the Python types TOML gives them."""
REQUIRED = "required"
"""The default of a key that must be given."""


class HardwareFileError(UserError):
    """A hardware description that does not validate; the message names the file and the field."""


@dataclass(frozen=True)
class Key:
    """One key of a hardware-file table.

    Attributes:
        name: the key (for ``energy``, the stem: the file writes ``<name>_<unit>``).
        kind: one of :data:`KINDS`.
        help: what it means, with its unit.
        default: its value when absent; :data:`REQUIRED` when it must be given; None when a rule on other keys
            fills it (``default_text`` says which).
        above: the value must exceed this (numbers).
        maximum: the value may be at most this (numbers).
        finite: numbers must be finite (False admits ``inf``, an off-chip capacity).
        choices: the values a text may take, or the items a list may hold.
        default_text: the README's default where a rule fills it.
    """

    name: str
    kind: str
    help: str
    default: object = REQUIRED
    above: float | None = None
    maximum: float | None = None
    finite: bool = True
    choices: tuple = ()
    default_text: str = ""

    def expected(self) -> str:
        """What a valid value looks like, for an error message."""
        if self.kind == "text" and self.choices:
            return " or ".join(self.choices)
        shape = {"text": "a text", "integer": "an integer", "number": "a number", "boolean": "true or false",
                 "list": "a list", "table": f"a [{self.name}] table", "tables": f"[[{self.name}]] tables",
                 "energy": "a non-negative number"}[self.kind]
        if self.kind == "list" and self.choices:
            shape += f" of items among {', '.join(self.choices)}"
        bounds = [f"above {self.above:g}"] if self.above is not None else []
        bounds += [f"at most {self.maximum:g}"] if self.maximum is not None else []
        bounds += ["finite"] if self.kind in ("integer", "number") and self.finite else []
        return f"{shape}{' ' + ' and '.join(bounds) if bounds else ''}: {self.help}"

    def default_cell(self) -> str:
        """The README's default column."""
        if self.default == REQUIRED:
            return "required"
        if self.default is None:
            return self.default_text or "none"
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if isinstance(self.default, str):
            return f'`"{self.default}"`'
        if isinstance(self.default, float) and math.isnan(self.default):
            return "unknown"
        return f"`{self.default!r}`".replace("'", '"')


@dataclass(frozen=True)
class Table:
    """One table (``[name]``) or array of tables (``[[name]]``) of a hardware file, and its keys."""

    name: str
    keys: tuple[Key, ...]

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)


MODEL = Table("model", (
    Key("name", "text", "the hardware's name"),
    Key("description", "text", "one line on what it is", ""),
    Key("technology_nm", "number", "process node, nm", math.nan, above=0),
    Key("clock_mhz", "number", "clock frequency, MHz", above=0, maximum=MAX_CLOCK_MHZ),
    Key("source", "text", "where the description as a whole comes from", ""),
))
ARRAY = Table("array", (
    Key("dims", "list", 'names of the PE array\'s dimensions, e.g. ["D1", "D2"]'),
    Key("sizes", "list", "PEs along each dimension, integers"),
    Key("unroll", "list", f"per dimension, the loop dimension it unrolls natively, or a list of them taking the PEs "
                          f"in turn (its dataflow; among {', '.join(LOOP_DIMS)})"),
    Key("systolic", "list", "the dimensions along which results drain one PE per cycle", []),
    Key("fill", "text", "when a systolic array pays its pipeline fill and drain: " + "; ".join(
        f"{k}: {v}" for k, v in FILLS.items()), "once", choices=tuple(FILLS)),
    Key("im2col", "boolean", "convolutions run as their unrolled matrix product (SCALE-Sim's and a TPU's operand "
                             "matrices): rows B x OY x OX, contraction C x FY x FX, columns K; a dimension unrolling "
                             "any loop of a group takes the whole group flattened, ceil(product / PEs) folds; the "
                             "input is read as the matrix's rows (each window tap an access)", False),
    Key("source", "text", "where the array's description comes from", ""),
))
COMPUTE = Table("compute", (
    Key("format", "text", "number format, intN or fpN (int8, fp32, ...)"),
    Key("action", "text", "arithmetic action", choices=ACTIONS),
    Key("energy", "energy", "energy per action"),
    Key("source", "text", "citation of the number"),
    Key("estimate", "boolean", "the number is a quoted estimate, not a measurement or the primary source's", False),
))
PORT = Table("level.port", (
    Key("name", "text", "the port's name"),
    Key("bandwidth_bits", "number", "bits per cycle", above=0, finite=False),
    Key("serves", "list", f"what it carries, 'OPERAND, direction' entries (directions: "
                          f"{'; '.join(f'{k} {v}' for k, v in DIRECTIONS.items())})"),
))
LEVEL = Table("level", (
    Key("name", "text", "the level's name (rf_w, sram, dram, ...)"),
    Key("operands", "list", "operands it holds", choices=OPERANDS),
    Key("size_kib", "number", "capacity of one instance, KiB (inf: off-chip); or size_bits", None, above=0,
        finite=False, default_text="this or size_bits is required"),
    Key("size_bits", "number", "capacity of one instance, bits (inf: off-chip); or size_kib", None, above=0,
        finite=False, default_text="this or size_kib is required"),
    Key("word_bits", "integer", "bits moved by one access", above=0),
    Key("min_bits", "integer", "transfers are rounded up to a multiple of this many bits (ZigZag's minimum "
                               "bandwidth), at most word_bits", None, above=0, default_text="word_bits"),
    Key("read_energy", "energy", "energy of one read access of word_bits"),
    Key("write_energy", "energy", "energy of one write access of word_bits", None,
        default_text="read_energy (flagged as an estimate)"),
    Key("bandwidth_bits", "number", "bits per cycle of each of its read and write ports", None, above=0, finite=False,
        default_text="word_bits"),
    Key("shared_port", "boolean", "one port shared by reads and writes instead of one of each", False),
    Key("port", "tables", "named ports instead of bandwidth_bits and shared_port ([[level.port]])", None),
    Key("served_dims", "list", "PE-array dimensions one instance serves, sharing its data along them "
                               "(none: one instance per PE)", []),
    Key("resizable", "boolean", "the level the buffer_kib pricing parameter resizes", False),
    Key("compression", "text", "how activations cross it, the off-chip level only (none: dense; rlc: run-length "
                               "coded; zvc: a bit mask and the non-zeros; hwmodels/sparsity.py gives the bits)",
        "none", choices=tuple(COMPRESSIONS)),
    Key("run_bits", "integer", "rlc: bits of a run length", Compression().run_bits, above=0),
    Key("pair_word_bits", "integer", "rlc: bits of the word run-length pairs are packed into",
        Compression().word_bits, above=0),
    Key("source", "text", "citation of its numbers"),
    Key("estimate", "boolean", "its energies are quoted estimates", False),
))
SRAM_SIZE = Table("sram_size", (
    Key("size_kib", "number", "SRAM capacity, KiB", above=0),
    Key("word_bits", "integer", "bits per access", above=0),
    Key("energy", "energy", "energy per access of word_bits"),
    Key("source", "text", "citation of the number"),
    Key("estimate", "boolean", "the number is a quoted estimate", False),
))
SPARSITY = Table("sparsity", (
    Key("gate", "list", "operands whose zeros gate the MAC and the other operand's register read (energy only)",
        sorted(Sparsity().gate), choices=SPARSE_OPERANDS),
    Key("skip", "list", "operands whose zeros are skipped: MAC, accesses and cycle", sorted(Sparsity().skip),
        choices=SPARSE_OPERANDS),
    Key("source", "text", "citation of the behaviour", ""),
))
ORDER = Table("order", (
    Key("groups", "list", f"lists of loop dimensions (among {', '.join(LOOP_DIMS)}) the innermost temporal loops "
                          "take in turn, innermost group first"),
    Key("complete", "list", "loop dimensions whose group must be whole before the next group starts", []),
    Key("dataflow", "text", "the spatial dataflow the order belongs to (dropped under another)",
        choices=tuple(DATAFLOW_UNROLL)),
    Key("source", "text", "citation of the order", ""),
))
FILE = Table("", (
    Key("model", "table", "name, node and clock"),
    Key("array", "table", "the PE array"),
    Key("compute", "tables", "energy per arithmetic action and number format"),
    Key("level", "tables", "the memory hierarchy, one row per level; each operand's largest level is off-chip"),
    Key("sram_size", "tables", "SRAM access energy by capacity, to rescale a resized level (default: square root "
                               "of the capacity ratio)", []),
    Key("sparsity", "table", "what the PEs do with zero operands (default: zero weights skipped, activations dense)",
        {}),
    Key("order", "table", "the loop order the array's dataflow imposes, honoured by the exact mapper", None),
))
TABLES = (FILE, MODEL, ARRAY, COMPUTE, LEVEL, PORT, SRAM_SIZE, SPARSITY, ORDER)
"""The hardware file's format: the top level, then each table in the order the README lists them."""


def markdown_table() -> str:
    """The format as the README's Markdown table (field, type, default, meaning), derived from :data:`TABLES`."""
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for table in TABLES:
        for key in table.keys:
            if table is FILE:
                field = f"`[[{key.name}]]`" if key.kind == "tables" else f"`[{key.name}]`"
            else:
                field = f"`{table.name}.{key.name}" + ("_<unit>`" if key.kind == "energy" else "`")
            kind = f"energy ({' or '.join(UNITS)})" if key.kind == "energy" else key.kind
            if key.choices:
                kind += f": {', '.join(key.choices)}"
            rows.append(f"| {field} | {kind} | {key.default_cell()} | {key.help.replace('|', '/')} |")
    return "\n".join(rows)


class Validator:
    """Reads typed fields from a parsed file (TOML or YAML), raising :class:`HardwareFileError` naming the file and
    the field in one line."""

    def __init__(self, path: Path):
        self.path = path
        self.units: set[str] = set()

    def fail(self, field: str, expected: str, got=None) -> None:
        found = "missing" if got is None else f"got {got!r}"
        raise HardwareFileError(f"{self.path}: {field}: {found}; expected {expected}")

    def read(self, table, where: str, spec: Table) -> dict:
        """``table``'s keys as :data:`spec` declares them, validated, with defaults filled: name -> value (an
        energy key's value in the file's unit, None when absent and not required)."""
        if not isinstance(table, dict):
            self.fail(where or "(top level)", f"a table of {', '.join(k.name for k in spec.keys)}", table)
        energies = [k.name for k in spec.keys if k.kind == "energy"]
        self.check_known(table, where or "(top level)", {k.name for k in spec.keys} | energy_fields(table, *energies))
        values = {}
        for key in spec.keys:
            if key.kind == "energy":
                values[key.name] = self.energy(table, where, key.name,
                                               ... if key.default == REQUIRED else key.default)
                continue
            field = f"{where}.{key.name}" if where else key.name
            if key.name not in table:
                if key.default == REQUIRED:
                    self.fail(field, key.expected())
                values[key.name] = key.default
                continue
            value = table[key.name]
            kind = KINDS[key.kind]
            if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
                self.fail(field, key.expected(), value)
            if key.kind in ("integer", "number") and not (
                    (key.above is None or value > key.above) and (key.maximum is None or value <= key.maximum)
                    and (math.isfinite(value) or not key.finite and value > 0)):
                self.fail(field, key.expected(), value)
            if key.kind == "text" and key.choices and value not in key.choices:
                self.fail(field, key.expected(), value)
            if key.kind == "list" and key.choices and any(item not in key.choices for item in value):
                self.fail(field, key.expected(), value)
            if key.kind == "tables" and any(not isinstance(row, dict) for row in value):
                self.fail(field, key.expected(), value)
            values[key.name] = value
        return values

    def get(self, table, key: str, where: str, kind: type | tuple, expected: str, default=...):
        """One field of a file with no declared format (a ZigZag YAML)."""
        field = f"{where}.{key}" if where else key
        if not isinstance(table, dict) or key not in table:
            if default is not ...:
                return default
            self.fail(field, expected)
        value = table[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            self.fail(field, expected, value)
        return value

    def nonnegative(self, table: dict, key: str, where: str, expected: str) -> float:
        """A required finite number >= 0 (an energy), or a one-line error naming the field."""
        value = self.get(table, key, where, (int, float), f"a finite number >= 0 ({expected})")
        if not math.isfinite(value) or value < 0:
            self.fail(f"{where}.{key}", f"a finite number >= 0 ({expected})", value)
        return value

    def energy(self, table: dict, where: str, stem: str = "energy", default=...) -> float | None:
        """The row's ``<stem>_<unit>`` field (one per row), its unit recorded for the file-wide check."""
        fields = [k for k in table if k == stem or k.startswith(stem + "_")]
        expected = f"one {stem}_<unit> field with a non-negative number, unit one of {', '.join(UNITS)}"
        if not fields:
            if default is not ...:
                return default
            self.fail(f"{where}.{stem}_pj", expected)
        if len(fields) > 1:
            self.fail(f"{where}", expected, ", ".join(fields))
        unit = fields[0].removeprefix(stem + "_")
        if unit not in UNITS:
            self.fail(f"{where}.{fields[0]}", expected, f"unit '{unit}'")
        value = self.get(table, fields[0], where, (int, float), f"a non-negative number (unit: {unit})")
        if value < 0 or not math.isfinite(value):
            self.fail(f"{where}.{fields[0]}", f"a non-negative number (unit: {unit})", value)
        self.units.add(unit)
        return float(value)

    def check_known(self, table: dict, where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}", f"one of the fields {', '.join(sorted(allowed))}", key)


def energy_fields(row: dict, *stems: str) -> set[str]:
    """The row's energy fields (validated by :meth:`Validator.energy`)."""
    return {k for k in row for stem in stems if k == stem or k.startswith(stem + "_")}
