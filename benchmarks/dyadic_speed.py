"""Dyadic approximation speed, side by side in one run:

1. approximating every weight of the two-tower AlexNet (60,965,224 parameters) by vectorised rounding
   (target: under 30 s on this machine);
2. the budgeted fast solver (Lagrangian relaxation + repair) against scipy.optimize.milp (HiGHS) on the same
   200 random 3x3 and 5x5 filters (target: at least 100x faster, objective within 0.5% of the optimum).

Run: python benchmarks/dyadic_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from estimator.models import create
from estimator.variants.dyadic import CandidateSet, approximate, solve_budgeted, solve_milp


def alexnet_rounding() -> None:
    model = create("alexnet_caffe")
    n = sum(p.numel() for p in model.parameters())
    start = time.perf_counter()
    approx = approximate(model, "t2e-8")
    weights = [m.weight for m in approx.modules() if hasattr(m, "parametrizations")]  # materialise them all
    elapsed = time.perf_counter() - start
    print(f"AlexNet (two towers), {n:,} parameters in {len(weights)} layers: approximated in {elapsed:.1f} s "
          f"(target < 30 s)")


def solver_comparison() -> None:
    rng = np.random.default_rng(0)
    cset = CandidateSet.build(3, -6, 0)
    filters = [rng.normal(0, 0.5, 9) for _ in range(100)] + [rng.normal(0, 0.5, 25) for _ in range(100)]
    budgets = [8 if f.size == 9 else 22 for f in filters]
    start = time.perf_counter()
    exact = [solve_milp(f, cset, b) for f, b in zip(filters, budgets, strict=True)]
    milp_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = [solve_budgeted(np.stack(filters[:100]), cset, 8), solve_budgeted(np.stack(filters[100:]), cset, 22)]
    fast_s = time.perf_counter() - start
    fast = list(fast[0]) + list(fast[1])
    gaps = [((f - a) ** 2).sum() / max(((f - e) ** 2).sum(), 1e-300) - 1
            for f, a, e in zip(filters, fast, exact, strict=True)]
    within = all(cset.terms[np.searchsorted(cset.values, a)].sum() <= b for a, b in zip(fast, budgets, strict=True))
    print(f"200 filters (100 of 3x3 with budget 8 terms, 100 of 5x5 with budget 22), {cset.values.size} candidates")
    print(f"{'solver':40s} {'time (s)':>10s}")
    print(f"{'scipy.optimize.milp (HiGHS), exact':40s} {milp_s:10.3f}")
    print(f"{'Lagrangian + repair, vectorised':40s} {fast_s:10.3f}")
    print(f"speed-up {milp_s / fast_s:,.0f}x (target >= 100x); worst objective gap {100 * max(gaps):.3f}% "
          f"(target <= 0.5%); all within budget: {within}")


if __name__ == "__main__":
    alexnet_rounding()
    solver_comparison()
