"""Dyadic approximation: CSD costs, the binary program and its solvers, approximated networks, counting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from estimator import approximate, energy, plan_sigmoid, profile
from estimator.counting.csd import csd_digits, multiply_cost
from estimator.models import create
from estimator.models.small import ScaledTanh
from estimator.variants import DyadicBudget, Variant, VariantError
from estimator.variants.dyadic import (
    CandidateSet,
    DyadicLevel,
    candidate_costs,
    fold_batchnorm,
    parse_level,
    round_to_set,
    solve_budgeted,
    solve_milp,
)
from tests import milp_reference
from tests.conftest import strict_profile


@pytest.mark.parametrize("value,adds,shifts", [
    (3 / 4, 1, 1),  # 1 - 2^-2
    (5 / 8, 1, 2),  # 2^-1 + 2^-3
    (1 / 4, 0, 1),  # 2^-2
    (1.0, 0, 0), (-1.0, 0, 0),  # the sign folds into the accumulating add
    (0.0, 0, 0),  # the tap disappears
    (7.0, 1, 1),  # CSD 8 - 1, not 4 + 2 + 1
])
def test_csd_cost(value, adds, shifts):
    a, s = multiply_cost(np.array([value]))
    assert (int(a[0]), int(s[0])) == (adds, shifts)


def test_csd_rejects_non_dyadic_values():
    with pytest.raises(ValueError, match="not dyadic"):
        csd_digits(np.array([0.1]))


def test_candidate_set_enumeration():
    cset = CandidateSet.build(1, -2, 0)
    assert cset.values.tolist() == [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0]
    two = CandidateSet.build(2, -1, 0)  # {0, +-1, +-1/2, +-3/2, +-1/2 (1 - 1/2)}
    assert two.values.tolist() == [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
    assert two.terms.tolist() == [2, 1, 1, 0, 1, 1, 2] and two.adds.tolist() == [1, 0, 0, 0, 0, 0, 1]


def test_level_names():
    assert parse_level("t2") == DyadicLevel(2, -8, 0)
    assert parse_level("dyadic:t3e-6_fold") == DyadicLevel(3, -6, 0, "fold")
    assert parse_level("t1e-4..2_tensor") == DyadicLevel(1, -4, 2, "pow2", "tensor")
    with pytest.raises(ValueError, match="dyadic level 'x2' is malformed"):
        parse_level("x2")


def test_unbudgeted_milp_equals_vectorised_rounding():
    rng = np.random.default_rng(0)
    cset = CandidateSet.build(2, -5, 0)
    for _ in range(20):
        w = rng.normal(0, 0.5, (3, 3))
        assert np.array_equal(solve_milp(w, cset), round_to_set(w, cset.values))


@pytest.mark.parametrize("cost", list(milp_reference.BUDGETS))
def test_budgeted_solver_reaches_milps_optimum(cost):
    # 200 random 3x3 filters (fixed seed); the programme's optimum (least squared error within the budget) must be
    # milp's, stored by tests/milp_reference.py: the two may differ only between solutions of equal error
    budget = milp_reference.BUDGETS[cost]
    cset = milp_reference.candidates()
    costs = candidate_costs(cset, cost)
    filters = milp_reference.filters()
    table = milp_reference.stored().query("cost == @cost").sort_values("filter")
    taps = range(milp_reference.TAPS)
    np.testing.assert_array_equal(table[[f"w{j}" for j in taps]].to_numpy(), filters)  # the stored filters are these
    exact = table[[f"q{j}" for j in taps]].to_numpy()
    solved = solve_budgeted(filters, cset, budget, cost=cost)
    assert (costs[np.searchsorted(cset.values, exact)].sum(axis=1) <= budget).all()  # milp's optima are feasible
    assert (costs[np.searchsorted(cset.values, solved)].sum(axis=1) <= budget).all()
    np.testing.assert_allclose(((filters - solved) ** 2).sum(axis=1), ((filters - exact) ** 2).sum(axis=1),
                               rtol=1e-9, atol=1e-12)
    unbudgeted = costs[np.searchsorted(cset.values, round_to_set(filters, cset.values))].sum(axis=1)
    assert (unbudgeted > budget).sum() > 100  # the budget constrains most filters


def test_budgeted_solver_matches_a_live_milp():
    # the stored optima's drift check: 10 filters solved by milp now, on the tightest budget (adds)
    cset, cost = milp_reference.candidates(), "adds"
    filters = milp_reference.filters()[:10]
    solved = solve_budgeted(filters, cset, milp_reference.BUDGETS[cost], cost=cost)
    for w, dp in zip(filters, solved, strict=True):
        exact = solve_milp(w, cset, milp_reference.BUDGETS[cost], cost=cost)
        assert ((w - dp) ** 2).sum() == pytest.approx(((w - exact) ** 2).sum(), rel=1e-9, abs=1e-12)


def test_budget_below_the_least_cost_and_unknown_kind():
    cset = CandidateSet.build(2, -3, 0)
    assert np.array_equal(solve_budgeted(np.full((2, 4), 0.3), cset, 0), np.zeros((2, 4)))  # all zero: free
    with pytest.raises(ValueError, match="budget cost 'bits' is unknown; expected one of terms, adds, shifts, ops"):
        solve_budgeted(np.ones((1, 4)), cset, 3, cost="bits")


def test_plan_sigmoid_maximum_error():
    x = torch.linspace(-10, 10, 2_000_001, dtype=torch.float64)
    assert round((plan_sigmoid(x) - torch.sigmoid(x)).abs().max().item(), 4) == 0.0189  # 0.01894


def test_hand_counted_shift_add_layer():
    conv = nn.Conv2d(1, 1, 2, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([0.75, 0.625, 0.25, 1.0]).view(1, 1, 2, 2))
        conv.bias.fill_(0.5)
    approx = approximate(nn.Sequential(conv), "t2")
    assert torch.equal(approx[0].weight, conv.weight)  # already dyadic: unchanged
    row = strict_profile(approx, input_shape=(1, 1, 3, 3)).layers.loc["0"]
    # 4 outputs; taps 3/4 (2 terms, 1 shift), 5/8 (2, 2), 1/4 (1, 1), 1 (1, 0): 6 terms -> 5 adds + 1 bias add,
    # 4 shifts per output
    assert (row["mults"], row["adds"], row["shifts"], row["macs"]) == (0, 4 * 6, 4 * 4, 16)
    priced = energy(strict_profile(approx, input_shape=(1, 1, 3, 3)), "horowitz45").layers.iloc[0]
    assert priced["mult_pj"] == 0 and priced["shift_pj"] == pytest.approx(16 * 0.024)


def test_original_untouched_and_network_multiplication_free():
    model = create("cff")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    approx = approximate(model, "t2e-6")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    total = strict_profile(approx, input_shape=(1, 1, 36, 32)).total()
    assert total["mults"] == 0 and total["other_ops"] == 0  # weights, subsampling and tanh all approximated
    assert total["shifts"] > 0
    x = torch.randn(4, 1, 36, 32)
    assert (approx(x) - model(x)).abs().max() < 0.2


def test_average_pool_divisor_becomes_a_shift():
    approx = approximate(nn.Sequential(nn.AvgPool2d(2)), "t1")
    row = strict_profile(approx, input_shape=(1, 1, 4, 4)).total()
    # 4 outputs: 3 adds each, and 1/4 = 2^-2 is one shift
    assert (row["mults"], row["adds"], row["shifts"]) == (0, 12, 4)


def test_fold_scale_is_one_multiplication_per_output():
    conv = nn.Conv2d(2, 3, 3, bias=False)
    approx = approximate(nn.Sequential(conv), "t2_fold")
    total = strict_profile(approx, input_shape=(1, 2, 5, 5)).total()
    assert total["mults"] == 3 * 3 * 3  # one per output element


def test_batchnorm_folding_preserves_the_function():
    model = create("digits_cnn").eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(3, 1, 8, 8)
    expected = model(x)
    assert fold_batchnorm(model) == 4
    assert torch.allclose(model(x), expected, atol=1e-5)


def test_budgeted_approximation_respects_the_budget():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, bias=False)
    level = parse_level("t3e-6")
    approx = approximate(nn.Sequential(conv), level, budget=10)
    scale_free = approx[0].weight.detach().double().numpy().reshape(8, -1)
    terms, _ = csd_digits(scale_free)
    assert (terms.sum(axis=1) <= 10).all()


def test_layer_budget_couples_all_filters():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, bias=False)
    approx = approximate(nn.Sequential(conv), "t3e-6", budget=100, budget_scope="layer")
    terms, _ = csd_digits(approx[0].weight.detach().double().numpy())
    assert terms.sum() <= 100
    per_filter = terms.reshape(8, -1).sum(axis=1)
    assert per_filter.max() > 100 / 8  # filters share the budget unevenly, unlike a per-filter budget


def test_straight_through_fine_tuning_keeps_weights_dyadic():
    torch.manual_seed(0)
    model = approximate(create("digits_tanh"), "t2e-6")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.randint(0, 10, (8,)))
    loss.backward()
    original = model.features[0].parametrizations.weight.original
    assert original.grad is not None and original.grad.abs().sum() > 0
    optimizer.step()
    csd_digits(model.features[0].weight.detach().double().numpy())  # still dyadic: no error


def test_digits_accuracy_within_a_point_at_two_terms(tmp_path):
    from estimator.data import load_dataset
    from estimator.train import TrainConfig, evaluate, train

    splits = load_dataset("digits")
    float_model = train(TrainConfig("digits_cnn", out=str(tmp_path), epochs=15), splits=splits, progress=False).model
    cpu = torch.device("cpu")
    reference = evaluate(float_model, splits, cpu)["test_top1"]
    approx = approximate(float_model, "t2e-4")
    assert evaluate(approx, splits, cpu)["test_top1"] >= reference - 1.0
    layers = strict_profile(approx, input_shape=(1, 1, 8, 8)).layers
    weighted = layers[layers["weight_elems"] > 0]
    assert (weighted["arithmetic"] == "shift_add").all() and weighted["mults"].sum() == 0


def test_plan_gradients_match_finite_differences():
    from estimator.variants import plan_tanh

    x = torch.tensor([-6.0, -3.0, -1.5, -0.45, 0.3, 0.7, 1.7, 4.0], dtype=torch.float64, requires_grad=True)
    for fn in (plan_sigmoid, plan_tanh):  # points away from the breakpoints (|x| = 1, 2.375, 5 for the sigmoid)
        (grad,) = torch.autograd.grad(fn(x).sum(), x)
        eps = 1e-6
        numeric = (fn(x.detach() + eps) - fn(x.detach() - eps)) / (2 * eps)
        assert torch.allclose(grad, numeric, atol=1e-6), fn


def test_accuracy_table_reuses_finished_runs(tmp_path):
    from estimator.reports import dyadic_accuracy_table

    kwargs = {"model": "digits_tanh", "levels": ("t1e-4", "t2e-4"), "epochs": 2, "finetune_epochs": 1,
              "out": str(tmp_path)}
    table = dyadic_accuracy_table(**kwargs, workers=2)
    assert list(table["variant"]) == ["dense", "dyadic:t1e-4", "dyadic:t2e-4"]
    assert table.loc[0, "mults"] > 0 and (table.loc[1:, "mults"] == 0).all()
    assert table.loc[1:, "test_top1_finetuned"].notna().all() and pd.isna(table.loc[0, "test_top1_finetuned"])
    runs = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))  # .locks: the run locks
    assert runs == ["digits_tanh-digits-dense-adam-e2-s0",  # the dense model, and one fine-tuning run per level
                    "digits_tanh-digits-dyadic_t1e-4-adam-e1-s0-from-digits_tanh-digits-dense-adam-e2-s0",
                    "digits_tanh-digits-dyadic_t2e-4-adam-e1-s0-from-digits_tanh-digits-dense-adam-e2-s0"]
    again = dyadic_accuracy_table(**kwargs)  # finished runs are read, not retrained: same numbers
    assert again.equals(table)


def test_power_of_two_layer_float_and_dyadic_differ_only_in_mults_versus_shifts():
    # weights that are exact (signed) powers of two other than 1 and a 2x2 average pool: the dyadic form keeps
    # every value, so a multiplication by a weight becomes one shift, and dividing by 4 is a shift in both
    conv = nn.Conv2d(2, 3, 3, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([0.5, -0.25, 2.0, -0.125])[torch.randint(0, 4, conv.weight.shape)])
        conv.bias.copy_(torch.tensor([0.5, -1.0, 0.25]))
    model = nn.Sequential(conv, nn.AvgPool2d(2))
    float_counts = strict_profile(model, input_shape=(1, 2, 8, 8)).total()
    dyadic = approximate(model, "t1e-4", activations=None, fold_bn=False)
    dyadic_counts = strict_profile(dyadic, input_shape=(1, 2, 8, 8)).total()
    assert float_counts["mults"] == 3 * 36 * 18 and dyadic_counts["mults"] == 0
    assert float_counts["shifts"] == 3 * 9  # the pool's divisions by 4
    assert dyadic_counts["shifts"] == float_counts["shifts"] + float_counts["mults"]
    # K = 18 taps: 17 adds + 1 bias per output in both; the pool: 3 adds per output in both
    for kind in ("adds", "compares", "other_ops"):
        assert float_counts[kind] == dyadic_counts[kind], kind


def test_layers_left_multiplying_are_listed_with_why_or_dropped():
    from estimator.reports import approximation_rows

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.LocalResponseNorm(5), nn.Conv2d(8, 4, 3))
    kept = approximation_rows(model, ("t2e-4",), (1, 3, 12, 12), "horowitz45", 8, per_layer=False)
    row = kept.set_index("variant").loc["dyadic:t2e-4"]
    assert row["mults"] > 0 and row["mults_left_in"].startswith("LocalResponseNorm: squares its inputs")
    assert 0 < row["weight_error"] < 0.1
    dropped = approximation_rows(model, ("t2e-4",), (1, 3, 12, 12), "horowitz45", 8, per_layer=False, lrn="drop")
    row = dropped.set_index("variant").loc["dyadic:t2e-4"]
    assert row["mults"] == 0 and row["mults_left_in"] == ""
    # the table says what was done to LRN at each level (the report: --drop-lrn dropped it without a word)
    assert list(dropped["lrn"]) == ["kept", "dropped"] and list(kept["lrn"]) == ["kept", "kept"]


def test_a_budget_is_part_of_the_variant_name():
    # the report: budgets existed only as Python arguments; now a variant names them (and round-trips)
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, bias=False)
    variant = Variant.parse("dyadic:t3e-6:b10terms")
    assert variant.name == "dyadic:t3e-6:b10terms" and variant.budget == DyadicBudget(10, "terms", "filter")
    assert Variant.parse("dyadic:t2:b300adds_layer").name == "dyadic:t2e-8:b300adds_layer"
    approx = variant.apply(nn.Sequential(conv))
    terms, _ = csd_digits(approx[0].weight.detach().double().numpy().reshape(8, -1))
    assert (terms.sum(axis=1) <= 10).all()  # at most 10 CSD terms in each of the 8 filters
    unbudgeted, _ = csd_digits(Variant.parse("dyadic:t3e-6").apply(nn.Sequential(conv))[0].weight.detach()
                               .double().numpy().reshape(8, -1))
    assert (unbudgeted.sum(axis=1) > 10).all()  # the budget binds
    with pytest.raises(VariantError, match="dyadic:t3e-6:b10"):
        Variant.parse("dyadic:t3e-6:b10")


def test_a_sweep_file_with_a_budgeted_dyadic_variant_runs_end_to_end(tmp_path, capsys):
    from concurrent.futures import ThreadPoolExecutor

    from estimator.cli import main
    from estimator.plan import parse_spec
    from estimator.sweep import sweep

    spec = parse_spec({"sweep": {"models": [{"name": "digits_cnn", "width": 8}],
                                 "variants": ["dyadic:t2e-4", "dyadic:t2e-4:b12terms"], "data": "digits",
                                 "epochs": 1, "runs_dir": str(tmp_path / "runs")}})
    table = sweep(spec, executor=ThreadPoolExecutor(1)).set_index("variant")
    assert table["test_top1"].notna().all() and (table["mults"] == 0).all()
    # 12 terms per filter of 8 x 9 = 72 weights leave fewer shift-adds than 2 terms per weight
    assert table.loc["dyadic:t2e-4:b12terms", "shifts"] < table.loc["dyadic:t2e-4", "shifts"]
    assert main(["energy", "digits_cnn", "--variant", "dyadic:t3e-8:b24terms"]) == 0
    assert "uJ" in capsys.readouterr().out


EXACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "scaled": lambda x: 1.7159 * torch.tanh(2 * x / 3)}


@pytest.mark.parametrize("option,module,exact,error,per_element", [
    # (option, the exact module replaced, its exact function, max error on [-10, 10], (mults, adds, shifts, compares))
    ("asg", nn.Sigmoid, "sigmoid", 0.0189, (0, 2, 1, 1)),
    ("asg", nn.Tanh, "tanh", 0.0379, (0, 3, 3, 1)),
    ("linear", nn.Sigmoid, "sigmoid", 0.1192, (0, 1, 1, 2)),  # clamp(x/4 + 1/2): worst at |x| = 2
    ("linear", nn.Tanh, "tanh", 0.2384, (0, 0, 0, 2)),  # clamp(x, -1, 1): worst at |x| = 1, 1 - tanh(1)
    ("quadratic", nn.Sigmoid, "sigmoid", 0.0216, (1, 2, 2, 3)),  # x|x| is a product of two signals
    ("quadratic", nn.Tanh, "tanh", 0.0432, (1, 3, 4, 3)),
    ("scaled_tanh", ScaledTanh, "scaled", 0.0639, (0, 7, 9, 4)),  # 1.71875 PLAN-tanh(0.65625 x)
])
def test_activation_approximations_have_their_stated_error_and_cost(option, module, exact, error, per_element):
    model = approximate(nn.Sequential(module()), "t2e-4", activations=option)
    x = torch.arange(-100_000, 100_001, dtype=torch.float64) / 10_000  # [-10, 10] in steps of 1e-4
    with torch.no_grad():
        assert round((model(x) - EXACT[exact](x)).abs().max().item(), 4) == error
    totals = profile(model, input_shape=(1, 10)).total()
    # ten elements: ten times the per-element cost
    assert tuple(totals[k] for k in ("mults", "adds", "shifts", "compares")) == tuple(10 * c for c in per_element)
    # the straight-through gradient is the approximation's own slope, near the exact one at x = 0.3
    x = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    model(x).sum().backward()
    exact_slope = torch.func.grad(EXACT[exact])(torch.tensor(0.3, dtype=torch.float64))
    assert abs(x.grad[0].item() - exact_slope.item()) < 0.1
