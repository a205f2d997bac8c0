"""The variants' parameters as plain values, with their name parsers (no torch: a sweep file is checked before
anything heavy is imported).

Periodic sparsity: Kundu et al., IEEE Trans. Computers 2020 (docs/references.md s.1); dyadic levels: Cintra et
al., IEEE TNNLS 2018 (docs/references.md s.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hwmodels.errors import UserError

KERNEL_POSITIONS = 9
PATTERNS: dict[int, tuple[tuple[int, ...], ...]] = {
    4: ((0, 1, 3, 4), (1, 2, 4, 5), (3, 4, 6, 7), (4, 5, 7, 8)),  # A, B, C, D: the 2x2 corner blocks
    2: ((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8)),  # the six horizontal pairs
    1: tuple((p,) for p in range(KERNEL_POSITIONS)),  # single positions (our definition, not the authors')
}
"""Row-major positions 0..8 of a 3x3 kernel kept by each pattern, per non-zeros k."""

PAPER_VARIANTS = ("PS4_P4", "PS2_P6", "PS1_P9", "PSD4_P8", "PSD4_P16", "PSD2_P8", "PSD2_P16", "PSD1_P8",
                  "PSD1_P16", "pSC4", "pSC2", "pSC1")
"""The variants of the paper's figures."""

DENSE_SLOT = tuple(range(KERNEL_POSITIONS))


@dataclass(frozen=True)
class PeriodicSpec:
    """A sparsity variant.

    Attributes:
        kind: ``PS`` (periodic), ``PSD`` (periodic with one dense kernel per period), ``pSC`` (k random
            positions per kernel, seeded) or ``dense``.
        k: non-zeros per sparse kernel.
        period: P, the number of slots (PS/PSD).
        patterns: the patterns cycled through; defaults to :data:`PATTERNS` [k].
        seed: seed of pSC's random positions.
    """

    kind: str
    k: int = 9
    period: int = 1
    patterns: tuple[tuple[int, ...], ...] | None = None
    seed: int = 0

    def __post_init__(self):
        if self.kind not in ("PS", "PSD", "pSC", "dense"):
            raise UserError(f"sparsity kind '{self.kind}' is unknown; expected PS, PSD, pSC or dense")
        if self.period < 1:
            raise UserError(f"period P must be at least 1; got {self.period}")
        if not 1 <= self.k <= KERNEL_POSITIONS:
            raise UserError(f"k (non-zeros per kernel) must be 1..9; got {self.k}")
        if self.kind in ("PS", "PSD") and self.patterns is None and self.k not in PATTERNS:
            raise UserError(f"no pattern table for k={self.k}; expected k in {sorted(PATTERNS)} "
                             "or custom patterns")
        for pattern in self.patterns or ():
            if len(pattern) != self.k or not all(0 <= p < KERNEL_POSITIONS for p in pattern):
                raise UserError(f"pattern {pattern} must list {self.k} distinct positions in 0..8")

    @property
    def name(self) -> str:
        if self.kind == "dense":
            return "dense"
        if self.kind == "pSC":
            return f"pSC{self.k}"
        return f"{self.kind}{self.k}_P{self.period}" + ("_custom" if self.patterns else "")

    @property
    def pattern_list(self) -> tuple[tuple[int, ...], ...]:
        return self.patterns or PATTERNS[self.k]

    def slots(self) -> list[tuple[int, ...]]:
        """The kept positions of each of the P slots. PS: slot t uses pattern t mod n; PSD: slot 0 is dense,
        slots 1..P-1 cycle through the patterns in order."""
        patterns = self.pattern_list
        if self.kind == "PS":
            return [patterns[t % len(patterns)] for t in range(self.period)]
        return [DENSE_SLOT] + [patterns[(t - 1) % len(patterns)] for t in range(1, self.period)]

    def density(self) -> float:
        """Fraction of weights kept in a sparse layer (exact when C_in is a multiple of P)."""
        if self.kind == "dense":
            return 1.0
        if self.kind == "PSD":
            return ((self.period - 1) * self.k + KERNEL_POSITIONS) / (KERNEL_POSITIONS * self.period)
        return self.k / KERNEL_POSITIONS


SPEC_PATTERNS = {
    re.compile(r"^PS(\d+)_P(\d+)$"): lambda m: PeriodicSpec("PS", int(m[1]), int(m[2])),
    re.compile(r"^PSD(\d+)_P(\d+)$"): lambda m: PeriodicSpec("PSD", int(m[1]), int(m[2])),
    re.compile(r"^pSC(\d+)$"): lambda m: PeriodicSpec("pSC", int(m[1])),
    re.compile(r"^dense$"): lambda m: PeriodicSpec("dense"),
}


