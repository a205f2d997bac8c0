"""The batch of hardware configurations priced together: one typed value, the single currency below
:func:`hwmodels.price`.

:func:`build` turns the rows of the configuration grid that share one hardware variant (hardware file, array size,
dataflow) into a frozen :class:`Configs`: every parameter resolved (a ``None`` default replaced by the hardware's
own value), the word widths and policies the mapper reads, each level's capacity and energy per access, the energy
per action, the clock, and the notes on estimated values. Nothing below :func:`hwmodels.price` reads the grid.

The contract: every function below ``price`` takes ``(unit, hw, configs)`` (or a part of it) and returns arrays
with one entry per configuration, in the order of ``configs``; :meth:`Configs.take` is the one way to select a
subset of configurations.

Adding a pricing parameter touches two files: declare it in :mod:`hwmodels.parameters` (name, default, type,
bound, help: the grid, the checks and the command line follow), and, if it changes a number, resolve it into a
field here (:func:`build`). Its resolved value reaches the summary table through :attr:`Configs.values`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from .errors import UserError
from .model import ACTIONS, HardwareModel
from .parameters import PARAMETERS


@dataclass(frozen=True)
class Configs:
    """K hardware configurations of one hardware variant, every array of shape (K,).

    Attributes:
        model: the hardware variant (array resized, dataflow applied).
        labels: the grid's row labels of the configurations.
        values: every pricing parameter's resolved value per configuration (for the summary table).
        weight_bits, act_bits, psum_bits, output_bits: bits per weight, input activation, partial sum and final
            output (``output_bits`` resolved to ``act_bits`` where not given).
        zero_skipping, skip_padding: the MAC-skipping policies.
        act_sparsity: zero activations exploited as the hardware declares (:mod:`hwmodels.sparsity`).
        psc_index: how random k-of-9 kernels are indexed (:data:`~hwmodels.parameters.PSC_INDEXES`).
        keep_on_chip: the ``fit`` inter-layer policy.
        mapper: the loop-nest mapper (:data:`~hwmodels.parameters.MAPPERS`).
        stationary: the operand pinned in the PE registers (:data:`~hwmodels.parameters.STATIONARY`).
        loop_factor_limit: temporal loop factors the ``loma`` mapper orders.
        buffer_kib: capacity of the resizable buffer, KiB (resolved).
        clock_mhz: clock, MHz (resolved).
        to_pj: factor from the model's energy unit to pJ.
        capacity: level name -> bits per instance.
        read, write: level name -> energy per read / write access of the level's word, pJ.
        actions: action name (:data:`hwmodels.model.ACTIONS`) -> energy per action, pJ.
        notes: values used that are estimates (provenance), one line each.
    """

    model: HardwareModel
    labels: np.ndarray
    values: dict[str, np.ndarray]
    weight_bits: np.ndarray
    act_bits: np.ndarray
    psum_bits: np.ndarray
    output_bits: np.ndarray
    zero_skipping: np.ndarray
    skip_padding: np.ndarray
    act_sparsity: np.ndarray
    psc_index: np.ndarray
    keep_on_chip: np.ndarray
    mapper: np.ndarray
    stationary: np.ndarray
    loop_factor_limit: np.ndarray
    buffer_kib: np.ndarray
    clock_mhz: np.ndarray
    to_pj: np.ndarray
    capacity: dict[str, np.ndarray]
    read: dict[str, np.ndarray]
    write: dict[str, np.ndarray]
    actions: dict[str, np.ndarray]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Configs:
        """The configurations at positions ``index``."""
        return take(self, index)


def take(batch, index: np.ndarray):
    """A frozen dataclass of per-configuration arrays (and dicts of them) restricted to positions ``index`` (sorted
    positions covering every configuration give the batch itself); other fields are kept."""
    if len(index) == len(batch) and (len(index) == 0 or (index[0] == 0 and index[-1] == len(index) - 1
                                                         and np.all(np.diff(index) == 1))):
        return batch
    picked = {}
    for f in fields(batch):
        value = getattr(batch, f.name)
        if isinstance(value, np.ndarray):
            picked[f.name] = value[index]
        elif isinstance(value, dict):
            picked[f.name] = {key: v[index] for key, v in value.items()}
    return replace(batch, **picked)


def build(model: HardwareModel, grid: pd.DataFrame) -> Configs:
    """The :class:`Configs` of the grid rows ``grid`` (all of hardware variant ``model``).

    Raises:
        ValueError: a model normalised to a 16-bit MAC priced without ``mac_energy_pj``.
    """
    to_pj = unit_conversion(model, grid["mac_energy_pj"].to_numpy(dtype=object))
    act = grid["act_bits"].to_numpy().astype(np.int64)
    output = resolved(grid["output_bits"], act).astype(np.int64)
    resizable = model.resizable_level()
    if resizable is None and grid["buffer_kib"].notna().any():
        raise UserError(f"pricing parameter buffer_kib: hardware '{model.name}' has no on-chip level to resize")
    buffer_kib = resolved(grid["buffer_kib"], np.nan if resizable is None else resizable.size_bits / 8192).astype(float)
    clock = resolved(grid["clock_mhz"], model.clock_mhz).astype(float)
    capacity, read, write, level_notes = level_energies(model, grid["buffer_kib"].to_numpy(dtype=object), to_pj)
    bits = np.maximum(grid["weight_bits"].to_numpy(), act).astype(int)
    formats = np.char.add(grid["number_format"].to_numpy().astype(str), bits.astype(str))
    actions, action_notes = action_energies(model, formats, to_pj)
    values = {p.name: grid[p.name].to_numpy() for p in PARAMETERS}
    values |= {"hw": np.full(len(grid), model.name, dtype=object), "output_bits": output, "buffer_kib": buffer_kib,
               "clock_mhz": clock, "pe_rows": np.full(len(grid), model.array.sizes[0]),
               "pe_cols": np.full(len(grid), model.array.sizes[1] if len(model.array.sizes) > 1 else 1),
               "mapping": values["mapping"].astype(object)}
    return Configs(model=model, labels=grid.index.to_numpy(), values=values,
                   weight_bits=grid["weight_bits"].to_numpy().astype(np.int64), act_bits=act,
                   psum_bits=grid["psum_bits"].to_numpy().astype(np.int64), output_bits=output,
                   zero_skipping=grid["zero_skipping"].to_numpy().astype(bool),
                   skip_padding=grid["skip_padding"].to_numpy().astype(bool),
                   act_sparsity=grid["act_sparsity"].to_numpy().astype(bool),
                   psc_index=grid["psc_index"].to_numpy().astype(str),
                   keep_on_chip=(grid["interlayer"] == "fit").to_numpy(),
                   mapper=grid["mapper"].to_numpy().astype(str),
                   stationary=grid["stationary"].to_numpy().astype(str),
                   loop_factor_limit=grid["loop_factor_limit"].to_numpy().astype(np.int64),
                   buffer_kib=buffer_kib, clock_mhz=clock, to_pj=to_pj, capacity=capacity, read=read, write=write,
                   actions=actions, notes=tuple(dict.fromkeys(level_notes + action_notes)))


def resolved(column: pd.Series, default) -> np.ndarray:
    """A parameter column with ``None`` (the hardware's own value) replaced by ``default`` (a scalar, or an array
    with one value per row)."""
    given = column.to_numpy(dtype=object)
    defaults = np.broadcast_to(np.asarray(default, dtype=object), given.shape)
    return np.array([d if v is None or v != v else v for v, d in zip(given, defaults, strict=True)])


def unit_conversion(model: HardwareModel, mac_energy_pj: np.ndarray) -> np.ndarray:
    """Factor from the model's energy unit to pJ per configuration (``mac_energy_pj``: pJ per 16-bit MAC, or None)."""
    if model.unit == "pj":
        return np.ones(len(mac_energy_pj))
    if any(v is None for v in mac_energy_pj):
        raise UserError(f"hardware model '{model.name}' is normalised to a 16-bit MAC (unit mac16); give the pJ "
                         "of a 16-bit MAC to price it in pJ (mac_energy_pj in Python and sweep files, --mac-energy-pj "
                         "on the command line)")
    return mac_energy_pj.astype(float) / model.mac16()


