"""Mapping one loop nest onto a hardware description: spatial unrolling, temporal loops, and an exact search of
the loop order that minimises energy, vectorised over configurations.

The accounting is ZigZag's (Mei et al., IEEE TC 2021; the ``zigzag-dse`` cost model), so that the two agree on the
same hardware description:

* **Spatial unrolling.** Array dimension d unrolls loop L by ``min(size_d, L)`` (a 3-channel conv on a 32-wide C
  dimension uses 3 of 32), limited, as ZigZag does, by the bandwidth of the inner memories that broadcast along d.
  Temporal loop bounds are the ceilings ``ceil(L / unrolling)``.
* **Temporal loops.** Each temporal bound is split into its prime factors; while there are more than
  ``loop_factor_limit`` factors (raised to the number of dimensions), the two smallest factors of the dimension with
  the most are merged (ZigZag's LOMA ``lpf_limit``). A loop order is an order of these factors.
* **Allocation.** Given an order (innermost first), every operand's levels are filled bottom-up with the longest
  prefix of loops whose tile still fits the level (a shared level is split between its operands, see below).
* **Accesses.** Across the boundary between levels m and m+1 of an operand, with S the loops below it (and the
  spatial loops of the levels at or below m), the tile moves ``T / cycles(S)`` times (T: all temporal iterations):
  written into m and read out of m+1 for weights and inputs; for outputs read out of m and written into m+1, plus
  the partial sums coming back while output-irrelevant loops remain above. A transfer of b bits is
  ``ceil(b / min_bits) * min_bits / word_bits`` accesses of the level's word, per instance of the level. The
  innermost level of a weight or input is read once per run of its innermost loops irrelevant to it (a stationary
  operand costs one read per residency, not one per MAC); the innermost output level is written every cycle, with
  partial sums (read back) while an output-irrelevant loop remains above it, and a final value otherwise.
  Energy = accesses x energy per access, per direction.
* **Search.** Every term depends only on the *set* S of loops below a boundary, never on their order, so the
  energy-optimal order is a shortest path over the subsets of the temporal loops (a dynamic programme over 2^n
  states with n <= 8): exactly the optimum of ZigZag's loop-order search over the same loops, in one vectorised pass
  per distinct spatial unrolling instead of a mapping enumeration per configuration.

NB: a level shared by several operands (a global buffer holding inputs and outputs) is split between them in
proportion to their whole tensors (exact when both fit), or in half, whichever gives less energy; ZigZag searches
the split by its own access proxy. The precision of partial sums used to size an output tile follows the loops in
that tile (ZigZag decides it before filling the level).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .model import LOOP_DIMS, HardwareModel, Level

ROLES = ("W", "I", "O")
DIM = {d: i for i, d in enumerate(LOOP_DIMS)}
IRRELEVANT, RELEVANT, WINDOW_Y, WINDOW_X = 0, 1, 2, 3


@functools.cache
def relevance(kind: str, role: str, transposed: bool) -> dict[str, tuple[int, ...]]:
    """For each memory operand (W, I, O), how each loop dimension B, K, C, G, OY, OX, FY, FX indexes it:
    irrelevant, relevant, or through a sliding window over rows (OY with FY) or columns (OX with FX).

    A forward conv reads I through the window and writes O at (OY, OX); a transposed conv (recorded over its input
    positions) writes O through the window. An input gradient writes dX (the O operand) where the forward read
    its input and reads dY (the I operand) where it wrote; a weight gradient writes dW (the O operand) and reads X
    (the I operand) and dY (the W operand). A matmul is the nest with no window.
    """

    def code(relevant: str, window: bool = False) -> tuple[int, ...]:
        values = [RELEVANT if d in relevant.split() else IRRELEVANT for d in LOOP_DIMS]
        if window:
            values[DIM["OY"]] = values[DIM["FY"]] = WINDOW_Y
            values[DIM["OX"]] = values[DIM["FX"]] = WINDOW_X
        return tuple(values)

    if kind != "conv":
        return {"W": code("K C G"), "I": code("B C G"), "O": code("B K G")}
    weights, at_outputs = code("K C G FY FX"), code("B K G OY OX")
    windowed_in, windowed_out = code("B C G", window=True), code("B K G", window=True)
    at_inputs = code("B C G OY OX")
    forward_in, forward_out = (at_inputs, windowed_out) if transposed else (windowed_in, at_outputs)
    if role == "grad_input":
        return {"W": weights, "I": forward_out, "O": forward_in}
    if role == "grad_weight":
        return {"W": forward_out, "I": forward_in, "O": weights}
    return {"W": weights, "I": forward_in, "O": forward_out}


@dataclass(frozen=True)
class Nest:
    """The loop nest of one workload unit: bounds, stride/dilation per window axis, operand relevance (a tuple of
    (operand, codes) pairs)."""

    bounds: tuple[int, ...]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    codes: tuple

    @property
    def relevance(self) -> dict[str, tuple[int, ...]]:
        return dict(self.codes)

    def elements(self, role: str, tiles: np.ndarray) -> np.ndarray:
        """Elements of ``role`` spanned by tile sizes ``tiles`` (..., 8) per loop dimension; along a window, the
        distinct positions it touches (see :func:`window_span`; a fractional average unrolling is truncated there,
        as ZigZag does), at most the whole (padded) extent."""
        codes = self.relevance[role]
        tiles = np.asarray(tiles, dtype=np.float64)
        size = np.prod(np.where(np.array(codes) == RELEVANT, tiles, 1.0), axis=-1)
        if WINDOW_Y in codes:
            for axis, (o, f) in enumerate((("OY", "FY"), ("OX", "FX"))):
                whole = window_span(self.bounds[DIM[o]], self.bounds[DIM[f]], self.stride[axis], self.dilation[axis])
                span = window_span(np.floor(tiles[..., DIM[o]]), np.floor(tiles[..., DIM[f]]), self.stride[axis],
                                   self.dilation[axis])
                size = size * np.minimum(span, whole)
        return size


@functools.lru_cache(maxsize=4096)
def nest_of(row) -> Nest:
    """The :class:`Nest` of a layer-table row (a multiply-accumulate unit; rows are hashable tuples)."""
    return Nest(tuple(int(getattr(row, d)) for d in LOOP_DIMS), (int(row.SY), int(row.SX)), (int(row.DY), int(row.DX)),
                tuple(relevance(row.kind, row.role, bool(row.transposed)).items()))


def window_span(outputs, taps, stride: int, dilation: int):
    """Distinct input positions ``stride * o + dilation * f`` for o < ``outputs``, f < ``taps``: ZigZag's
    ``calc_pr_dimension_size`` (with g = gcd(stride, dilation): outputs x taps - max(0, taps - stride / g) x
    max(0, outputs - dilation / g)); a 1x1 tap at stride 2 touches every other position only."""
    g = math.gcd(stride, dilation)
    return outputs * taps - np.maximum(0, taps - stride // g) * np.maximum(0, outputs - dilation // g)


def spatial_unrolling(nest: Nest, hw: HardwareModel, precision: dict[str, float]) -> np.ndarray:
    """Unrolling of every spatial loop (``hw.array.loops``): each takes ``min(its cap, the PEs its array dimension
    has left, what is left of its loop)``, limited, as ZigZag does, by the bandwidth of the innermost memories
    (those below no other level) broadcasting along its dimension: ``bandwidth // precision`` elements of each of
    their operands the loop is relevant to, through the port reading inputs out to the array or writing outputs
    in from it."""
    inner = [lv for lv in hw.levels if all(hw.hierarchy(op)[0] is lv for op in lv.operands)]
    left = list(nest.bounds)
    unrolled = []
    for j, (dim, size) in enumerate(zip(hw.array.dims, hw.array.sizes, strict=True)):
        room = size
        for loop, cap in hw.array.unroll[j]:
            limit = min(cap, room, left[DIM[loop]])
            for level in inner:
                if dim not in level.served_dims:
                    continue
                for role in level.operands:
                    if nest.relevance[role][DIM[loop]] != IRRELEVANT:
                        port = level.port(role, "fl" if role == "O" else "tl")
                        limit = min(limit, max(int(port.bandwidth_bits // precision[role]), 1))
            unrolled.append(limit)
            room //= limit
            left[DIM[loop]] = math.ceil(left[DIM[loop]] / limit)
    return np.array(unrolled, dtype=np.int64)


def prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors + ([n] if n > 1 else [])


def temporal_loops(bounds: list[int], limit: int) -> list[tuple[int, int]]:
    """(dimension index, size) of the temporal loop factors, at most ``max(limit, dimensions)`` of them: the two
    smallest factors of the dimension with the most factors are merged until few enough (ZigZag's LOMA)."""
    factors = {d: prime_factors(b) for d, b in enumerate(bounds) if b > 1}
    if not factors:
        return [(DIM["K"], 1)]
    limit = max(limit, len(factors))
    while sum(len(f) for f in factors.values()) > limit:
        dim = max(factors, key=lambda d: len(factors[d]))  # first of the most, in loop-dimension order
        values = sorted(factors[dim])
        merged = values[0] * values[1]
        factors[dim] = sorted(values[2:] + [merged])
    return [(d, f) for d in sorted(factors) for f in factors[d]]


@dataclass
class Layout:
    """Configuration-independent tables of one nest under one spatial unrolling: the temporal loops, the tile
    of every subset of them, and where each operand's spatial loops sit.

    As ZigZag does, energies use the average spatial unrolling of a loop over its temporal iterations (13 outputs
    over 4 PEs: 3.25 per step) and cycles the whole unrolling; per-unit tile sizes and fan-outs are rounded.

    Attributes:
        loops: (dimension index, size) of the temporal loops; ``states`` = 2^len(loops) subsets (bitmasks).
        cycles: iterations of each subset's loops, (states,); ``total`` = all temporal iterations.
        unrolled: unrolling per array dimension.
        levels: per operand, its levels (innermost first).
        elements: per operand and level m, elements of the tile of each subset including the spatial loops at
            or below m, (levels + 1, states); ``held`` the same rounded to whole elements.
        fanout: per operand and arch level a, distinct elements the spatial loops at a spread one element of the
            level above over (ZigZag's ``mem_bw_boost``), (levels + 2,).
        instances: per operand and arch level a, instances of memory level a-1 (spatial loops at or above a).
        irrelevant: per operand, which temporal loops do not index it, (loops,).
        spatial_irrelevant: per operand and arch level a, whether an operand-irrelevant spatial loop sits at
            arch level >= a (for the output: partial sums pass through).
        utilization: MACs / (PEs x temporal iterations).
    """

    loops: list[tuple[int, int]]
    cycles: np.ndarray
    total: float
    unrolled: np.ndarray
    levels: dict[str, tuple[Level, ...]]
    elements: dict[str, np.ndarray]
    held: dict[str, np.ndarray]
    fanout: dict[str, np.ndarray]
    instances: dict[str, np.ndarray]
    irrelevant: dict[str, np.ndarray]
    spatial_irrelevant: dict[str, np.ndarray]
    utilization: float

    @property
    def states(self) -> int:
        return 1 << len(self.loops)


def layout(nest: Nest, hw: HardwareModel, unrolled: np.ndarray, limit: int) -> Layout:
    """The :class:`Layout` of ``nest`` on ``hw`` with array unrolling ``unrolled`` (cached: networks repeat
    shapes)."""
    return cached_layout(nest, hw.array, hw.levels, tuple(int(u) for u in unrolled), limit)


@functools.lru_cache(maxsize=1024)
def cached_layout(nest: Nest, array, levels, unrolled: tuple[int, ...], limit: int) -> Layout:
    hw = HardwareModel("", "", math.nan, "pj", 1.0, array, levels, ())
    unrolled = np.array(unrolled)
    spatial_loops = hw.array.loops
    per_dim = np.ones(len(LOOP_DIMS), dtype=np.int64)
    for (_, loop), u in zip(spatial_loops, unrolled, strict=True):
        per_dim[DIM[loop]] *= u
    temporal = [math.ceil(b / u) for b, u in zip(nest.bounds, per_dim, strict=True)]
    # the average unrolling of each spatial loop over its loop dimension's temporal iterations
    average = np.array([u * nest.bounds[DIM[loop]] / (temporal[DIM[loop]] * per_dim[DIM[loop]])
                        for (_, loop), u in zip(spatial_loops, unrolled, strict=True)])
    loops = temporal_loops(temporal, limit)
    n = len(loops)
    masks = np.arange(1 << n)
    member = ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)  # (states, loops)
    tiles = np.ones((1 << n, len(LOOP_DIMS)))
    for i, (d, size) in enumerate(loops):
        tiles[:, d] *= np.where(member[:, i], size, 1)
    cycles = np.prod(tiles, axis=1)
    levels, elements, held, fanout, instances, irrelevant, spatial_irrelevant = {}, {}, {}, {}, {}, {}, {}
    for role in ROLES:
        chain = hw.hierarchy(role)
        levels[role] = chain
        codes = np.array(nest.relevance[role])
        # a spatial loop of array dimension d sits just below the innermost level of the operand serving d (that
        # level broadcasts along d), or above the whole hierarchy if none does (ZigZag's mapping per memory level)
        arch = np.array([min((m for m, lv in enumerate(chain) if hw.array.dims[j] in lv.served_dims),
                             default=len(chain)) for j, _ in spatial_loops])
        below = np.ones((len(chain) + 2, len(LOOP_DIMS)))  # row a: spatial loops at arch levels < a
        for a in range(len(chain) + 2):
            for i, (_, loop) in enumerate(spatial_loops):
                if arch[i] < a:
                    below[a, DIM[loop]] *= average[i]
        elements[role] = np.stack([nest.elements(role, tiles * below[m + 1]) for m in range(len(chain) + 1)])
        held[role] = np.round(elements[role])
        spatial = np.array([float(nest.elements(role, below[a + 1][None, :])[0]) for a in range(len(chain) + 1)])
        fanout[role] = np.round(np.concatenate([[spatial[0]], spatial[1:] / spatial[:-1], [1.0]]))
        instances[role] = np.array([round(round(float(np.prod(average[arch >= a])), 3))
                                    for a in range(len(chain) + 2)], dtype=np.float64)
        irrelevant[role] = codes[[d for d, _ in loops]] == IRRELEVANT
        ir_spatial = np.array([codes[DIM[loop]] == IRRELEVANT and u > 1
                               for (_, loop), u in zip(spatial_loops, unrolled, strict=True)])
        spatial_irrelevant[role] = np.array([bool((ir_spatial & (arch >= a)).any()) for a in range(len(chain) + 2)])
    utilization = math.prod(nest.bounds) / (hw.array.pes * float(cycles[-1]))
    return Layout(loops, cycles, float(cycles[-1]), unrolled, levels, elements, held, fanout, instances, irrelevant,
                  spatial_irrelevant, utilization)