def parse_spec(spec: str | PeriodicSpec) -> PeriodicSpec:
    """A spec from its paper name (``PS4_P4``, ``PSD1_P16``, ``pSC2``, ``dense``) or a spec object."""
    if isinstance(spec, PeriodicSpec):
        return spec
    for pattern, build in SPEC_PATTERNS.items():
        match = pattern.match(spec)
        if match:
            return build(match)
    raise UserError(f"sparsity variant '{spec}' is unknown; expected PS<k>_P<P>, PSD<k>_P<P>, pSC<k> or dense "
                     f"(the paper's: {', '.join(PAPER_VARIANTS)})")


@dataclass(frozen=True)
class DyadicLevel:
    """A level of approximation.

    Attributes:
        terms: maximum signed power-of-two terms per value.
        min_exp, max_exp: exponent range of the terms (values up to about 2^max_exp).
        scale: ``"pow2"`` (per-channel or per-tensor power-of-two scale: a shift) or ``"fold"`` (a real scale
            applied once per output by a multiplication), or ``"none"``.
        granularity: ``"channel"`` or ``"tensor"`` scaling.
    """

    terms: int = 2
    min_exp: int = -8
    max_exp: int = 0
    scale: str = "pow2"
    granularity: str = "channel"

    def __post_init__(self):
        if self.terms < 1 or self.min_exp > self.max_exp:
            raise UserError(f"dyadic level needs terms >= 1 and min_exp <= max_exp; got {self}")
        if self.scale not in ("pow2", "fold", "none") or self.granularity not in ("channel", "tensor"):
            raise UserError("dyadic scale must be pow2, fold or none, and granularity channel or tensor")

    @property
    def name(self) -> str:
        return f"t{self.terms}e{self.min_exp}" + ("" if self.max_exp == 0 else f"..{self.max_exp}") + (
            "" if self.scale == "pow2" else f"_{self.scale}") + ("" if self.granularity == "channel" else "_tensor")


BUDGET_COSTS = {"terms": "CSD terms", "adds": "additions", "shifts": "shifts", "ops": "additions + shifts"}
"""What a dyadic complexity budget counts."""
BUDGET_PATTERN = re.compile(r"^b(\d+(?:\.\d+)?)(terms|adds|shifts|ops)(_layer)?$")


@dataclass(frozen=True)
class DyadicBudget:
    """A complexity budget on a dyadic approximation, solved exactly per output filter (or per layer).

    Attributes:
        limit: the most of ``cost`` each filter (or layer) may spend, >= 0.
        cost: what is counted (:data:`BUDGET_COSTS`).
        scope: ``"filter"`` or ``"layer"``.
    """

    limit: float
    cost: str = "terms"
    scope: str = "filter"

    def __post_init__(self):
        if self.limit < 0 or self.cost not in BUDGET_COSTS or self.scope not in ("filter", "layer"):
            raise UserError(f"dyadic budget {self} is impossible; expected a limit >= 0, a cost in "
                            f"{', '.join(BUDGET_COSTS)} and scope filter or layer")

    @property
    def name(self) -> str:
        return f"b{self.limit:g}{self.cost}" + ("_layer" if self.scope == "layer" else "")


def parse_budget(text: str) -> DyadicBudget:
    """``b24terms`` (24 CSD terms per filter), ``b40ops``, ``b300adds_layer`` (per layer)."""
    match = BUDGET_PATTERN.match(text)
    if not match:
        raise UserError(f"dyadic budget '{text}' is malformed; expected b<limit><{'|'.join(BUDGET_COSTS)}>[_layer], "
                        "e.g. b24terms")
    limit, cost, layer = match.groups()
    return DyadicBudget(float(limit), cost, "layer" if layer else "filter")


DYADIC_LEVELS = ("t1e-4", "t1e-8", "t2e-4", "t2e-8", "t3e-8")
"""Levels of the dyadic tables: terms 1/2/3 and two exponent ranges."""
LEVEL_PATTERN = re.compile(r"^t(\d+)(?:e(-?\d+)(?:\.\.(-?\d+))?)?(?:_(fold|none))?(_tensor)?$")


def parse_level(text: str | DyadicLevel) -> DyadicLevel:
    """``t2`` (exponents -8..0), ``t3e-6`` (-6..0), ``t2e-10..1``, with ``_fold``/``_none`` and ``_tensor``."""
    if isinstance(text, DyadicLevel):
        return text
    match = LEVEL_PATTERN.match(text.removeprefix("dyadic:"))
    if not match:
        raise UserError(f"dyadic level '{text}' is malformed; expected t<terms>[e<min_exp>[..<max_exp>]]"
                         "[_fold|_none][_tensor], e.g. t2e-8")
    terms, lo, hi, scale, tensor = match.groups()
    return DyadicLevel(int(terms), int(lo) if lo else -8, int(hi) if hi else 0, scale or "pow2",
                       "tensor" if tensor else "channel")
