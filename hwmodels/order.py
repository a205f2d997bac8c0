"""A dataflow's own loop-order constraints: the mapping space a chip can run, not the cost model's free one.

A hardware file's ``[order]`` table names groups of loop dimensions that the innermost temporal loops take in turn,
innermost first: ``groups = [["FX", "C", "K"], ["OX"]]`` with ``complete = ["FX", "OX"]`` says that the loops
inside a PE are the whole filter row (FX) with any factors of C and K interleaved (a 1-D row convolution over the
filters and channels its scratchpads hold at once), then the whole output row (OX: the PE slides along it), and
only then any loop (what the buffers above schedule). The dimensions in ``complete`` must be whole before a later
group starts; the others may stop anywhere. ``dataflow`` names the spatial dataflow the order belongs to: the
constraint applies when the hardware is priced with that dataflow or its native one.

The exact mapper searches every order and factorisation that respects the groups (``mapper = "exact"``); ``free``
ignores them (the cost model's own optimum); ``loma`` never applies them (ZigZag's search, for the cross-check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoopOrder:
    """A dataflow's innermost loop-order template (a hardware file's ``[order]``).

    Attributes:
        groups: loop-dimension groups, innermost first.
        complete: the dimensions that must be whole before the next group starts.
        dataflow: the spatial dataflow it belongs to (``rs``...).
        source: where the constraint comes from.
    """

    groups: tuple[tuple[str, ...], ...]
    complete: frozenset
    dataflow: str
    source: str = ""


def allowed_steps(orders: tuple[LoopOrder, ...], dims: list[str], digits: np.ndarray,
                  counts: np.ndarray) -> np.ndarray | None:
    """Whether adding a factor of each loop type to each state respects every one of ``orders``, (states, types);
    None where there is none."""
    allowed = None
    for order in orders:
        steps = order_steps(order, dims, digits, counts)
        allowed = steps if allowed is None else allowed & steps
    return allowed


def order_steps(order: LoopOrder, dims: list[str], digits: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Whether adding a factor of each loop type to each state respects ``order``, (states, types).

    Args:
        order: the template.
        dims: the loop dimension of each loop type.
        digits: (states, types) factors of each type below each state.
        counts: (types,) factors of each type in all.
    """
    group_of = {d: g for g, dims_of in enumerate(order.groups) for d in dims_of}
    type_group = np.array([group_of.get(d, -1) for d in dims])
    groups = len(order.groups)
    full = digits == counts[None, :]  # (states, types)
    required_type = np.array([d in order.complete for d in dims])
    # per state and group: every factor of the group's complete dimensions below it; any factor of the group
    whole = np.stack([np.all(full[:, (type_group == g) & required_type], axis=1) for g in range(groups)], axis=1)
    started = np.stack([np.any(digits[:, type_group == g] > 0, axis=1) for g in range(groups)], axis=1)
    required = np.array([any(d in order.complete for d in dims_of) for dims_of in order.groups])
    done = np.all(whole | ~required[None, :], axis=1)  # every required group whole: the template is over
    current = np.where(started.any(axis=1), groups - 1 - np.argmax(started[:, ::-1], axis=1), -1)
    allowed = np.zeros(digits.shape, dtype=bool)
    for t, g in enumerate(type_group):
        if g < 0:
            continue
        earlier_whole = np.all(whole[:, :g] | ~required[None, :g], axis=1)
        allowed[:, t] = earlier_whole & (current <= g)
    return allowed | done[:, None]
