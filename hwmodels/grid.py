"""The grid of hardware configurations: the Cartesian product of the pricing parameters given as lists
(:mod:`hwmodels.parameters`), every value checked and every hardware file resolved before any work, and the
hardware variants (hardware file, array size, dataflow) whose configurations are priced together."""

from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from .errors import UserError
from .model import HardwareModel, unroll_spec
from .parameters import BY_NAME, DATAFLOW_UNROLL, PARAMETERS, Parameter
from .registry import resolve

VARIANT_KEYS = ("hw", "pe_rows", "pe_cols", "dataflow")
"""The parameters that make a hardware variant; configurations of one variant are priced together."""


def configuration_grid(**params) -> tuple[pd.DataFrame, dict[str, HardwareModel]]:
    """The Cartesian product of the pricing parameters (scalars or lists), one row per configuration (``hw`` the
    resolved model's name), and the hardware models by name; every value checked here, before any work.

    Raises:
        TypeError: an unknown parameter (with a did-you-mean).
        ValueError: a value of the wrong type, out of its bounds, or not among a parameter's choices.
    """
    for name in params:
        if name not in BY_NAME:
            close = difflib.get_close_matches(name, list(BY_NAME), n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(BY_NAME)}"
            raise UserError(f"unknown pricing parameter '{name}'{hint}")
    axes = {}
    for parameter in PARAMETERS:
        value = params.get(parameter.name, parameter.default)
        values = list(value) if isinstance(value, (list, tuple, np.ndarray, pd.Series)) else [value]
        if not values:
            raise UserError(f"pricing parameter {parameter.name}: got an empty list; expected at least one value")
        axes[parameter.name] = [check_value(parameter, v) for v in values]
        repeated = first_repeat(values)
        if repeated is not None:
            raise UserError(f"pricing parameter {parameter.name}: {repeated[0]!r} is listed twice; expected each value "
                            "once")
    resolved = {(str(hw), mapping): resolve(hw, mapping) for hw in axes["hw"] for mapping in axes["mapping"]}
    names = [resolved[(str(hw), axes["mapping"][0])].name for hw in axes["hw"]]
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise UserError(f"pricing parameter hw: two entries describe hardware '{twice[0]}'; expected each once")
    grid = pd.DataFrame(list(itertools.product(*axes.values())), columns=list(axes))
    grid["hw"] = [resolved[(str(h), m)].name for h, m in zip(grid["hw"], grid["mapping"], strict=True)]
    return grid, {model.name: model for model in resolved.values()}


def first_repeat(values: list) -> tuple | None:
    """The first value listed twice, as a 1-tuple (None where none is): a set for hashable values (so that a sweep
    of 10^5 buffer sizes is checked in one pass), pairwise (``is`` or ``==``) for the others."""
    seen = set()
    for i, value in enumerate(values):
        try:
            if value in seen:
                return (value,)
            seen.add(value)
        except TypeError:  # (unhashable: a hardware description given as an object)
            if any(value is other or value == other for other in values[:i]):
                return (value,)
    return None


def check_value(parameter: Parameter, value):
    """``value`` checked against ``parameter`` (None keeps the hardware's own value where that is the default)."""
    if value is None and parameter.default is None:
        return None
    if parameter.name == "hw" and not isinstance(value, str):
        return value
    kind = parameter.kind
    ok = (isinstance(value, (bool, np.bool_)) if kind is bool else
          isinstance(value, (int, np.integer)) and not isinstance(value, bool) if kind is int else
          isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) if kind is float
          else isinstance(value, str))
    if not ok:
        raise UserError(f"pricing parameter {parameter.name}: got {value!r}; expected {kind.__name__} "
                         f"({parameter.help})")
    if parameter.choices and value not in parameter.choices:
        raise UserError(f"pricing parameter {parameter.name}: got {value!r}; expected one of "
                         f"{', '.join(parameter.choices)}")
    if kind in (int, float):
        if not math.isfinite(value):
            raise UserError(f"pricing parameter {parameter.name}: got {value!r}; expected a finite number")
        if parameter.positive and not value > 0:
            raise UserError(f"pricing parameter {parameter.name}: got {value!r}; expected a positive number")
        if parameter.maximum is not None and value > parameter.maximum:
            raise UserError(f"pricing parameter {parameter.name}: got {value!r}; expected at most "
                             f"{parameter.maximum:,.10g} ({parameter.help})")
    return bool(value) if kind is bool else value


def variants(grid: pd.DataFrame, models: dict[str, HardwareModel]):
    """(hardware variant, its grid rows) for each distinct (hardware, array size, dataflow) of ``grid``."""
    for key, index in grid.groupby(list(VARIANT_KEYS), dropna=False, sort=False).groups.items():
        spec = dict(zip(VARIANT_KEYS, key, strict=True))
        model = hardware_variant(models[spec["hw"]], none(spec["pe_rows"]), none(spec["pe_cols"]), spec["dataflow"])
        yield model, grid.loc[index]


def none(value):
    """Grouping turns None into NaN; back to None."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def hardware_variant(model: HardwareModel, pe_rows: int | None, pe_cols: int | None, dataflow: str) -> HardwareModel:
    """``model`` with its array resized and its unrolling set by ``dataflow`` (two-dimensional arrays); its
    loop-order constraint is kept only under its own dataflow (native, or the one the constraint names)."""
    array = model.array
    if pe_rows is None and pe_cols is None and dataflow == "native":
        return model
    if model.order is not None and dataflow not in ("native", model.order.dataflow):
        model = replace(model, order=None)
    if len(array.dims) != 2:
        raise UserError(f"hardware '{model.name}' has a {len(array.dims)}-dimensional PE array; pe_rows, pe_cols and "
                         "dataflows other than native need two dimensions")
    sizes = (int(pe_rows or array.sizes[0]), int(pe_cols or array.sizes[1]))
    if dataflow == "native":
        unroll = tuple(tuple((loop, size if cap == old else min(cap, size)) for loop, cap in pairs)
                       for pairs, size, old in zip(array.unroll, sizes, array.sizes, strict=True))
    else:
        unroll = unroll_spec(DATAFLOW_UNROLL[dataflow], sizes)
    return replace(model, array=replace(array, sizes=sizes, unroll=unroll))
