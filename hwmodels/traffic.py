"""The traffic of one workload unit on one hardware variant, for a batch of configurations at once: accesses per
level, operand and direction, and cycles.

Multiply-accumulate units are laid out by :mod:`hwmodels.nest` (spatial unrolling, temporal loops), mapped by
:mod:`hwmodels.mapper` (the energy-optimal loop order under each level's capacity) and their accesses counted by
:mod:`hwmodels.accounting`, as ZigZag counts them. On top of that, what ZigZag
does not model:

* **Weight storage.** Weights are stored in DRAM in the cheapest form for their format: dense (``weight_bits`` per
  element), unstructured sparse (non-zeros with an in-row index of ceil(log2 row length) bits and row pointers of
  ceil(log2(nnz + 1)) bits), periodic (non-zeros plus the pattern table; the positions follow the rule) or a
  codebook (min(weight_bits, code bits) per element); the bits per weight at the top level are
  stored bits / elements. With ``zero_skipping`` the weights stay compressed on chip (zero weights are never moved).
  Other parameters (bias, normalisation) are read from the top weight level once per unit.
* **Zeros** (:mod:`hwmodels.sparsity`): the weight's zeros (``nz_macs``, or ``nz_macs_valid`` with
  ``skip_padding``: padding taps too) and the input's (``input_density``) are skipped or gated as the hardware
  declares, which scales the per-MAC accesses and the cycles; activations crossing a compressing off-chip level move
  compressed (MAC and plain units alike).
* **Inter-layer policy** (``interlayer``): ``"dram"``, every layer reads its input from DRAM and writes its output
  there (ZigZag's assumption); ``"fit"``, a layer whose whole input and output fit the largest on-chip level
  holding both keeps them there (no DRAM traffic for them).
* **Units without MACs** (normalisation, activation, pooling, element-wise, optimiser updates) read their input and
  write their output through the largest on-chip level holding activations, and through DRAM unless the policy
  keeps them on chip.

Cycles of MAC units follow ZigZag's latency model (:mod:`hwmodels.latency`). A unit without MACs takes the cycles
its busiest port needs to move its input and output (transfers at full bandwidth, nothing else overlapping).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from . import im2col
from .accounting import Widths, count_accesses, words
from .configs import Configs, take
from .latency import unit_cycles
from .layers import LOOP_DIMS
from .mapper import distinct_rows, search
from .model import OPERANDS, HardwareModel, Level
from .nest import MAX_STATES, Layout, Nest, layout, nest_of, spatial_unrolling
from .sparsity import Executed, executed

PORT_OF = {("W", "reads"): "tl", ("W", "writes"): "fh", ("I", "reads"): "tl", ("I", "writes"): "fh",
           ("O", "reads"): "th", ("O", "writes"): "fl"}
"""The port direction (:data:`hwmodels.model.DIRECTIONS`) of a read or write of an operand by a unit without
MACs: inputs and weights arrive from above and go down to the units, outputs arrive from the units and go up."""


KERNEL_TAPS = 9
"""Positions of a 3x3 kernel, the unit a pSC (random k-of-9) pattern chooses within."""
POSITION_BITS = math.ceil(math.log2(KERNEL_TAPS))
"""Bits of one position within a 3x3 kernel (0..8): 4."""


STORAGE_FORMS = ("dense", "unstructured", "periodic", "position_code", "per_weight")
"""The forms a weight is stored in (see :func:`weight_storage_bits`)."""


def weight_storage_bits(elems, nnz, rows, row_len, weight_format, pattern_table_bits, code_bits,
                        weight_bits, psc_index="position_code") -> dict[str, np.ndarray]:
    """Bits of a weight in each storage form and the form used, arrays broadcast over layers and configurations.

    Forms: ``dense`` (every weight); ``unstructured`` (compressed sparse rows: per kept weight its word and an
    in-row index of ceil(log2 row_len) bits, per row a pointer of ceil(log2(nnz + 2)) bits); ``periodic`` (kept
    weights and the P x 9-bit pattern table); ``position_code`` (kept weights and, per 3x3 kernel with k kept,
    ceil(log2 C(9, k)) bits naming which); ``per_weight`` (kept weights each with a 4-bit position). A periodic
    weight is stored periodic; a ``kernel_subset`` (pSC) weight as ``psc_index`` says (``pointer``: the smaller of
    unstructured and dense); any other the smaller of unstructured and dense.
    """
    elems, nnz, rows, row_len = (np.asarray(v, dtype=np.float64) for v in (elems, nnz, rows, row_len))
    word = np.where(np.asarray(code_bits) > 0, np.minimum(weight_bits, code_bits), weight_bits)
    index_bits = np.ceil(np.log2(np.maximum(row_len, 2)))
    pointer_bits = np.ceil(np.log2(nnz + 2))
    dense = elems * word
    unstructured = nnz * (word + index_bits) + (rows + 1) * pointer_bits * (elems > 0)
    periodic = nnz * word + np.asarray(pattern_table_bits, dtype=np.float64)
    kernels = elems / KERNEL_TAPS
    kept = np.clip(np.rint(nnz / np.maximum(kernels, 1)), 0, KERNEL_TAPS).astype(int)
    code_bits_per_kernel = np.ceil(np.log2(np.maximum([math.comb(KERNEL_TAPS, int(k)) for k in kept.ravel()], 1)))
    position_code = nnz * word + kernels * code_bits_per_kernel.reshape(kept.shape)
    per_weight = nnz * (word + POSITION_BITS)
    fmt = np.asarray(weight_format)
    index = np.asarray(psc_index)
    plain = np.minimum(dense, unstructured)
    plain_form = np.where(unstructured < dense, "unstructured", "dense")
    subset = fmt == "kernel_subset"
    stored = np.select([fmt == "periodic", subset & (index == "position_code"), subset & (index == "per_weight")],
                       [periodic, position_code, per_weight], plain)
    form = np.select([fmt == "periodic", subset & (index == "position_code"), subset & (index == "per_weight")],
                     ["periodic", "position_code", "per_weight"], plain_form)
    return {"dense": dense, "unstructured": unstructured, "periodic": periodic, "position_code": position_code,
            "per_weight": per_weight, "stored": stored, "form": form}


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
        notes: approximations made for this unit.
    """

    accesses: dict[tuple[str, str, str], np.ndarray]
    cycles: np.ndarray
    compute_cycles: np.ndarray
    utilization: np.ndarray
    weight_storage: np.ndarray
    order: np.ndarray
    notes: list[str]


