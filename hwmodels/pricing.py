"""Pricing: energy = accesses x energy per access + actions x energy per action, and cycles, for every workload
unit x hardware configuration, vectorised over configurations.

The grid of configurations is the Cartesian product of the parameters given as lists (:mod:`hwmodels.parameters`).
Configurations that share a hardware variant (hardware file, array size, dataflow) are priced together: the mapper
runs once per unit and distinct spatial unrolling, vectorised over them (and over buffer sizes, widths and policies),
in chunks that bound memory.

Compute: a multiply-accumulate unit's executed MACs (dense, ``nz_macs`` with zero skipping, ``nz_macs_valid`` with
padding skipping too) cost one MAC-unit operation each (``mac`` energy at ``<number_format><max(weight_bits,
act_bits)>``; its multiply and its add, including the add of the first product into a zero or bias-initialised
accumulator); the unit's remaining operations (bias adds, element-wise work) and units without MACs cost their
counts per action. Shift-add units have no MAC-unit work: their adds and shifts are priced as such.
"""

from __future__ import annotations

import difflib
import functools
import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .layers import COUNT_KINDS, PHASES, units, validated_columns
from .mapping import Energies, nest_of
from .model import Array, HardwareModel, unroll_spec
from .movement import Config, Traffic, mac_unit, plain_unit
from .parameters import BY_NAME, DATAFLOW_UNROLL, PARAMETERS
from .registry import resolve

ACTION_OF = {"mults": "mult", "adds": "add", "shifts": "shift", "compares": "compare", "other_ops": "other"}
ARITHMETIC = ("mac",) + tuple(ACTION_OF.values())
"""Arithmetic energy components: priced tables have a ``<component>_pj`` column for each, their sum
``arithmetic_pj``; memory energy is ``<level>_pj`` per level, ``memory_pj`` in all, and ``energy_pj`` the total."""
TIERS = ("rf", "sram", "dram")
"""Memory tiers across hardware: ``tier_<tier>_pj`` sums the levels of each (off-chip; shared by the whole array;
the rest)."""
CHUNK = 16384
"""Configurations priced together (bounds the mapper's memory)."""


@dataclass
class EnergyTable:
    """Priced units and the whole-model summary.

    Attributes:
        layers: one row per (configuration, unit): the unit's name, type, phase and role, ``<component>_pj``
            energies and ``energy_pj``, memory energy per level (``<level>_pj``), executed MACs, spatial utilisation,
            cycles, the loop order the mapper chose and the weight storage form.
        summary: one row per configuration: its resolved parameters and sums over units, ``latency_cycles``,
            ``latency_s`` (at the clock), ``utilization`` (executed MACs / (PEs x cycles)), ``edp_pj_s``
            (energy-delay product) and ``energy_mac16`` (the total in 16-bit MACs of the same hardware).
        levels: one row per (configuration, unit, level, operand): reads and writes in accesses of the level's word
            and their energy (empty unless ``per_layer``).
        notes: the values used that are estimates or were derived (provenance), one line each.
    """

    layers: pd.DataFrame
    summary: pd.DataFrame
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


def configuration_grid(**params) -> pd.DataFrame:
    """The Cartesian product of the pricing parameters (scalars or lists), one row per configuration; hardware is
    resolved (``grid.attrs["models"]``) and every value checked here, before any work.

    Raises:
        TypeError: an unknown parameter (with a did-you-mean).
        ValueError: a value of the wrong type, not positive, or not among a parameter's choices.
    """
    for name in params:
        if name not in BY_NAME:
            close = difflib.get_close_matches(name, list(BY_NAME), n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(BY_NAME)}"
            raise TypeError(f"unknown pricing parameter '{name}'{hint}")
    axes = {}
    for parameter in PARAMETERS:
        value = params.get(parameter.name, parameter.default)
        values = list(value) if isinstance(value, (list, tuple, np.ndarray, pd.Series)) else [value]
        axes[parameter.name] = [check_value(parameter, v) for v in values]
    models = {}
    for hw in axes["hw"]:
        for mapping in axes["mapping"]:
            model = resolve(hw, mapping)
            models[(str(hw), mapping)] = model
    grid = pd.DataFrame(list(itertools.product(*axes.values())), columns=list(axes))
    grid["hw"] = [models[(str(h), m)].name for h, m in zip(grid["hw"], grid["mapping"], strict=True)]
    grid.attrs["models"] = {models[k].name: models[k] for k in models}
    return grid


