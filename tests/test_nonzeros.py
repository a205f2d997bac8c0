"""Exact non-zero counts: chunked and whole, contiguous or not, against hand counts."""

from __future__ import annotations

import torch

from estimator.counting.nonzeros import (
    CHUNK,
    NUMPY_UP_TO,
    NUMPY_UP_TO_IN_CACHE,
    nonzero_count,
    nonzero_counts_along_rows,
    sum_dtype,
)


def test_a_large_tensor_is_counted_exactly_across_its_chunks():
    n = 3 * CHUNK + 6  # three whole chunks and a part one
    t = torch.ones(n)
    zeros = torch.tensor([0, CHUNK - 1, CHUNK, 2 * CHUNK + 7, n - 1])  # zeros on both sides of chunk borders
    t[zeros] = 0.0
    assert nonzero_count(t) == n - 5
    assert nonzero_count(t.view(-1, 2).t()) == n - 5  # non-contiguous: counted whole, the same


def test_signed_zero_is_zero_and_nan_is_not():
    # IEEE: -0.0 == 0; NaN != 0 (what torch.count_nonzero says too): 1, NaN and -inf are the non-zeros
    t = torch.tensor([0.0, -0.0, float("nan"), 1.0, -float("inf")])
    assert nonzero_count(t) == 3 == int(torch.count_nonzero(t))


def test_counts_along_rows_are_per_column():
    t = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [3.0, 4.0, 0.0]])  # columns: 2, 2 and 0 non-zeros
    assert nonzero_counts_along_rows(t).tolist() == [2, 2, 0]
    assert nonzero_counts_along_rows(t).dtype == torch.int64


def test_the_accumulator_is_exact_for_any_size():
    assert sum_dtype(2**31 - 1) == torch.int32 and sum_dtype(2**31) == torch.int64


def test_every_element_type_and_layout_is_counted_alike():
    # 7 elements, 3 zeros (hand count): the same 4 non-zeros whichever of numpy or torch counts them
    values = [0.0, 1.0, 0.0, 3.0, -2.0, 0.0, 5.0]
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.uint8, torch.int16,
                  torch.int32, torch.int64, torch.bool, torch.complex64):
        t = torch.tensor([abs(v) for v in values] if dtype in (torch.uint8, torch.bool) else values).to(dtype)
        assert nonzero_count(t) == 4, dtype
    grid = torch.tensor(values[:6]).view(2, 3)  # [[0, 1, 0], [3, -2, 0]]
    assert nonzero_count(grid.t()) == 3  # a transposed view: numpy reads it through its strides
    assert nonzero_count(grid[:, ::2]) == 1  # columns 0 and 2: only the 3
    assert nonzero_count(torch.nn.Parameter(grid)) == 3  # a parameter requiring grad
    assert nonzero_count(torch.zeros(5).expand(4, 5)) == 0 and nonzero_count(torch.ones(1).expand(9)) == 9
    assert nonzero_count(torch.tensor([1.0, 0.0, 2.0]).conj()) == 2  # (a real tensor's conj is itself)
    assert nonzero_count(torch.tensor([1.0 + 0j, 0j, 2j]).conj()) == 2  # conjugate bit set: torch counts it


def test_numpy_and_torch_count_a_tensor_between_the_limits_alike():
    n = NUMPY_UP_TO + 1000  # above the limit for weights, below the one for activations in cache
    assert NUMPY_UP_TO < n <= NUMPY_UP_TO_IN_CACHE
    t = torch.ones(n)
    t[::7] = 0.0  # every 7th element from 0: ceil(n / 7) zeros
    assert nonzero_count(t) == nonzero_count(t, NUMPY_UP_TO_IN_CACHE) == n - -(-n // 7)