def split_matters(hw: HardwareModel, configs: Configs, totals: dict[str, np.ndarray],
                  widths: dict[str, np.ndarray]) -> np.ndarray:
    """Per configuration, whether some on-chip level holding several operands cannot hold their whole tensors
    together (then how it is split between them is searched; otherwise giving each the whole level is exact)."""
    matters = np.zeros(len(configs), dtype=bool)
    for level in hw.levels:
        sharing = [r for r in OPERANDS if r in level.operands]
        if len(sharing) > 1 and not level.offchip:
            matters |= sum(totals[r] * widths[r] for r in sharing) > configs.capacity[level.name]
    return matters


def shared_capacities(hw: HardwareModel, configs: Configs, totals: dict[str, np.ndarray],
                      widths: dict[str, np.ndarray], split: str) -> dict[str, np.ndarray]:
    """Bits each operand may use at each of its levels, (K, levels). A level holding several operands gives each
    the whole level when their whole tensors fit together (exact); otherwise it is split in proportion to their
    whole tensors (``split="proportional"``) or equally (``"equal"``). ``widths`` are the widest bits per element
    of each operand (partial sums for outputs)."""
    capacity = {}
    for role in OPERANDS:
        columns = []
        for level in hw.hierarchy(role):
            bits = configs.capacity[level.name]
            sharing = [r for r in OPERANDS if r in level.operands]
            if len(sharing) > 1 and not level.offchip:
                need = {r: totals[r] * widths[r] for r in sharing}
                whole = sum(need.values())
                part = bits / len(sharing) if split == "equal" else bits * need[role] / np.maximum(whole, 1e-12)
                bits = np.where(whole <= bits, bits, part)
            columns.append(bits)
        capacity[role] = np.stack(columns, axis=1)
    return capacity


