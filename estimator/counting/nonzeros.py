"""Exact non-zero counts of tensors, branch-free and in cache-sized chunks.

``torch.count_nonzero`` branches per element on CPU: on a weight with half its elements zero (pruned, pre-defined
sparse) it runs about 10x slower than on a dense one (102 M elements: 227 ms against 23 ms). A boolean copy summed in
int32 does not branch, but a whole-tensor copy of a large weight costs more than the count (16.8 M elements: 22 ms).
Counted in chunks of :data:`CHUNK` elements, whose boolean copy the allocator reuses while it is in cache, a count
takes 21 ms dense and 32 ms half zero on 102 M elements, and 0.27-0.36 ms on 2.4 M (this machine, 2 cores).
Up to :data:`NUMPY_UP_TO` elements of the usual types numpy compares and counts (``np.count_nonzero(a != 0)``:
vectorised, one thread, no dispatch) in 0.45-0.75x torch's time (float32, 1 k to 131 k elements), and up to
:data:`NUMPY_UP_TO_IN_CACHE` an activation still in cache; above that torch's two threads reach memory speed first.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

CHUNK = 1 << 20
"""Elements counted per step of a large contiguous CPU tensor (a 1 MiB boolean copy)."""
NUMPY_UP_TO = 1 << 17
"""The most elements numpy counts (one thread) of a tensor that may be out of cache (a weight): above this torch's
two threads are faster (ResNet-50's first real-input profile at batch 1, its weights read afresh, took 1.10x as long
with numpy counting up to 1 Mi elements)."""
NUMPY_UP_TO_IN_CACHE = CHUNK
"""The same for a tensor the op that made it has just written (an activation, counted for its density): numpy up to
1 Mi elements (second real-input profiles side by side against :data:`NUMPY_UP_TO`: timm sequencer2d_s 0.94-0.99x,
ResNet-50 0.74-1.06x (median 0.96x), MobileNetV2 and ResNet-18 1.00x)."""
NUMPY_DTYPES = frozenset({torch.float32, torch.float64, torch.int32, torch.int16, torch.int8, torch.uint8})
"""Element types numpy compares to zero faster than torch (0.4 M elements: 40 / 56 / 44 / 34 / 26 / 26 us against
torch's 58 / 79 / 60 / 47 / 46 / 45 us). Not the others: numpy widens float16 per element (8x slower), compares
complex and bool 5x slower, int64 no faster, and has no bfloat16 or float8."""
NUMPY_VIEWABLE = frozenset({torch.Tensor, nn.Parameter})
"""Tensor types whose memory numpy may view (a subclass, e.g. a quantised or fake tensor, may hold none)."""


def sum_dtype(n: int) -> torch.dtype:
    """The narrowest exact accumulator for counting ``n`` elements: int32 below 2^31 (0.55-0.75x the time of the
    default int64 sum of a boolean tensor on CPU from 0.4 M elements up)."""
    return torch.int32 if n < 1 << 31 else torch.int64


def nonzero_count(t: torch.Tensor, numpy_up_to: int = NUMPY_UP_TO) -> int:
    """Non-zero elements of ``t`` (a real tensor, any layout of strides; NaN counts as non-zero, -0.0 as zero),
    counted by numpy up to ``numpy_up_to`` elements (:data:`NUMPY_UP_TO_IN_CACHE` for a tensor just written)."""
    n = t.numel()
    if t.device.type == "cpu" and t.layout == torch.strided:
        if (n <= numpy_up_to and type(t) in NUMPY_VIEWABLE and t.dtype in NUMPY_DTYPES
                and not (t.is_conj() or t.is_neg())):
            return int(np.count_nonzero(t.detach().numpy() != 0))  # (a view of the same memory, any strides)
        if n > CHUNK and t.is_contiguous():
            return sum(int(part.bool().sum(dtype=torch.int32)) for part in t.reshape(-1).split(CHUNK))
    return int(t.bool().sum(dtype=sum_dtype(n)))


def nonzero_counts_along_rows(t: torch.Tensor) -> torch.Tensor:
    """Non-zero elements of each column of the 2-D tensor ``t`` (summed over its rows), int64."""
    return t.bool().sum(dim=0, dtype=sum_dtype(t.shape[0])).long()
