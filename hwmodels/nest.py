"""The geometry of one workload unit's loop nest on a PE array and memory hierarchy: how each loop dimension
indexes each operand, the spatial unrolling, the temporal loops and the tile every subset of them spans at every
memory level. Configuration-independent; the accounting (:mod:`hwmodels.accounting`) and the mapper
(:mod:`hwmodels.mapper`) build on it.

* **Spatial unrolling.** Array dimension d unrolls loop L by ``min(size_d, L)`` (a 3-channel conv on a 32-wide C
  dimension uses 3 of 32), limited, as ZigZag does (Mei et al., IEEE TC 2021), by the bandwidth of the inner
  memories that broadcast along d. Temporal loop bounds are the ceilings ``ceil(L / unrolling)``.
* **Temporal loops.** Each temporal bound is split into its prime factors. The ``exact`` mapper orders all of
  them: factors equal in dimension and size are one loop *type* with a count, and the mapper's states are how many
  of each type lie below a boundary (the tile sizes, a mixed-radix number with digit t in 0..count_t), so every
  factorisation of every dimension and every order is searched at once. Should the states exceed
  :data:`MAX_STATES`, the two smallest factors of the dimension contributing the most states are merged until they
  do not. The ``loma`` mapper (ZigZag's LOMA ``lpf_limit``) merges the two smallest factors of the dimension with
  the most factors while there are more than ``loop_factor_limit`` of them (raised to the number of dimensions);
  each factor is a type of its own (count 1), so its states are the subsets (bitmasks) of the factors.
  A loop order is an order of the factors (of the types, with repetition).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .layers import LOOP_DIMS
from .model import OPERANDS, Array, HardwareModel, Level, hierarchy
from .order import LoopOrder, allowed_steps
from .parameters import STATIONARY_OPERAND

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
    (operand, codes) pairs), and the zero padding per window axis of a forward convolution's input (0 elsewhere)."""

    bounds: tuple[int, ...]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    codes: tuple
    padding: tuple[int, int] = (0, 0)
    distinct: tuple = ()
    """(operand, elements) pairs: the most distinct elements a tile of that operand holds (the real input of an
    im2col product, :mod:`hwmodels.im2col`, whose rows repeat input elements)."""

    @property
    def relevance(self) -> dict[str, tuple[int, ...]]:
        return dict(self.codes)

    def elements(self, role: str, tiles: np.ndarray) -> np.ndarray:
        """Elements of ``role`` spanned by tile sizes ``tiles`` (..., 8) per loop dimension; along a window, the
        distinct positions it touches (see :func:`window_span`; a fractional average unrolling is truncated there,
        as ZigZag does), at most the real input's extent: the padded span less the zero padding, which is made on
        chip and never stored or moved (ZigZag's ``pr_layer_dim_sizes``)."""
        codes = self.relevance[role]
        tiles = np.asarray(tiles, dtype=np.float64)
        size = np.prod(np.where(np.array(codes) == RELEVANT, tiles, 1.0), axis=-1)
        if WINDOW_Y in codes:
            for axis, (o, f) in enumerate((("OY", "FY"), ("OX", "FX"))):
                whole = max(window_span(self.bounds[DIM[o]], self.bounds[DIM[f]], self.stride[axis],
                                        self.dilation[axis]) - 2 * self.padding[axis], 1)
                span = window_span(np.floor(tiles[..., DIM[o]]), np.floor(tiles[..., DIM[f]]), self.stride[axis],
                                   self.dilation[axis])
                size = size * np.minimum(span, whole)
        most = dict(self.distinct).get(role)
        return size if most is None else np.minimum(size, most)


@functools.lru_cache(maxsize=4096)
def nest_of(row) -> Nest:
    """The :class:`Nest` of a layer-table row (a multiply-accumulate unit; rows are hashable tuples)."""
    padding = (int(row.PY), int(row.PX)) if row.role == "forward" and row.kind == "conv" and not row.transposed else (
        0, 0)
    return Nest(tuple(int(getattr(row, d)) for d in LOOP_DIMS), (int(row.SY), int(row.SX)), (int(row.DY), int(row.DX)),
                tuple(relevance(row.kind, row.role, bool(row.transposed)).items()), padding)


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
                        if math.isfinite(port.bandwidth_bits):  # (an unlimited port limits nothing)
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


