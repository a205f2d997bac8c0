"""Invariants of profile(): attribution, value-aware counts, purity, strictness, backward."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize, prune

from estimator import UnsupportedOpError, profile
from estimator.models import create
from tests.conftest import layer, strict_profile


class Block(nn.Module):
    """Residual block with functional ops in its own forward."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv(x)
        out += x  # functional residual: must land in this block's row
        return F.relu(torch.cat([out, x], 1))


def test_functional_ops_are_attributed_to_the_issuing_module():
    model = nn.Sequential(Block())
    prof = strict_profile(model, torch.randn(1, 4, 5, 5))
    row = layer(prof, "0")
    assert row["adds"] == 100  # the residual: 4*5*5 elements
    assert row["compares"] == 200  # relu over the concatenation: 8*5*5
    assert layer(prof, "0.conv")["macs"] == 4 * 25 * 4 * 9


def test_rows_sum_to_total_and_params_match_numel():
    model = create("resnet18_cifar")
    prof = strict_profile(model, input_shape=(1, 3, 32, 32))
    total = prof.total()
    for column in ("macs", "mults", "adds", "compares", "params", "nnz_params"):
        assert prof.layers[column].sum() == total[column]
    assert total["params"] == sum(p.numel() for p in model.parameters()) == 11_173_962
    assert total["flops"] == 2 * total["macs"]


def test_meta_and_real_runs_agree():
    model = create("resnet18_cifar")
    real = strict_profile(model, torch.randn(2, 3, 32, 32)).layers
    meta = strict_profile(model, input_shape=(2, 3, 32, 32), densities=real[["input_density", "output_density"]])
    assert meta.layers.equals(real)


def test_profiling_twice_is_identical_and_leaves_the_model_unchanged():
    model = create("resnet18_cifar").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 32, 32)
    first = strict_profile(model, x, backward=True).layers
    second = strict_profile(model, x, backward=True).layers
    assert first.equals(second)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert model.training  # mode untouched
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks)
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_forward_pre_hooks


def test_pruned_model_counts_effective_weights_and_skips_zeros():
    lin = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(1.0, 13.0).view(3, 4))
    prune.l1_unstructured(lin, "weight", amount=5)  # the five smallest |w| (1..5) become zero
    prof = strict_profile(nn.Sequential(lin), torch.randn(2, 4))
    row = layer(prof, "0")
    assert row["nnz_params"] == 7  # 12 - 5
    assert row["params"] == 12  # weight_orig is the trainable tensor
    assert row["macs"] == 2 * 12  # shape-derived: 2 rows x 12 weights
    assert row["nz_macs"] == 2 * 7  # zero-skipping: 2 rows x 7 non-zero weights
    assert row["mults"] == 24  # the mask multiplication is not model work


class HalfMask(nn.Module):
    def __init__(self, shape):
        super().__init__()
        mask = torch.zeros(shape)
        mask[:, :, 1, :] = 1
        self.register_buffer("mask", mask)

    def forward(self, w):
        return w * self.mask


def test_parametrized_mask_is_not_model_work():
    conv = nn.Conv2d(2, 2, 3, bias=False)
    parametrize.register_parametrization(conv, "weight", HalfMask(conv.weight.shape))
    prof = strict_profile(nn.Sequential(conv), torch.randn(1, 2, 5, 5))
    row = layer(prof, "0")
    # 9 outputs per channel x 2 channels = 18 outputs, 18 taps each: 324 MACs; a third of taps survive
    assert (row["macs"], row["mults"], row["nz_macs"]) == (324, 324, 108)
    assert (row["params"], row["nnz_params"]) == (36, 12)
    assert list(prof.layers.index) == ["0"]  # no rows for the parametrization machinery
    assert parametrize.is_parametrized(conv, "weight")  # the user's model keeps its parametrization


def test_parametrizations_are_found_as_torch_finds_them():
    from estimator.counting.weights import parametrizations

    plain, masked, normed = nn.Conv2d(2, 2, 3), nn.Conv2d(2, 2, 3), nn.Linear(3, 4)
    parametrize.register_parametrization(masked, "weight", HalfMask(masked.weight.shape))
    normed = nn.utils.parametrizations.weight_norm(normed)
    for module in (plain, masked, normed, nn.Sequential(masked), nn.ReLU()):
        for name in (None, "weight", "bias"):
            assert (parametrizations(module, name) is not None) == parametrize.is_parametrized(module, name)
    assert parametrizations(masked, "weight") is masked.parametrizations["weight"]
    assert parametrizations(normed) is normed.parametrizations