@dataclass
class Widths:
    """Per configuration (arrays of shape (K,)): bits per element of each operand where it is stored, and how the
    output's partial sums and final values are stored.

    Attributes:
        weight_chip, weight_top: bits per weight on chip and at the top (off-chip) level (storage formats).
        act: bits per input activation.
        psum, final: bits per partial sum and per final output.
        work: executed MACs / dense MACs (zero skipping), which scales every per-cycle access.
    """

    weight_chip: np.ndarray
    weight_top: np.ndarray
    act: np.ndarray
    psum: np.ndarray
    final: np.ndarray
    work: np.ndarray

    def subset(self, index: np.ndarray) -> Widths:
        return Widths(*(np.asarray(getattr(self, f))[index] for f in WIDTH_FIELDS))

    def precision(self, role: str, top: bool) -> np.ndarray:
        if role == "W":
            return self.weight_top if top else self.weight_chip
        return self.act


def words(bits: np.ndarray, level: Level) -> np.ndarray:
    """Accesses of ``level``'s word to move ``bits`` in one transfer (rounded up to its minimum granularity)."""
    return np.ceil(bits / level.min_bits - 1e-9) * level.min_bits / level.word_bits


@dataclass
class Boundary:
    """Accesses across the boundary between levels m and m+1 of one operand, per configuration and subset S of the
    loops below it (arrays broadcastable to (K, states)): words read and written at level m ("low") and at level
    m+1 ("high")."""

    low_reads: np.ndarray
    low_writes: np.ndarray
    high_reads: np.ndarray
    high_writes: np.ndarray