def mac_unit(row, hw: HardwareModel, configs: Configs) -> Traffic:
    """Traffic and cycles of a multiply-accumulate unit (a row of the layer table) on ``hw``."""
    nest, hw = im2col.lowered(nest_of(row), hw)
    k = len(configs)
    storage = weight_storage_bits(row.weight_elems, row.weight_nnz, row.weight_rows, row.weight_row_len,
                                  row.weight_format, row.pattern_table_bits, row.weight_code_bits, configs.weight_bits,
                                  configs.psc_index)
    has_weight = row.weight_operand and row.weight_elems > 0 and row.role in ("forward", "grad_input")
    widths = unit_widths(row, hw, configs, storage["stored"], has_weight)
    accesses: dict[tuple[str, str, str], np.ndarray] = {}
    cycles, compute, utilization = np.zeros(k), np.zeros(k), np.zeros(k)
    order = np.empty(k, dtype=object)
    notes: list[str] = []
    for unrolled, limit, mapper, stationary, index in spatial_groups(nest, hw, configs):
        lay = layout(nest, hw, unrolled, limit, mapper, stationary)
        sub, part = widths.take(index), configs.take(index)
        compute[index] = lay.total * sub.work
        utilization[index] = lay.utilization
        best = map_unit(row, lay, hw, sub, part)
        if not best.feasible.all():
            notes.append(f"layer {row.name}: no loop order keeps every level holding at least what the level below "
                         f"holds on {hw.name} (in {int((~best.feasible).sum())} configurations); its mapping there "
                         "is the search's fallback, an approximation (not checked against ZigZag)")
        notes += streamed_notes(lay, best)
        if lay.merged:
            notes.append(f"layer {row.name}: its loop factors exceed the exact mapper's {MAX_STATES} tile-size states; "
                         "the smallest were merged, so its search is exact over fewer factorisations")
        top = hw.hierarchy("W")[-1].name
        best.accesses[(top, "W", "reads")] = (best.accesses.get((top, "W", "reads"), 0.0)
                                              + other_parameter_reads(row, hw, part))
        for key, value in best.accesses.items():
            accesses.setdefault(key, np.zeros(k))[index] += value
        order[index] = best.order
        cycles[index] = best.cycles
    form = np.broadcast_to(storage["form"], (k,)) if has_weight else np.full(k, "")
    return Traffic(accesses, cycles, compute, utilization, np.asarray(form), order, notes)


def unit_widths(row, hw: HardwareModel, configs: Configs, stored_bits: np.ndarray, has_weight: bool) -> Widths:
    """Bits per element of the unit's operands per configuration, and the share of MACs executed: weights at the
    top level in their storage form (``stored_bits`` in all), on chip compressed with zero skipping; a unit whose
    W operand is an activation (a weight gradient) moves it at ``act_bits``. The weight gradient of a pre-defined
    pattern is neither computed nor stored where the pattern is zero: its partial sums and its output move in the
    compressed form of its weight, ``weight_nnz / weight_elems`` of the dense bits (no index: the pattern is
    known)."""
    if not row.weight_operand:
        per_weight = configs.act_bits.astype(float)
    elif has_weight:
        per_weight = np.asarray(stored_bits / max(row.weight_elems, 1), dtype=float)
    else:
        per_weight = configs.weight_bits.astype(float)
    shares = executed_shares(row, configs)
    plain = configs.weight_bits if row.weight_operand else configs.act_bits
    kept = (row.weight_nnz / row.weight_elems if row.role == "grad_weight" and row.predefined_sparsity
            and row.weight_elems else 1.0)
    act, final = configs.act_bits.astype(float), kept * configs.output_bits.astype(float)
    return Widths(weight_chip=np.where(configs.zero_skipping & has_weight, per_weight, plain).astype(float),
                  weight_top=np.broadcast_to(per_weight, (len(configs),)).astype(float),
                  act=act, psum=kept * configs.psum_bits.astype(float), final=final,
                  act_top=act * top_share(hw, "I", row.input_density, configs.act_bits, configs),
                  final_top=final * top_share(hw, "O", row.output_density, configs.output_bits, configs),
                  weight_whole=plain.astype(float),
                  psum_whole=configs.psum_bits.astype(float), final_whole=configs.output_bits.astype(float),
                  work=shares.cycles, fed_w=shares.access["W"], fed_i=shares.access["I"], fed_o=shares.access["O"])