MAX_STATES = 1 << 13
"""The most states (tile-size combinations) the ``exact`` mapper searches per nest: the search takes time and
memory in proportion to them. Every AlexNet and ResNet-18 inference layer fits (AlexNet: 1,344-6,144 states); a
nest above it (large batches, training steps' weight gradients) has its smallest factors merged, and its notes say
so, naming the layer."""


def temporal_loops(bounds: list[int], limit: int, mapper: str = "loma") -> list[tuple[int, int, int]]:
    """(dimension index, factor size, count) of the temporal loop types (see the module doc): for ``loma``, at
    most ``max(limit, dimensions)`` factors, each its own type; for ``exact``, every prime factor, equal ones of
    one dimension grouped, within :data:`MAX_STATES` states."""
    factors = {d: prime_factors(b) for d, b in enumerate(bounds) if b > 1}
    if not factors:
        return [(DIM["K"], 1, 1)]
    if mapper == "exact":
        def states(values: list[int]) -> int:
            return math.prod(values.count(v) + 1 for v in set(values))

        while math.prod(states(f) for f in factors.values()) > MAX_STATES:
            dim = max(factors, key=lambda d: (states(factors[d]), -d))
            values = sorted(factors[dim])
            factors[dim] = sorted(values[2:] + [values[0] * values[1]])
        return [(d, f, factors[d].count(f)) for d in sorted(factors) for f in sorted(set(factors[d]))]
    limit = max(limit, len(factors))
    while sum(len(f) for f in factors.values()) > limit:
        dim = max(factors, key=lambda d: len(factors[d]))  # first of the most, in loop-dimension order
        values = sorted(factors[dim])
        merged = values[0] * values[1]
        factors[dim] = sorted(values[2:] + [merged])
    return [(d, f, 1) for d in sorted(factors) for f in factors[d]]


@dataclass
class Layout:
    """Configuration-independent tables of one nest under one spatial unrolling: the temporal loop types, the tile
    of every state (how many factors of each type lie below a boundary) and where each operand's spatial loops sit.

    A state is a mixed-radix number: digit t (0..``counts[t]``, weight ``strides[t]``) is how many factors of type
    t it holds; with every count 1 (the ``loma`` mapper) it is the bitmask of a subset of the loops. State 0 holds
    no loop, state ``states - 1`` all of them.

    As ZigZag does, energies use the average spatial unrolling of a loop over its temporal iterations (13 outputs
    over 4 PEs: 3.25 per step) and cycles the whole unrolling; per-unit tile sizes and fan-outs are rounded.

    Attributes:
        loops: (dimension index, factor size) of each temporal loop type; ``counts`` the factors of each type.
        strides: weight of each type's digit in a state; ``digits`` (states, types) each state's digits, ``depth``
            (states,) the factors it holds, ``grow`` (states, types) the state with one more factor of a type (-1
            where it has them all).
        mapper: the mapper the loops are laid out for (:data:`~hwmodels.parameters.MAPPERS`).
        cycles: iterations of each state's loops, (states,); ``total`` = all temporal iterations.
        unrolled: unrolling per array dimension.
        levels: per operand, its levels (innermost first).
        elements: per operand and level m, elements of the tile of each state including the spatial loops at
            or below m, (levels + 1, states); ``held`` the same rounded to whole elements.
        fanout: per operand and arch level a, distinct elements the spatial loops at a spread one element of the
            level above over (ZigZag's ``mem_bw_boost``), (levels + 2,).
        feed: per operand, the elements the array takes from the innermost level per step, fold by fold, and each
            fold's share of the steps: ((kinds,), (kinds,)). One kind, ``fanout[0]``, except for an im2col product,
            whose whole and partial folds are kept apart (its accesses are counted per fold, as SCALE-Sim does).
        instances: per operand and arch level a, instances of memory level a-1 (spatial loops at or above a).
        irrelevant: per operand, which temporal loop types do not index it, (types,).
        complete: per operand, (states,): the state holds every factor irrelevant to it.
        only_irrelevant: per operand, (states,): the state holds no factor relevant to it.
        spatial_irrelevant: per operand and arch level a, whether an operand-irrelevant spatial loop sits at
            arch level >= a (for the output: partial sums pass through).
        merged: the ``exact`` mapper's lattice had factors merged to stay within :data:`MAX_STATES` (the search is
            then exact over fewer factorisations).
        utilization: MACs / (PEs x temporal iterations).
        allowed: (states, types) whether adding a factor of a type to a state respects the dataflow's loop-order
            constraint (:mod:`hwmodels.order`); None without one.
        key: what the layout is a function of (nest, array, memory levels, unrolling, loop factor limit, mapper,
            order constraint).
    """

    loops: list[tuple[int, int]]
    counts: np.ndarray
    strides: np.ndarray
    digits: np.ndarray
    depth: np.ndarray
    grow: np.ndarray
    mapper: str
    cycles: np.ndarray
    total: float
    unrolled: np.ndarray
    levels: dict[str, tuple[Level, ...]]
    elements: dict[str, np.ndarray]
    held: dict[str, np.ndarray]
    fanout: dict[str, np.ndarray]
    instances: dict[str, np.ndarray]
    irrelevant: dict[str, np.ndarray]
    complete: dict[str, np.ndarray]
    only_irrelevant: dict[str, np.ndarray]
    spatial_irrelevant: dict[str, np.ndarray]
    merged: bool
    utilization: float
    allowed: np.ndarray | None
    key: tuple
    feed: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def states(self) -> int:
        return len(self.cycles)

    @property
    def factors(self) -> int:
        """Temporal loop factors in all (the length of a loop order)."""
        return int(self.counts.sum())

    def state_of(self, digits: np.ndarray) -> int:
        """The state with the given digits (factors of each type)."""
        return int(np.dot(digits, self.strides))