def output_partial(lay: Layout, m: int, states: np.ndarray) -> np.ndarray:
    """Whether level m of the output holds partial sums for tiles ``states``: an output-irrelevant loop is still
    above the tile (temporal, or spatial at arch level m + 1 or higher)."""
    ir_bits = sum(1 << i for i, ir in enumerate(lay.irrelevant["O"]) if ir)
    return ((ir_bits & ~np.asarray(states)) != 0) | bool(lay.spatial_irrelevant["O"][m + 1])


def boundary(lay: Layout, role: str, m: int, states: np.ndarray, widths: Widths) -> Boundary:
    """Accesses across the boundary above level m of ``role`` when the loops below it are ``states``."""
    chain = lay.levels[role]
    low, high = chain[m], chain[m + 1]
    states = np.asarray(states)
    periods = lay.total / lay.cycles[states]
    top = m + 1 == len(chain) - 1
    tile = lay.held[role][m][states]
    spread = tile * lay.fanout[role][m + 1]
    if role == "O":
        partial = output_partial(lay, m + 1, states)
        bits = np.where(partial, widths.psum[:, None], widths.final[:, None])
        at_low = words(tile * bits, low) * periods * lay.instances[role][m + 1]
        at_high = words(spread * bits, high) * periods * lay.instances[role][m + 2]
        back_low, back_high = np.where(partial, at_low, 0.0), np.where(partial, at_high, 0.0)
        return Boundary(low_reads=at_low, low_writes=back_low, high_reads=back_high, high_writes=at_high)
    written = words(tile * widths.precision(role, False)[:, None], low)
    read = words(spread * widths.precision(role, top)[:, None], high)
    zero = np.zeros_like(written)
    return Boundary(low_reads=zero, low_writes=written * periods * lay.instances[role][m + 1],
                    high_reads=read * periods * lay.instances[role][m + 2], high_writes=zero)


