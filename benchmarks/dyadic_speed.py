"""Dyadic approximation speed, side by side in one run:

1. approximating every weight of the two-tower AlexNet (60,965,224 parameters) by vectorised rounding
   (target: under 30 s on this machine);
2. the budgeted programme solved exactly two ways on the same 200 random 3x3 and 5x5 filters, for every budget
   kind (terms, adds, shifts, adds + shifts): the vectorised dynamic programme of solve_budgeted against
   scipy.optimize.milp (HiGHS) one filter at a time. Both reach the optimum (checked); the times are like for
   like.

Run: python benchmarks/dyadic_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from estimator.models import create
from estimator.variants.dyadic import CandidateSet, approximate, candidate_costs, solve_budgeted, solve_milp


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
    filters = {9: rng.normal(0, 0.5, (100, 9)), 25: rng.normal(0, 0.5, (100, 25))}
    budgets = {"terms": {9: 8, 25: 22}, "adds": {9: 3, 25: 8}, "shifts": {9: 8, 25: 22}, "ops": {9: 10, 25: 28}}
    print(f"200 filters (100 of 3x3, 100 of 5x5), {cset.values.size} candidates (3 terms, exponents -6..0)")
    print(f"{'budget kind':12s} {'budgets':>9s} {'milp (s)':>10s} {'DP (s)':>9s} {'speed-up':>9s} "
          f"{'worst gap':>10s}")
    for cost, budget in budgets.items():
        costs = candidate_costs(cset, cost)
        start = time.perf_counter()
        exact = {size: [solve_milp(f, cset, budget[size], cost=cost) for f in batch] for size, batch in filters.items()}
        milp_s = time.perf_counter() - start
        start = time.perf_counter()
        solved = {size: solve_budgeted(batch, cset, budget[size], cost=cost) for size, batch in filters.items()}
        dp_s = time.perf_counter() - start
        gap = max(((f - d) ** 2).sum() / max(((f - e) ** 2).sum(), 1e-300) - 1
                  for size in filters for f, d, e in zip(filters[size], solved[size], exact[size], strict=True))
        within = all(costs[np.searchsorted(cset.values, d)].sum() <= budget[size]
                     for size in filters for d in solved[size])
        print(f"{cost:12s} {budget[9]:>4d}/{budget[25]:<4d} {milp_s:10.3f} {dp_s:9.3f} {milp_s / dp_s:8.0f}x "
              f"{100 * gap:9.2e}%{'' if within else '  OVER BUDGET'}")


if __name__ == "__main__":
    alexnet_rounding()
    solver_comparison()
