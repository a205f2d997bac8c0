"""Pre-defined periodic sparsity: masks from the rule, training keeps zeros, the paper's numbers reproduced."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from estimator import profile
from estimator.energy import weight_storage
from estimator.models import create
from estimator.reports import periodic_complexity_table
from estimator.train import TrainConfig, train
from estimator.variants import PeriodicSpec, apply_periodic_sparsity, parse_spec
from estimator.variants.periodic import kernel_mask
from estimator.variants.specs import PATTERNS


def positions(mask: torch.Tensor, i: int, j: int) -> tuple[int, ...]:
    return tuple(int(p) for p in torch.nonzero(mask[i, j].flatten()).flatten())


@pytest.mark.parametrize("name,per_period", [
    ("PS4_P4", 4 * 4), ("PS2_P6", 6 * 2), ("PS1_P9", 9 * 1),  # PS: k per kernel, P kernels per period
    ("PSD4_P8", 7 * 4 + 9), ("PSD4_P16", 15 * 4 + 9), ("PSD2_P8", 7 * 2 + 9), ("PSD2_P16", 15 * 2 + 9),
    ("PSD1_P8", 7 * 1 + 9), ("PSD1_P16", 15 * 1 + 9),  # PSD: (P-1) k + 9
])
def test_nonzeros_per_period_and_exact_density(name, per_period):
    spec = parse_spec(name)
    mask = kernel_mask(spec, 5, 3 * spec.period)  # C_in a multiple of P
    for i in range(5):
        for start in range(0, 3 * spec.period, spec.period):
            assert mask[i, start:start + spec.period].sum() == per_period
    assert mask.mean().item() == pytest.approx(spec.density())
    assert all(mask[i, j].sum() == spec.k for i in range(5) for j in range(3 * spec.period)
               if len(positions(mask, i, j)) != 9)


def test_slot_rule_selects_each_kernels_pattern():
    spec = parse_spec("PS4_P4")
    mask = kernel_mask(spec, 4, 8)
    A, B, C, D = PATTERNS[4]
    # kernel (i, j) uses slot (i + j + 1) mod 4, slot t -> pattern t mod 4: (0,0) -> B, (0,3) -> A, (1,0) -> C
    assert positions(mask, 0, 0) == B and positions(mask, 0, 3) == A and positions(mask, 1, 0) == C
    assert positions(mask, 2, 0) == D and positions(mask, 3, 5) == positions(mask, 0, 0)
    psd = kernel_mask(parse_spec("PSD1_P8"), 2, 8)
    # PSD: slot 0 dense (i + j + 1 = 8 -> (0, 7)), slots 1..7 cycle {0}, {1}, ...: (0,0) -> slot 1 -> {0}
    assert positions(psd, 0, 7) == tuple(range(9))
    assert positions(psd, 0, 0) == (0,) and positions(psd, 0, 1) == (1,) and positions(psd, 1, 0) == (1,)


def test_pseudo_random_variant_is_seeded():
    a = kernel_mask(parse_spec("pSC2"), 4, 4, torch.Generator().manual_seed(1))
    b = kernel_mask(parse_spec("pSC2"), 4, 4, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and (a.view(16, 9).sum(1) == 2).all()


@pytest.mark.parametrize("bad,message", [
    ("PS3_P4", "no pattern table for k=3"), ("PSD4_P0", "period P must be at least 1"),
    ("XYZ", "sparsity variant 'XYZ' is unknown"), ("pSC12", "k (non-zeros per kernel) must be 1..9"),
])
def test_bad_specs_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(bad)


def test_custom_patterns():
    spec = PeriodicSpec("PS", k=3, period=2, patterns=((0, 4, 8), (2, 4, 6)))
    mask = kernel_mask(spec, 1, 2)
    assert positions(mask, 0, 1) == (0, 4, 8) and positions(mask, 0, 0) == (2, 4, 6)  # slots 0 and 1
    with pytest.raises(ValueError, match="must list 3 distinct positions"):
        PeriodicSpec("PS", k=3, period=2, patterns=((0, 4),))


def test_only_eligible_layers_are_masked_and_user_model_untouched():
    model = create("resnet18_cifar")
    sparse = apply_periodic_sparsity(model, "PSD1_P16")
    prof = profile(sparse, input_shape=(1, 3, 32, 32)).layers
    assert prof.loc["stem.0", "weight_format"] == "dense"  # the first conv stays dense
    assert prof.loc["layer2.0.shortcut.0", "weight_format"] == "dense"  # 1x1
    assert prof.loc["fc", "weight_format"] == "dense"
    assert prof.loc["layer1.0.conv1", "weight_format"] == "periodic"
    assert prof.loc["layer1.0.conv1", "pattern_table_bits"] == 16 * 9
    assert not any(hasattr(m, "parametrizations") for m in model.modules())


def test_depthwise_convs_follow_the_rule_along_filters():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Conv2d(8, 8, 3, groups=8))
    sparse = apply_periodic_sparsity(model, "PS4_P4")
    mask = sparse[1].parametrizations.weight[0].mask
    assert mask.shape == (8, 1, 3, 3)
    assert positions(mask, 0, 0) == PATTERNS[4][1] and positions(mask, 1, 0) == PATTERNS[4][2]


def test_masked_weights_stay_zero_through_sgd_with_momentum_and_weight_decay():
    torch.manual_seed(0)
    model = apply_periodic_sparsity(create("digits_cnn"), "PS2_P6")
    conv = model.features[3]
    zeros = conv.parametrizations.weight[0].mask == 0
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(50):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(torch.randn(16, 1, 8, 8)), torch.randint(0, 10, (16,))).backward()
        optimizer.step()
    assert torch.count_nonzero(conv.weight[zeros]) == 0
    assert torch.count_nonzero(conv.weight[~zeros]) == (~zeros).sum()  # the rest did train
    assert "parametrizations.weight.0.mask" not in model.state_dict()  # regenerated from the rule, not stored


def test_weight_storage_periodic_vs_unstructured():
    model = apply_periodic_sparsity(nn.Sequential(nn.Conv2d(16, 16, 3), nn.Conv2d(16, 32, 3)), "PSD1_P8")
    storage = weight_storage(profile(model, input_shape=(1, 16, 8, 8)), weight_bits=8).loc["1"]
    # 32 x 16 kernels, density (7 + 9) / 72 = 2/9: 32 * 16 * 9 * 2/9 = 1024 non-zeros
    assert storage["nnz"] == 1024
    assert storage["dense_bits"] == 32 * 16 * 9 * 8
    assert storage["periodic_bits"] == 1024 * 8 + 8 * 9  # + P x 9-bit pattern table
    # 4-bit in-kernel index per non-zero, 513 row pointers of ceil(log2(1026)) = 11 bits
    assert storage["unstructured_bits"] == 1024 * (8 + 4) + 513 * 11
    assert storage["form"] == "periodic" and storage["stored_bits"] == storage["periodic_bits"]


@pytest.fixture(scope="module")
def table():
    return periodic_complexity_table(models=("resnet18_cifar", "vgg16_tiny"), bits=(8,)).set_index(
        ["model", "variant"])


def test_resnet18_cifar_claims(table):
    row = table.loc[("resnet18_cifar", "PSD1_P16")]
    # 3x3 convs after the stem hold 10,985,472 weights; PSD1_P16 keeps 1/6: 11,173,962 - 5/6 x 10,985,472
    assert row["params"] == 2_019_402
    assert round(row["param_reduction_pct"]) == 82
    # those convs do 547,356,672 of 555,422,720 MACs: 555,422,720 / (555,422,720 - 5/6 x 547,356,672) = 5.594
    assert round(row["mac_ratio"], 2) == 5.59


def test_vgg16_tiny_claims(table):
    row = table.loc[("vgg16_tiny", "PSD1_P16")]
    # 14,710,464 conv weights, all but the first conv's 1,728 thinned to 1/6: 83.3% fewer
    assert round(row["conv_weight_reduction_pct"], 1) == 83.3
    # 1,253,195,776 MACs, 1,245,708,288 of them in thinned 3x3 convs: 1,253,195,776 / (1,253,195,776 -
    # 5/6 x 1,245,708,288) = 5.826 ("5.8x")
    assert round(row["mac_ratio"], 2) == 5.83


def test_equal_density_variants_have_identical_macs(table):
    macs = table.loc["resnet18_cifar", "macs"]
    assert macs["PSD1_P8"] == macs["PS2_P6"] == macs["pSC2"]  # d = 2/9
    assert macs["PS4_P4"] == macs["pSC4"] and macs["PS1_P9"] == macs["pSC1"]
    energy = table.loc["resnet18_cifar", "energy_uj_8bit"]
    assert energy["PS2_P6"] < energy["pSC2"]  # same MACs, cheaper storage: no per-weight index


def test_trainer_trains_a_variant_with_masks_fixed(tmp_path):
    result = train(TrainConfig("digits_cnn", variant="PSD1_P8", out=str(tmp_path), epochs=2), progress=False)
    prof = profile(result.model, input_shape=(1, 1, 8, 8)).layers
    conv = prof.loc["features.3"]
    assert conv["weight_nnz"] == 32 * 32 * 9 * 2 / 9  # 2/9 density kept after training


@pytest.mark.parametrize("index,stored", [
    # conv 2: 32 x 16 kernels, pSC2 keeps 2 of each kernel's 9: 1,024 non-zeros of 8 bits
    ("position_code", 1024 * 8 + 512 * 6),  # a code per kernel: ceil(log2 C(9, 2) = 36) = 6 bits
    ("per_weight", 1024 * (8 + 4)),  # a 4-bit position (0..8) per kept weight
    ("pointer", 1024 * (8 + 4) + 513 * 11),  # CSR over kernels: a 4-bit in-kernel index, 513 pointers of 11 bits
])
def test_psc_index_bits_by_hand(index, stored):
    model = apply_periodic_sparsity(nn.Sequential(nn.Conv2d(16, 16, 3), nn.Conv2d(16, 32, 3)), "pSC2")
    storage = weight_storage(profile(model, input_shape=(1, 16, 8, 8)), weight_bits=8, psc_index=index).loc["1"]
    assert storage["nnz"] == 1024 and storage["stored_bits"] == stored
    assert storage["form"] == {"pointer": "unstructured"}.get(index, index)


def test_psc_index_moves_psc_only_and_the_cheapest_index_is_the_default():
    from estimator.reports import psc_index_table
    from hwmodels import DEFAULTS

    table = psc_index_table(variants=("PS2_P6", "pSC2"), train_batch=2).set_index(["psc_index", "variant"])
    assert DEFAULTS["psc_index"] == "position_code"
    periodic = table.xs("PS2_P6", level="variant")["energy_uj"]
    assert periodic.nunique() == 1  # a periodic variant has no index to choose
    psc = table.xs("pSC2", level="variant")
    # pSC costs more than the periodic variant under every index, least with the position code
    assert (psc["over_periodic"] > 1).all()
    assert psc.loc["position_code", "energy_uj"] < psc.loc["per_weight", "energy_uj"] < psc.loc["pointer",
                                                                                                 "energy_uj"]
