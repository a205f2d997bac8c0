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
    # a K-term dot product is K-1 adds per output; a bias is one more
    assert c["adds"] == macs - outputs + (outputs if bias else 0)


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
    # rows x 4 outputs, each a 7-term sum (6 adds), plus one bias add each
    assert c["adds"] == rows * 4 * 6 + (rows * 4 if bias else 0)


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
    # 3 x 5 outputs, each a 4-term sum (3 adds) plus the bias (1 add): 60 mults, 15 x 4 = 60 adds
    c = counts_of(Fn(torch.addmm), torch.randn(3, 5), torch.randn(3, 4), torch.randn(4, 5))
    assert (c["mults"], c["adds"]) == (60, 60)


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
    (nn.Dropout(0.5), {}),
    (nn.Identity(), {}),
    (nn.Flatten(), {}),
])
def test_activations_per_element(module, per_element):
    c = counts_of(module, torch.randn(2, 3, 4, 5))
    for kind in ("mults", "adds", "shifts", "compares", "other_ops"):
        assert c[kind] == 120 * per_element.get(kind, 0), kind  # 2*3*4*5 = 120 elements


def test_softmax_over_rows():
    c = counts_of(nn.Softmax(dim=-1), torch.randn(2, 3, 4, 5))
    # 24 rows of 5: a max over 5 (4 compares), x - max (5 adds), exp (5), a 5-term sum (4 adds), 5 divisions
    assert (c["compares"], c["adds"], c["other_ops"]) == (24 * 4, 24 * 9, 24 * 10)


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
    # per element: x - mean, beta (2 adds); square, 1/std, gamma (3 mults). Per group of m: two (m-1)-term sums
    # (2 (n - groups) adds in all), var + eps (1 add), scaling by 1/m (2 mults), one rsqrt
    assert (c["adds"], c["mults"], c["other_ops"]) == (2 * n + 2 * (n - groups) + groups, 3 * n + 2 * groups, groups)


def test_max_pool_compares():
    # 1x2x8x8 -> 1x2x4x4 = 32 outputs, each a max over 4 taps = 3 compares
    assert counts_of(nn.MaxPool2d(2), torch.randn(1, 2, 8, 8))["compares"] == 96


def test_avg_pool_adds_and_scaling():
    # 1x2x6x6, 3x3 stride 3 -> 8 outputs: 8 adds each and one scaling by 1/9 each (a multiplication)
    c = counts_of(nn.AvgPool2d(3), torch.randn(1, 2, 6, 6))
    assert (c["adds"], c["mults"], c["shifts"]) == (64, 8, 0)
    # 2x2 windows divide by 4: a shift, as the dyadic path counts it
    c = counts_of(nn.AvgPool2d(2), torch.randn(1, 2, 6, 6))
    assert (c["adds"], c["mults"], c["shifts"]) == (18 * 3, 0, 18)


@pytest.mark.parametrize("in_size,out_size", [(7, 1), (7, 3), (8, 4), (5, 2)])
def test_adaptive_avg_pool_exact_windows(in_size, out_size):
    # windows [floor(i*In/Out), ceil((i+1)*In/Out)); for 7 -> 3: [0,3), [2,5), [4,7): 3+3+3 = 9 taps/dim
    per_dim = sum(math.ceil((i + 1) * in_size / out_size) - math.floor(i * in_size / out_size)
                  for i in range(out_size))
    assert adaptive_window_taps([in_size], [out_size]) == per_dim
    c = counts_of(nn.AdaptiveAvgPool2d(out_size), torch.randn(1, 2, in_size, in_size))
    outputs = 2 * out_size**2
    # scaling by 1/K: 8 -> 4 has equal 2x2 windows, a power of two (a shift each); the others divide by 49, or
    # by windows of several sizes (a multiplication each)
    shifts = outputs if (in_size, out_size) == (8, 4) else 0
    assert (c["adds"], c["mults"], c["shifts"]) == (2 * per_dim**2 - outputs, outputs - shifts, shifts)


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


def test_roi_align_counts_bilinear_samples():
    from tests.torchvision_ops import roi_align

    x = torch.randn(1, 2, 8, 8)
    rois = torch.tensor([[0, 0.0, 0.0, 4.0, 4.0], [0, 1.0, 1.0, 6.0, 7.0], [0, 2.0, 0.0, 8.0, 3.0]])
    prof = strict_profile(Fn(lambda f, r: roi_align(f, r, 2)), (x, rois))
    c = prof.total()
    # 3 rois x 2 x 2 bins x 2 x 2 samples = 48 sample positions: 8 mults, 6 adds, 4 compares each;
    # 3 x 2 channels x 2 x 2 = 24 outputs: 4 samples x (4 mults + 3 adds), then 3 adds and 1 mult to average
    assert (c["mults"], c["adds"], c["compares"]) == (48 * 8 + 24 * 17, 48 * 6 + 24 * 15, 48 * 4)
    assert prof.layers.loc["(root)", "estimated"] == ""  # a fixed sampling ratio is exact