def innermost(lay: Layout, role: str, stationary: np.ndarray, widths: Widths) -> tuple[np.ndarray, np.ndarray]:
    """(reads, writes) in words at the innermost level of ``role``, feeding or collecting the array: an input is
    read once per run of the loops in ``stationary`` (its innermost loops irrelevant to it); partial sums are
    written, and read back while accumulating, every cycle. Zero skipping removes the skipped MACs' accesses."""
    level = lay.levels[role][0]
    top = len(lay.levels[role]) == 1
    if role == "O":
        partial = output_partial(lay, 0, np.int64(0))
        bits = np.where(partial, widths.psum, widths.final)
        writes = words(lay.fanout[role][0] * bits, level) * lay.total * lay.instances[role][1] * widths.work
        return np.where(partial, writes, 0.0)[:, None], writes[:, None]
    reads = (words(lay.fanout[role][0] * widths.precision(role, top), level)[:, None]
             * (lay.total / lay.cycles[np.asarray(stationary)]) * lay.instances[role][1] * widths.work[:, None])
    return reads, np.zeros_like(reads)


@dataclass
class Energies:
    """Per configuration (K,): energy per read and per write access of every level (pJ), by level name."""

    read: dict[str, np.ndarray]
    write: dict[str, np.ndarray]


def boundary_energy(b: Boundary, low: Level, high: Level, energies: Energies) -> np.ndarray:
    return ((b.low_reads * energies.read[low.name][:, None] + b.low_writes * energies.write[low.name][:, None])
            + (b.high_reads * energies.read[high.name][:, None] + b.high_writes * energies.write[high.name][:, None]))


