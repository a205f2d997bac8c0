"""The mapper: the loop order of one mapped nest that minimises energy, vectorised over configurations.

Every access term (:mod:`hwmodels.accounting`) depends only on which loops lie below a boundary, never on their
order, so the energy-optimal order is a shortest path over the states of :class:`~hwmodels.nest.Layout` (a dynamic
programme over every state), in one vectorised pass per distinct spatial unrolling instead of a mapping enumeration
per configuration. For the ``loma`` mapper the states are the subsets of ``loop_factor_limit`` merged factors: the
optimum of ZigZag's loop-order search (LOMA) over the same loops. For the ``exact`` mapper they are the tile sizes
reachable from every prime factor (identical factors of a dimension give identical tiles, so a state counts how
many of each are below): the optimum over every factorisation and every order, visiting far fewer states than the
2^n subsets of the n prime factors (tested against an enumeration of every order).

Configurations that fit the same tiles share a search graph but for their energies per access; each gets the
order optimal for its own energies (:func:`optimal_per_energy`), so a configuration prices the same alone and in
any grid.

NB: a level shared by several operands (a global buffer holding inputs and outputs) is split between them in
proportion to their whole tensors (exact when both fit), or in half, whichever gives less energy
(:mod:`hwmodels.traffic`); ZigZag searches the split by its own access proxy. The precision of partial sums used
to size an output tile follows the loops in that tile (ZigZag decides it before filling the level).
"""

from __future__ import annotations

import numpy as np

from .accounting import Boundary, Choice, Widths, boundary, boundary_energy, innermost
from .configs import Configs
from .model import OPERANDS
from .nest import Layout


