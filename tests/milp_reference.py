"""scipy's ``milp`` (HiGHS) optima of the budgeted dyadic program for 200 fixed-seed 3x3 filters, stored as test
data (``tests/data/dyadic_milp_optima.csv``): solving the 800 programmes takes about 40 s, so the budgeted
solver's test reads them; ``test_dyadic.py`` keeps one small live ``milp`` comparison.

Regenerate (when the filters, the candidate set or the budgets change)::

    python -m tests.milp_reference
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from estimator.variants.dyadic import CandidateSet, solve_milp

STORE = Path(__file__).parent / "data" / "dyadic_milp_optima.csv"
BUDGETS = {"terms": 6, "adds": 2, "shifts": 6, "ops": 8}
"""Per 9-entry filter, by what the budget counts: binding for most filters."""
TAPS = 9


def candidates() -> CandidateSet:
    """Up to 3 power-of-two terms, exponents -5..0."""
    return CandidateSet.build(3, -5, 0)


def filters() -> np.ndarray:
    """200 random 3x3 filters, N(0, 0.5), seed 1: (200, 9)."""
    return np.random.default_rng(1).normal(0, 0.5, (200, TAPS))


def optima() -> pd.DataFrame:
    """One row per (budget cost, filter): the filter's entries and milp's optimum (w0..w8, q0..q8)."""
    cset, w = candidates(), filters()
    rows = []
    for cost, budget in BUDGETS.items():
        for i, entries in enumerate(w):
            exact = solve_milp(entries, cset, budget, cost=cost)
            rows.append({"cost": cost, "filter": i, **{f"w{j}": v for j, v in enumerate(entries)},
                         **{f"q{j}": v for j, v in enumerate(exact)}})
    return pd.DataFrame(rows)


def stored() -> pd.DataFrame:
    """The stored optima (see :func:`optima`)."""
    return pd.read_csv(STORE)


def main() -> int:
    STORE.parent.mkdir(parents=True, exist_ok=True)
    partial = STORE.with_suffix(".tmp")
    optima().to_csv(partial, index=False)
    partial.replace(STORE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