def level_energies(model: HardwareModel, buffer_kib: np.ndarray, to_pj: np.ndarray):
    """Per level and configuration: capacity (bits), energy per read and per write access (pJ), and notes on the
    resized level (``buffer_kib``: KiB per configuration, None for the hardware's own size)."""
    capacity, read, write, notes = {}, {}, {}, []
    resizable = model.resizable_level()
    given = np.array([b is not None for b in buffer_kib], dtype=bool)
    for level in model.levels:
        scale = np.ones(len(buffer_kib))
        size = np.full(len(buffer_kib), level.size_bits)
        if level is resizable and given.any():
            size = np.where(given, [b * 8192.0 if b is not None else level.size_bits for b in buffer_kib],
                            level.size_bits)
            scale = model.energy_scale(size, level.size_bits)
            rule = ("the [[sram_size]] table (log-log)" if len(model.sram_table) >= 2
                    else "the square root of the capacity ratio")
            notes.append(f"level {level.name}: resized by buffer_kib; energy per access scaled by {rule} (estimate)")
        read[level.name] = level.read_energy * scale * to_pj
        write[level.name] = level.write_energy * scale * to_pj
        capacity[level.name] = size
    return capacity, read, write, notes


def action_energies(model: HardwareModel, formats: np.ndarray, to_pj: np.ndarray) -> tuple[dict, list[str]]:
    """Energy per action (pJ) per configuration, looked up once per distinct number format (``formats``, e.g.
    ``int8``), and notes on the estimated ones."""
    out = {a: np.empty(len(formats)) for a in ACTIONS}
    notes = []
    for fmt in np.unique(formats):
        where = formats == fmt
        for action in out:
            found = model.action_energy(action, fmt)
            out[action][where] = found.value
            if found.derived:
                notes.append(f"compute {fmt} {action}: {found.rule} (estimate)")
    return {a: v * to_pj for a, v in out.items()}, notes
