"""The layer table pricing consumes: a declared, torch-free contract, checked when pricing starts.

One row is one *workload unit*: a multiply-accumulate loop nest of a layer (a conv, linear or matmul call), or a
layer's work without multiply-accumulates (normalisation, activation, pooling, an optimiser update), in one phase
of a step (forward, backward, update). In a backward nest the operands are the gradients: an input gradient reads
dY (I) and the weight (W) and writes dX (O); a weight gradient reads the saved input X (I) and dY (W) and writes
dW (O). A layer with several distinct nests has several rows of the same ``name``.
:func:`validate` checks the columns, their types and their values, and names the column of any fault in one line.
"""

from __future__ import annotations

import difflib
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import UserError

COUNT_KINDS = ("mults", "adds", "shifts", "compares", "other_ops")
"""The arithmetic kinds priced, one vocabulary with the counter (``estimator.counting.COUNT_KINDS`` less ``macs``,
which is the loop nest's own column)."""

PHASES = ("forward", "backward", "update")
UNIT_ROLES = ("forward", "grad_input", "grad_weight", "backward", "update", "")
NEST_KINDS = ("conv", "matmul", "")
WEIGHT_FORMATS = ("dense", "periodic", "kernel_subset", "")
UNIT_ARITHMETIC = ("mac", "shift_add", "")
LOOP_DIMS = ("B", "K", "C", "G", "OY", "OX", "FY", "FX")


class LayerTableError(UserError):
    """A layer table that breaks the contract; the message names the column (and row) in one line."""


@dataclass(frozen=True)
class Column:
    """One declared column.

    Attributes:
        name: column name.
        kind: ``"int"``, ``"float"``, ``"bool"`` or ``"str"``.
        unit: what one unit of the value is (``"elements"``, ``"operations"``, ``"bits"``...).
        description: what it holds.
        default: the value of a missing column, or ``...`` when the column is required.
        allowed: the values a string column may take (empty: any).
        maximum: the largest value a numeric column may take.
    """

    name: str
    kind: str
    unit: str
    description: str
    default: object = ...
    allowed: tuple[str, ...] = ()
    maximum: float = float("inf")


SCHEMA: tuple[Column, ...] = (
    Column("name", "str", "", "layer (module) name; several rows share it when a layer has several nests"),
    Column("type", "str", "", "layer type", ""),
    Column("phase", "str", "", "step phase of the unit", "forward", PHASES),
    Column("role", "str", "", "what a nest computes (empty: no multiply-accumulates)", "", UNIT_ROLES),
    Column("kind", "str", "", "conv or matmul nest (empty: no multiply-accumulates)", "", NEST_KINDS),
    *(Column(d, "int", "iterations", f"loop bound {d} of the nest", 1) for d in LOOP_DIMS),
    *(Column(d, "int", "elements", f"{d} of the nest (stride, dilation, padding)", 1 if d[0] != "P" else 0)
      for d in ("SY", "SX", "DY", "DX", "PY", "PX")),
    Column("transposed", "bool", "", "a transposed convolution (loops over its input positions)", False),
    Column("weight_operand", "bool", "", "the W operand is a layer parameter (stored with the model)", True),
    Column("macs", "int", "operations", "multiply-accumulates of the nest, zeros included", 0),
    Column("nz_macs", "int", "operations", "MACs left when zero weights are skipped", 0),
    Column("nz_macs_valid", "int", "operations", "MACs left when zero weights and padding taps are skipped", 0),
    *(Column(k, "int", "operations", f"{k} of the unit (MAC work included)", 0) for k in COUNT_KINDS),
    Column("arithmetic", "str", "", "mac or shift_add (how products with the weight are computed)", "",
           UNIT_ARITHMETIC),
    Column("in_elems", "int", "elements", "activation elements the unit reads (units without MACs)", 0),
    Column("out_elems", "int", "elements", "activation elements the unit writes (units without MACs)", 0),
    Column("weight_elems", "int", "elements", "elements of the layer's weight", 0),
    Column("weight_nnz", "int", "elements", "non-zero elements of the weight", 0),
    Column("weight_rows", "int", "rows", "rows of the weight's sparse layout (kernels or output rows)", 0),
    Column("weight_row_len", "int", "positions", "positions per row (sets the index width)", 0),
    Column("weight_format", "str", "", "dense, periodic (positions from a rule, no index) or kernel_subset (k of "
           "a 3x3 kernel's 9 positions chosen per kernel, no rule: indexed as psc_index says)", "", WEIGHT_FORMATS),
    Column("pattern_table_bits", "int", "bits", "bits of a periodic layer's pattern table", 0),
    Column("weight_code_bits", "int", "bits", "bits of a weight's codebook code (0: none)", 0),
    Column("other_params", "int", "elements", "other parameters of the layer (bias, normalisation)", 0),
    Column("save_output", "bool", "", "a training step keeps the unit's output for the backward pass (it is stored "
                                     "at the top level whatever the inter-layer policy)", False),
    Column("saved_elems", "int", "elements", "activations saved in the forward pass that this backward unit reads "
                                             "back from the top level (a MAC unit: its whole I operand)", 0),
    Column("param_reads", "int", "elements", "parameters, gradients and optimiser state an update unit reads", 0),
    Column("param_writes", "int", "elements", "parameters and optimiser state an update unit writes", 0),
    Column("predefined_sparsity", "bool", "", "the zero pattern is fixed before training", False),
    Column("input_density", "float", "fraction", "non-zero share of the unit's input activations (the I operand of "
           "a nest; 1: dense or not known)", 1.0, maximum=1.0),
    Column("output_density", "float", "fraction", "non-zero share of the unit's output activations", 1.0,
           maximum=1.0),
)
"""Every column of the layer table, in order."""

