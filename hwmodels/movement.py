"""Data movement of one workload unit on one hardware variant, for many configurations at once: accesses per level,
operand and direction, and cycles.

Multiply-accumulate units are mapped by :mod:`hwmodels.mapping` (spatial unrolling, then the energy-optimal loop
order under each level's capacity) and their accesses counted as ZigZag counts them. On top of that, what ZigZag
does not model:

* **Weight storage.** Weights are stored in DRAM in the cheapest form for their format: dense (``weight_bits`` per
  element), unstructured sparse (non-zeros with an in-row index of ceil(log2 row length) bits and row pointers of
  ceil(log2(nnz + 1)) bits), periodic (non-zeros plus the pattern table; the positions follow the rule) or a
  codebook (min(weight_bits, code bits) per element); the bits per weight at the top level are
  stored bits / elements. With ``zero_skipping`` the weights stay compressed on chip (zero weights are never moved)
  and the skipped MACs (``nz_macs``, or ``nz_macs_valid`` with ``skip_padding``: padding taps skipped too) are not
  executed: per-cycle accesses scale by executed / dense MACs. Other parameters (bias, normalisation) are read
  from the top weight level once per unit.
* **Inter-layer policy** (``interlayer``): ``"dram"``, every layer reads its input from DRAM and writes its output
  there (ZigZag's assumption); ``"fit"``, a layer whose whole input and output fit the largest on-chip level
  holding both keeps them there (no DRAM traffic for them).
* **Units without MACs** (normalisation, activation, pooling, element-wise, optimiser updates) read their input and
  write their output through the largest on-chip level holding activations, and through DRAM unless the policy
  keeps them on chip.

Cycles: compute takes the temporal iterations (executed MACs / (PEs x spatial utilisation)); each level moves its
bits through its ports at ``bandwidth_bits`` per cycle per instance. Overlap policy: transfers overlap with compute
(double buffering), so a unit takes max(compute, every level's transfer cycles), plus the cycles to fill the first
tiles of the inputs from the top level and to drain the last output tile to it, plus the systolic drain (one cycle
per PE along each systolic dimension). NB: ZigZag models port conflicts and stalls in more detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mapping import (
    DIM,
    ROLES,
    Energies,
    Nest,
    Widths,
    boundary,
    innermost,
    layout,
    nest_of,
    output_partial,
    search,
    spatial_unrolling,
    words,
)
from .model import LOOP_DIMS, HardwareModel, Level

DIRECTIONS = ("reads", "writes")


def weight_storage_bits(elems, nnz, rows, row_len, weight_format, pattern_table_bits, code_bits,
                        weight_bits) -> dict[str, np.ndarray]:
    """Bits of a weight in each storage form and the form used (the cheapest that applies), arrays broadcast over
    layers and configurations."""
    elems, nnz, rows, row_len = (np.asarray(v, dtype=np.float64) for v in (elems, nnz, rows, row_len))
    word = np.where(np.asarray(code_bits) > 0, np.minimum(weight_bits, code_bits), weight_bits)
    index_bits = np.ceil(np.log2(np.maximum(row_len, 2)))
    pointer_bits = np.ceil(np.log2(nnz + 2))
    dense = elems * word
    unstructured = nnz * (word + index_bits) + (rows + 1) * pointer_bits * (elems > 0)
    periodic = nnz * word + np.asarray(pattern_table_bits, dtype=np.float64)
    is_periodic = np.asarray(weight_format) == "periodic"
    stored = np.where(is_periodic, periodic, np.minimum(dense, unstructured))
    form = np.where(is_periodic, "periodic", np.where(unstructured < dense, "unstructured", "dense"))
    return {"dense": dense, "unstructured": unstructured, "periodic": periodic, "stored": stored, "form": form}


@dataclass
class Config:
    """Per-configuration arrays (K,) of one hardware variant: word widths, policies and per-access energies."""

    weight_bits: np.ndarray
    act_bits: np.ndarray
    psum_bits: np.ndarray
    output_bits: np.ndarray
    zero_skipping: np.ndarray
    skip_padding: np.ndarray
    keep_on_chip: np.ndarray
    loop_factor_limit: np.ndarray
    energies: Energies
    capacity: dict[str, np.ndarray]  # level name -> bits per instance

    def __len__(self) -> int:
        return len(self.act_bits)


@dataclass
class Traffic:
    """The movement of one unit for K configurations.

    Attributes:
        accesses: (level name, operand, direction) -> accesses of the level's word, (K,).
        bits: level name -> bits read and written through it, (K,).
        cycles, compute_cycles: (K,) cycles of the unit and of its computation alone.
        utilization: spatial utilisation of the array, (K,).
        weight_storage: storage form of the weight per configuration (dense, unstructured, periodic or "").
        order: for MAC units, the loop order chosen (innermost first) as text per configuration.
    """

    accesses: dict[tuple[str, str, str], np.ndarray]
    cycles: np.ndarray
    compute_cycles: np.ndarray
    utilization: np.ndarray
    weight_storage: np.ndarray
    order: np.ndarray


def splits(hw: HardwareModel, config: Config, totals: dict[str, np.ndarray], widths: dict[str, np.ndarray]):
    """The capacity splits of shared levels to search: proportional only, when every shared level holds its
    operands' whole tensors (then exact), else proportional and equal."""
    for level in hw.levels:
        sharing = [r for r in ROLES if r in level.operands]
        if len(sharing) > 1 and not level.offchip:
            whole = sum(totals[r] * widths[r] for r in sharing)
            if (whole > config.capacity[level.name]).any():
                return ("proportional", "equal")
    return ("proportional",)