def top_share(hw: HardwareModel, role: str, density: float, bits: np.ndarray, configs: Configs) -> np.ndarray:
    """Bits per dense bit of activations of ``density`` crossing the top level of ``role`` (its compression, where
    ``act_sparsity`` exploits it), per configuration."""
    share = hw.hierarchy(role)[-1].compression.share(density, bits)
    return np.where(configs.act_sparsity, share, 1.0)


def executed_shares(row, configs: Configs) -> Executed:
    """:func:`hwmodels.sparsity.executed` of a MAC unit per configuration."""
    return executed(configs.model.sparsity, row.macs, row.nz_macs, row.nz_macs_valid, row.input_density,
                    configs.zero_skipping, configs.skip_padding, configs.act_sparsity)


def map_unit(row, lay: Layout, hw: HardwareModel, widths: Widths, configs: Configs) -> Mapped:
    """The cheapest mapping of one unit under one spatial unrolling per configuration: a shared level split in
    proportion to the operands' whole tensors, and also equally where that split is not exact."""
    totals = {r: np.full(len(configs), lay.elements[r][-1][-1]) for r in OPERANDS}
    bits = {"W": widths.weight_chip, "I": widths.act, "O": np.maximum(widths.psum, widths.final)}
    fits = configs.keep_on_chip & fits_on_chip(hw, configs, totals)
    # a saved input comes back from the top level; an output kept for the backward pass (or a weight gradient
    # kept for the update) goes there
    dropped = {"I": fits & (row.saved_elems == 0), "O": fits & (not row.save_output)}
    best = SEARCHES.mapped(lay, hw, widths, configs, shared_capacities(hw, configs, totals, bits, "proportional"),
                           dropped)
    matters = np.flatnonzero(split_matters(hw, configs, totals, bits))
    if len(matters):
        few = configs.take(matters)
        pick = {r: v[matters] for r, v in totals.items()}, {r: v[matters] for r, v in bits.items()}
        equal = SEARCHES.mapped(lay, hw, widths.take(matters), few, shared_capacities(hw, few, *pick, "equal"),
                                {r: v[matters] for r, v in dropped.items()})
        better = mapped_energy(equal, few) < mapped_energy(best, configs)[matters]
        best.update(matters[better], equal.take(np.flatnonzero(better)))
    return best


def streamed_notes(lay: Layout, mapped: Mapped) -> list[str]:
    """Notes on the levels too small for an operand's spatial tile (it streams through them)."""
    return [f"level {level.name} ({level.size_bits:g} bits) cannot hold one spatial tile of operand {role} in some "
            "layers or configurations: the tile streams through it (an approximation)"
            for role in OPERANDS for m, level in enumerate(lay.levels[role]) if mapped.streamed[role][:, m].any()]