def check_value(parameter, value):
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
        raise ValueError(f"pricing parameter {parameter.name}: got {value!r}; expected {kind.__name__} "
                         f"({parameter.help})")
    if parameter.choices and value not in parameter.choices:
        raise ValueError(f"pricing parameter {parameter.name}: got {value!r}; expected one of "
                         f"{', '.join(parameter.choices)}")
    if kind in (int, float) and parameter.positive and not value > 0:
        raise ValueError(f"pricing parameter {parameter.name}: got {value!r}; expected a positive number")
    return bool(value) if kind is bool else value


def variant(model: HardwareModel, pe_rows, pe_cols, dataflow: str) -> HardwareModel:
    """``model`` with its array resized and its unrolling set by ``dataflow`` (two-dimensional arrays)."""
    array = model.array
    if pe_rows is None and pe_cols is None and dataflow == "native":
        return model
    if len(array.dims) != 2:
        raise ValueError(f"hardware '{model.name}' has a {len(array.dims)}-dimensional PE array; pe_rows, pe_cols and "
                         "dataflows other than native need two dimensions")
    sizes = (int(pe_rows or array.sizes[0]), int(pe_cols or array.sizes[1]))
    if dataflow == "native":
        unroll = tuple(tuple((loop, size if cap == old else min(cap, size)) for loop, cap in pairs)
                       for pairs, size, old in zip(array.unroll, sizes, array.sizes, strict=True))
    else:
        unroll = unroll_spec(DATAFLOW_UNROLL[dataflow], sizes)
    return replace(model, array=Array(array.dims, sizes, unroll, array.systolic, array.source))


def level_arrays(model: HardwareModel, grid: pd.DataFrame, to_pj: np.ndarray) -> tuple[Energies, dict, list[str]]:
    """Per configuration: energy per read/write access of every level (pJ), capacity of every level (bits), and
    notes on resized levels."""
    read, write, capacity, notes = {}, {}, {}, []
    resizable = model.resizable_level()
    buffer = grid["buffer_kib"].to_numpy(dtype=object)
    for level in model.levels:
        scale = np.ones(len(grid))
        size = np.full(len(grid), level.size_bits)
        if level is resizable:
            given = np.array([b is not None for b in buffer])
            if given.any():
                bits = np.where(given, [b * 8192.0 if b is not None else level.size_bits for b in buffer],
                                level.size_bits)
                size = bits
                scale = model.energy_scale(bits, level.size_bits)
                rule = ("the [[sram_size]] table (log-log)" if len(model.sram_table) >= 2
                        else "the square root of the capacity ratio")
                notes.append(f"level {level.name}: resized by buffer_kib; energy per access scaled by {rule} "
                             "(derived)")
        read[level.name] = level.read_energy * scale * to_pj
        write[level.name] = level.write_energy * scale * to_pj
        capacity[level.name] = size
    return Energies(read, write), capacity, notes


def tier(model: HardwareModel, level) -> str:
    """``dram`` for the off-chip level, ``sram`` for levels shared by the whole array, else ``rf``."""
    if level.offchip:
        return "dram"
    return "sram" if set(model.array.dims) <= set(level.served_dims) else "rf"


def action_energies(model: HardwareModel, grid: pd.DataFrame, to_pj: np.ndarray) -> tuple[dict, list[str]]:
    """Energy per action (pJ) per configuration, looked up once per distinct number format, and notes on the
    derived ones."""
    bits = np.maximum(grid["weight_bits"].to_numpy(), grid["act_bits"].to_numpy()).astype(int)
    formats = np.char.add(grid["number_format"].to_numpy().astype(str), bits.astype(str))
    out = {a: np.empty(len(grid)) for a in ("mac",) + tuple(ACTION_OF.values())}
    notes = []
    for fmt in np.unique(formats):
        where = formats == fmt
        for action in out:
            derived = model.action_energy(action, fmt)
            out[action][where] = derived.value
            if derived.derived:
                notes.append(f"compute {fmt} {action}: {derived.rule} (derived)")
    return {a: v * to_pj for a, v in out.items()}, notes