def layout(nest: Nest, hw: HardwareModel, unrolled: np.ndarray, limit: int, mapper: str = "loma",
           stationary: str = "none") -> Layout:
    """The :class:`Layout` of ``nest`` on ``hw`` with array unrolling ``unrolled`` (cached: networks repeat
    shapes). ``exact`` honours the hardware's loop-order constraint (``[order]``), ``free`` is the same search
    without it; both honour a pinned ``stationary`` operand (:data:`~hwmodels.parameters.STATIONARY`): every
    temporal loop that does not index it comes innermost."""
    orders = ((hw.order,) if mapper == "exact" and hw.order is not None else ())
    if stationary != "none":
        role = STATIONARY_OPERAND[stationary]
        kept = tuple(d for d, code in zip(LOOP_DIMS, nest.relevance[role], strict=True) if code == IRRELEVANT)
        orders += (LoopOrder((kept,), frozenset(kept), "native"),) if kept else ()
    return cached_layout(nest, hw.array, hw.levels, tuple(int(u) for u in unrolled), limit,
                         "exact" if mapper == "free" else mapper, orders)


def state_tables(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(strides (types,), digits (states, types), grow (states, types)) of the mixed-radix states of loop types
    with ``counts`` factors each."""
    strides = np.concatenate([[1], np.cumprod(counts + 1)[:-1]]).astype(np.int64)
    states = int(np.prod(counts + 1))
    digits = (np.arange(states)[:, None] // strides[None, :]) % (counts + 1)[None, :]
    grow = np.where(digits < counts[None, :], np.arange(states)[:, None] + strides[None, :], -1)
    return strides, digits, grow


@functools.lru_cache(maxsize=1024)
def cached_layout(nest: Nest, array: Array, memories: tuple[Level, ...], unrolled: tuple[int, ...],
                  limit: int, mapper: str = "loma", orders: tuple[LoopOrder, ...] = ()) -> Layout:
    """:func:`layout` of an array and its memory levels (hashable: the cache key)."""
    unrolled = np.array(unrolled)
    spatial_loops = array.loops
    per_dim = np.ones(len(LOOP_DIMS), dtype=np.int64)
    for (_, loop), u in zip(spatial_loops, unrolled, strict=True):
        per_dim[DIM[loop]] *= u
    temporal = [math.ceil(b / u) for b, u in zip(nest.bounds, per_dim, strict=True)]
    # the average unrolling of each spatial loop over its loop dimension's temporal iterations
    average = np.array([u * nest.bounds[DIM[loop]] / (temporal[DIM[loop]] * per_dim[DIM[loop]])
                        for (_, loop), u in zip(spatial_loops, unrolled, strict=True)])
    types = temporal_loops(temporal, limit, mapper)
    merged = mapper == "exact" and sum(c for _, _, c in types) < sum(len(prime_factors(b)) for b in temporal)
    loops = [(d, size) for d, size, _ in types]
    counts = np.array([c for _, _, c in types], dtype=np.int64)
    strides, digits, grow = state_tables(counts)
    tiles = np.ones((len(digits), len(LOOP_DIMS)))
    for t, (d, size) in enumerate(loops):
        tiles[:, d] *= float(size) ** digits[:, t]
    cycles = np.prod(tiles, axis=1)
    levels, elements, held, fanout, instances, irrelevant, spatial_irrelevant = {}, {}, {}, {}, {}, {}, {}
    complete, only_irrelevant, feed = {}, {}, {}
    for role in OPERANDS:
        chain = hierarchy(memories, role)
        levels[role] = chain
        codes = np.array(nest.relevance[role])
        # a spatial loop of array dimension d sits just below the innermost level of the operand serving d (that
        # level broadcasts along d), or above the whole hierarchy if none does (ZigZag's mapping per memory level)
        arch = np.array([min((m for m, lv in enumerate(chain) if array.dims[j] in lv.served_dims),
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
        feed[role] = (fold_feed(nest, spatial_loops, unrolled, arch, codes) if nest.distinct
                      else (fanout[role][:1], np.ones(1)))
        instances[role] = np.array([round(round(float(np.prod(average[arch >= a])), 3))
                                    for a in range(len(chain) + 2)], dtype=np.float64)
        irrelevant[role] = codes[[d for d, _ in loops]] == IRRELEVANT
        complete[role] = np.all(np.where(irrelevant[role][None, :], digits == counts[None, :], True), axis=1)
        only_irrelevant[role] = np.all(np.where(irrelevant[role][None, :], True, digits == 0), axis=1)
        ir_spatial = np.array([codes[DIM[loop]] == IRRELEVANT and u > 1
                               for (_, loop), u in zip(spatial_loops, unrolled, strict=True)])
        spatial_irrelevant[role] = np.array([bool((ir_spatial & (arch >= a)).any()) for a in range(len(chain) + 2)])
    utilization = math.prod(nest.bounds) / (array.pes * float(cycles[-1]))
    return Layout(loops, counts, strides, digits, digits.sum(axis=1), grow, mapper, cycles, float(cycles[-1]),
                  unrolled, levels, elements, held, fanout, instances, irrelevant, complete, only_irrelevant,
                  spatial_irrelevant, merged, utilization,
                  allowed_steps(orders, [LOOP_DIMS[d] for d, _ in loops], digits, counts),
                  (nest, array, memories, tuple(int(u) for u in unrolled), limit, mapper, orders), feed)


def fold_feed(nest: Nest, spatial_loops, unrolled: np.ndarray, arch: np.ndarray,
              codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:attr:`Layout.feed` of one operand of a nest without windows: per loop dimension indexing it and unrolled
    below its innermost level, ``ceil(bound / PEs) - 1`` whole folds of its PEs and one of the rest (363 taps on 32
    rows: 11 folds of 32, one of 11), combined over the dimensions; elements and shares of the steps."""
    pes: dict[int, int] = {}
    for (_, loop), u, level in zip(spatial_loops, unrolled, arch, strict=True):
        if level < 1 and codes[DIM[loop]] != IRRELEVANT:
            pes[DIM[loop]] = pes.get(DIM[loop], 1) * int(u)
    sizes, shares = np.ones(1), np.ones(1)
    for d, p in pes.items():
        folds = math.ceil(nest.bounds[d] / p)
        last = nest.bounds[d] - (folds - 1) * p
        sizes = np.outer(sizes, [p, last]).ravel()
        shares = np.outer(shares, [(folds - 1) / folds, 1 / folds]).ravel()
    return sizes, shares