def test_nms_counts_every_pair_as_an_upper_bound():
    from tests.torchvision_ops import nms

    boxes = torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 2.1, 2], [5, 5, 6, 6], [5, 5, 6.5, 6]])
    prof = strict_profile(Fn(lambda b, s: nms(b, s, 0.5)), (boxes, torch.rand(5)))
    c = prof.total()
    # 5 boxes: sort 5 x ceil(log2 5) = 15 compares; areas 5 x (2 adds, 1 mult); 10 pairs x (7 compares, 4 adds,
    # 2 mults)
    assert (c["compares"], c["adds"], c["mults"]) == (15 + 70, 10 + 40, 5 + 20)
    assert prof.layers.loc["(root)", "estimated"] == "torchvision.nms"
    assert "estimates" in prof.to_table() and "torchvision.nms" in prof.to_table()


@pytest.mark.parametrize("fn,shapes,expected", [
    # 2 rows of 10: each element against a 3-element heap (1 + ceil(log2 3) = 3 compares): 2 x 10 x 3
    (lambda x: x.topk(3, dim=1).values, [(2, 10)], {"compares": 60}),
    # 2 rows of 8, a full sort: 8 x log2 8 = 24 compares per row
    (lambda x: torch.sort(x, dim=-1).values, [(2, 8)], {"compares": 48}),
    # a select per element
    (lambda x: x.masked_fill(x > 0, 0.0), [(3, 4)], {"compares": 12 + 12}),
    # ||row||_2 over 4 rows of 6: 24 squares, 4 x 5 adds, 4 square roots
    (lambda x: torch.linalg.vector_norm(x, dim=1), [(4, 6)], {"mults": 24, "adds": 20, "other_ops": 4}),
    # 1-bit logic: one compare-class op per element (plus the two comparisons making the masks)
    (lambda x: (x > 0) & (x < 1), [(5,)], {"compares": 15}),
    # rounding is one add per element
    (lambda x: torch.floor(x) + torch.round(x), [(2, 3)], {"adds": 6 + 6 + 6}),
    # a running sum over rows of 5: 4 adds per row
    (lambda x: torch.cumsum(x, 1), [(3, 5)], {"adds": 12}),
    # accumulating 4 values into a vector: 4 adds
    (lambda x: torch.zeros(6).index_put_((torch.tensor([0, 1, 1, 5]),), x, accumulate=True), [(4,)], {"adds": 4}),
])
def test_selection_logic_and_scatter_ops(fn, shapes, expected):
    c = counts_of(Fn(fn), *[torch.randn(s) for s in shapes])
    for kind in ("mults", "adds", "compares", "other_ops"):
        assert c[kind] == expected.get(kind, 0), kind


def test_nonzero_tests_every_element():
    prof = strict_profile(Fn(lambda x: torch.nonzero(x)), torch.randn(3, 4))
    assert prof.total()["compares"] == 12


def test_padding_aware_zero_skipping():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    prof = strict_profile(conv, torch.randn(1, 1, 4, 4))
    # along each axis the kernel offsets 0, 1, 2 meet a real pixel at 3, 4 and 3 of the 4 outputs:
    # (3 + 4 + 3)^2 = 100 of the 16 x 9 = 144 taps
    assert (prof.total()["macs"], prof.total()["nz_macs"], prof.total()["nz_macs_valid"]) == (144, 144, 100)
    with torch.no_grad():
        conv.weight[0, 0, 1, 1] = 0.0  # the centre tap meets a real pixel at all 16 outputs
    prof = strict_profile(conv, torch.randn(1, 1, 4, 4))
    assert (prof.total()["nz_macs"], prof.total()["nz_macs_valid"]) == (128, 84)


def test_conv_nest_records_the_loop_bounds():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    nests = strict_profile(conv, torch.randn(2, 4, 9, 9)).nests
    row = nests.iloc[0]
    # groups 2: 3 filters of 2 channels each; 9x9 with stride 2, padding 1 -> 5x5
    assert (row.B, row.K, row.C, row.G, row.OY, row.OX, row.FY, row.FX) == (2, 3, 2, 2, 5, 5, 3, 3)
    assert (row.SY, row.SX, row.PY, row.PX, row.DY, row.role) == (2, 2, 1, 1, 1, "forward")
    assert row.macs == 2 * 6 * 25 * 2 * 9 and bool(row.weight_operand)