def unit_conversion(model: HardwareModel, grid: pd.DataFrame) -> np.ndarray:
    """Factor from the model's unit to pJ per configuration."""
    if model.unit == "pj":
        return np.ones(len(grid))
    given = grid["mac_energy_pj"].to_numpy(dtype=object)
    if any(v is None for v in given):
        raise ValueError(f"hardware model '{model.name}' is normalised to a 16-bit MAC (unit mac16); pass "
                         "mac_energy_pj=<pJ per 16-bit MAC> to price it in pJ")
    return given.astype(float) / model.mac16()


def config_arrays(grid: pd.DataFrame, energies: Energies, capacity: dict) -> Config:
    output = grid["output_bits"].to_numpy(dtype=object)
    act = grid["act_bits"].to_numpy().astype(np.int64)
    return Config(weight_bits=grid["weight_bits"].to_numpy().astype(np.int64), act_bits=act,
                  psum_bits=grid["psum_bits"].to_numpy().astype(np.int64),
                  output_bits=np.where([o is None for o in output], act, output).astype(np.int64),
                  zero_skipping=grid["zero_skipping"].to_numpy().astype(bool),
                  skip_padding=grid["skip_padding"].to_numpy().astype(bool),
                  keep_on_chip=(grid["interlayer"] == "fit").to_numpy(),
                  loop_factor_limit=grid["loop_factor_limit"].to_numpy().astype(np.int64),
                  energies=energies, capacity=capacity)


def price_units(rows: list, model: HardwareModel, grid: pd.DataFrame) -> tuple[list[Traffic], dict, list]:
    """Traffic of every unit on one hardware variant for the configurations of ``grid``, and per-action energies."""
    to_pj = unit_conversion(model, grid)
    energies, capacity, notes = level_arrays(model, grid, to_pj)
    actions, action_notes = action_energies(model, grid, to_pj)
    config = config_arrays(grid, energies, capacity)
    traffic, seen = [], {}
    for row in rows:
        key = row[2:]  # every column but name and type: networks repeat units
        if key not in seen:
            seen[key] = mac_unit(row, model, config) if row.kind else plain_unit(row, model, config)
        traffic.append(seen[key])
    unit_notes = [note for t in seen.values() for note in t.notes]
    return traffic, actions, notes + action_notes + unit_notes


@functools.lru_cache(maxsize=4096)
def outputs_of(row) -> float:
    """Output elements of a unit's nest (the sums its MACs feed), for the MAC-unit share of its adds."""
    if not row.kind:
        return 0.0
    nest = nest_of(row)
    return float(nest.elements("O", np.array(nest.bounds, dtype=float)))


def compute_energy(table: dict[str, np.ndarray], unit_rows: list, actions: dict, grid: pd.DataFrame) -> dict:
    """Energy per compute component, (K, units) arrays."""
    zero_skipping = grid["zero_skipping"].to_numpy().astype(bool)[:, None]
    skip_padding = grid["skip_padding"].to_numpy().astype(bool)[:, None]
    rows = {c: table[c].astype(np.float64)[None, :] for c in
            ("macs", "nz_macs", "nz_macs_valid") + COUNT_KINDS}
    mac_rows = ((table["kind"] != "") & (table["arithmetic"] != "shift_add"))[None, :]
    executed = np.where(zero_skipping, np.where(skip_padding, rows["nz_macs_valid"], rows["nz_macs"]), rows["macs"])
    executed = np.where(mac_rows, executed, 0.0)
    outputs = np.array([outputs_of(r) for r in unit_rows])[None, :]
    parts = {"mac": executed * actions["mac"][:, None]}
    standalone = {"mults": np.where(mac_rows, np.maximum(rows["mults"] - rows["macs"], 0.0), rows["mults"]),
                  "adds": np.where(mac_rows, np.maximum(rows["adds"] - (rows["macs"] - outputs), 0.0), rows["adds"])}
    for kind, action in ACTION_OF.items():
        counts = standalone.get(kind, rows[kind])
        parts[action] = np.broadcast_to(counts, executed.shape) * actions[action][:, None]
    parts["executed_macs"] = np.broadcast_to(executed, parts["mac"].shape)
    parts["executed_mults"] = executed + standalone["mults"]
    return parts