COLUMNS = {c.name: c for c in SCHEMA}
Unit = namedtuple("Unit", [c.name for c in SCHEMA])
"""One row of a validated layer table, as plain Python values."""
KIND_DTYPES = {"int": np.int64, "float": np.float64, "bool": bool, "str": object}


def fail(message: str) -> None:
    raise LayerTableError(f"layer table: {message}")


def plain(value):
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def check_column(column: Column, values: pd.Series, names: pd.Series) -> np.ndarray:
    """``values`` converted to the column's type (missing cells take the column's default), or a one-line error
    naming the column and the first bad row."""
    array = values.to_numpy()
    missing = pd.isna(array) if array.dtype.kind in "fO" else np.zeros(len(array), dtype=bool)
    if column.kind != "str" and array.dtype == object:
        missing |= np.array([isinstance(v, str) and not v.strip() for v in array])  # an empty cell (CSV)
    if column.default is not ... and missing.any():
        numeric_fill = column.kind in ("int", "float") and array.dtype.kind == "f"
        array = np.where(missing, column.default, array if numeric_fill else array.astype(object))
    if column.kind == "str":
        return text_column(column, array, names)
    if column.kind == "bool":
        return bool_column(column, array)
    numeric = array if array.dtype.kind in "iuf" else pd.to_numeric(pd.Series(array), errors="coerce").to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numeric.astype(np.float64))
        if not bad.any():
            bad = (numeric < 0) | (numeric > column.maximum)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        bound = "" if column.maximum == float("inf") else f" at most {column.maximum:g}"
        fail(f"column '{column.name}' has {plain(array[row])!r} in row '{names.iloc[row]}'; expected a non-negative "
             f"number{bound} ({column.unit})")
    return numeric.astype(KIND_DTYPES[column.kind])


def text_column(column: Column, array: np.ndarray, names: pd.Series) -> np.ndarray:
    """A text column as Python strings, checked against its allowed values."""
    if array.dtype != object or not all(isinstance(v, str) for v in array):
        array = np.array(["" if v is None or v != v else str(v) for v in array], dtype=object)
    if column.allowed:
        bad = ~np.isin(array, column.allowed)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            fail(f"column '{column.name}' has value {plain(array[row])!r} in row '{names.iloc[row]}'; expected "
                 f"one of {', '.join(repr(v) for v in column.allowed)}")
    return array


def bool_column(column: Column, array: np.ndarray) -> np.ndarray:
    """A true/false column (text from a file read as true or false)."""
    if array.dtype == object:
        array = np.array([{"true": True, "false": False}.get(v.strip().lower(), v) if isinstance(v, str) else v
                          for v in array], dtype=object)
    if array.dtype != bool and not np.isin(array, [0, 1, True, False]).all():
        fail(f"column '{column.name}' must be true or false")
    return array.astype(bool)


def validate(table: pd.DataFrame) -> pd.DataFrame:
    """The table in the contract's column order and types, missing optional columns filled with their defaults.

    Raises:
        LayerTableError: a required column missing, an unknown column (with a did-you-mean), a value of the wrong
            type, negative, or outside its allowed set; the message names the column.
    """
    return pd.DataFrame(validated_columns(table))


def validated_columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`validate`'s checks, returning the columns as arrays (in the contract's order)."""
    frame = table.reset_index() if "name" not in table.columns and table.index.name == "name" else table
    unknown = [c for c in frame.columns if c not in COLUMNS]
    for name in unknown:
        close = difflib.get_close_matches(name, list(COLUMNS), n=1)
        if close:
            fail(f"unknown column '{name}'; did you mean '{close[0]}'?")
    if "name" not in frame.columns:
        fail("column 'name' is missing; expected one row per layer unit with its layer name")
    given = dict(frame.items())
    names = given["name"].astype(str)
    data = {}
    for column in SCHEMA:
        if column.name in given:
            data[column.name] = check_column(column, given[column.name], names)
        elif column.default is ...:
            fail(f"column '{column.name}' is missing ({column.description})")
        else:
            data[column.name] = np.full(len(frame), column.default, dtype=KIND_DTYPES[column.kind])
    nests = data["kind"] != ""
    loops = np.stack([data[d] for d in LOOP_DIMS], axis=1)
    if (loops[nests] < 1).any():
        fail("a nest row has a loop bound below 1 (columns B, K, C, G, OY, OX, FY, FX)")
    product = np.prod(loops.astype(np.float64), axis=1)
    mismatch = nests & (np.abs(product - data["macs"]) > 0.5)
    if mismatch.any():
        row = int(np.flatnonzero(mismatch)[0])
        fail(f"column 'macs' of row '{names.iloc[row]}' is {data['macs'][row]}, not the product of its loop "
             f"bounds {int(product[row])}")
    return data


def units(columns: dict[str, np.ndarray]) -> list:
    """The rows of validated columns as :data:`Unit` tuples (plain Python values; fast to build and to hash)."""
    return [Unit._make(row) for row in zip(*(columns[c.name].tolist() for c in SCHEMA), strict=True)]
