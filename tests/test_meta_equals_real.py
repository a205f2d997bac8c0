"""Meta and real runs give identical tables, every column, across architectures whose backends take different
kernel paths on real inputs (fused attention, oneDNN recurrent layers, channels-last pooling); the ops that
torchvision's ConvNeXt, Swin and detectors issue are known (strict); a value-dependent op on meta is one clear
error."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import torch
from torch import nn

from estimator import profile
from estimator.counting import MetaInputError
from estimator.models import create
from tests.architectures import (
    Attention,
    ConvNeXt,
    Decoder,
    DetectorHead,
    Recurrent,
    Swin,
    TwoStageDetector,
    ViT,
)
from tests.conftest import strict_profile

CASES = {
    "resnet18_cifar": (lambda: create("resnet18_cifar"), [(2, 3, 32, 32)]),
    "mobilenetv2_cifar": (lambda: create("mobilenetv2_cifar"), [(1, 3, 32, 32)]),
    "convnext": (ConvNeXt, [(1, 3, 32, 32)]),
    "swin": (Swin, [(1, 3, 32, 32)]),
    "swin_v2": (lambda: Swin(v2=True), [(1, 3, 32, 32)]),
    "vit": (ViT, [(2, 3, 32, 32)]),
    "multihead_attention": (Attention, [(2, 5, 16)]),
    "lstm_gru": (Recurrent, [(2, 5, 8)]),
    "transposed_convs": (Decoder, [(1, 8, 5, 5)]),
    "detector_head": (DetectorHead, [(2, 3, 16, 16)]),
}


@pytest.mark.parametrize("backward", [False, True], ids=["inference", "training_step"])
@pytest.mark.parametrize("name", CASES)
def test_meta_and_real_tables_are_identical(name, backward):
    factory, shapes = CASES[name]
    model = factory().eval()
    real = strict_profile(model, [torch.randn(s) for s in shapes], backward=backward)
    meta = strict_profile(model, input_shape=shapes, backward=backward, densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)  # every column, the measured densities included
    pd.testing.assert_frame_equal(real.nests, meta.nests)
    assert real.total()["macs"] > 0


@pytest.mark.parametrize("factory", [ConvNeXt, Swin, lambda: Swin(v2=True), TwoStageDetector],
                         ids=["convnext", "swin", "swin_v2", "two_stage_detector"])
def test_torchvision_op_patterns_are_all_known_on_real_inputs(factory):
    prof = strict_profile(factory().eval(), torch.randn(1, 3, 32, 32))
    assert not prof.unsupported and prof.total()["macs"] > 0


def test_value_dependent_op_on_meta_is_one_clear_line():
    with pytest.raises(MetaInputError) as error:
        profile(TwoStageDetector().eval(), input_shape=(1, 3, 32, 32))
    message = str(error.value)
    assert message == ("op aten.nonzero (issued by module '(root)') cannot run on meta tensors: its result's shape "
                       "depends on tensor values (a boolean mask x[mask], nonzero, masked_select, item); profile this "
                       "model with real inputs (inputs=...)")
    assert error.value.__cause__ is None and error.value.__suppress_context__


class CpuConstant(nn.Module):
    """Builds its causal mask on the CPU in forward: fine on real CPU inputs, impossible on meta ones."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        return self.proj(x) * torch.ones(4, 4).tril()


class BooleanMask(nn.Module):
    def forward(self, x):
        return x[x > 0].sum()


@torch.library.custom_op("estimator_tests::doubled", mutates_args=())
def doubled(x: torch.Tensor) -> torch.Tensor:
    """A custom op with a CPU kernel and no meta (fake) kernel."""
    return x * 2


class CustomOp(nn.Module):
    def forward(self, x):
        return doubled(x)


@pytest.mark.parametrize("model, op, cause", [
    (CpuConstant(), "aten.mul", "the model mixes them with a tensor created on the CPU in forward"),
    (BooleanMask(), "aten.index", "its result's shape depends on tensor values"),
    (CustomOp(), "estimator_tests.doubled", "it has no meta kernel"),
], ids=["cpu_constant", "boolean_mask", "no_meta_kernel"])
def test_meta_failures_name_their_real_cause_in_one_line(model, op, cause):
    with pytest.raises(MetaInputError) as error:
        profile(model, input_shape=(2, 4, 4))
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"op {op} (issued by module '(root)') cannot run on meta")
    assert cause in message
    with warnings.catch_warnings():  # the custom op has no formula: a warning, not a failure
        warnings.simplefilter("ignore")
        profile(model, inputs=torch.randn(2, 4, 4))  # each runs on real inputs


def test_a_shape_mismatch_on_meta_is_the_error_real_inputs_give():
    model = nn.Conv2d(3, 8, 3)
    with pytest.raises(RuntimeError, match="expected input with 3 channels") as error:
        profile(model, input_shape=(1, 5, 8, 8))
    assert not isinstance(error.value, MetaInputError)
    with pytest.raises(RuntimeError, match="expected input"):
        profile(model, inputs=torch.randn(1, 5, 8, 8))


def test_fused_attention_and_recurrent_paths_are_restored_after_counting():
    fast_path, onednn = torch.backends.mha.get_fastpath_enabled(), torch.backends.mkldnn.enabled
    strict_profile(Recurrent().eval(), torch.randn(1, 3, 8))
    assert (torch.backends.mha.get_fastpath_enabled(), torch.backends.mkldnn.enabled) == (fast_path, onednn)
