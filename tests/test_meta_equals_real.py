"""Meta and real runs give identical tables, every column, across architectures whose backends take different
kernel paths on real inputs (fused attention, oneDNN recurrent layers, channels-last pooling); the ops that
torchvision's ConvNeXt, Swin and detectors issue are known (strict); a value-dependent op on meta is one clear
error."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

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
    meta = strict_profile(model, input_shape=shapes, backward=backward)
    pd.testing.assert_frame_equal(real.layers, meta.layers)
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
    assert message == ("op aten.nonzero (issued by module '(root)') cannot run on meta tensors: its result depends "
                       "on tensor values; profile this model with real inputs (inputs=...)")
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_fused_attention_and_recurrent_paths_are_restored_after_counting():
    fast_path, onednn = torch.backends.mha.get_fastpath_enabled(), torch.backends.mkldnn.enabled
    strict_profile(Recurrent().eval(), torch.randn(1, 3, 8))
    assert (torch.backends.mha.get_fastpath_enabled(), torch.backends.mkldnn.enabled) == (fast_path, onednn)
