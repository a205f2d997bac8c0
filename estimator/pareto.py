"""Non-dominated (Pareto-optimal) rows of a table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hwmodels.errors import UserError


def pareto_front(df: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of ``df`` that no other row dominates, with their original index, in ``df``'s order.

    Row a dominates row b when a is no worse in every objective and strictly better in at least one. Rows
    with identical objectives do not dominate each other, so duplicates on the front are all kept; rows
    with a missing objective value are never on the front.
    """
    columns = list(minimize) + list(maximize)
    if not columns:
        raise UserError("pareto_front needs at least one column to minimize or maximize")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserError(f"pareto_front: no column(s) {', '.join(missing)} in the table")
    costs = np.column_stack([df[c].to_numpy(dtype=np.float64) for c in minimize]
                            + [-df[c].to_numpy(dtype=np.float64) for c in maximize])
    valid = ~np.isnan(costs).any(axis=1)
    keep = np.zeros(len(df), dtype=bool)
    candidates = np.flatnonzero(valid)
    points = costs[candidates]
    dominated = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), 1024):  # blocks keep the pairwise comparison's memory bounded
        block = points[start:start + 1024]
        no_worse = (points[None, :, :] <= block[:, None, :]).all(axis=2)
        better = (points[None, :, :] < block[:, None, :]).any(axis=2)
        dominated[start:start + 1024] = (no_worse & better).any(axis=1)
    keep[candidates[~dominated]] = True
    return df[keep]