def test_unsupported_ops_are_reported_never_silently_zero():
    model = nn.Sequential(nn.Linear(3, 3))
    # a histogram has neither a formula nor a decomposition
    fn_model = type("Hist", (nn.Module,), {"forward": lambda self, x: torch.histc(model(x), 4)})()
    with pytest.warns(UserWarning, match="aten.histc"):
        prof = profile(fn_model, torch.randn(2, 3))
    assert prof.unsupported["aten.histc"]["count"] == 1
    assert prof.unsupported["aten.histc"]["modules"] == {"(root)"}
    with pytest.raises(UnsupportedOpError, match=r"aten.histc.*\(root\)"):
        profile(fn_model, torch.randn(2, 3), strict=True)


def test_an_op_without_formula_is_counted_through_its_decomposition():
    fn_model = type("Trace", (nn.Module,), {"forward": lambda self, x: torch.trace(x)})()
    prof = strict_profile(fn_model, torch.randn(4, 4))
    # trace = sum of the 4 diagonal elements: 3 adds, counted through torch._decomp and said so
    assert prof.total()["adds"] == 3
    assert prof.layers.loc["(root)", "decomposed"] == "aten.trace"
    assert "counted through their decomposition: aten.trace" in prof.to_table()


def test_no_warning_when_everything_is_supported():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile(create("resnet18_cifar"), input_shape=(1, 3, 32, 32))


def test_backward_counts_two_gradients_per_conv_and_one_for_the_first():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, bias=False))
    prof = strict_profile(model, input_shape=(2, 3, 8, 8), backward=True)
    first, second = layer(prof, "0"), layer(prof, "2")
    assert first["macs_bwd"] == first["macs"]  # weight gradient only: the input needs none
    assert second["macs_bwd"] == 2 * second["macs"]  # input and weight gradients
    assert layer(prof, "1")["compares_bwd"] == 2 * 4 * 64  # relu's gradient mask


def test_input_arguments_are_validated():
    with pytest.raises(ValueError, match="exactly one of"):
        profile(nn.ReLU())
    with pytest.raises(ValueError, match="positive integers"):
        profile(nn.ReLU(), input_shape=(1, 0, 3))


def test_reweigh_equals_profiling_again():
    from estimator.variants import apply_periodic_sparsity, approximate

    model = create("digits_cnn")
    dense = strict_profile(model, input_shape=(2, 1, 8, 8))
    sparse = apply_periodic_sparsity(model, "PSD1_P8")
    assert dense.reweigh(sparse).layers.equals(strict_profile(sparse, input_shape=(2, 1, 8, 8)).layers)
    shift_add = approximate(model, "t2e-4", fold_bn=False, pooling=False, activations=None)
    reweighed = dense.reweigh(shift_add).layers
    assert reweighed.equals(strict_profile(shift_add, input_shape=(2, 1, 8, 8)).layers)
    assert reweighed.loc["features.3", "mults"] == 0 and reweighed.loc["features.3", "shifts"] > 0


def test_reweigh_rejects_another_architecture():
    prof = strict_profile(create("digits_cnn"), input_shape=(1, 1, 8, 8))
    with pytest.raises(ValueError, match="reweigh: module 'features.0' has a weight of another size"):
        prof.reweigh(create("digits_cnn", width=16))
    with pytest.raises(ValueError, match="is not in the given model"):
        prof.reweigh(nn.Sequential(nn.Conv2d(1, 32, 3)))


def test_sizes_are_what_each_module_consumes_and_produces():
    prof = strict_profile(nn.Sequential(Block()), torch.randn(1, 4, 5, 5))
    # the block takes 4x5x5 = 100 elements and returns the relu of the concatenation, 8x5x5 = 200
    assert (layer(prof, "0")["in_elems"], layer(prof, "0")["out_elems"]) == (100, 200)
    assert (layer(prof, "0.conv")["in_elems"], layer(prof, "0.conv")["out_elems"]) == (100, 100)


