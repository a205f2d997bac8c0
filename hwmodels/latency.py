"""Cycles of a mapped multiply-accumulate unit: ZigZag's latency model (Mei et al., IEEE TC 2021; ``zigzag-dse``'s
``CostModelEvaluation.calc_latency``), vectorised over configurations.

cycles = computation + stalls + first loading + last write-back + systolic drain, where

* **computation** is the temporal iterations, scaled by the share that runs (skipped zeros,
  :mod:`hwmodels.sparsity`): the links feeding and collecting the array move once per iteration that runs, one
  cycle each, and the tiles above them arrive once per period of the loops below, which the skipped iterations
  shorten;
* every operand moves through each level's ports in four directions (``fh`` written from above, ``tl`` read out
  below or to the array, ``fl`` written from below, ``th`` read out above). A **transfer link** moves a tile per
  period (the iterations of the loops below it) and takes ``ceil(bits / port bandwidth)`` cycles per period
  (``real``). It may take ``allowed`` cycles without stalling: the whole period if the level below the link is
  double-buffered (its tile, with those of the operands sharing it, uses at most half of it, or fits beside them),
  else only while the outermost loops of that level irrelevant to the operand run. Links to and from the array
  may always use their whole period;
* **stalls**: a port carrying one link stalls by ``(real - allowed) x (periods - 1)`` (negative: slack); a port
  carrying several stalls by its links' positive excesses plus whatever their busy cycles exceed the union of their
  update windows (ZigZag's ``combine_data_transfer_rate_per_physical_port``); the slowest port sets the stall;
* **first loading / last write-back**: a link that moves its whole tile once is shortened, largest first, by the
  cycles its port has spare during computation, down to the innermost tile the array needs first; a periodic link
  costs its first period. Per operand, each boundary costs the longer of its two ends, boundaries add up, and the
  two inputs overlap unless they share ports; outputs leave after the last computation;
* **systolic drain**: one cycle per PE along each systolic dimension, for the last results to leave the array.

NB: with the ``fit`` inter-layer policy, a layer's input and output kept on chip take no cycles to load or leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accounting import Choice, Widths, output_partial
from .configs import Configs
from .model import OPERANDS, HardwareModel
from .nest import Layout


@dataclass
class Activity:
    """One transfer link end on one port, per configuration (K,).

    Attributes:
        role, level, direction: the operand, the level index in its hierarchy and the port direction.
        real: cycles per period; allowed: cycles per period without stalling; period: cycles between transfers;
        count: transfers (0: inactive); bits: bits moved per period.
        floor: for a transfer done once, the fewest cycles it can take before the array starts (or after it ends).
    """

    role: str
    level: int
    direction: str
    real: np.ndarray
    allowed: np.ndarray
    period: np.ndarray
    count: np.ndarray
    bits: np.ndarray
    floor: np.ndarray


def level_runs(lay: Layout, role: str, order: np.ndarray, sizes: np.ndarray,
               depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration and level of ``role``, (K, levels): the products of the outermost run of loops irrelevant,
    and of loops relevant, to ``role`` among the loops of that level (positions [depth[m-1], depth[m]) of the
    order, innermost first)."""
    k, n = order.shape
    levels = len(lay.levels[role])
    irrelevant = lay.irrelevant[role][order]  # (K, loops) by position
    level_of = (np.arange(n)[None, :, None] >= depth[:, None, :]).sum(axis=2)  # (K, loops)
    ends = np.concatenate([depth, np.full((k, 1), n)], axis=1)  # (K, levels): end position of each level
    end_of = np.take_along_axis(ends, level_of, axis=1)  # (K, loops)
    cell = (np.arange(k)[:, None] * levels + level_of).ravel()  # (configuration, level) of each position
    out = []
    for kind in (True, False):
        other = np.concatenate([np.cumsum((irrelevant != kind)[:, ::-1], axis=1)[:, ::-1], np.zeros((k, 1))], axis=1)
        # a position is in the run when no loop of the other kind lies between it and the end of its level
        inside = (other[:, :n] - np.take_along_axis(other, end_of, axis=1)) == 0
        logs = np.bincount(cell, weights=np.where(inside, np.log(sizes), 0.0).ravel(), minlength=k * levels)
        out.append(np.rint(np.exp(logs)).reshape(k, levels))  # products of whole loop sizes
    return out[0], out[1]