def spatial_groups(nest: Nest, hw: HardwareModel, configs: Configs):
    """(unrolling, loop factor limit, mapper, pinned stationarity, configuration indices) for each distinct spatial
    unrolling, mapper and stationarity among the configurations (the unrolling depends on the word widths through
    the memories' bandwidth limits)."""
    mappers, mapper_codes = np.unique(configs.mapper, return_inverse=True)
    pinned, pinned_codes = np.unique(np.where(configs.mapper == "loma", "none", configs.stationary),
                                     return_inverse=True)  # (loma is ZigZag's search: nothing pinned)
    limit = np.where(configs.mapper != "loma", 0, configs.loop_factor_limit)  # only loma merges factors
    keys = np.stack([configs.weight_bits, configs.act_bits, configs.psum_bits, limit, mapper_codes.ravel(),
                     pinned_codes.ravel()], axis=1)
    first, inverse = distinct_rows(keys)
    rows = [(tuple(spatial_unrolling(nest, hw, dict(zip(OPERANDS, map(float, keys[f, :3]), strict=True)))),
             int(keys[f, 3]), str(mappers[keys[f, 4]]), str(pinned[keys[f, 5]])) for f in first]
    groups: dict[tuple, list[np.ndarray]] = {}
    for j, key in enumerate(rows):
        groups.setdefault(key, []).append(np.flatnonzero(inverse.ravel() == j))
    for (unrolled, limit, mapper, stationary), parts in groups.items():
        yield np.array(unrolled), limit, mapper, stationary, np.sort(np.concatenate(parts))


@dataclass
class Mapped:
    """A mapped unit per configuration: accesses per (level, operand, direction), cycles, the loop order as text,
    the levels that stream an operand's spatial tile, and whether a feasible loop order exists (else the rest is
    meaningless and its energy counts as infinite)."""

    accesses: dict[tuple[str, str, str], np.ndarray]
    cycles: np.ndarray
    order: np.ndarray
    streamed: dict[str, np.ndarray]
    feasible: np.ndarray

    def __len__(self) -> int:
        return len(self.cycles)

    def take(self, index: np.ndarray) -> Mapped:
        """The configurations at positions ``index``."""
        return take(self, index)

    def copy(self) -> Mapped:
        """An independent copy (:meth:`update` writes in place)."""
        return Mapped({k: v.copy() for k, v in self.accesses.items()}, self.cycles.copy(), self.order.copy(),
                      {r: v.copy() for r, v in self.streamed.items()}, self.feasible.copy())

    def update(self, index: np.ndarray, other: Mapped) -> None:
        """Replace the configurations at positions ``index`` by ``other`` (of ``len(index)`` configurations)."""
        for key in set(self.accesses) | set(other.accesses):
            self.accesses.setdefault(key, np.zeros(len(self.cycles)))[index] = other.accesses.get(key, 0.0)
        self.cycles[index], self.order[index], self.feasible[index] = other.cycles, other.order, other.feasible
        for role in OPERANDS:
            self.streamed[role][index] = other.streamed[role]


class SearchCache:
    """Mapped units by everything that decides them: the layout (loop bounds, array, memory levels, spatial
    unrolling, loop factor limit) and, per configuration, the operands' widths, the capacities each operand may
    use, the energies per access and the inter-layer policy. A repeated layer shape, or a variant of an
    architecture whose layer moves alike, is searched once per process. Least recently used entries are dropped
    beyond ``max_bytes``; batches of more than ``max_configs`` configurations are not kept (large grids are priced
    once)."""

    def __init__(self, max_bytes: int = 32 << 20, max_configs: int = 1024):
        self.max_bytes, self.max_configs = max_bytes, max_configs
        self.entries: OrderedDict[tuple, tuple[Mapped, int]] = OrderedDict()
        self.bytes = 0
        self.searches = 0
        self.reused = 0

    def clear(self) -> None:
        """Forget every entry and reset the counts."""
        self.entries.clear()
        self.bytes = self.searches = self.reused = 0

    def mapped(self, lay: Layout, hw: HardwareModel, widths: Widths, configs: Configs,
               capacity: dict[str, np.ndarray], dropped: dict[str, np.ndarray]) -> Mapped:
        """:func:`evaluate`, or a copy of its earlier result on the same inputs."""
        if len(configs) > self.max_configs:
            self.searches += 1
            return evaluate(lay, hw, widths, configs, capacity, dropped)
        digest = hashlib.blake2b(digest_size=20)
        arrays = [widths.key()] + [capacity[r] for r in sorted(capacity)] + [dropped[r] for r in sorted(dropped)]
        arrays += [configs.read[lv.name] for lv in hw.levels] + [configs.write[lv.name] for lv in hw.levels]
        for array in arrays:
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        key = (lay.key, len(configs), digest.digest())
        if key in self.entries:
            self.entries.move_to_end(key)
            self.reused += 1
            return self.entries[key][0].copy()
        self.searches += 1
        result = evaluate(lay, hw, widths, configs, capacity, dropped)
        size = sum(v.nbytes for v in result.accesses.values()) + result.cycles.nbytes + 64 * len(result.order)
        self.entries[key] = (result.copy(), size)
        self.bytes += size
        while self.bytes > self.max_bytes and self.entries:
            self.bytes -= self.entries.popitem(last=False)[1][1]
        return result


