"""The one typed value for a model variant: parsed once from its name (without importing torch), carried
everywhere after that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwmodels.errors import UserError

from .specs import PATTERNS, DyadicBudget, DyadicLevel, PeriodicSpec, parse_budget, parse_level, parse_spec

if TYPE_CHECKING:
    from torch import nn

DENSE = "dense"
"""The name of the unmodified model, everywhere."""
DYADIC_PREFIX = "dyadic:"
FORMS = ("dense", "PS<k>_P<P> (periodic: k in 1, 2, 4; P = 9, 6, 4 patterns)",
         "PSD<k>_P<P> (periodic with a dense kernel per period: k in 1, 2, 4; P >= 2)",
         "pSC<k> (k random positions per kernel: 1..8)",
         "dyadic:t<terms>[e<min exponent>[..<max>]][_fold|_none][_tensor][:b<limit><terms|adds|shifts|ops>[_layer]] "
         "(e.g. dyadic:t2e-8, or dyadic:t3e-8:b24terms for at most 24 CSD terms per filter)")
"""The valid forms of a variant name, listed by every parse error."""


class VariantError(UserError):
    """A variant name that is not one of :data:`FORMS`."""


@dataclass(frozen=True)
class Variant:
    """A model variant: dense, pre-defined periodic sparsity, or a dyadic (shift-add) approximation.

    Attributes:
        sparsity: the periodic spec (dense for the unmodified model and for dyadic variants).
        dyadic: the dyadic level, or None.
        budget: a complexity budget on the dyadic approximation (solved exactly per filter or layer), or None.
    """

    sparsity: PeriodicSpec
    dyadic: DyadicLevel | None = None
    budget: DyadicBudget | None = None

    @classmethod
    def parse(cls, text: str | Variant | None) -> Variant:
        """A variant from its name (None and ``dense`` are the unmodified model).

        Raises:
            VariantError: one line naming the text and listing the valid forms.
        """
        if isinstance(text, Variant):
            return text
        if text is None or text == DENSE:
            return cls(PeriodicSpec(DENSE))
        if not isinstance(text, str):
            raise VariantError(f"variant {text!r} is not a name; expected one of: {'; '.join(FORMS)}")
        try:
            if text.startswith(DYADIC_PREFIX):
                level, _, budget = text.removeprefix(DYADIC_PREFIX).partition(":")
                return cls(PeriodicSpec(DENSE), parse_level(level), parse_budget(budget) if budget else None)
            spec = parse_spec(text)
        except ValueError:
            raise VariantError(f"variant '{text}' is unknown; expected one of: {'; '.join(FORMS)}") from None
        if spec.kind == "PS" and spec.period != len(PATTERNS[spec.k]):
            raise VariantError(f"variant '{text}': PS{spec.k} cycles {len(PATTERNS[spec.k])} patterns, so its period "
                               f"is P{len(PATTERNS[spec.k])}; expected one of: {'; '.join(FORMS)}")
        if (spec.kind == "PSD" and spec.period < 2) or (spec.kind == "pSC" and spec.k > 8):
            raise VariantError(f"variant '{text}' is impossible; expected one of: {'; '.join(FORMS)}")
        return cls(spec)

    @property
    def name(self) -> str:
        """The canonical name (``dense``, ``PSD1_P16``, ``dyadic:t2e-8``, ``dyadic:t3e-8:b24terms``)."""
        if not self.dyadic:
            return self.sparsity.name
        return DYADIC_PREFIX + self.dyadic.name + (f":{self.budget.name}" if self.budget else "")

    @property
    def kind(self) -> str:
        """``dense``, ``periodic`` (PS/PSD), ``pseudo-random`` (pSC) or ``dyadic``."""
        if self.dyadic:
            return "dyadic"
        return {"dense": "dense", "pSC": "pseudo-random"}.get(self.sparsity.kind, "periodic")

    @property
    def is_dense(self) -> bool:
        return self.name == DENSE

    @property
    def is_dyadic(self) -> bool:
        return self.dyadic is not None

    def apply(self, model: nn.Module, *, inplace: bool = False) -> nn.Module:
        """``model`` transformed (a copy unless ``inplace``; dyadic approximations always copy); dyadic weights
        train with a straight-through estimator."""
        if self.dyadic:
            from .dyadic import approximate

            return approximate(model, self.dyadic, budget=self.budget)
        from .periodic import apply_periodic_sparsity

        return apply_periodic_sparsity(model, self.sparsity, inplace=inplace)

    def __str__(self) -> str:
        return self.name


def apply_variant(model: nn.Module, variant: str | Variant | None, *, inplace: bool = False) -> nn.Module:
    """``model`` transformed by ``variant`` (a :class:`Variant` or its name; see :data:`FORMS`)."""
    return Variant.parse(variant).apply(model, inplace=inplace)