@dataclass
class RoleTiles:
    """Per-level tables of one operand under the chosen mapping, (K,) each: tile elements per instance, the period
    of each level (the iterations of the loops at and below it), the outermost irrelevant and relevant runs of its
    own loops, the bits per element stored there, and whether it holds partial sums (outputs; one more entry, for
    above the top, always False)."""

    tile: list[np.ndarray]
    period: list[np.ndarray]
    window: list[np.ndarray]
    relevant_run: list[np.ndarray]
    bits: list[np.ndarray]
    partial: list[np.ndarray]


def role_tiles(lay: Layout, choice: Choice, widths: Widths, role: str) -> RoleTiles:
    chain = lay.levels[role]
    bounds = choice.bounds[role]
    k = len(widths.act)
    order_sizes = np.array([size for _, size in lay.loops], dtype=np.float64)[choice.order]
    depth = lay.depth[bounds] if bounds.size else np.zeros((k, 0), dtype=np.int64)
    irrelevant_run, relevant_run = level_runs(lay, role, choice.order, order_sizes, depth)
    t = RoleTiles([], [], list(irrelevant_run.T), list(relevant_run.T), [], [])
    for m in range(len(chain)):
        states = bounds[:, m] if m < len(chain) - 1 else np.full(k, lay.states - 1)
        t.tile.append(lay.held[role][m][states])
        t.period.append(lay.cycles[states])
        if role == "O":
            below = bounds[:, m - 1] if m > 0 else np.zeros(k, dtype=np.int64)
            t.partial.append(np.asarray(output_partial(lay, m, below), dtype=bool))
            t.bits.append(np.where(t.partial[-1], widths.psum, widths.final))
        else:
            t.partial.append(np.zeros(k, dtype=bool))
            t.bits.append(widths.precision(role, m == len(chain) - 1))
    t.partial.append(np.zeros(k, dtype=bool))
    return t


