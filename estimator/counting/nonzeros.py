"""Exact non-zero counts of tensors, branch-free and in cache-sized chunks.

``torch.count_nonzero`` branches per element on CPU: on a weight with half its elements zero (pruned, pre-defined
sparse) it runs about 10x slower than on a dense one (102 M elements: 227 ms against 23 ms). A boolean copy summed in
int32 does not branch, but a whole-tensor copy of a large weight costs more than the count (16.8 M elements: 22 ms).
Counted in chunks of :data:`CHUNK` elements, whose boolean copy the allocator reuses while it is in cache, a count
takes 21 ms dense and 32 ms half zero on 102 M elements, and 0.27-0.36 ms on 2.4 M (this machine, 2 cores).
"""

from __future__ import annotations

import torch

CHUNK = 1 << 20
"""Elements counted per step of a large contiguous CPU tensor (a 1 MiB boolean copy)."""


def sum_dtype(n: int) -> torch.dtype:
    """The narrowest exact accumulator for counting ``n`` elements: int32 below 2^31 (0.55-0.75x the time of the
    default int64 sum of a boolean tensor on CPU from 0.4 M elements up)."""
    return torch.int32 if n < 1 << 31 else torch.int64


def nonzero_count(t: torch.Tensor) -> int:
    """Non-zero elements of ``t`` (a real tensor, any layout of strides; NaN counts as non-zero, -0.0 as zero)."""
    n = t.numel()
    if t.device.type == "cpu" and n > CHUNK and t.is_contiguous():
        return sum(int(part.bool().sum(dtype=torch.int32)) for part in t.reshape(-1).split(CHUNK))
    return int(t.bool().sum(dtype=sum_dtype(n)))


def nonzero_counts_along_rows(t: torch.Tensor) -> torch.Tensor:
    """Non-zero elements of each column of the 2-D tensor ``t`` (summed over its rows), int64."""
    return t.bool().sum(dim=0, dtype=sum_dtype(t.shape[0])).long()