SEARCHES = SearchCache()
"""The process's search cache (``SEARCHES.searches`` and ``.reused`` count the searches run and avoided)."""


def evaluate(lay: Layout, hw: HardwareModel, widths: Widths, configs: Configs, capacity: dict[str, np.ndarray],
             dropped: dict[str, np.ndarray]) -> Mapped:
    """Search the mapping and count its accesses and cycles once per pattern of configurations (they depend on the
    mapping and the word widths, not on the energies), then expand to every configuration."""
    choice, first, inverse, streamed, feasible = search(lay, widths, configs, capacity, dropped)
    picked, kept = widths.take(first), {r: v[first] for r, v in dropped.items()}
    moved = count_accesses(lay, choice, picked, kept)
    cycles = unit_cycles(hw, lay, choice, picked, kept, configs.take(first))
    text = np.array([" ".join(f"{LOOP_DIMS[lay.loops[x][0]]}{lay.loops[x][1]}" for x in path) for path in choice.order],
                    dtype=object)
    return Mapped({key: v[inverse] for key, v in moved.items()}, cycles[inverse], text[inverse], streamed,
                  feasible[inverse])


def mapped_energy(mapped: Mapped, configs: Configs) -> np.ndarray:
    """Energy of a mapped unit's accesses per configuration, pJ (infinite where no feasible order exists)."""
    energy = sum(v * (configs.read if d == "reads" else configs.write)[lv] for (lv, _, d), v in mapped.accesses.items())
    return np.where(mapped.feasible, energy, np.inf)


def fits_on_chip(hw: HardwareModel, configs: Configs, totals: dict[str, np.ndarray]) -> np.ndarray:
    """Whether the whole input and output fit together the largest on-chip level holding both (``fit`` policy)."""
    shared = [lv for lv in hw.levels if {"I", "O"} <= lv.operands and not lv.offchip]
    if not shared:
        return np.zeros(len(configs), dtype=bool)
    level = max(shared, key=lambda lv: lv.size_bits)
    need = totals["I"] * configs.act_bits + totals["O"] * configs.output_bits
    return need <= configs.capacity[level.name]


def other_parameter_reads(row, hw: HardwareModel, configs: Configs) -> np.ndarray:
    """Accesses of the top weight level to read the unit's other parameters (bias, normalisation) once."""
    if not row.other_params:
        return np.zeros(len(configs))
    return words(row.other_params * configs.weight_bits.astype(float), hw.hierarchy("W")[-1])


def largest_on_chip(hw: HardwareModel, operand: str) -> Level | None:
    """The largest on-chip level holding ``operand`` (None when only the off-chip level does)."""
    held = [lv for lv in hw.hierarchy(operand) if not lv.offchip]
    return max(held, key=lambda lv: lv.size_bits) if held else None