def double_buffered(lay: Layout, tiles: dict[str, RoleTiles], widths: Widths,
                    capacity: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Per operand and level, whether the level may refill during a whole period: its effective tile (less its
    outermost relevant loops, which walk through it) uses at most half of it with those of the operands sharing it,
    or fits beside them (then it reserves that room; outputs, then weights, then inputs claim it in turn, as ZigZag
    does). An output tile is sized at the width it leaves the level with (ZigZag's convention).
    ``capacity``: bits per instance of each level, (K,)."""
    utilization: dict[str, list[np.ndarray]] = {}
    for role, t in tiles.items():
        utilization[role] = []
        for m, level in enumerate(lay.levels[role]):
            bits = np.where(t.partial[m + 1], widths.psum, widths.final) if role == "O" else t.bits[m]
            effective = np.floor(t.tile[m] * bits / t.relevant_run[m])
            utilization[role].append(effective / capacity[level.name])
    shared: dict[str, np.ndarray] = {}
    for role, per_level in utilization.items():
        for m, value in enumerate(per_level):
            name = lay.levels[role][m].name
            shared[name] = shared.get(name, 0.0) + value
    flags: dict[str, list[np.ndarray]] = {}
    for role in ("O", "W", "I"):
        flags[role] = []
        for m, value in enumerate(utilization[role]):
            name = lay.levels[role][m].name
            half = shared[name] <= 0.5
            beside = ~half & (value <= 1.0 - shared[name])
            shared[name] = shared[name] + np.where(beside, value, 0.0)
            flags[role].append(half | beside)
    return flags


def link_activities(lay: Layout, choice: Choice, widths: Widths, dropped: dict[str, np.ndarray],
                    tiles: dict[str, RoleTiles],
                    capacity: dict[str, np.ndarray]) -> dict[tuple[str, str], list[Activity]]:
    """Every transfer link end of the mapped unit, grouped by the port (level name, port name) carrying it."""
    k = len(widths.act)
    flags = double_buffered(lay, tiles, widths, capacity)
    ports: dict[tuple[str, str], list[Activity]] = {}
    stationary_period = {r: lay.cycles[choice.stationary[r]] for r in ("W", "I")}

    def add(role: str, m: int, direction: str, elements, bits, period, allowed, active, floor_bits=None,
            array_side: bool = False) -> None:
        level = lay.levels[role][m]
        port = level.port(role, direction)
        moved = np.broadcast_to(elements * bits, (k,)).astype(float)
        real = np.ceil(moved / port.bandwidth_bits - 1e-9)
        floor = real if floor_bits is None else np.minimum(real, np.ceil(floor_bits / port.bandwidth_bits - 1e-9))
        if array_side:  # feeds (or collects from) the array per executed iteration: a skipped one takes neither a
            # cycle nor a transfer
            count, timing = np.where(active, lay.total * widths.work / period, 0.0), 1.0
        else:  # a tile per period of the loops below, which skipped iterations shorten
            count, timing = np.where(active, lay.total / period, 0.0), widths.work
        ports.setdefault((level.name, port.name), []).append(Activity(
            role, m, direction, real, allowed * timing, period * timing, count, moved, floor))

    for role in OPERANDS:
        t = tiles[role]
        top = len(lay.levels[role]) - 1
        first_tile = t.tile[0] * t.bits[0]  # what one instance of the innermost level needs first
        for m in range(top + 1):
            if m == 0:
                elements, period = lay.fanout[role][0], (stationary_period[role] if role != "O" else np.ones(k))
                allowed = period
            else:
                elements, period = t.tile[m - 1] * lay.fanout[role][m], t.period[m - 1]
                allowed = np.where(flags[role][m - 1], period, period / t.window[m - 1])
            # the whole tensor kept on chip between layers never reaches the top level
            kept = dropped.get(role, np.zeros(k, dtype=bool)) & (m == top) & (m > 0) & (period == lay.total)
            if role == "O":
                bits = np.where(t.partial[m], widths.psum, widths.final_at(m == top))
                add(role, m, "fl", elements, bits, period, allowed, ~kept, first_tile, array_side=m == 0)
                add(role, m, "tl", elements, bits, period, allowed, t.partial[m] & ~kept, array_side=m == 0)
            else:
                add(role, m, "tl", elements, widths.precision(role, m == top), period, allowed, ~kept, first_tile,
                    array_side=m == 0)
            if m < top:
                period = t.period[m]
                allowed = np.where(flags[role][m], period, period / t.window[m])
                kept = dropped.get(role, np.zeros(k, dtype=bool)) & (m + 1 == top) & (period == lay.total)
                if role == "O":
                    bits = np.where(t.partial[m + 1], widths.psum, widths.final)
                    add(role, m, "th", t.tile[m], bits, period, allowed, ~kept, first_tile)
                    add(role, m, "fh", t.tile[m], bits, period, allowed, t.partial[m + 1] & ~kept)
                else:
                    add(role, m, "fh", t.tile[m], widths.precision(role, False), period, allowed, ~kept, first_tile)
    return ports


def uncovered(periods: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Cycles of the longest period not covered by any window, (K,): window j covers the first ``windows[:, j]``
    cycles of every period of ``periods[:, j]``; the periods divide one another (nested loops)."""
    order = np.argsort(periods, axis=1, kind="stable")
    p = np.take_along_axis(periods, order, axis=1)
    a = np.minimum(np.take_along_axis(windows, order, axis=1), p)
    n = p.shape[1]
    whole = [np.ones(len(p))]  # uncovered cycles of one period of the first j windows (j = 0: period 1)
    base = [np.ones(len(p))]

    def after(j: int, t: np.ndarray) -> np.ndarray:
        """Uncovered cycles in [t, p_j) by the first j windows."""
        if j == 0:
            return base[0] - t
        start = np.maximum(t, a[:, j - 1])
        inner = base[j - 1]
        q = np.floor(start / inner + 1e-9)
        r = start - q * inner
        return after(j - 1, r) + (p[:, j - 1] / inner - q - 1) * whole[j - 1]

    for j in range(1, n + 1):
        whole.append(after(j, np.zeros(len(p))))
        base.append(p[:, j - 1])
    return whole[n]


def port_stall(activities: list[Activity]) -> np.ndarray:
    """Stall (+) or slack (-) cycles of one port, ZigZag's combination of the links sharing it."""
    if len(activities) == 1:
        a = activities[0]
        return np.where(a.count > 0, (a.real - a.allowed) * np.maximum(a.count - 1, 0.0), 0.0)
    real, allowed, period, count = np.array([(a.real, a.allowed, a.period, a.count) for a in activities]).transpose(
        1, 2, 0)  # each (K, links)
    active = count > 0
    repeats = np.maximum(count - 1, 0.0)
    stall = np.where(active, (real - allowed) * repeats, 0.0)
    window = np.where(active, allowed * repeats, 0.0)
    several = active.sum(axis=1) >= 2
    full = (active & (np.abs(period - allowed) < 1e-9)).any(axis=1)
    span = np.max(np.where(active, period * count, 0.0), axis=1)
    union = span.copy()
    partly = np.flatnonzero(several & ~full)  # no link may use its whole period: the union of their windows
    if len(partly):
        longest = np.max(np.where(active, period, 0.0), axis=1)[partly]
        free = uncovered(np.where(active, period, 1.0)[partly], np.where(active, allowed, 0.0)[partly])
        union[partly] = (longest - free) * span[partly] / np.maximum(longest, 1e-30)
    combined = (np.where(stall > 0, stall, 0.0).sum(axis=1)
                + np.maximum(0.0, np.where(stall <= 0, stall, 0.0).sum(axis=1) + window.sum(axis=1) - union))
    return np.where(several, combined, stall.sum(axis=1))


def reduce_largest_first(totals: np.ndarray, floors: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Transfers (K, n) shortened by up to ``budget`` (K,) cycles in all, largest first, none below its floor
    (ZigZag's ``reduce_ordered``)."""
    if totals.shape[1] == 1:
        return totals - np.minimum(np.maximum(totals - floors, 0.0), budget[:, None])
    result = totals.copy()
    left = budget.copy()
    rows = np.arange(len(totals))
    for j in np.argsort(-totals, axis=1, kind="stable").T:
        cut = np.minimum(np.maximum(result[rows, j] - floors[rows, j], 0.0), left)
        result[rows, j] -= cut
        left -= cut
    return result


def edge_cycles(hw: HardwareModel, lay: Layout, ports: dict[tuple[str, str], list[Activity]],
                busy_cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cycles to load the inputs' first tiles before computing and to write the outputs' last tiles after."""
    k = len(busy_cycles)
    cost: dict[tuple[str, int, str], tuple[np.ndarray, bool]] = {}
    for (level, _), group in ports.items():
        port = hw.level(level).port(group[0].role, group[0].direction)
        shared = {"W", "I"} <= {role for role, _ in port.serves}
        ends = [a for a in group if not (a.role == "O" and a.direction in ("tl", "fh"))]  # partial sums excluded
        if not ends:
            continue
        count, real, bits, period, floor = np.array([(a.count, a.real, a.bits, a.period, a.floor)
                                                     for a in ends]).transpose(1, 2, 0)  # each (K, links)
        once, periodic = count == 1, count > 1
        demand = np.where(periodic, bits / np.maximum(period, 1e-30), 0.0).sum(axis=1)
        spare = np.maximum(0.0, 1.0 - demand / port.bandwidth_bits) * busy_cycles
        reduced = reduce_largest_first(np.where(once, real, 0.0), np.where(once, floor, 0.0), spare)
        cycles = np.where(once, reduced, np.where(periodic, real, 0.0))
        for j, a in enumerate(ends):
            cost[(a.role, a.level, a.direction)] = (cycles[:, j], shared)
    parts = {}
    for role in ("W", "I"):
        individual, half, both = np.zeros(k), np.zeros(k), np.zeros(k)
        for m in range(len(lay.levels[role]) - 1):
            (low, low_shared), (high, high_shared) = cost[(role, m, "fh")], cost[(role, m + 1, "tl")]
            longest = np.maximum(low, high)
            if low_shared and high_shared:
                both += longest
            elif low_shared or high_shared:
                half += longest
            else:
                individual += longest
        parts[role] = (individual, half, both)
    (i_w, h_w, s_w), (i_i, h_i, s_i) = parts["W"], parts["I"]
    load = np.minimum(s_w + np.maximum(s_i + h_i + i_i, h_w + i_w), s_i + np.maximum(s_w + h_w + i_w, h_i + i_i))
    store = sum((np.maximum(cost[("O", m, "th")][0], cost[("O", m + 1, "fl")][0])
                 for m in range(len(lay.levels["O"]) - 1)), np.zeros(k))
    return load, store


def unit_cycles(hw: HardwareModel, lay: Layout, choice: Choice, widths: Widths, dropped: dict[str, np.ndarray],
                configs: Configs) -> np.ndarray:
    """Cycles of the mapped unit per configuration (see the module doc). ``dropped``: per operand, whether its
    whole tensor stays on chip between layers; ``configs``: the configurations (capacity per level)."""
    tiles = {role: role_tiles(lay, choice, widths, role) for role in OPERANDS}
    ports = link_activities(lay, choice, widths, dropped, tiles, configs.capacity)
    compute = lay.total * widths.work
    stall = np.maximum(0.0, np.max(np.stack([port_stall(group) for group in ports.values()]), axis=0))
    load, store = edge_cycles(hw, lay, ports, compute + stall)
    return compute + stall + load + store + systolic_cycles(hw, lay)


def stationary_operand(lay: Layout) -> str | None:
    """The operand the array holds while it computes: the one no spatially unrolled loop is irrelevant to (W for a
    K x C array, O for K x OX), or None."""
    held = [role for role in OPERANDS if not lay.spatial_irrelevant[role][0]]
    return held[0] if len(held) == 1 else None


def folds(lay: Layout) -> int:
    """Tiles of the stationary operand the array works through: the iterations of the temporal loops relevant to
    it (1 without a stationary operand)."""
    role = stationary_operand(lay)
    if role is None:
        return 1
    return int(np.prod([size ** int(count) for (_, size), count, skip in
                        zip(lay.loops, lay.counts, lay.irrelevant[role], strict=True) if not skip]))


def systolic_cycles(hw: HardwareModel, lay: Layout) -> float:
    """Pipeline fill and drain of a systolic array (:data:`~hwmodels.file_format.FILLS`) along its first two
    systolic dimensions: ``once``, R + C - 2 cycles with R x C the PEs in use; ``per_fold``, for each of
    :func:`folds`, R + C - 2 cycles with R x C the whole array (every fold's data is skewed across all of it, as
    SCALE-Sim counts), plus R to load the tile first when the stationary operand is an input (weight or input
    stationary: 2R + C - 2; output stationary: the partial sums start in place)."""
    systolic = [j for j, d in enumerate(hw.array.dims) if d in hw.array.systolic]
    if hw.array.fill == "once" or not systolic:
        per_dim = np.ones(len(hw.array.dims))
        for (j, _), u in zip(hw.array.loops, lay.unrolled, strict=True):
            per_dim[j] *= u
        return float(sum(max(int(per_dim[j]) - 1, 0) for j in systolic))
    rows, cols = hw.array.sizes[systolic[0]], (hw.array.sizes[systolic[1]] if len(systolic) > 1 else 1)
    load = 0 if stationary_operand(lay) == "O" else rows
    return float(folds(lay) * (load + rows + cols - 2))
