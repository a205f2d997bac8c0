"""Per-op counts against closed-form truth; the arithmetic is written next to each expectation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from estimator.counting.formulas import adaptive_window_taps
from tests.conftest import strict_profile


def counts_of(module: nn.Module, *inputs) -> dict:
    """Whole-model totals of a single-module model, real and meta runs (which must agree)."""
    real = strict_profile(module, inputs).total()
    meta = strict_profile(module, input_shape=[tuple(x.shape) for x in inputs]).total()
    assert real.equals(meta), "meta and real runs disagree"
    return real


def conv_out(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("groups,c_in,c_out", [(1, 4, 6), (2, 4, 6), (4, 4, 4)])
@pytest.mark.parametrize("stride,pad,dil", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_macs_closed_form(dims, groups, c_in, c_out, stride, pad, dil, bias):
    conv_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    k, size, batch = 3, 7, 2
    conv = conv_cls(c_in, c_out, k, stride, pad, dil, groups=groups, bias=bias)
    x = torch.randn(batch, c_in, *([size] * dims))
    out_spatial = conv_out(size, k, stride, pad, dil) ** dims
    # every output element: (c_in / groups) * k^dims products
    macs = batch * c_out * out_spatial * (c_in // groups) * k**dims
    c = counts_of(conv, x)
    assert c["macs"] == macs
    assert c["mults"] == macs
    outputs = batch * c_out * out_spatial
    assert c["adds"] == macs + (outputs if bias else 0)  # one add per MAC, one more per output for the bias


def test_conv2d_small_hand_count():
    conv = nn.Conv2d(2, 3, 3, bias=False)
    # 1 x 2 x 5 x 5 input -> 1 x 3 x 3 x 3 output; 27 outputs x (2 * 3 * 3 = 18 taps) = 486
    assert counts_of(conv, torch.randn(1, 2, 5, 5))["macs"] == 486


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_transposed_conv_counts_input_positions(dims, groups):
    cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]
    conv = cls(4, 6, 3, stride=2, padding=1, groups=groups, bias=False)
    x = torch.randn(2, 4, *([5] * dims))
    # each input element is scattered through (6 / groups) * 3^dims taps
    assert counts_of(conv, x)["macs"] == 2 * 4 * 5**dims * (6 // groups) * 3**dims


def test_depthwise_conv():
    conv = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    # 8 channels x 16 x 16 outputs x 9 taps
    assert counts_of(conv, torch.randn(1, 8, 16, 16))["macs"] == 8 * 256 * 9


@pytest.mark.parametrize("leading", [(5,), (2, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_any_leading_dims(leading, bias):
    lin = nn.Linear(7, 4, bias=bias)
    rows = math.prod(leading)
    c = counts_of(lin, torch.randn(*leading, 7))
    assert c["macs"] == rows * 7 * 4
    assert c["adds"] == rows * 7 * 4 + (rows * 4 if bias else 0)


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


@pytest.mark.parametrize("fn,shapes,macs", [
    (torch.mm, [(3, 4), (4, 5)], 3 * 4 * 5),
    (torch.bmm, [(2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),
    (torch.matmul, [(2, 6, 3, 4), (4, 5)], 2 * 6 * 3 * 4 * 5),
    (torch.matmul, [(2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),
    (lambda a, b: torch.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),
    (lambda c, a, b: torch.addmm(c, a, b), [(3, 5), (3, 4), (4, 5)], 3 * 4 * 5),
    (lambda c, a, b: torch.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)], 2 * 3 * 4 * 5),
])
def test_matrix_products(fn, shapes, macs):
    assert counts_of(Fn(fn), *[torch.randn(s) for s in shapes])["macs"] == macs


def test_addmm_bias_adds():
    # 3 x 5 outputs: 60 MAC adds + 15 bias adds
    c = counts_of(Fn(torch.addmm), torch.randn(3, 5), torch.randn(3, 4), torch.randn(4, 5))
    assert (c["mults"], c["adds"]) == (60, 75)


def test_scaled_dot_product_attention():
    q, k, v = torch.randn(2, 4, 8, 16), torch.randn(2, 4, 10, 16), torch.randn(2, 4, 10, 12)
    fn = Fn(F.scaled_dot_product_attention)
    c = strict_profile(fn, (q, k, v)).total()
    # scores: 2*4 heads x 8 x 10 x 16; weighted sum: 2*4 x 8 x 10 x 12
    assert c["macs"] == 2 * 4 * 8 * 10 * (16 + 12)


@pytest.mark.parametrize("module,per_element", [
    (nn.ReLU(), {"compares": 1}),
    (nn.ReLU6(), {"compares": 2}),
    (nn.Hardtanh(), {"compares": 2}),
    (nn.LeakyReLU(0.1), {"compares": 1, "mults": 1}),
    (nn.Sigmoid(), {"other_ops": 1}),
    (nn.Tanh(), {"other_ops": 1}),
    (nn.SiLU(), {"other_ops": 1, "mults": 1}),
    (nn.GELU(), {"other_ops": 1, "mults": 3, "adds": 1}),
    (nn.Hardswish(), {"adds": 1, "compares": 2, "mults": 2}),
    (nn.Hardsigmoid(), {"adds": 1, "compares": 2, "mults": 1}),
    (nn.Softmax(dim=-1), {"compares": 1, "adds": 2, "other_ops": 2}),
    (nn.Dropout(0.5), {}),
    (nn.Identity(), {}),
    (nn.Flatten(), {}),
])
def test_activations_per_element(module, per_element):
    c = counts_of(module, torch.randn(2, 3, 4, 5))
    for kind in ("mults", "adds", "shifts", "compares", "other_ops"):
        assert c[kind] == 120 * per_element.get(kind, 0), kind  # 2*3*4*5 = 120 elements


@pytest.mark.parametrize("fn,kind", [
    (torch.add, "adds"), (torch.sub, "adds"), (torch.mul, "mults"), (torch.div, "other_ops"),
])
def test_elementwise_binary_broadcast_counts_outputs(fn, kind):
    # (4, 1) op (1, 5) broadcasts to 20 outputs
    assert counts_of(Fn(fn), torch.randn(4, 1), torch.randn(1, 5))[kind] == 20


def test_batchnorm_eval_is_one_mult_one_add_per_element():
    c = counts_of(nn.BatchNorm2d(3).eval(), torch.randn(2, 3, 4, 4))
    assert (c["mults"], c["adds"], c["macs"]) == (96, 96, 0)  # 2*3*4*4 = 96


@pytest.mark.parametrize("module,groups", [(nn.LayerNorm(10), 2 * 6), (nn.GroupNorm(2, 6), 2 * 2)])
def test_normalisation_with_statistics(module, groups):
    x = torch.randn(2, 6, 10) if isinstance(module, nn.LayerNorm) else torch.randn(2, 6, 10)
    n = 120
    c = counts_of(module, x)
    # per element 4 adds, 3 mults (affine); per group 2 mults and one rsqrt
    assert (c["adds"], c["mults"], c["other_ops"]) == (4 * n, 3 * n + 2 * groups, groups)


def test_max_pool_compares():
    # 1x2x8x8 -> 1x2x4x4 = 32 outputs, each a max over 4 taps = 3 compares
    assert counts_of(nn.MaxPool2d(2), torch.randn(1, 2, 8, 8))["compares"] == 96


def test_avg_pool_adds_and_scaling():
    # 1x2x6x6, 3x3 stride 3 -> 8 outputs: 8 adds each and one scaling mult each
    c = counts_of(nn.AvgPool2d(3), torch.randn(1, 2, 6, 6))
    assert (c["adds"], c["mults"]) == (64, 8)


@pytest.mark.parametrize("in_size,out_size", [(7, 1), (7, 3), (8, 4), (5, 2)])
def test_adaptive_avg_pool_exact_windows(in_size, out_size):
    # windows [floor(i*In/Out), ceil((i+1)*In/Out)); for 7 -> 3: [0,3), [2,5), [4,7): 3+3+3 = 9 taps/dim
    per_dim = sum(math.ceil((i + 1) * in_size / out_size) - math.floor(i * in_size / out_size)
                  for i in range(out_size))
    assert adaptive_window_taps([in_size], [out_size]) == per_dim
    c = counts_of(nn.AdaptiveAvgPool2d(out_size), torch.randn(1, 2, in_size, in_size))
    outputs = 2 * out_size**2
    assert (c["adds"], c["mults"]) == (2 * per_dim**2 - outputs, outputs)


def test_adaptive_max_pool():
    c = counts_of(nn.AdaptiveMaxPool2d(2), torch.randn(1, 3, 4, 4))
    assert c["compares"] == 3 * 4 * 3  # 12 outputs, each a max over 4 taps


def test_upsampling():
    x = torch.randn(1, 2, 4, 4)
    assert counts_of(nn.Upsample(scale_factor=2, mode="nearest"), x)[["mults", "adds"]].sum() == 0
    c = counts_of(nn.Upsample(scale_factor=2, mode="bilinear"), x)
    assert (c["mults"], c["adds"]) == (3 * 128, 6 * 128)  # 1*2*8*8 = 128 outputs, three lerps each


def test_free_ops_are_listed():
    model = Fn(lambda x: torch.cat([x.view(2, -1), x.reshape(2, -1).clone()], 1).flatten())
    prof = strict_profile(model, torch.randn(2, 3))
    assert prof.total()[["mults", "adds", "compares", "other_ops"]].sum() == 0
    assert {"aten.cat", "aten.view", "aten.clone"} <= set(prof.free_ops)


@pytest.mark.parametrize("module,per_element", [
    (nn.PReLU(), {"compares": 1, "mults": 1}),
    (nn.Mish(), {"other_ops": 3, "adds": 1, "mults": 1}),
    (nn.Hardshrink(), {"compares": 2}),
    (nn.Softshrink(), {"compares": 2, "adds": 1}),
    (nn.ReflectionPad2d(1), {}),
    (nn.ReplicationPad2d(1), {}),
])
def test_more_activations_and_padding(module, per_element):
    c = counts_of(module, torch.randn(2, 3, 4, 5))
    for kind in ("mults", "adds", "compares", "other_ops"):
        assert c[kind] == 120 * per_element.get(kind, 0), kind


def test_embedding_lookup_is_free():
    prof = strict_profile(nn.Embedding(10, 4), torch.randint(0, 10, (2, 5)))
    assert prof.total()[["macs", "mults", "adds"]].sum() == 0 and "aten.embedding" in prof.free_ops


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


def test_multihead_attention_fused_kernel():
    model, x = SelfAttention().eval(), torch.randn(2, 5, 16)
    total = strict_profile(model, x).total()
    # projections: 2 batches x (5 q + 5 k + 5 v + 5 out positions) x 16 x 16 = 10,240;
    # attention: 2 batches x 2 heads x 5 x 5 scores x (8 + 8) = 1,600
    assert total["macs"] == 10_240 + 1_600
    meta = strict_profile(model, input_shape=[(2, 5, 16)]).total()
    assert meta["macs"] == total["macs"]  # NB: the math and fused kernels scale at different places (mults)
