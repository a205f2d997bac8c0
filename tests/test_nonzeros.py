"""Exact non-zero counts: chunked and whole, contiguous or not, against hand counts."""

from __future__ import annotations

import torch

from estimator.counting.nonzeros import CHUNK, nonzero_count, nonzero_counts_along_rows, sum_dtype


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