def plain_unit(row, hw: HardwareModel, configs: Configs) -> Traffic:
    """Traffic of a unit without MACs: its input read through the largest on-chip level holding inputs and its
    output written through the largest holding outputs (one level, or two separate buffers), and through the top
    level unless kept on chip (``fit`` policy and both fit where they are held); a saved
    activation it reads back, and an output kept for the backward pass, always cross the top level. An update
    unit reads and writes parameters, gradients and optimiser state through the largest on-chip weight level
    and the top one."""
    k = len(configs)
    accesses: dict[tuple[str, str, str], np.ndarray] = {}

    def add(level: Level, role: str, direction: str, value) -> None:
        key = (level.name, role, direction)
        accesses[key] = accesses.get(key, 0.0) + np.broadcast_to(value, (k,)).astype(float)

    top_in, top_out = hw.hierarchy("I")[-1], hw.hierarchy("O")[-1]
    in_bits = row.in_elems * configs.act_bits.astype(float)
    saved_bits = row.saved_elems * configs.act_bits.astype(float)
    out_bits = row.out_elems * configs.output_bits.astype(float)
    in_level, out_level = largest_on_chip(hw, "I"), largest_on_chip(hw, "O")
    kept = np.zeros(k, dtype=bool)
    if in_level is not None and in_level is out_level:  # one level holds both: they fit together or not at all
        kept = configs.keep_on_chip & (in_bits + saved_bits + out_bits <= configs.capacity[in_level.name])
    elif in_level is not None and out_level is not None:  # separate input and output buffers: each must fit its own
        kept = (configs.keep_on_chip & (in_bits + saved_bits <= configs.capacity[in_level.name])
                & (out_bits <= configs.capacity[out_level.name]))
    if in_level is not None:
        add(in_level, "I", "writes", np.where(kept, 0.0, words(in_bits, in_level)) + words(saved_bits, in_level))
        add(in_level, "I", "reads", words(in_bits + saved_bits, in_level))
    if out_level is not None:
        add(out_level, "O", "writes", words(out_bits, out_level))
        add(out_level, "O", "reads", np.where(kept & (not row.save_output), 0.0, words(out_bits, out_level)))
    in_top = in_bits * top_share(hw, "I", row.input_density, configs.act_bits, configs)
    out_top = out_bits * top_share(hw, "O", row.output_density, configs.output_bits, configs)
    add(top_in, "I", "reads", np.where(kept, 0.0, words(in_top, top_in)) + words(saved_bits, top_in))
    add(top_out, "O", "writes", np.where(kept & (not row.save_output), 0.0, words(out_top, top_out)))
    if row.other_params:
        add(hw.hierarchy("W")[-1], "W", "reads", other_parameter_reads(row, hw, configs))
    if row.param_reads or row.param_writes:
        chain = hw.hierarchy("W")
        weights = [lv for lv in chain if not lv.offchip]
        bits = {d: n * configs.weight_bits.astype(float) for d, n in (("reads", row.param_reads),
                                                                      ("writes", row.param_writes))}
        add(chain[-1], "W", "reads", words(bits["reads"], chain[-1]))
        add(chain[-1], "W", "writes", words(bits["writes"], chain[-1]))
        if weights:
            level = max(weights, key=lambda lv: lv.size_bits)
            add(level, "W", "writes", words(bits["reads"], level))  # in from the top, out to the units
            add(level, "W", "reads", words(bits["reads"], level))
            add(level, "W", "writes", words(bits["writes"], level))  # back from the units, up to the top
            add(level, "W", "reads", words(bits["writes"], level))
    busy: dict[tuple[str, str], np.ndarray] = {}
    for (name, role, direction), value in accesses.items():
        level = hw.level(name)
        port = level.port(role, PORT_OF[role, direction])
        busy[(name, port.name)] = busy.get((name, port.name), 0.0) + value * level.word_bits / port.bandwidth_bits
    cycles = np.max(np.stack([np.broadcast_to(v, (k,)) for v in busy.values()]), axis=0)
    return Traffic(accesses, cycles, np.zeros(k), np.zeros(k), np.full(k, ""), np.full(k, "", dtype=object), [])


__all__ = ["STORAGE_FORMS", "Traffic", "mac_unit", "plain_unit", "weight_storage_bits"]