def price(layers: pd.DataFrame, *, per_layer: bool = True, **params) -> EnergyTable:
    """Price a layer table (``hwmodels.layers``) over a grid of hardware configurations.

    Args:
        layers: the workload units (validated against :data:`hwmodels.layers.SCHEMA` first).
        per_layer: also build the per-unit and per-level tables; False leaves them empty (large grids).
        **params: see :data:`hwmodels.parameters.PARAMETERS`; a list sweeps that parameter.

    Returns:
        An :class:`EnergyTable`.
    """
    table = validated_columns(layers)
    rows = units(table)
    grid = configuration_grid(**params)
    models = grid.attrs.pop("models")
    keys = ["hw", "pe_rows", "pe_cols", "dataflow"]
    summaries, unit_frames, level_frames, notes = [], [], [], []
    for key, index in grid.groupby(keys, dropna=False, sort=False).groups.items():
        spec = dict(zip(keys, key, strict=True))
        model = variant(models[spec["hw"]], none(spec["pe_rows"]), none(spec["pe_cols"]), spec["dataflow"])
        notes += [f"{model.name}: {note}" for note in model.estimates()]
        for start in range(0, len(index), CHUNK):
            part = grid.loc[index[start:start + CHUNK]]
            traffic, actions, chunk_notes = price_units(rows, model, part)
            notes += [f"{model.name}: {note}" for note in chunk_notes]
            summary, unit_frame, levels = assemble(table, rows, model, part, traffic, actions, per_layer)
            summaries.append(summary)
            unit_frames.append(unit_frame)
            level_frames.append(levels)
    summary = pd.concat(summaries).loc[grid.index]
    return EnergyTable(pd.concat(unit_frames, ignore_index=True) if per_layer else pd.DataFrame(), summary,
                       pd.concat(level_frames, ignore_index=True) if per_layer else pd.DataFrame(),
                       list(dict.fromkeys(notes)))


