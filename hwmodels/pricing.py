"""Pricing: energy = accesses x energy per access + actions x energy per action, and cycles, for every workload
unit x hardware configuration, vectorised over configurations.

The grid of configurations is the Cartesian product of the parameters given as lists (:mod:`hwmodels.parameters`).
Configurations that share a hardware variant (hardware file, array size, dataflow) are priced together: the mapper
runs once per unit and distinct spatial unrolling, vectorised over them (and over buffer sizes, widths and policies),
in chunks that bound memory.

Compute: a multiply-accumulate unit's executed MACs (the MACs whose weight and input are not a zero the hardware
skips or gates: :func:`hwmodels.sparsity.executed`, the one rule) cost one MAC-unit operation each (``mac`` energy
at ``<number_format><max(weight_bits, act_bits)>``; its multiply and its add, including the add of the first
product into a zero or bias-initialised accumulator); the unit's remaining operations (bias adds, element-wise
work) and units without MACs cost their counts per action. Shift-add units have no MAC-unit work: their adds and
shifts are priced as such.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .configs import Configs, build
from .errors import UserError
from .grid import configuration_grid, variants
from .layers import COUNT_KINDS, PHASES, Unit, units, validated_columns
from .model import OPERANDS, HardwareModel
from .nest import nest_of
from .parts import PartWriter
from .sparsity import executed as executed_shares
from .traffic import STORAGE_FORMS, Traffic, mac_unit, plain_unit

ACTION_OF = {"mults": "mult", "adds": "add", "shifts": "shift", "compares": "compare", "other_ops": "other"}
ARITHMETIC = ("mac",) + tuple(ACTION_OF.values())
"""Arithmetic energy components: priced tables have a ``<component>_pj`` column for each, their sum
``arithmetic_pj``; memory energy is ``<level>_pj`` per level, ``memory_pj`` in all, and ``energy_pj`` the total."""
TIERS = ("rf", "sram", "dram")
"""Memory tiers across hardware: ``tier_<tier>_pj`` sums the levels of each (off-chip; shared by the whole array;
the rest)."""
CHUNK = 16384
"""Configurations priced together (bounds the mapper's memory)."""
PART_ROWS = 1 << 21
"""Per-level rows (units x levels x operands x configurations) a chunk builds at most when its per-layer tables are
streamed to a parts folder (bounds the memory of the tables being written)."""


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
        parts: where ``layers`` and ``levels`` were written instead of held (:mod:`hwmodels.parts`; both frames
            are then empty), or None.
    """

    layers: pd.DataFrame
    summary: pd.DataFrame
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    parts: Path | None = None


def tier(model: HardwareModel, level) -> str:
    """``dram`` for the off-chip level, ``sram`` for levels shared by the whole array, else ``rf``."""
    if level.offchip:
        return "dram"
    return "sram" if set(model.array.dims) <= set(level.served_dims) else "rf"


def shape_key(row: Unit) -> Unit:
    """A unit with its name and type blanked: units equal but for those move alike (networks repeat units)."""
    return row._replace(name="", type="")


def unit_traffic(rows: list[Unit], hw: HardwareModel, configs: Configs) -> list[Traffic]:
    """Traffic of every unit on one hardware variant for ``configs``, each distinct unit priced once."""
    seen: dict[Unit, Traffic] = {}
    traffic = []
    for row in rows:
        key = shape_key(row)
        if key not in seen:
            seen[key] = mac_unit(row, hw, configs) if row.kind else plain_unit(row, hw, configs)
        traffic.append(seen[key])
    return traffic


@functools.lru_cache(maxsize=4096)
def outputs_of(row) -> float:
    """Output elements of a unit's nest (the sums its MACs feed), for the MAC-unit share of its adds."""
    if not row.kind:
        return 0.0
    nest = nest_of(row)
    return float(nest.elements("O", np.array(nest.bounds, dtype=float)))


def compute_energy(table: dict[str, np.ndarray], rows: list[Unit], configs: Configs) -> dict[str, np.ndarray]:
    """Energy per compute component (pJ) and executed MACs and multiplications, (K, units) arrays."""
    counts = {c: table[c].astype(np.float64)[None, :] for c in ("macs", "nz_macs", "nz_macs_valid") + COUNT_KINDS}
    mac_rows = ((table["kind"] != "") & (table["arithmetic"] != "shift_add"))[None, :]
    shares = executed_shares(configs.model.sparsity, counts["macs"], counts["nz_macs"], counts["nz_macs_valid"],
                             table["input_density"][None, :], configs.zero_skipping[:, None],
                             configs.skip_padding[:, None], configs.act_sparsity[:, None])
    executed = np.where(mac_rows, counts["macs"] * shares.macs, 0.0)
    outputs = np.array([outputs_of(r) for r in rows])[None, :]
    parts = {"mac": executed * configs.actions["mac"][:, None]}
    standalone = {"mults": np.where(mac_rows, np.maximum(counts["mults"] - counts["macs"], 0.0), counts["mults"]),
                  "adds": np.where(mac_rows, np.maximum(counts["adds"] - (counts["macs"] - outputs), 0.0),
                                   counts["adds"])}
    for kind, action in ACTION_OF.items():
        parts[action] = (np.broadcast_to(standalone.get(kind, counts[kind]), executed.shape)
                         * configs.actions[action][:, None])
    parts["executed_macs"] = np.broadcast_to(executed, parts["mac"].shape)
    parts["executed_mults"] = executed + standalone["mults"]
    return parts


@dataclass
class Priced:
    """One chunk of configurations priced, (K, units) arrays: energy per component (``<tier>``, ``memory_pj``,
    ``<action>_pj``, ``arithmetic_pj``), per level, in all; executed MACs and multiplications, cycles and spatial
    utilisation; accesses per level and direction summed over units, (K,)."""

    components: dict[str, np.ndarray]
    levels: dict[str, np.ndarray]
    total: np.ndarray
    compute: dict[str, np.ndarray]
    cycles: np.ndarray
    spatial: np.ndarray
    accesses: dict[tuple[str, str], np.ndarray]


def priced_chunk(table: dict[str, np.ndarray], rows: list[Unit], configs: Configs,
                 traffic: list[Traffic]) -> Priced:
    """Energies, cycles and accesses of every unit for one chunk of configurations."""
    model, k, n = configs.model, len(configs), len(rows)
    compute = compute_energy(table, rows, configs)
    level_energy = {lv.name: np.zeros((n, k)) for lv in model.levels}  # (units, configurations): row writes
    accesses = {(lv.name, d): np.zeros(k) for lv in model.levels for d in ("reads", "writes")}
    for j, t in enumerate(traffic):
        for (level, _, direction), value in t.accesses.items():
            level_energy[level][j] += value * (configs.read if direction == "reads" else configs.write)[level]
            accesses[level, direction] += value
    levels = {name: value.T for name, value in level_energy.items()}
    tiers = {f"tier_{t}_pj": sum((levels[lv.name] for lv in model.levels if tier(model, lv) == t),
                                 np.zeros((k, n))) for t in TIERS}
    arithmetic = {f"{a}_pj": compute[a] for a in ARITHMETIC}
    memory = sum(tiers.values())
    components = tiers | {"memory_pj": memory} | arithmetic | {"arithmetic_pj": sum(arithmetic.values())}
    return Priced(components, levels, memory + components["arithmetic_pj"], compute,
                  np.stack([t.cycles for t in traffic], axis=1), np.stack([t.utilization for t in traffic], axis=1),
                  accesses)


def summary_columns(table: dict[str, np.ndarray], configs: Configs, priced: Priced) -> pd.DataFrame:
    """The summary rows of one chunk: the resolved parameters and the sums over units."""
    model = configs.model
    columns = dict(configs.values)
    clock_hz = configs.clock_mhz * 1e6
    for name, value in priced.components.items():
        columns[name] = value.sum(axis=1)
    for level in model.levels:
        columns[f"{level.name}_pj"] = priced.levels[level.name].sum(axis=1)
        for direction in ("reads", "writes"):
            columns[f"{level.name}_{direction}"] = priced.accesses[level.name, direction]
    columns["energy_pj"] = priced.total.sum(axis=1)
    for phase in PHASES:  # a training step's parts
        mask = table["phase"] == phase
        columns[f"energy_{phase}_pj"] = priced.total[:, mask].sum(axis=1)
        columns[f"cycles_{phase}"] = priced.cycles[:, mask].sum(axis=1)
    columns["executed_macs"] = priced.compute["executed_macs"].sum(axis=1)
    columns["executed_mults"] = priced.compute["executed_mults"].sum(axis=1)
    columns["latency_cycles"] = priced.cycles.sum(axis=1)
    columns["latency_s"] = columns["latency_cycles"] / clock_hz
    columns["utilization"] = columns["executed_macs"] / np.maximum(columns["latency_cycles"] * model.array.pes, 1e-30)
    columns["edp_pj_s"] = columns["energy_pj"] * columns["latency_s"]
    columns["energy_mac16"] = columns["energy_pj"] / (model.mac16() * configs.to_pj)
    return pd.DataFrame(columns, index=configs.labels)


def category(values, declared=()) -> tuple[np.ndarray, list]:
    """(codes, categories) of text ``values``: the ``declared`` categories first, then any other value in order of
    appearance. Declared categories keep a column categorical when chunks are concatenated."""
    categories = list(dict.fromkeys([*declared, *pd.unique(np.asarray(values, dtype=object))]))
    return pd.Categorical(np.asarray(values, dtype=object), categories=categories).codes, categories


def known_codes(values: np.ndarray, categories: list[str], what: str) -> np.ndarray:
    """The position of each of the text ``values`` among ``categories``, all known (a handful: one vectorised
    comparison each, instead of hashing every string); a value outside them is a ValueError naming ``what``."""
    codes = np.full(len(values), -1, dtype=np.int8)
    for code, text in enumerate(categories):
        codes[values == text] = code
    if (codes < 0).any():
        raise ValueError(f"{what} {str(values[codes < 0][0])!r} is not one of {categories}")
    return codes


def repeated(values, declared, spread) -> pd.Categorical:
    """A categorical column of text ``values`` laid out by ``spread`` (``np.tile`` or ``np.repeat`` of their
    codes): one code per row instead of a string, so that a per-layer table builds and concatenates fast."""
    codes, categories = category(values, declared)
    return pd.Categorical.from_codes(spread(codes), categories)


def unit_columns(table: dict[str, np.ndarray], configs: Configs, priced: Priced, traffic: list[Traffic],
                 labels: dict[str, list]) -> pd.DataFrame:
    """One row per (configuration, unit) of one chunk; text columns categorical over ``labels`` (per column, the
    categories every chunk shares)."""
    k, n = len(configs), len(table["name"])
    units = {"config": np.repeat(configs.labels, n), "unit": np.tile(np.arange(n), k)}
    for column in ("name", "type", "phase", "role"):
        units[column] = repeated(table[column], pd.unique(table[column]), lambda c: np.tile(c, k))
    for name, value in configs.values.items():
        if name == "mapping":
            continue
        text = value.dtype.kind in "UT" or (value.dtype.kind == "O" and pd.api.types.infer_dtype(value) == "string")
        units[name] = repeated(value, labels.get(name, ()), lambda c: np.repeat(c, n)) if text else np.repeat(value, n)
    for name, value in priced.components.items():
        units[name] = value.ravel()
    for level, value in priced.levels.items():
        units[f"{level}_pj"] = value.ravel()
    units["energy_pj"] = priced.total.ravel()
    units["executed_macs"] = priced.compute["executed_macs"].ravel()
    units["spatial_utilization"] = priced.spatial.ravel()
    units["cycles"] = priced.cycles.ravel()
    units["latency_s"] = (priced.cycles / (configs.clock_mhz[:, None] * 1e6)).ravel()
    units["loop_order"] = pd.Series(np.stack([t.order for t in traffic], axis=1).ravel(), dtype=object)
    forms = ["", *STORAGE_FORMS]
    coded = {id(t): known_codes(t.weight_storage, forms, "weight storage form") for t in traffic}  # units repeat
    units["weight_storage"] = pd.Categorical.from_codes(np.stack([coded[id(t)] for t in traffic], axis=1).ravel(),
                                                        forms)
    return pd.DataFrame(units, copy=False)  # (the arrays are this chunk's own: no consolidating copy)


def level_table(table: dict[str, np.ndarray], configs: Configs, traffic: list[Traffic],
                labels: dict[str, list]) -> pd.DataFrame:
    """One row per (configuration, unit, level, operand) of one chunk: reads and writes (accesses of the level's
    word) and their energy (pJ); names, levels and operands categorical over ``labels``."""
    k = len(configs)
    moved: dict[tuple[int, str, str], dict[str, np.ndarray]] = {}
    for j, t in enumerate(traffic):
        for (level, operand, direction), value in t.accesses.items():
            entry = moved.setdefault((j, level, operand), {"reads": np.zeros(k), "writes": np.zeros(k)})
            entry[direction] = entry[direction] + value
    if not moved:
        return pd.DataFrame()
    keys = list(moved)
    unit = np.repeat([key[0] for key in keys], k)
    reads = np.concatenate([moved[key]["reads"] for key in keys])
    writes = np.concatenate([moved[key]["writes"] for key in keys])
    energy = np.concatenate([moved[key]["reads"] * configs.read[key[1]] + moved[key]["writes"] * configs.write[key[1]]
                             for key in keys])  # (per key: no full-length copies of the energies per access)
    names, levels, operands = ([key[i] for key in keys] for i in range(3))
    return pd.DataFrame({"config": np.tile(configs.labels, len(keys)), "unit": unit,
                         "name": repeated(table["name"][names], pd.unique(table["name"]), lambda c: np.repeat(c, k)),
                         "level": repeated(levels, labels["level"], lambda c: np.repeat(c, k)),
                         "operand": repeated(operands, OPERANDS, lambda c: np.repeat(c, k)), "reads": reads,
                         "writes": writes, "energy_pj": energy}, copy=False)


def price_chunk(table: dict[str, np.ndarray], rows: list[Unit], configs: Configs, per_layer: bool,
                labels: dict[str, list]) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None,
                                                  tuple[str, ...]]:
    """The summary rows, the per-unit and per-level tables (None unless ``per_layer``; text columns categorical
    over ``labels``) and the notes of one chunk of configurations (its intermediate (configurations, units) arrays
    are freed on return)."""
    traffic = unit_traffic(rows, configs.model, configs)
    priced = priced_chunk(table, rows, configs, traffic)
    notes = configs.notes + tuple(note for t in traffic for note in t.notes)
    if not per_layer:
        return summary_columns(table, configs, priced), None, None, notes
    return (summary_columns(table, configs, priced), unit_columns(table, configs, priced, traffic, labels),
            level_table(table, configs, traffic, labels), notes)


