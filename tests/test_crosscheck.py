"""crosscheck(): this counter's conv/linear/matmul MACs equal fvcore's and FlopCounterMode/2 on micro-models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from estimator import crosscheck


class MatMul(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 5))

    def forward(self, x):
        return torch.einsum("bij,jk->bik", x @ self.w.t().t()[:6].t().t(), torch.ones(5, 3)).sum(-1)


MICRO = {
    "conv1d": (nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    "conv2d_grouped": (nn.Conv2d(4, 6, 3, groups=2, dilation=2, padding=2), (1, 4, 8, 8)),
    "conv2d_depthwise": (nn.Conv2d(4, 4, 3, groups=4), (1, 4, 6, 6)),
    "conv3d": (nn.Conv3d(2, 3, 3, padding=1), (1, 2, 4, 4, 4)),
    "conv_transpose2d": (nn.ConvTranspose2d(4, 2, 3, stride=2), (1, 4, 5, 5)),
    "linear_3d_input": (nn.Linear(5, 7), (2, 3, 5)),
    "mlp": (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), (3, 8)),
    "matmul_einsum": (MatMul(), (2, 4, 6)),
}


@pytest.mark.parametrize("name", MICRO)
def test_micro_models_agree(name):
    model, shape = MICRO[name]
    table = crosscheck(model, torch.randn(shape), all_layers=True)
    assert len(table) > 0
    assert not table["mac_mismatch"].any(), table.to_string()


def test_conventions_are_explained_not_flagged():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    table = crosscheck(model, torch.randn(1, 3, 6, 6))
    row = table.loc["1"]  # the BatchNorm: no MACs anywhere, but fvcore counts it
    assert not row["mac_mismatch"]
    assert "batch_norm" in row["fvcore_other"] and "BatchNorm" in row["reason"]


def test_a_real_disagreement_is_flagged():
    # fvcore has no handle for aten::baddbmm; FlopCounterMode and estimator count it
    class BatchedAffine(nn.Module):
        def forward(self, c, a, b):
            return torch.baddbmm(c, a, b)

    table = crosscheck(BatchedAffine(), (torch.randn(2, 3, 5), torch.randn(2, 3, 4), torch.randn(2, 4, 5)))
    row = table.loc["(root)"]
    assert row["mac_mismatch"]
    assert row["estimator_macs"] == row["torch_macs"] == 2 * 3 * 4 * 5
    assert row["fvcore_macs"] == 0 and "aten::baddbmm" in row["reason"]