def test_shape_only_profile_counts_every_weight_dense():
    lin = nn.Linear(4, 3, bias=False)
    prune.l1_unstructured(lin, "weight", amount=5)
    values = strict_profile(nn.Sequential(lin), input_shape=(2, 4))
    shapes = strict_profile(nn.Sequential(lin), input_shape=(2, 4), values=False)
    assert values.total()["nz_macs"] == 2 * 7 and shapes.total()["nz_macs"] == 2 * 12
    assert shapes.total()["macs"] == values.total()["macs"] == 24 and not shapes.values
    assert "shape-only profile" in shapes.to_table()


def test_value_scan_is_cached_per_tensor_version():
    from estimator.counting import weights

    conv = nn.Conv2d(2, 2, 3, bias=False)
    model = nn.Sequential(conv)
    strict_profile(model, input_shape=(1, 2, 5, 5))
    first = weights.CACHE[conv]
    strict_profile(model, input_shape=(1, 2, 5, 5))
    assert weights.CACHE[conv] is first  # unchanged model: nothing re-read
    with torch.no_grad():
        conv.weight[0] = 0.0  # an in-place change bumps the tensor's version
    prof = strict_profile(model, input_shape=(1, 2, 5, 5))
    assert weights.CACHE[conv] is not first and prof.total()["nnz_params"] == 18


def test_counting_copy_shares_no_storage_it_could_write():
    from estimator.counting.profile import prepare_copy

    model = nn.Sequential(nn.Conv2d(2, 2, 3), nn.BatchNorm2d(2))
    meta = prepare_copy(model, meta=True)
    assert all(t.device.type == "meta" for t in list(meta.parameters()) + list(meta.buffers()))
    real = prepare_copy(model, meta=False)
    assert real[0].weight.data_ptr() == model[0].weight.data_ptr()  # read-only during the run: not copied
    assert real[1].running_mean.data_ptr() != model[1].running_mean.data_ptr()  # a training run updates it


def test_tied_parameters_count_once_in_their_first_owner():
    # the report's case: an embedding tied to its output head counted twice (a T5 read 93.4 M against 60.5 M)
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, 16)
            self.mid = nn.Linear(16, 16)
            self.head = nn.Linear(16, 100, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, x):
            return self.head(self.mid(self.emb(x)))

    model = Tied()
    layers = profile(model, torch.randint(0, 100, (1, 5))).layers
    # 100 x 16 shared + 16 x 16 + 16 = 1,600 + 272 = 1,872, what model.parameters() yields
    assert layers["params"].sum() == sum(p.numel() for p in model.parameters()) == 1872
    assert list(layers.loc[["emb", "mid", "head"], "params"]) == [1600, 272, 0]
    assert layers["nnz_params"].sum() == 1872
    # the head still reads its (shared) weight: 5 tokens x 16 x 100 MACs, weight priced where it is read
    assert layers.loc["head", "macs"] == 8000 and layers.loc["head", "weight_elems"] == 1600


def test_in_place_updates_of_buffers_are_counted_and_the_bn_counter_stays_free():
    # the report's silent zero: self.acc.add_(x) on a buffer (an accumulator or EMA) was dropped unlisted
    class Accumulate(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("acc", torch.zeros(8))
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))

        def forward(self, x):
            self.acc.add_(x.sum(0))
            self.steps.add_(1)  # an integer counter (as BatchNorm's num_batches_tracked): bookkeeping, free
            return x

    layers = profile(Accumulate(), torch.randn(4, 8)).layers
    # x.sum(0) over 4 rows: 8 x 3 adds = 24; acc.add_: 8 adds; the counter: none
    assert layers.loc["(root)", "adds"] == 24 + 8


@pytest.mark.parametrize("call", ["child.forward", "F.linear"])
def test_a_weight_used_outside_its_module_counts_in_its_owner_with_its_zeros(call):
    # the report's case: the MACs landed on (root) and nz_macs read dense (2,048 where half-zero weights give 1,024)
    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(32, 64, bias=False)
            with torch.no_grad():
                self.lin.weight[:, :16] = 0  # half of the 32 x 64 weights

        def forward(self, x):
            return self.lin.forward(x) if call == "child.forward" else F.linear(x, self.lin.weight)

    layers = profile(Parent(), torch.randn(1, 32)).layers
    # 1 x 32 inputs x 64 outputs = 2,048 MACs, 1,024 on non-zero weights, all on the owner's row
    assert layers.loc["lin", "macs"] == 2048 and layers.loc["lin", "nz_macs"] == 1024
    assert layers["macs"].sum() == 2048
