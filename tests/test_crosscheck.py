"""crosscheck(): this counter's conv/linear/matmul MACs equal fvcore's and FlopCounterMode/2 on micro-models."""

from __future__ import annotations

import pandas as pd
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


class Stack(nn.Module):
    """Layers held in a ModuleList (as hrnet and every Hugging Face encoder hold theirs): the list is never called."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_module_list_parent_is_no_false_mismatch():
    # the report: the three layers' work was left on the root, which FlopCounterMode then "disagreed" on
    table = crosscheck(Stack(), torch.randn(2, 8), all_layers=True)
    assert not table["mac_mismatch"].any(), table.to_string()
    # 3 layers of 2 x 8 x 8 = 128 MACs each; nothing on the root
    assert table["torch_macs"].tolist() == [128, 128, 128] and "(root)" not in table.index


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(16, 48)

    def forward(self, x):
        q, k, v = self.qkv(x).view(1, 10, 3, 2, 8).permute(2, 0, 3, 1, 4)
        return nn.functional.scaled_dot_product_attention(q, k, v)


def test_attention_is_counted_alike_by_flopcountermode():
    # the report: on CPU FlopCounterMode gave 0 MACs for the fused attention kernel; with the math kernel it sees
    # the two products: 2 heads x 10 x 10 x 8 for q k^T and as many for the weights times v = 3,200 MACs
    table = crosscheck(Attention(), torch.randn(1, 10, 16), all_layers=True)
    assert table.loc["(root)", "torch_macs"] == table.loc["(root)", "estimator_macs"] == 3200
    assert table.loc["qkv", "torch_macs"] == 10 * 16 * 48


class ParameterInForward(nn.Module):
    """Creates a Parameter inside forward: FlopCounterMode's module tracker asserts on it under no_grad (as on
    timm's PiT)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        scale = nn.Parameter(torch.ones(4))
        return self.lin(x) * scale


def test_a_failing_flopcountermode_is_retried_and_said_so(monkeypatch):
    import torch.utils.flop_counter as flop_counter

    real = flop_counter.FlopCounterMode

    class FailsUnderNoGrad(real):  # stands in for FlopCounterMode's own assertion under no_grad
        def __enter__(self):
            if not torch.is_grad_enabled():
                raise AssertionError("module tracker: a Parameter entered a module under no_grad")
            return super().__enter__()

    monkeypatch.setattr(flop_counter, "FlopCounterMode", FailsUnderNoGrad)
    table = crosscheck(ParameterInForward(), torch.randn(2, 4), all_layers=True)
    assert table.loc["lin", "torch_macs"] == table.loc["lin", "estimator_macs"] == 2 * 4 * 4
    assert "FlopCounterMode failed under no_grad (AssertionError: module tracker" in table.loc["lin", "reason"]

    class AlwaysFails(real):
        def __enter__(self):
            raise RuntimeError("broken")

    monkeypatch.setattr(flop_counter, "FlopCounterMode", AlwaysFails)
    table = crosscheck(ParameterInForward(), torch.randn(2, 4), all_layers=True)
    assert table["torch_macs"].isna().all() and not table["mac_mismatch"].any()
    assert "FlopCounterMode failed (RuntimeError: broken): no torch counts" in table.loc["lin", "reason"]


def test_a_model_returning_a_cache_object_is_checked_by_the_references_that_can_run_it():
    # Hugging Face decoders return a DynamicCache by default; fvcore's tracer refuses any output that is not
    # tensors, so the comparison runs FlopCounterMode and names fvcore as not run, with the reason.
    # linear 8 -> 16 on 2 x 5 tokens: 10 x 8 x 16 = 1,280 MACs
    class Cache:
        def __init__(self, keys):
            self.keys = keys

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 16)

        def forward(self, x):
            out = self.proj(x)
            return out, Cache([out])

    table = crosscheck(Decoder(), torch.randn(2, 5, 8), all_layers=True)
    row = table.loc["proj"]
    assert row["estimator_macs"] == row["torch_macs"] == 1_280 and not row["mac_mismatch"]
    assert pd.isna(row["fvcore_macs"]) and "fvcore could not run the model" in row["reason"]
    assert list(table.attrs["not_run"]) == ["fvcore"]