def shared_capacities(hw: HardwareModel, config: Config, totals: dict[str, np.ndarray],
                      widths: dict[str, np.ndarray], split: str) -> dict[str, np.ndarray]:
    """Bits each operand may use at each of its levels, (K, levels): a level holding several operands is split
    between them in proportion to their whole tensors (``split="proportional"``) or equally (``"equal"``)."""
    capacity = {}
    for role in ROLES:
        chain = hw.hierarchy(role)
        columns = []
        for level in chain:
            bits = config.capacity[level.name]
            sharing = [r for r in ROLES if r in level.operands]
            if len(sharing) > 1 and not level.offchip:
                if split == "equal":
                    bits = bits / len(sharing)
                else:
                    whole = sum(totals[r] * widths[r] for r in sharing)
                    bits = bits * (totals[role] * widths[role]) / np.maximum(whole, 1e-12)
                    bits = np.maximum(bits, np.minimum(config.capacity[level.name], totals[role] * widths[role]))
                    bits = np.where(whole <= config.capacity[level.name], totals[role] * widths[role] + 1e-6, bits)
            columns.append(bits)
        capacity[role] = np.stack(columns, axis=1)
    return capacity


def mac_unit(row, hw: HardwareModel, config: Config) -> Traffic:
    """Traffic and cycles of a multiply-accumulate unit (a row of the layer table) on ``hw``."""
    nest = nest_of(row)
    k = len(config)
    storage = weight_storage_bits(row.weight_elems, row.weight_nnz, row.weight_rows, row.weight_row_len,
                                  row.weight_format, row.pattern_table_bits, row.weight_code_bits, config.weight_bits)
    has_weight = row.weight_operand and row.weight_elems > 0 and row.role in ("forward", "grad_input")
    per_weight = storage["stored"] / max(row.weight_elems, 1) if has_weight else config.weight_bits.astype(float)
    if not row.weight_operand:
        per_weight = config.act_bits.astype(float)
    executed = np.where(config.zero_skipping, np.where(config.skip_padding, row.nz_macs_valid, row.nz_macs), row.macs)
    work = executed / max(row.macs, 1)
    widths = Widths(weight_chip=np.where(config.zero_skipping & has_weight, per_weight,
                                         config.weight_bits if row.weight_operand else config.act_bits).astype(float),
                    weight_top=np.asarray(per_weight, dtype=float), act=config.act_bits.astype(float),
                    psum=config.psum_bits.astype(float), final=config.output_bits.astype(float),
                    work=np.asarray(work, dtype=float))
    accesses: dict[tuple[str, str, str], np.ndarray] = {}
    cycles, compute, utilization = np.zeros(k), np.zeros(k), np.zeros(k)
    order = np.empty(k, dtype=object)
    for unrolled, limit, index in spatial_groups(nest, hw, config):
        lay = layout(nest, hw, unrolled, limit)
        sub = subset(widths, index)
        part = config_subset(config, index)
        totals = {r: np.full(len(index), lay.elements[r][-1][-1]) for r in ROLES}
        bits = {"W": sub.weight_chip, "I": sub.act, "O": sub.final}
        dropped = {r: part.keep_on_chip & fits_on_chip(hw, part, totals) for r in ("I", "O")}
        best = None
        for split in splits(hw, part, totals, bits):
            choice = search(lay, sub, part.energies, shared_capacities(hw, part, totals, bits, split), dropped)
            moved = count_accesses(lay, choice, sub, dropped)
            energy = np.where(choice.feasible, sum(
                v * (part.energies.read if d == "reads" else part.energies.write)[lv] for (lv, _, d), v in
                moved.items()), np.inf)
            if best is None:
                best, best_energy, best_choice = moved, energy, choice
                continue
            better = energy < best_energy
            best = {key: np.where(better, v, best[key]) for key, v in moved.items()}
            best_energy = np.minimum(energy, best_energy)
            best_choice = merge(best_choice, choice, better)
        if not np.isfinite(best_energy).all():
            raise ValueError(f"layer '{row.name}' cannot be mapped on {hw.name}: a level cannot hold one tile of an "
                             "operand (check the capacities and the spatial unrolling)")
        top = hw.hierarchy("W")[-1].name
        best[(top, "W", "reads")] = best.get((top, "W", "reads"), 0.0) + other_parameter_reads(row, hw, part)
        for key, value in best.items():
            accesses.setdefault(key, np.zeros(k))[index] += value
        compute[index] = lay.total * sub.work
        utilization[index] = lay.utilization
        order[index] = [" ".join(f"{LOOP_DIMS[lay.loops[x][0]]}{lay.loops[x][1]}" for x in path)
                        for path in best_choice.order]
        cycles[index] = unit_cycles(hw, lay, best_choice, sub, compute[index])
    form = np.broadcast_to(storage["form"], (k,)) if has_weight else np.full(k, "")
    return Traffic(accesses, cycles, compute, utilization, np.asarray(form), order)


