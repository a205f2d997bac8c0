"""Tests generated from the model registry: every registered model is covered without being listed."""

from __future__ import annotations

import pytest
import torch

from estimator import crosscheck
from estimator.models import REGISTRY, UnknownModelError, create, list_models
from tests.conftest import strict_profile

NAMES = list_models()


@pytest.mark.parametrize("name", NAMES)
def test_forward_shape_and_parameter_count(name):
    spec = REGISTRY[name]
    model = create(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *spec.input_shape[1:]))
    assert out.shape == (2, spec.num_classes)
    if spec.params is not None:
        assert sum(p.numel() for p in model.parameters()) == spec.params, spec.reference


@pytest.mark.parametrize("name", NAMES)
def test_strict_profile_and_macs_agree_with_fvcore_and_flopcountermode(name):
    spec = REGISTRY[name]
    model = create(name)
    prof = strict_profile(model, input_shape=spec.input_shape)
    assert prof.total()["params"] == sum(p.numel() for p in model.parameters())
    table = crosscheck(model, torch.randn(spec.input_shape), all_layers=True)
    assert not table["mac_mismatch"].any(), table[table["mac_mismatch"]].to_string()
    assert table["estimator_macs"].sum() == prof.total()["macs"]


# Published multiply-accumulates at 224x224 (conv + linear), in millions, as users know them.
PUBLISHED_MMACS = {"resnet50_imagenet": 4089, "resnet18_imagenet": 1814, "mobilenetv2_imagenet": 300,
                   "vgg16_imagenet": 15470, "alexnet_imagenet": 714, "densenet121_imagenet": 2834}


@pytest.mark.parametrize("name,mmacs", PUBLISHED_MMACS.items())
def test_imagenet_macs_match_published_figures(name, mmacs):
    macs = strict_profile(create(name), input_shape=REGISTRY[name].input_shape).total()["macs"]
    assert abs(macs / 1e6 - mmacs) / mmacs < 0.005


def test_keyword_options_and_classes():
    assert create("shufflenetv2_cifar", width=0.5).fc.in_features == 1024
    assert create("resnet18_cifar", num_classes=100).fc.out_features == 100
    with pytest.raises(ValueError, match="width must be one of"):
        create("shufflenetv2_cifar", width=3)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match="did you mean resnet18_cifar"):
        create("resnet18_cifra")
    assert list_models("resnet*") == ["resnet18_cifar", "resnet18_imagenet", "resnet18_tiny", "resnet50_imagenet"]


def test_cff_connection_table_and_parameter_split():
    cff = create("cff")
    # C1 4x(25+1)=104, S1 4x2=8, C2 20x9+14=194, S2 14x2=28, N1 14x(42+1)=602, N2 14+1=15: 951
    parts = {n: sum(p.numel() for p in m.parameters()) for n, m in cff.named_children()}
    assert parts == {"c1": 104, "s1": 8, "c2": 194, "s2": 28, "n1": 602, "n2": 15, "act": 0}
    prof = strict_profile(cff, input_shape=(1, 1, 36, 32))
    # C2 output is 14x12 = 168 positions: 20 kernels x 9 taps = 180 MACs each
    assert prof.layers.loc["c2.kernels", "macs"] == 168 * 180
    assert prof.layers.loc["c2", "adds"] == 168 * (6 + 14)  # pair sums and biases


def test_untrained_models_are_built_from_a_fixed_seed_and_leave_the_global_generator_alone():
    import torch

    from estimator.loading import load_model

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first, _ = load_model("digits_cnn")
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's draws are not disturbed
    torch.rand(7)  # a different global state: the build must not depend on it
    second, _ = load_model("digits_cnn")
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_the_published_points_ship_with_their_citation_and_the_baseline_gain_is_the_papers():
    from estimator.literature import KUNDU2020, baseline_gains, citation, load

    points = load(KUNDU2020)
    assert len(points) == 64 and set(points["dataset"]) == {"cifar10", "tinyimagenet"}
    assert "IEEE Transactions on Computers 69(7), 2020" in citation(KUNDU2020) and "+-0.002 GMAC" in citation(KUNDU2020)
    gains = baseline_gains(points)
    # ResNet18 PSD1_P16 over ShuffleNet and MobileNetV2: 91.99 - 88.88, 91.99 - 90.32 (CIFAR-10), 58.92 - 55.43,
    # 58.92 - 55.70 (Tiny ImageNet top-1) = 3.11, 1.67, 3.49, 3.22; mean 2.8725 (the abstract says 2.8)
    assert list(gains["gain_pct"]) == [3.11, 1.67, 3.49, 3.22]
    assert abs(gains["gain_pct"].mean() - 2.87) < 0.05