def search(lay: Layout, widths: Widths, configs: Configs, capacity: dict[str, np.ndarray],
           dropped: dict[str, np.ndarray]) -> tuple[Choice, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The energy-optimal loop order for every configuration: a shortest path over the states of the temporal loops.

    Configurations whose every level fits the same tiles and that share word widths and policies have the same
    graph but for the energies per access (a resized buffer's). A path found with one configuration's energies
    need not be the cheapest with another's, so each configuration gets the path optimal for its own energies
    (:func:`optimal_per_energy`): the result never depends on which other configurations are priced beside it.

    Returns:
        The choice of each distinct solved configuration, those configurations' indices, each configuration's
        solved one, per operand the levels (K, levels) too small for its spatial tile (they stream it through),
        and whether each solved one has a feasible order at all (an infeasible one's choice is meaningless: every
        order needs a level to hold less of an operand than the level below it).

    Args:
        lay: the nest's layout.
        widths: per configuration.
        configs: the configurations (their energies per access).
        capacity: per operand, bits available to it at each of its levels, (K, levels).
        dropped: per operand, (K,) bool: its transfers to and from the top level are free (kept on chip between
            layers); only ``I`` and ``O`` use it.
    """
    k = len(widths.act)
    first, inverse = (np.zeros(1, dtype=np.int64),) * 2 if k == 1 else patterns(lay, widths, capacity, dropped)
    streamed = {role: streaming(lay, role, widths, capacity) for role in OPERANDS}
    solved: dict[int, tuple] = {}  # configuration -> (last (states,), fits per operand, cost, signature)

    def solve(points: list[int]) -> None:
        points = [p for p in dict.fromkeys(points) if p not in solved]
        if points:
            solved.update(zip(points, solve_graphs(lay, widths, configs, capacity, dropped, np.array(points)),
                              strict=True))

    energies = np.stack([a for lv in sorted({lv.name for role in OPERANDS for lv in lay.levels[role]})
                         for a in (configs.read[lv], configs.write[lv])], axis=1)
    assigned = optimal_per_energy(first, inverse, energies, solve, lambda p: solved[p][3])
    reps = np.unique(assigned)
    solve(list(reps))
    fits = {role: np.stack([solved[p][1][role] for p in reps]) for role in OPERANDS}
    choice = backtrack(lay, np.stack([solved[p][0] for p in reps]), fits)
    feasible = np.isfinite([solved[p][2] for p in reps])
    return choice, reps, np.searchsorted(reps, assigned), streamed, feasible


def optimal_per_energy(first: np.ndarray, inverse: np.ndarray, energies: np.ndarray, solve, signature) -> np.ndarray:
    """For every configuration, a configuration whose optimal path is optimal for it too (itself, or one of its
    graph pattern whose energies give the same path), solving as few as it can.

    Within a pattern the cost of every path is linear in the energies per access. Where the pattern's energy
    vectors lie on one line (a buffer resized along a grid: the level's read and write energies move together),
    the cheapest cost along it is the lower envelope of lines, so a path optimal at both ends of a stretch is
    optimal throughout it: the stretch is solved at its ends and split in two only where they differ. Energy
    vectors off one line are each solved.

    Args:
        first, inverse: the patterns (:func:`patterns`).
        energies: (K, n) every level's read and write energy per access.
        solve: solves a list of configurations (each by its own energies); ``signature`` of a solved one says
            which path it took (equal signatures: the same path).
    """
    assigned = np.empty(len(inverse), dtype=np.int64)
    stretches, points = [], []
    for p, rep in enumerate(first):
        members = np.flatnonzero(inverse == p)
        vectors = energies[members]
        if (vectors == vectors[0]).all():
            assigned[members] = rep
            points.append(int(rep))
            continue
        along = line_positions(vectors)
        if along is None:  # each distinct energy vector its own
            _, index, back = np.unique(vectors, axis=0, return_index=True, return_inverse=True)
            assigned[members] = members[index][back.ravel()]
            points += [int(m) for m in members[index]]
            continue
        ordered = members[np.argsort(along, kind="stable")]
        stretches.append((ordered, 0, len(ordered) - 1))
    while stretches:
        solve(points + [int(o[i]) for o, lo, hi in stretches for i in (lo, hi)])
        points, split = [], []
        for ordered, lo, hi in stretches:
            a, b = int(ordered[lo]), int(ordered[hi])
            if signature(a) == signature(b):
                assigned[ordered[lo:hi + 1]] = a
            elif hi - lo <= 1:
                assigned[a], assigned[b] = a, b
            else:
                mid = (lo + hi) // 2
                split += [(ordered, lo, mid), (ordered, mid, hi)]
        stretches = split
    return assigned


def line_positions(vectors: np.ndarray) -> np.ndarray | None:
    """Each row's position along the line through the rows (``(K, n)``, at least two distinct), or None where
    they are not on one line."""
    offsets = vectors - vectors[0]
    direction = offsets[np.argmax(np.abs(offsets).sum(axis=1))]
    along = offsets @ direction / (direction @ direction)
    residual = np.abs(offsets - along[:, None] * direction[None, :]).max()
    return along if residual <= 1e-9 * (np.abs(vectors).max() + 1e-30) else None


def solve_graphs(lay: Layout, widths: Widths, configs: Configs, capacity: dict[str, np.ndarray],
                 dropped: dict[str, np.ndarray], points: np.ndarray) -> list[tuple]:
    """The optimal path of each configuration in ``points`` with its own energies: per point, (last loop type on
    the cheapest path to every state, the fits per operand of the graph chosen, its cost, the signature of its
    path: the output scenario and the loop order)."""
    base = {role: operand_fits(lay, role, widths, capacity, points) for role in ("W", "I")}
    scenarios, o_fits = output_fits(lay, widths, capacity, points)
    g = len(points)
    # a scenario is possible only where its level can hold the smallest tile holding all the irrelevant loops
    ir_state = lay.state_of(np.where(lay.irrelevant["O"], lay.counts, 0))
    graphs = [(i, row) for i, j in enumerate(scenarios) for row in range(g) if j < 0 or o_fits[i, row, j, ir_state]]
    scenario, row = (np.array(v, dtype=np.int64) for v in zip(*graphs, strict=True))
    repeat = points[row]
    stacked = {r: base[r][row] for r in ("W", "I")} | {"O": o_fits[scenario, row]}
    last, cost = shortest_paths(lay, widths.take(repeat), configs.take(repeat), stacked,
                                {r: v[repeat] for r, v in dropped.items()}, np.asarray(scenarios)[scenario])
    pick = np.zeros(g, dtype=np.int64)
    for index in np.argsort(-cost, kind="stable"):  # the cheapest graph of each point is written last
        pick[row[index]] = index
    fits = {r: f[pick] for r, f in stacked.items()}
    orders = backtrack(lay, last[pick], fits).order
    return [(last[i], {r: fits[r][j] for r in fits}, float(cost[i]), (int(scenario[i]), orders[j].tobytes()))
            for j, i in enumerate(pick)]


def operand_fits(lay: Layout, role: str, widths: Widths, capacity: dict[str, np.ndarray],
                 points: np.ndarray) -> np.ndarray:
    """Whether each level of a weight or input operand holds each state's tile, (points, levels, states), for the
    configurations ``points``."""
    chain = lay.levels[role]
    fit = np.empty((len(points), len(chain), lay.states), dtype=bool)
    for m in range(len(chain)):
        bits = widths.held(role, m == len(chain) - 1, capacity[role][:, m])
        fit[:, m] = lay.elements[role][m][None, :] * bits[points, None] <= capacity[role][points, m:m + 1] + 1e-9
    fit[:, :, 0] = True
    return fit


def streaming(lay: Layout, role: str, widths: Widths, capacity: dict[str, np.ndarray]) -> np.ndarray:
    """(K, levels): the levels of ``role`` too small for its spatial tile (they stream it through, an
    approximation); an output's innermost tile holds partial sums where an output-irrelevant loop is below it."""
    chain = lay.levels[role]
    out = np.empty((len(widths), len(chain)), dtype=bool)
    partial = role == "O" and (lay.irrelevant["O"].any() or bool(lay.spatial_irrelevant["O"][1]))
    for m in range(len(chain)):
        room = capacity[role][:, m]
        bits = widths.held("O", False, room, partial) if role == "O" else widths.held(role, m == len(chain) - 1, room)
        out[:, m] = ~(lay.elements[role][m][0] * bits <= room + 1e-9)
    return out


def output_fits(lay: Layout, widths: Widths, capacity: dict[str, np.ndarray],
                points: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The output's scenarios and whether each level holds each state's tile under each, (scenarios, points,
    levels, states).

    A level holds partial sums (wider) while an output-irrelevant loop is not yet below it, which depends on where
    the level below ends (ZigZag's allocator decides the width before filling a level). Scenario j assumes the
    irrelevant loops are complete first within level j's tile: levels up to j hold partial sums, levels above final
    outputs; paths breaking the assumption are excluded, and the cheapest scenario wins (-1: no irrelevant loop)."""
    chain = lay.levels["O"]
    scenarios = [-1] if not lay.irrelevant["O"].any() else list(range(len(chain)))
    fits = np.empty((len(scenarios), len(points), len(chain), lay.states), dtype=bool)
    for m in range(len(chain)):
        spatial = bool(lay.spatial_irrelevant["O"][m + 1])
        room = capacity["O"][:, m]
        psum, final = widths.held("O", False, room), widths.held("O", False, room, partial=False)
        for i, j in enumerate(scenarios):
            bits = psum if m <= j or spatial else final
            fits[i, :, m] = lay.elements["O"][m][None, :] * bits[points, None] <= capacity["O"][points, m:m + 1] + 1e-9
    fits[:, :, :, 0] = True
    return scenarios, fits


def patterns(lay: Layout, widths: Widths, capacity: dict[str, np.ndarray],
             dropped: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The configurations whose levels fit the same tiles and that share word widths and policies (the same search
    graph but for energies): (first configuration of each pattern, each configuration's pattern)."""
    masks = np.arange(lay.states)
    classes = []  # (role, level, states of the class, bits per element (K,)): tiles compared to the capacity alike
    for role in OPERANDS:
        chain = lay.levels[role]
        for m in range(len(chain)):
            room, top = capacity[role][:, m], m == len(chain) - 1
            partials = (True, False) if role == "O" else (True,)
            classes += [(role, m, masks, widths.held(role, top, room, partial)) for partial in partials]
    ranks = np.stack([fitting(lay.elements[r][m][members], bits, capacity[r][:, m]) for r, m, members, bits in classes],
                     axis=1)
    key = np.concatenate([ranks.astype(np.float64), widths.key(),
                          np.stack([dropped[r] for r in sorted(dropped)], axis=1).astype(np.float64)], axis=1)
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


def shortest_paths(lay: Layout, widths: Widths, configs: Configs, fits: dict[str, np.ndarray],
                   dropped: dict[str, np.ndarray], complete_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last loop type added on the cheapest path to every state, (G, states), and the cost of the cheapest
    whole order, (G,), for G graphs: the cost of adding a factor is every boundary it closes (the last tile a level
    holds) and the innermost reads of an operand whose stationary run it ends. ``complete_in``: per graph, the
    output level whose tile first holds all the output-irrelevant loops (-1: there are none); adding the last of
    them elsewhere is excluded. The step costs are laid out (G, types, states), states innermost: long inner loops
    for numpy."""
    states, types = lay.states, len(lay.loops)
    graphs = len(widths.act)
    masks = np.arange(states)
    grown = (lay.grow >= 0).T  # (types, states): a factor of the type is left to add
    grow = np.ascontiguousarray(np.where(grown, lay.grow.T, 0))  # (types, states): the state with one more of it
    step = np.zeros((graphs, types, states), dtype=np.float32)  # the search only ranks orders; energies are recounted
    # accesses depend on the widths, not on the energies: counted once per distinct widths (graphs of one pattern
    # share them), priced per graph
    unique, back = distinct_rows(widths.key())
    distinct = widths.take(unique)
    for role in OPERANDS:
        chain = lay.levels[role]
        fit = fits[role]
        below_grown = None  # (G, types, states): the level below holds the grown state's tile
        for m in range(len(chain) - 1):
            counted = boundary(lay, role, m, masks, distinct)
            per_graph = Boundary(*(np.broadcast_to(v, (len(unique), states))[back] for v in (
                counted.low_reads, counted.low_writes, counted.high_reads, counted.high_writes)))
            cost = boundary_energy(per_graph, chain[m], chain[m + 1], configs)
            if role in dropped and m + 1 == len(chain) - 1:
                cost = np.where(dropped[role][:, None] & (masks == states - 1)[None, :], 0.0, cost)
            holds = np.ascontiguousarray(fit[:, m])  # (G, states): level m holds the state's tile
            grown_fits = holds[:, grow]  # (G, types, states): level m holds the grown state's tile
            closes = np.greater(holds[:, None, :], grown_fits)  # holds the state's tile, not the grown one's
            np.add(step, cost[:, None, :].astype(np.float32), out=step, where=closes)  # (in place: no temporary)
            if below_grown is not None:  # a level that cannot hold what the level below holds: not a valid allocation
                np.copyto(step, np.float32(np.inf), where=np.greater(below_grown, grown_fits))
            below_grown = grown_fits
        if role != "O":  # S is a run of loops irrelevant to the operand, which a relevant loop ends
            reads = innermost(lay, role, masks, distinct)[0][back] * configs.read[chain[0].name][:, None]
            ends = ~lay.irrelevant[role][:, None] & lay.only_irrelevant[role][None, :]  # (types, states)
            np.add(step, reads[:, None, :].astype(np.float32), out=step, where=ends[None])
    if lay.allowed is not None:  # the dataflow's own loop order (hwmodels.order)
        step[:, ~lay.allowed.T] = np.inf
    if lay.irrelevant["O"].any():
        complete = lay.complete["O"]
        completes = ~complete[None, :] & complete[grow] & grown  # (types, states)
        fit = fits["O"]
        level = np.clip(complete_in, 0, None)
        rows = np.arange(graphs)
        holds = fit[rows, level][:, grow]  # (G, types, states): level j holds the tile completing the loops
        below = np.where((complete_in > 0)[:, None, None], fit[rows, np.maximum(level - 1, 0)][:, grow], False)
        np.copyto(step, np.float32(np.inf), where=completes[None] & ~(holds & ~below))
    return cheapest_paths(lay, step)


def cheapest_paths(lay: Layout, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dynamic programme over the states in order of depth: (the last loop type on the cheapest path to every
    state, (G, states); the cost of the cheapest whole order, (G,)), where ``step`` (G, types, states) is the cost
    of adding a factor of each type to each state."""
    graphs, types, states = step.shape
    masks = np.arange(states)
    best = np.full((graphs, states), np.inf, dtype=np.float32)
    best[:, 0] = 0.0
    last = np.zeros((graphs, states), dtype=np.int64)
    kinds = np.arange(types)
    for k in range(1, lay.factors + 1):
        targets = masks[lay.depth == k]
        has = lay.digits[targets] > 0  # (targets, types): a factor of the type to remove
        prev = np.where(has, targets[:, None] - lay.strides[None, :], 0)  # the state without it
        before = prev.T  # (types, targets)
        candidates = np.where(has.T[None], best[:, before] + step[:, kinds[:, None], before], np.inf)
        last[:, targets] = np.argmin(candidates, axis=1)
        best[:, targets] = np.min(candidates, axis=1)
    return last, best[:, -1]


def backtrack(lay: Layout, last: np.ndarray, fits: dict[str, np.ndarray]) -> Choice:
    """Loop order (types, innermost first), boundaries and stationary runs of the optimal paths."""
    n = lay.factors
    graphs = last.shape[0]
    rows = np.arange(graphs)
    chain = np.zeros((graphs, n + 1), dtype=np.int64)  # states from all loops down to none
    order = np.zeros((graphs, n), dtype=np.int64)
    state = np.full(graphs, lay.states - 1)
    chain[:, 0] = state
    for k in range(n):
        x = last[rows, state]
        order[:, n - 1 - k] = x
        state = state - lay.strides[x]
        chain[:, k + 1] = state
    chain = chain[:, ::-1]  # none ... all, the prefixes of the order
    bounds, stationary = {}, {}
    for role in OPERANDS:
        fit = fits[role]
        levels = fit.shape[1]
        along = np.stack([fit[rows[:, None], m, chain] for m in range(levels)], axis=1)
        last_fit = n - np.argmax(along[:, :, ::-1], axis=2)  # index of the last prefix that fits
        bounds[role] = chain[rows[:, None], np.clip(last_fit[:, :-1], 0, n)]
        ir = lay.irrelevant[role][order]  # (graphs, loops) in order
        run = np.argmin(np.concatenate([ir, np.zeros((graphs, 1), dtype=bool)], axis=1), axis=1)
        stationary[role] = chain[rows, run]
    return Choice(bounds, stationary, order)