def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' rows in one table, numbered from 0 (a single chunk as it is: concatenating copies it)."""
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def price(layers: pd.DataFrame, *, per_layer: bool = True, parts: str | Path | None = None,
          **params) -> EnergyTable:
    """Price a layer table (``hwmodels.layers``) over a grid of hardware configurations.

    Args:
        layers: the workload units (validated against :data:`hwmodels.layers.SCHEMA` first).
        per_layer: also build the per-unit and per-level tables; False leaves them empty (large grids).
        parts: a new or empty folder to stream the per-unit and per-level tables to, as Parquet files written
            chunk by chunk (:mod:`hwmodels.parts`; read back with :func:`hwmodels.parts.read_parts`), instead of
            holding them: memory then stays that of the summary and one chunk, whatever the grid's size.
        **params: see :data:`hwmodels.parameters.PARAMETERS`; a list sweeps that parameter.

    Returns:
        An :class:`EnergyTable`.
    """
    table = validated_columns(layers)
    rows = units(table)
    grid, models = configuration_grid(**params)
    if parts is not None and not per_layer:
        raise UserError(f"parts={parts}: the per-layer tables it would hold are off (per_layer=False)")
    writer = PartWriter(parts) if parts is not None else None
    # the categories of the per-layer tables' text columns, the same in every chunk
    labels = {column: list(pd.unique(grid[column].astype(str))) for column in grid.columns
              if grid[column].dtype.kind in "OUT" or pd.api.types.is_string_dtype(grid[column])}
    labels["level"] = list(dict.fromkeys(level.name for model in models.values() for level in model.levels))
    summaries, unit_frames, level_frames, notes = [], [], [], []
    for model, part in variants(grid, models):
        notes += [f"{model.name}: {note}" for note in model.estimates()]
        chunk = CHUNK if writer is None else max(1, PART_ROWS // max(1, len(rows) * len(model.levels) * 3))
        for start in range(0, len(part), chunk):
            summary, unit_frame, level_frame, chunk_notes = price_chunk(table, rows, build(model, part.iloc[
                start:start + chunk]), per_layer, labels)
            summaries.append(summary)
            if writer is not None:
                writer.write(unit_frame, level_frame)
            else:
                unit_frames.append(unit_frame)
                level_frames.append(level_frame)
            notes += [f"{model.name}: {note}" for note in chunk_notes]
    summary = pd.concat(summaries).loc[grid.index]
    held = per_layer and writer is None
    return EnergyTable(joined(unit_frames) if held else pd.DataFrame(), summary,
                       joined(level_frames) if held else pd.DataFrame(),
                       list(dict.fromkeys(notes)), writer.folder if writer is not None else None)