@dataclass
class Choice:
    """The mapping chosen per configuration: for each operand, the loops below each of its boundaries (a subset
    bitmask per level but the top, (K, levels - 1)), its stationary innermost loops (K,), and the loop order."""

    bounds: dict[str, np.ndarray]
    stationary: dict[str, np.ndarray]
    order: np.ndarray


def search(lay: Layout, widths: Widths, energies: Energies, capacity: dict[str, np.ndarray],
           dropped: dict[str, np.ndarray]) -> tuple[Choice, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The energy-optimal loop order for every configuration: a shortest path over subsets of the temporal loops.

    Configurations whose every level fits the same tiles and that share word widths and policies have the same
    graph; the path is found once per such pattern, with the per-access energies of its first configuration
    (NB: within a pattern, configurations differ only in those energies, e.g. of a resized buffer).

    Returns:
        The choice of each pattern, the first configuration of each pattern, each configuration's pattern, and per
        operand the levels (K, levels) too small for its spatial tile (they stream it through).

    Args:
        lay: the nest's layout.
        widths, energies: per configuration.
        capacity: per operand, bits available to it at each of its levels, (K, levels).
        dropped: per operand, (K,) bool: its transfers to and from the top level are free (kept on chip between
            layers); only ``I`` and ``O`` use it.
    """
    k = len(widths.act)
    first, inverse = (np.zeros(1, dtype=np.int64),) * 2 if k == 1 else patterns(lay, widths, capacity, dropped)
    g = len(first)
    streamed = {}
    base = {}
    for role in ROLES:  # weights and inputs: one precision per level
        chain = lay.levels[role]
        streamed[role] = np.empty((k, len(chain)), dtype=bool)
        if role == "O":
            continue
        fit = np.empty((g, len(chain), lay.states), dtype=bool)
        for m in range(len(chain)):
            bits = widths.precision(role, m == len(chain) - 1)
            fit[:, m] = lay.elements[role][m][None, :] * bits[first, None] <= capacity[role][first, m:m + 1] + 1e-9
            streamed[role][:, m] = ~(lay.elements[role][m][0] * bits <= capacity[role][:, m] + 1e-9)
        fit[:, :, 0] = True  # a level too small for the spatial tile streams it through (approximation)
        base[role] = fit
    # outputs: a level holds partial sums (wider) while an output-irrelevant loop is not yet below it, which
    # depends on where the level below ends (ZigZag's allocator decides the width before filling a level). Each
    # scenario j assumes the irrelevant loops are complete first within level j's tile: levels up to j hold partial
    # sums, levels above final outputs; paths breaking the assumption are excluded, and the cheapest scenario wins.
    chain = lay.levels["O"]
    scenarios = [-1] if not lay.irrelevant["O"].any() else list(range(len(chain)))
    o_fits = np.empty((len(scenarios), g, len(chain), lay.states), dtype=bool)
    for m in range(len(chain)):
        spatial = bool(lay.spatial_irrelevant["O"][m + 1])
        for i, j in enumerate(scenarios):
            bits = widths.psum if m <= j or spatial else widths.final
            o_fits[i, :, m] = lay.elements["O"][m][None, :] * bits[first, None] <= capacity["O"][first, m:m + 1] + 1e-9
        innermost_bits = widths.psum if scenarios[-1] >= 0 or lay.spatial_irrelevant["O"][1] else widths.final
        streamed["O"][:, m] = ~(lay.elements["O"][m][0] * innermost_bits <= capacity["O"][:, m] + 1e-9)
    o_fits[:, :, :, 0] = True
    # a scenario is possible only where its level can hold the smallest tile holding all the irrelevant loops
    ir_state = sum(1 << i for i, ir in enumerate(lay.irrelevant["O"]) if ir)
    graphs = [(i, row) for i, j in enumerate(scenarios) for row in range(g) if j < 0 or o_fits[i, row, j, ir_state]]
    scenario, row = (np.array(v, dtype=np.int64) for v in zip(*graphs, strict=True))
    repeat = first[row]
    stacked = {r: base[r][row] for r in ("W", "I")} | {"O": o_fits[scenario, row]}
    last, cost = shortest_paths(lay, widths.subset(repeat), Energies({n: v[repeat] for n, v in energies.read.items()},
                                                                     {n: v[repeat] for n, v in energies.write.items()}),
                                stacked, {r: v[repeat] for r, v in dropped.items()},
                                np.asarray(scenarios)[scenario])
    pick = np.zeros(g, dtype=np.int64)
    for index in np.argsort(-cost, kind="stable"):  # the cheapest graph of each pattern is written last
        pick[row[index]] = index
    fits = {r: f[pick] for r, f in stacked.items()}
    return backtrack(lay, last[pick], fits), first, inverse, streamed


def patterns(lay: Layout, widths: Widths, capacity: dict[str, np.ndarray],
             dropped: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The configurations whose levels fit the same tiles and that share word widths and policies (the same search
    graph but for energies): (first configuration of each pattern, each configuration's pattern)."""
    masks = np.arange(lay.states)
    classes = []  # (role, level, states of the class, bits per element (K,)): tiles compared to the capacity alike
    for role in ROLES:
        chain = lay.levels[role]
        for m in range(len(chain)):
            if role == "O":
                classes += [(role, m, masks, widths.psum), (role, m, masks, widths.final)]
            else:
                classes.append((role, m, masks, widths.precision(role, m == len(chain) - 1)))
    ranks = np.stack([fitting(lay.elements[r][m][members], bits, capacity[r][:, m]) for r, m, members, bits in classes],
                     axis=1)
    key = np.concatenate([ranks.astype(np.float64), np.stack([getattr(widths, f) for f in WIDTH_FIELDS] + [
        dropped[r] for r in sorted(dropped)], axis=1).astype(np.float64)], axis=1)
    return distinct_rows(key)


def fitting(elements: np.ndarray, bits: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """For each configuration (K,), how many of the tiles ``elements`` fit ``capacity`` bits at ``bits`` per
    element: two configurations with the same count fit the same tiles."""
    ordered = np.sort(elements)
    if not len(ordered):
        return np.zeros(len(capacity), dtype=np.int64)
    limit = capacity + 1e-9
    count = np.searchsorted(ordered, limit / bits, side="right")
    # the division may round across a tile's size: settle the neighbours with the exact test
    above = np.minimum(count, len(ordered) - 1)
    count = count + ((count < len(ordered)) & (ordered[above] * bits <= limit))
    below = np.maximum(count - 1, 0)
    return count - ((count > 0) & (ordered[below] * bits > limit))


WIDTH_FIELDS = ("weight_chip", "weight_top", "act", "psum", "final", "work")
HASH_WEIGHTS = np.random.default_rng(20261125).integers(1, 2**63, size=(2, 256), dtype=np.uint64) | np.uint64(1)


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first of each distinct row, row -> its distinct row's number) of a (K, n) array of 8-byte
    values, through a 64-bit multilinear hash of the rows (faster than sorting the rows); a second, independent
    hash confirms that rows sharing the first are equal (if ever not, the rows themselves are compared)."""
    rows = np.ascontiguousarray(rows)
    words = rows.view(np.uint64).reshape(len(rows), -1)
    with np.errstate(over="ignore"):
        hashes = words @ HASH_WEIGHTS[:, :words.shape[1]].T
    _, first, inverse = np.unique(hashes[:, 0], return_index=True, return_inverse=True)
    if not np.array_equal(hashes[first[inverse], 1], hashes[:, 1]):
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def shortest_paths(lay: Layout, widths: Widths, energies: Energies, fits: dict[str, np.ndarray],
                   dropped: dict[str, np.ndarray], complete_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last loop added on the cheapest path to every subset, (G, states), and the cost of the cheapest whole
    order, (G,), for G graphs: the cost of adding a loop is every boundary it closes (the last tile a level holds)
    and the innermost reads of an operand whose stationary run it ends. ``complete_in``: per graph, the output
    level whose tile first holds all the output-irrelevant loops (-1: there are none); adding the last of them
    elsewhere is excluded."""
    n, states = len(lay.loops), lay.states
    configs = len(widths.act)
    masks = np.arange(states)
    grow = masks[:, None] | (1 << np.arange(n))[None, :]  # (states, loops): S with loop x added
    has = ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    step = np.zeros((configs, states, n), dtype=np.float32)  # the search only ranks orders; energies are recounted
    for role in ROLES:
        chain = lay.levels[role]
        fit = fits[role]
        for m in range(len(chain) - 1):
            cost = boundary_energy(boundary(lay, role, m, masks, widths), chain[m], chain[m + 1], energies)
            if role in dropped and m + 1 == len(chain) - 1:
                cost = np.where(dropped[role][:, None] & (masks == states - 1)[None, :], 0.0, cost)
            closes = fit[:, m][:, :, None] & ~fit[:, m][:, grow]
            step += np.where(closes, cost[:, :, None].astype(np.float32), np.float32(0))
            if m > 0:  # a level that cannot hold what the level below holds: not a valid allocation
                step[fit[:, m - 1][:, grow] & ~fit[:, m][:, grow]] = np.inf
        if role != "O":
            ir_bits = sum(1 << i for i, ir in enumerate(lay.irrelevant[role]) if ir)
            stationary = (masks & ~ir_bits) == 0  # S is a run of loops irrelevant to the operand
            reads = innermost(lay, role, masks, widths)[0] * energies.read[chain[0].name][:, None]
            ends = stationary[:, None] & ~lay.irrelevant[role][None, :]
            step += np.where(ends[None], reads[:, :, None].astype(np.float32), np.float32(0))
    ir_bits = sum(1 << i for i, ir in enumerate(lay.irrelevant["O"]) if ir)
    if ir_bits:
        completes = ((masks & ir_bits) != ir_bits)[:, None] & ((grow & ir_bits) == ir_bits)  # (states, loops)
        fit = fits["O"]
        level = np.clip(complete_in, 0, None)
        rows = np.arange(configs)
        holds = fit[rows, level][:, grow]  # (G, states, loops): level j holds the tile completing the loops
        below = np.where((complete_in > 0)[:, None, None], fit[rows, np.maximum(level - 1, 0)][:, grow], False)
        step[completes[None] & ~(holds & ~below)] = np.inf
    best = np.full((configs, states), np.inf, dtype=np.float32)
    best[:, 0] = 0.0
    last = np.zeros((configs, states), dtype=np.int64)
    popcount = has.sum(axis=1)
    loops = np.arange(n)
    for k in range(1, n + 1):
        targets = masks[popcount == k]
        prev = targets[:, None] ^ (1 << loops)[None, :]  # (targets, loops): the subset without each loop
        candidates = np.where(has[targets][None], best[:, prev] + step[:, prev, loops[None, :]], np.inf)
        last[:, targets] = np.argmin(candidates, axis=2)
        best[:, targets] = np.min(candidates, axis=2)
    return last, best[:, -1]


def backtrack(lay: Layout, last: np.ndarray, fits: dict[str, np.ndarray]) -> Choice:
    """Loop order, boundaries and stationary runs of the optimal paths."""
    n = len(lay.loops)
    configs = last.shape[0]
    rows = np.arange(configs)
    chain = np.zeros((configs, n + 1), dtype=np.int64)  # states from all loops down to none
    order = np.zeros((configs, n), dtype=np.int64)
    state = np.full(configs, lay.states - 1)
    chain[:, 0] = state
    for k in range(n):
        x = last[rows, state]
        order[:, n - 1 - k] = x
        state = state ^ (1 << x)
        chain[:, k + 1] = state
    chain = chain[:, ::-1]  # none ... all, the prefixes of the order
    bounds, stationary = {}, {}
    for role in ROLES:
        fit = fits[role]
        levels = fit.shape[1]
        along = np.stack([fit[rows[:, None], m, chain] for m in range(levels)], axis=1)
        last_fit = n - np.argmax(along[:, :, ::-1], axis=2)  # index of the last prefix that fits
        bounds[role] = chain[rows[:, None], np.clip(last_fit[:, :-1], 0, n)]
        ir = lay.irrelevant[role][order]  # (configs, loops) in order
        run = np.argmin(np.concatenate([ir, np.zeros((configs, 1), dtype=bool)], axis=1), axis=1)
        stationary[role] = chain[rows, run]
    return Choice(bounds, stationary, order)