def spatial_groups(nest: Nest, hw: HardwareModel, config: Config):
    """(unrolling, loop factor limit, configuration indices) for each distinct spatial unrolling among the
    configurations (it depends on the word widths through the memories' bandwidth limits)."""
    keys = np.stack([config.weight_bits, config.act_bits, config.psum_bits, config.loop_factor_limit], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    rows = [(tuple(spatial_unrolling(nest, hw, dict(zip(ROLES, map(float, u[:3]), strict=True)))), int(u[3]))
            for u in unique]
    groups: dict[tuple, list[np.ndarray]] = {}
    for j, key in enumerate(rows):
        groups.setdefault(key, []).append(np.flatnonzero(inverse.ravel() == j))
    for (unrolled, limit), parts in groups.items():
        yield np.array(unrolled), limit, np.sort(np.concatenate(parts))


def subset(widths: Widths, index: np.ndarray) -> Widths:
    return Widths(*(np.asarray(getattr(widths, f))[index] for f in ("weight_chip", "weight_top", "act", "psum",
                                                                      "final", "work")))


def config_subset(config: Config, index: np.ndarray) -> Config:
    return Config(config.weight_bits[index], config.act_bits[index], config.psum_bits[index],
                  config.output_bits[index], config.zero_skipping[index], config.skip_padding[index],
                  config.keep_on_chip[index], config.loop_factor_limit[index],
                  Energies({n: v[index] for n, v in config.energies.read.items()},
                           {n: v[index] for n, v in config.energies.write.items()}),
                  {n: v[index] for n, v in config.capacity.items()})


def merge(a, b, take_b: np.ndarray):
    """Per configuration, the choice ``b`` where ``take_b`` else ``a``."""
    from .mapping import Choice

    return Choice({r: np.where(take_b[:, None], b.bounds[r], a.bounds[r]) for r in a.bounds},
                  {r: np.where(take_b, b.stationary[r], a.stationary[r]) for r in a.stationary},
                  np.where(take_b[:, None], b.order, a.order), a.feasible | b.feasible)


def fits_on_chip(hw: HardwareModel, config: Config, totals: dict[str, np.ndarray]) -> np.ndarray:
    """Whether the whole input and output fit together the largest on-chip level holding both (``fit`` policy)."""
    shared = [lv for lv in hw.levels if {"I", "O"} <= lv.operands and not lv.offchip]
    if not shared:
        return np.zeros(len(config), dtype=bool)
    level = max(shared, key=lambda lv: lv.size_bits)
    need = totals["I"] * config.act_bits + totals["O"] * config.output_bits
    return need <= config.capacity[level.name]


def count_accesses(lay, choice, widths: Widths,
                   dropped: dict[str, np.ndarray]) -> dict[tuple[str, str, str], np.ndarray]:
    """Accesses per (level, operand, direction) of the chosen mapping."""
    moved: dict[tuple[str, str, str], np.ndarray] = {}

    def add(level: Level, role: str, direction: str, value: np.ndarray) -> None:
        key = (level.name, role, direction)
        moved[key] = moved.get(key, 0.0) + np.asarray(value, dtype=float).ravel()

    for role in ROLES:
        chain = lay.levels[role]
        reads, writes = innermost(lay, role, choice.stationary[role][:, None], widths)
        add(chain[0], role, "reads", reads)
        add(chain[0], role, "writes", writes)
        for m in range(len(chain) - 1):
            states = choice.bounds[role][:, m][:, None]
            b = boundary(lay, role, m, states, widths)
            free = dropped.get(role, np.zeros(len(widths.act), dtype=bool))[:, None] & (
                m + 1 == len(chain) - 1) & (states == lay.states - 1)
            add(chain[m], role, "reads", np.where(free, 0.0, b.low_reads))
            add(chain[m], role, "writes", np.where(free, 0.0, b.low_writes))
            add(chain[m + 1], role, "reads", np.where(free, 0.0, b.high_reads))
            add(chain[m + 1], role, "writes", np.where(free, 0.0, b.high_writes))
    return moved


def other_parameter_reads(row, hw: HardwareModel, config: Config) -> np.ndarray:
    """Accesses of the top weight level to read the unit's other parameters (bias, normalisation) once."""
    if not row.other_params:
        return np.zeros(len(config))
    return words(row.other_params * config.weight_bits.astype(float), hw.hierarchy("W")[-1])


def unit_cycles(hw: HardwareModel, lay, choice, widths: Widths, compute: np.ndarray) -> np.ndarray:
    """Cycles of a mapped unit, ZigZag's latency model simplified:

    temporal iterations (scaled by the work done) + stalls + the first load + the last write-back + systolic drain.
    Each boundary of an operand is a transfer link that moves a tile per period (the iterations of the loops below
    it), taking ceil(bits / bandwidth) cycles on the ports at both ends. A level holding at most half its capacity is
    double-buffered and may refill during the whole period; otherwise only while its outermost loops irrelevant to
    the operand run. A link stalls by the excess in every period but the first; stalls on one port add up and the
    slowest port sets the stall. Before computing, the inputs' first tiles arrive (a periodic link's first period);
    a link that moves once overlaps with computing as far as its port's spare cycles allow, but never below the
    innermost tile the array needs first; the outputs' last tiles leave at the end, alike."""
    k = len(compute)
    order_sizes = np.array([size for _, size in lay.loops], dtype=np.float64)[choice.order]  # (K, loops) in order
    ports: dict[tuple[str, str], dict] = {}

    def port(level: Level, direction: str) -> dict:
        key = (level.name, "rw" if level.shared_port else direction)
        return ports.setdefault(key, {"busy": np.zeros(k), "stall": np.zeros(k), "first": {"in": np.zeros(k),
                                      "out": np.zeros(k)}, "once": []})

    for role in ROLES:
        chain = lay.levels[role]
        bounds = choice.bounds[role]
        depth = np.array([[bin(int(b)).count("1") for b in bounds[:, m]] for m in range(len(chain) - 1)]).T
        first_tile = lay.held[role][0][bounds[:, 0]] * (widths.final if role == "O" else widths.precision(role, False))
        side = "out" if role == "O" else "in"
        for m in range(len(chain) - 1):
            states = bounds[:, m]
            period = lay.cycles[states]
            count = lay.total / period
            tile = lay.held[role][m][states]
            if role == "O":
                bits = np.where(output_partial(lay, m + 1, states), widths.psum, widths.final)
                low_bits, high_bits = tile * bits, tile * lay.fanout[role][m + 1] * bits
                low_dirs, high_dirs = ("reads",), ("writes",)
            else:
                low_bits = tile * widths.precision(role, False)
                high_bits = tile * lay.fanout[role][m + 1] * widths.precision(role, m + 1 == len(chain) - 1)
                low_dirs, high_dirs = ("writes",), ("reads",)
            start = depth[:, m - 1] if m > 0 else np.zeros(k, dtype=np.int64)
            window = top_irrelevant(lay, role, choice.order, order_sizes, start, depth[:, m])
            allowed = np.where(low_bits <= 0.5 * chain[m].size_bits, period, period / window)
            once = count <= 1
            for level, directions, bits in ((chain[m], low_dirs, low_bits), (chain[m + 1], high_dirs, high_bits)):
                real = np.ceil(bits / level.bandwidth_bits - 1e-9)
                for direction in directions:
                    entry = port(level, direction)
                    entry["busy"] += np.where(once, 0.0, real * count)
                    entry["stall"] += np.maximum(real - allowed, 0.0) * np.maximum(count - 1, 0.0)
                    entry["first"][side] += np.where(once, 0.0, real)
                    entry["once"].append((side, np.where(once, real, 0.0),
                                          np.where(once, np.ceil(first_tile / level.bandwidth_bits - 1e-9), 0.0)))
    stall, load, store = np.zeros(k), np.zeros(k), np.zeros(k)
    for entry in ports.values():
        stall = np.maximum(stall, entry["stall"])
        spare = np.maximum(compute - entry["busy"], 0.0)
        exposed = {"in": entry["first"]["in"].copy(), "out": entry["first"]["out"].copy()}
        if entry["once"]:
            sides = [s for s, _, _ in entry["once"]]
            totals = np.stack([t for _, t, _ in entry["once"]], axis=1)
            floors = np.stack([f for _, _, f in entry["once"]], axis=1)
            reduced = reduce_largest_first(totals, floors, spare)
            for j, s in enumerate(sides):
                exposed[s] += reduced[:, j]
        load, store = np.maximum(load, exposed["in"]), np.maximum(store, exposed["out"])
    per_dim = np.ones(len(hw.array.dims))
    for (j, _), u in zip(hw.array.loops, lay.unrolled, strict=True):
        per_dim[j] *= u
    systolic = sum(max(int(u) - 1, 0) for d, u in zip(hw.array.dims, per_dim, strict=True) if d in hw.array.systolic)
    return compute + stall + load + store + systolic


def reduce_largest_first(totals: np.ndarray, floors: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Transfers (K, n) shortened by up to ``budget`` (K,) cycles in all, largest first, none below its floor
    (ZigZag's ``reduce_ordered``)."""
    result = totals.copy()
    left = budget.copy()
    rows = np.arange(len(totals))
    for j in np.argsort(-totals, axis=1, kind="stable").T:
        cut = np.minimum(np.maximum(result[rows, j] - floors[rows, j], 0.0), left)
        result[rows, j] -= cut
        left -= cut
    return result


def top_irrelevant(lay, role: str, order: np.ndarray, sizes: np.ndarray, start: np.ndarray,
                   stop: np.ndarray) -> np.ndarray:
    """Per configuration, the product of the outermost run of loops irrelevant to ``role`` among the loops at
    positions [start, stop) of the order (the loops of one level)."""
    irrelevant = lay.irrelevant[role][order]  # (K, loops)
    positions = np.arange(order.shape[1])[None, :]
    inside = (positions >= start[:, None]) & (positions < stop[:, None])
    # walk from the outermost loop of the level inwards while irrelevant
    window = np.ones(len(start))
    running = np.ones(len(start), dtype=bool)
    for j in range(order.shape[1] - 1, -1, -1):
        here = inside[:, j]
        running = np.where(here, running & irrelevant[:, j], running)
        window = np.where(here & running, window * sizes[:, j], window)
    return window


def plain_unit(row, hw: HardwareModel, config: Config) -> Traffic:
    """Traffic of a unit without MACs: its input read and output written through the largest on-chip level
    holding activations, and through DRAM unless kept on chip (``fit`` policy and both fit)."""
    k = len(config)
    accesses: dict[tuple[str, str, str], np.ndarray] = {}
    onchip = [lv for lv in hw.levels if {"I", "O"} & lv.operands and not lv.offchip]
    top_in, top_out = hw.hierarchy("I")[-1], hw.hierarchy("O")[-1]
    in_bits = row.in_elems * config.act_bits.astype(float)
    out_bits = row.out_elems * config.output_bits.astype(float)
    kept = np.zeros(k, dtype=bool)
    if onchip:
        level = max(onchip, key=lambda lv: lv.size_bits)
        kept = config.keep_on_chip & (in_bits + out_bits <= config.capacity[level.name])
        accesses[(level.name, "I", "writes")] = np.where(kept, 0.0, words(in_bits, level))
        accesses[(level.name, "I", "reads")] = words(in_bits, level)
        accesses[(level.name, "O", "writes")] = words(out_bits, level)
        accesses[(level.name, "O", "reads")] = np.where(kept, 0.0, words(out_bits, level))
    accesses[(top_in.name, "I", "reads")] = np.where(kept, 0.0, words(in_bits, top_in))
    accesses[(top_out.name, "O", "writes")] = np.where(kept, 0.0, words(out_bits, top_out))
    if row.other_params:
        accesses[(hw.hierarchy("W")[-1].name, "W", "reads")] = other_parameter_reads(row, hw, config)
    cycles = np.zeros(k)
    for level in {hw.level(name) for name, _, _ in accesses}:
        reads, writes = (sum((v * level.word_bits for (name, _, d), v in accesses.items()
                              if name == level.name and d == direction), np.zeros(k)) for direction in DIRECTIONS)
        busy = reads + writes if level.shared_port else np.maximum(reads, writes)
        cycles = np.maximum(cycles, busy / level.bandwidth_bits)
    return Traffic(accesses, cycles, np.zeros(k), np.zeros(k), np.full(k, ""), np.full(k, "", dtype=object))


__all__ = ["DIM", "Config", "Traffic", "mac_unit", "plain_unit", "weight_storage_bits"]