def none(value):
    """Grouping turns None into NaN; back to None."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def assemble(table: dict[str, np.ndarray], rows: list, model: HardwareModel, grid: pd.DataFrame, traffic: list[Traffic],
             actions: dict, per_layer: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The summary, per-unit and per-level tables of one chunk of configurations."""
    k, n = len(grid), len(rows)
    parts = compute_energy(table, rows, actions, grid)
    energies, _, _ = level_arrays(model, grid, unit_conversion(model, grid))
    level_energy = {lv.name: np.zeros((n, k)) for lv in model.levels}  # (units, configurations): row writes
    level_accesses = {(lv.name, d): np.zeros(k) for lv in model.levels for d in ("reads", "writes")}
    detail: dict[tuple[int, str, str], dict[str, np.ndarray]] = {}  # (unit, level, operand) -> reads, writes
    zeros = np.zeros(k)
    for j, t in enumerate(traffic):
        for (level, operand, direction), accesses in t.accesses.items():
            cost = (energies.read if direction == "reads" else energies.write)[level]
            level_energy[level][j] += accesses * cost
            level_accesses[level, direction] += accesses
            if per_layer:
                moved = detail.setdefault((j, level, operand), {"reads": zeros, "writes": zeros})
                moved[direction] = moved[direction] + accesses
    level_energy = {name: value.T for name, value in level_energy.items()}
    tiers = {f"tier_{t}_pj": sum((level_energy[lv.name] for lv in model.levels if tier(model, lv) == t),
                                 np.zeros((k, n))) for t in TIERS}
    arithmetic = {f"{a}_pj": parts[a] for a in ARITHMETIC}
    memory = sum(tiers.values())
    components = tiers | {"memory_pj": memory} | arithmetic | {"arithmetic_pj": sum(arithmetic.values())}
    total = memory + components["arithmetic_pj"]
    cycles = np.stack([t.cycles for t in traffic], axis=1)
    spatial = np.stack([t.utilization for t in traffic], axis=1)
    clock_hz = resolved_clock(model, grid) * 1e6
    columns = {c: grid[c].to_numpy() for c in grid.columns}
    columns["mapping"] = columns["mapping"].astype(object)
    output = columns["output_bits"]
    columns["output_bits"] = np.array([a if o is None or o != o else o for o, a in zip(output, columns["act_bits"],
                                                                                        strict=True)])
    own_buffer = model.resizable_level().size_bits / 8192
    columns["buffer_kib"] = np.array([b if b is not None else own_buffer for b in columns["buffer_kib"]], dtype=float)
    columns["pe_rows"] = np.full(k, model.array.sizes[0])
    columns["pe_cols"] = np.full(k, model.array.sizes[1] if len(model.array.sizes) > 1 else 1)
    columns["clock_mhz"] = clock_hz / 1e6
    for name, value in components.items():
        columns[name] = value.sum(axis=1)
    for level in model.levels:
        columns[f"{level.name}_pj"] = level_energy[level.name].sum(axis=1)
        for direction in ("reads", "writes"):
            columns[f"{level.name}_{direction}"] = level_accesses[level.name, direction]
    columns["energy_pj"] = total.sum(axis=1)
    for phase in PHASES:  # a training step's parts
        mask = table["phase"] == phase
        columns[f"energy_{phase}_pj"] = total[:, mask].sum(axis=1)
        columns[f"cycles_{phase}"] = cycles[:, mask].sum(axis=1)
    columns["executed_macs"] = parts["executed_macs"].sum(axis=1)
    columns["executed_mults"] = parts["executed_mults"].sum(axis=1)
    columns["latency_cycles"] = cycles.sum(axis=1)
    columns["latency_s"] = columns["latency_cycles"] / clock_hz
    columns["utilization"] = columns["executed_macs"] / np.maximum(columns["latency_cycles"] * model.array.pes, 1e-30)
    columns["edp_pj_s"] = columns["energy_pj"] * columns["latency_s"]
    columns["energy_mac16"] = columns["energy_pj"] / (model.mac16() * unit_conversion(model, grid))
    summary = pd.DataFrame(columns, index=grid.index)
    if not per_layer:
        return summary, pd.DataFrame(), pd.DataFrame()
    units = {"config": np.repeat(grid.index.to_numpy(), n), "unit": np.tile(np.arange(n), k)}
    for column in ("name", "type", "phase", "role"):
        units[column] = np.tile(table[column], k)
    for column in grid.columns:
        if column not in ("mapping",):
            units[column] = np.repeat(summary[column].to_numpy(), n)
    for name, value in components.items():
        units[name] = value.ravel()
    for level in model.levels:
        units[f"{level.name}_pj"] = level_energy[level.name].ravel()
    units["energy_pj"] = total.ravel()
    units["executed_macs"] = parts["executed_macs"].ravel()
    units["spatial_utilization"] = spatial.ravel()
    units["cycles"] = cycles.ravel()
    units["latency_s"] = (cycles / clock_hz[:, None]).ravel()
    units["loop_order"] = np.stack([t.order for t in traffic], axis=1).ravel()
    units["weight_storage"] = np.stack([t.weight_storage for t in traffic], axis=1).ravel()
    return summary, pd.DataFrame(units), level_table(table, grid, detail, energies)


def level_table(table: dict[str, np.ndarray], grid: pd.DataFrame,
                detail: dict[tuple[int, str, str], dict[str, np.ndarray]], energies) -> pd.DataFrame:
    """One row per (configuration, unit, level, operand): reads and writes (accesses of the level's word) and their
    energy (pJ)."""
    if not detail:
        return pd.DataFrame()
    k = len(grid)
    keys = list(detail)
    unit = np.repeat([key[0] for key in keys], k)
    level = np.repeat([key[1] for key in keys], k)
    reads = np.concatenate([detail[key]["reads"] for key in keys])
    writes = np.concatenate([detail[key]["writes"] for key in keys])
    read_cost = np.concatenate([energies.read[key[1]] for key in keys])
    write_cost = np.concatenate([energies.write[key[1]] for key in keys])
    return pd.DataFrame({"config": np.tile(grid.index.to_numpy(), len(keys)), "unit": unit,
                         "name": table["name"][unit], "level": level,
                         "operand": np.repeat([key[2] for key in keys], k), "reads": reads, "writes": writes,
                         "energy_pj": reads * read_cost + writes * write_cost})


def resolved_clock(model: HardwareModel, grid: pd.DataFrame) -> np.ndarray:
    clock = grid["clock_mhz"].to_numpy(dtype=object)
    return np.array([c if c is not None else model.clock_mhz for c in clock], dtype=float)

