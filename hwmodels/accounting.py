"""Access accounting of a mapped loop nest, as ZigZag counts it (Mei et al., IEEE TC 2021; the ``zigzag-dse`` cost
model), so that the two agree on the same hardware description.

* **Allocation.** Given a loop order (innermost first), every operand's levels are filled bottom-up with the
  longest prefix of loops whose tile still fits the level (a shared level is split between its operands).
* **Accesses.** Across the boundary between levels m and m+1 of an operand, with S the loops below it (and the
  spatial loops of the levels at or below m), the tile moves ``T / cycles(S)`` times (T: all temporal iterations):
  written into m and read out of m+1 for weights and inputs; for outputs read out of m and written into m+1, plus
  the partial sums coming back while output-irrelevant loops remain above. A transfer of b bits is
  ``ceil(b / min_bits) * min_bits / word_bits`` accesses of the level's word, per instance of the level. The
  innermost level of a weight or input is read once per run of its innermost loops irrelevant to it (a stationary
  operand costs one read per residency, not one per MAC); the innermost output level is written every cycle, with
  partial sums (read back) while an output-irrelevant loop remains above it, and a final value otherwise.
  Energy = accesses x energy per access, per direction.

Every term depends only on the *set* S of loops below a boundary (the tile sizes), never on their order: the mapper
(:mod:`hwmodels.mapper`) searches orders on that property.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .configs import Configs, take
from .model import OPERANDS, Level
from .nest import Layout


@dataclass(frozen=True)
class Widths:
    """Per configuration (arrays of shape (K,)): bits per element of each operand where it is stored, and how the
    output's partial sums and final values are stored.

    Attributes:
        weight_chip, weight_top: bits per weight on chip and at the top (off-chip) level (storage formats).
        act: bits per input activation.
        psum, final: bits per partial sum and per final output.
        act_top, final_top: bits per input activation read from, and per final output written to, the top
            (off-chip) level: compressed where it compresses activations (partial sums never are).
        weight_whole, psum_whole, final_whole: bits of one whole weight, partial sum and final output, where the
            widths above are averages over a compressed tensor (zero-skipped weights with their index, a pre-defined
            pattern's weight gradient): what a level must hold to keep one element at all.
        work: the share of MAC cycles that run (skipped zeros take none; :func:`hwmodels.sparsity.executed`).
        fed_w, fed_i, fed_o: the share of each operand's innermost (per-MAC) accesses that happen (skipped zeros
            and another operand's gated zeros remove them).
    """

    weight_chip: np.ndarray
    weight_top: np.ndarray
    act: np.ndarray
    psum: np.ndarray
    final: np.ndarray
    act_top: np.ndarray
    final_top: np.ndarray
    weight_whole: np.ndarray
    psum_whole: np.ndarray
    final_whole: np.ndarray
    work: np.ndarray
    fed_w: np.ndarray
    fed_i: np.ndarray
    fed_o: np.ndarray

    def __len__(self) -> int:
        return len(self.act)

    def take(self, index: np.ndarray) -> Widths:
        """The configurations at positions ``index``."""
        return take(self, index)

    def key(self) -> np.ndarray:
        """(K, fields) float64: the widths as rows (for grouping configurations)."""
        return np.stack([getattr(self, f.name) for f in fields(self)], axis=1).astype(np.float64)

    def fed(self, role: str) -> np.ndarray:
        """The share of ``role``'s innermost accesses that happen."""
        return {"W": self.fed_w, "I": self.fed_i, "O": self.fed_o}[role]

    def precision(self, role: str, top: bool) -> np.ndarray:
        """Average bits per element of a weight or input operand at the top level or on chip."""
        if role == "W":
            return self.weight_top if top else self.weight_chip
        return self.act_top if top else self.act

    def final_at(self, top: bool) -> np.ndarray:
        """Bits per final output moved at the top level (compressed where it compresses) or on chip."""
        return self.final_top if top else self.final

    def held(self, role: str, top: bool, capacity: np.ndarray, partial: bool = True) -> np.ndarray:
        """Bits per element to test whether a tile of ``role`` fits levels of ``capacity`` bits (K,), on chip or at
        the top (an output: partial sums where ``partial``, else final outputs): :func:`held_bits` of its average
        and whole widths."""
        if role == "O":
            average, whole = (self.psum, self.psum_whole) if partial else (self.final, self.final_whole)
        else:
            average, whole = self.precision(role, top), self.weight_whole if role == "W" else self.act
        return held_bits(average, whole, capacity)


def held_bits(average: np.ndarray, whole: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Bits per element to test whether a tile of elements averaging ``average`` bits fits levels of ``capacity``
    bits (all (K,)): the average, except where a level cannot hold one ``whole`` element, which then holds none,
    however small the compressed average (a 16-bit register keeps no 32-bit partial sum, at any density)."""
    return np.where(whole > capacity + 1e-9, np.maximum(average, whole), average)


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
    return ~lay.complete["O"][np.asarray(states)] | bool(lay.spatial_irrelevant["O"][m + 1])


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
        high_bits = np.where(partial, widths.psum[:, None], widths.final_at(top)[:, None])  # partial sums: never
        # compressed
        at_low = words(tile * bits, low) * periods * lay.instances[role][m + 1]
        at_high = words(spread * high_bits, high) * periods * lay.instances[role][m + 2]
        back_low, back_high = np.where(partial, at_low, 0.0), np.where(partial, at_high, 0.0)
        return Boundary(low_reads=at_low, low_writes=back_low, high_reads=back_high, high_writes=at_high)
    written = words(tile * widths.precision(role, False)[:, None], low)
    read = words(spread * widths.precision(role, top)[:, None], high)
    zero = np.zeros_like(written)
    return Boundary(low_reads=zero, low_writes=written * periods * lay.instances[role][m + 1],
                    high_reads=read * periods * lay.instances[role][m + 2], high_writes=zero)


def fed_words(lay: Layout, role: str, bits: np.ndarray, level: Level) -> np.ndarray:
    """Words of ``level`` the array takes (or gives) per step of ``role`` at ``bits`` per element (K,): each
    fold's transfer rounded to whole words, averaged over the folds (:attr:`Layout.feed`)."""
    sizes, shares = lay.feed[role]
    return words(np.multiply.outer(bits, sizes), level) @ shares


def innermost(lay: Layout, role: str, stationary: np.ndarray, widths: Widths) -> tuple[np.ndarray, np.ndarray]:
    """(reads, writes) in words at the innermost level of ``role``, feeding or collecting the array: an input is
    read once per run of the loops in ``stationary`` (its innermost loops irrelevant to it); partial sums are
    written, and read back while accumulating, every cycle. Skipped and gated zeros remove the accesses of the MACs
    they skip or gate (:meth:`Widths.fed`)."""
    level = lay.levels[role][0]
    top = len(lay.levels[role]) == 1
    if role == "O":
        partial = output_partial(lay, 0, np.int64(0))
        bits = np.where(partial, widths.psum, widths.final_at(top))
        writes = fed_words(lay, role, bits, level) * lay.total * lay.instances[role][1] * widths.fed_o
        return np.where(partial, writes, 0.0)[:, None], writes[:, None]
    reads = (fed_words(lay, role, widths.precision(role, top), level)[:, None]
             * (lay.total / lay.cycles[np.asarray(stationary)]) * lay.instances[role][1] * widths.fed(role)[:, None])
    return reads, np.zeros_like(reads)


def boundary_energy(b: Boundary, low: Level, high: Level, configs: Configs) -> np.ndarray:
    """Energy of the accesses ``b`` across one boundary, pJ, (K, states)."""
    return ((b.low_reads * configs.read[low.name][:, None] + b.low_writes * configs.write[low.name][:, None])
            + (b.high_reads * configs.read[high.name][:, None] + b.high_writes * configs.write[high.name][:, None]))


@dataclass
class Choice:
    """The mapping chosen per configuration: for each operand, the loops below each of its boundaries (a subset
    bitmask per level but the top, (K, levels - 1)), its stationary innermost loops (K,), and the loop order."""

    bounds: dict[str, np.ndarray]
    stationary: dict[str, np.ndarray]
    order: np.ndarray


def count_accesses(lay, choice, widths: Widths,
                   dropped: dict[str, np.ndarray]) -> dict[tuple[str, str, str], np.ndarray]:
    """Accesses per (level, operand, direction) of the chosen mapping."""
    moved: dict[tuple[str, str, str], np.ndarray] = {}

    def add(level: Level, role: str, direction: str, value: np.ndarray) -> None:
        key = (level.name, role, direction)
        moved[key] = moved.get(key, 0.0) + np.asarray(value, dtype=float).ravel()

    for role in OPERANDS:
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
