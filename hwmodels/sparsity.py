"""What hardware does with zeros: gating and skipping of zero operands at the PEs, and compressed activations at a
memory level (Sparseloop's three effects; Wu et al., MICRO 2022).

* **Gating** an operand (``[sparsity] gate = ["I"]``): a zero of it is read and detected, then the MAC it would
  feed and the register read of the other multiplicand (weight for input) are gated off: energy falls with its
  density, cycles do not, and the partial-sum register is accessed as before (Eyeriss gates zero input
  activations: the filter-scratchpad read and the MAC, Chen et al. JSSC 2017; Sparseloop's gated compute and
  gated follower reads).
* **Skipping** an operand (``skip = ["W"]``): its zeros are never fetched or computed: the MAC, every innermost
  access for it (its own included) and its cycle go (compressed weights skipped by a sparse PE; Cnvlutin skips
  zero inputs, Albericio et al. ISCA 2016).
* A hardware file without a ``[sparsity]`` table skips zero weights (the ``zero_skipping`` pricing parameter turns
  that off) and treats activations as dense, as this tool always has.

Densities: weights, executed / dense MACs of the weight's zeros (``nz_macs``, or ``nz_macs_valid`` with padding taps
skipped too, as ``zero_skipping`` and ``skip_padding`` say); inputs, the unit's ``input_density`` (measured on real
inputs, or given; 1 where neither). Zeros of the two operands are taken as independent: the share of MACs with both
operands non-zero is the product of their densities.

* **Compression** (``compression = "rlc"`` on the off-chip level): the input activations read from it and the final
  outputs written to it move compressed (:data:`COMPRESSIONS`; partial sums never are). A tensor is never moved
  larger than dense: the hardware sends it uncompressed when that is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPARSE_OPERANDS = ("W", "I")
"""Operands whose zeros a PE can gate or skip."""
COMPRESSIONS = {
    "none": "activations move dense",
    "rlc": "run-length coded: a (run of zeros before it, value) pair per non-zero, run_bits of run and the value's "
           "bits, packed floor(word_bits / (run_bits + value bits)) to a word_bits word (Eyeriss: 5-bit runs, "
           "16-bit values, 3 pairs in 64 bits, Chen et al. JSSC 2017): density x word_bits / pairs per word bits "
           "per element. A run longer than 2^run_bits - 1 zeros needs one more pair, not counted: for zeros falling "
           "independently, (1 - density)^(2^run_bits) pairs per element, under 0.1% of the pairs at density 0.2",
    "zvc": "zero-value compressed: a 1-bit mask per element and the non-zero values (1 + density x value bits per "
           "element)",
}
"""Formats of compressed activations at a memory level."""


@dataclass(frozen=True)
class Sparsity:
    """A hardware description's handling of zero operands at the PEs (its ``[sparsity]`` table).

    Attributes:
        gate: operands whose zeros gate the MAC and the other operands' register accesses (energy only).
        skip: operands whose zeros are skipped (energy and cycles).
        source: where the description comes from.
    """

    gate: frozenset = frozenset()
    skip: frozenset = frozenset({"W"})
    source: str = ""


@dataclass(frozen=True)
class Compression:
    """How a level stores activations (a level's ``compression``, ``run_bits`` and ``pair_word_bits``).

    Attributes:
        format: one of :data:`COMPRESSIONS`.
        run_bits: bits of a run length (``rlc``).
        word_bits: bits of the word run-length pairs are packed in (``rlc``).
    """

    format: str = "none"
    run_bits: int = 5
    word_bits: int = 64

    def share(self, density: np.ndarray, value_bits: np.ndarray) -> np.ndarray:
        """Bits moved per dense bit of a tensor of ``density`` with ``value_bits`` per element, at most 1.

        E.g. ``rlc`` with 16-bit values: floor(64 / 21) = 3 pairs per 64-bit word, 64 / 3 bits per non-zero; at
        density 0.25, 0.25 x 64/3 / 16 = 1/3 of the dense bits.
        """
        density = np.clip(np.asarray(density, dtype=np.float64), 0.0, 1.0)
        value_bits = np.asarray(value_bits, dtype=np.float64)
        if self.format == "rlc":
            per_word = np.maximum(np.floor(self.word_bits / (value_bits + self.run_bits)), 1.0)
            share = density * self.word_bits / per_word / value_bits
        elif self.format == "zvc":
            share = (1.0 + density * value_bits) / value_bits
        else:
            share = np.ones_like(density * value_bits)
        return np.minimum(share, 1.0)


NO_COMPRESSION = Compression()


@dataclass(frozen=True)
class Executed:
    """Shares of a MAC unit's dense work that happen, per configuration (arrays broadcast together).

    Attributes:
        cycles: of the MAC cycles (skipped zeros take none).
        macs: of the MACs whose energy is spent (skipped or gated zeros spend none).
        access: per operand, of its innermost (register) accesses, one per MAC: skipped zeros of any operand
            remove them, and gated zeros of the other multiplicand remove a weight's or an input's.
    """

    cycles: np.ndarray
    macs: np.ndarray
    access: dict[str, np.ndarray]


def executed(sparsity: Sparsity, macs, nz_macs, nz_macs_valid, input_density, zero_skipping, skip_padding,
             act_sparsity) -> Executed:
    """The executed shares of MAC units: the one rule for what runs. Arguments broadcast together (a unit's counts
    and ``input_density`` against per-configuration policies): the weight's density is ``nz_macs / macs`` with
    ``zero_skipping`` (``nz_macs_valid / macs`` with ``skip_padding`` too), else 1; the input's is
    ``input_density`` with ``act_sparsity``, else 1. E.g. gating of I at density 0.5: the MAC energy and the W
    register reads halve; the cycles, the I reads and the partial sums do not. Skipping W at 0.25: all a quarter."""
    macs = np.maximum(np.asarray(macs, dtype=np.float64), 1.0)
    kept = np.where(skip_padding, nz_macs_valid, nz_macs)
    density = {"W": np.where(zero_skipping, kept / macs, 1.0), "I": np.where(act_sparsity, input_density, 1.0)}
    one = np.ones(np.broadcast_shapes(density["W"].shape, density["I"].shape))
    skipped = one * np.prod([density[r] for r in SPARSE_OPERANDS if r in sparsity.skip] + [one], axis=0)
    gated = {r: density[r] if r in sparsity.gate else one for r in SPARSE_OPERANDS}
    access = {"W": skipped * gated["I"], "I": skipped * gated["W"], "O": skipped}
    return Executed(cycles=skipped, macs=skipped * gated["W"] * gated["I"], access=access)
