"""Activation densities: measured on real inputs, given to meta profiles, carried to the layer table."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from estimator import profile
from estimator.cli import main
from estimator.workload import layer_table
from hwmodels.errors import UserError
from hwmodels.layers import LayerTableError, validate


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 1))


def test_real_input_densities_are_counted_by_hand():
    model = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
    x = torch.tensor([[-1.0, 2.0, 0.0, 3.0], [4.0, -5.0, -6.0, 7.0]])
    prof = profile(model, x)
    # ReLU: input 7 non-zeros of 8; output max(x, 0) keeps 2, 3, 4, 7: 4 of 8
    assert prof.layers.loc["0", ["input_density", "output_density"]].tolist() == [7 / 8, 4 / 8]
    # Linear reads the ReLU's output (4 of 8); its 4 outputs are non-zero
    assert prof.layers.loc["1", "input_density"] == 4 / 8
    assert prof.density_source == "measured" and "measured on the real input" in prof.to_table()
    # counting the non-zeros is not model work: the counts equal the meta profile's
    assert prof.total().equals(profile(model, input_shape=(2, 4)).total())


def test_a_large_activation_is_measured_on_a_sample_within_its_error():
    from estimator.counting.densities import EXACT_UP_TO, SAMPLE

    torch.manual_seed(0)
    x = torch.ones(1, 2_000_000)
    x[0, torch.randperm(2_000_000)[:600_000]] = 0.0  # exactly 70% non-zero
    prof = profile(nn.Sequential(nn.ReLU()), x)
    # 65,536 of the 2 x 10^6 elements sampled: standard error sqrt(0.7 x 0.3 / 65,536) = 0.18%; 4 sigma = 0.72%
    assert SAMPLE == 65_536 < EXACT_UP_TO < 2_000_000
    assert prof.layers.loc["0", "input_density"] == pytest.approx(0.7, abs=0.0072)
    assert "random sample" in prof.to_table()
    # the seeded draw, walked in increasing order (a faster gather): the same sample, so the same estimate
    from estimator.counting.densities import sample_positions

    drawn = torch.randint(2_000_000, (SAMPLE,), generator=torch.Generator().manual_seed(2_000_000))
    assert torch.equal(sample_positions(2_000_000, "cpu"), drawn.sort().values)
    assert prof.layers.loc["0", "input_density"] == float(x[0, drawn].bool().sum()) / SAMPLE


def test_views_of_one_tensor_share_its_count_until_it_changes():
    from estimator.counting.densities import NonzeroCounter, elements_key

    counter = NonzeroCounter()
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])  # 3 non-zeros of 6
    views = [x.t(), x.view(3, 2), x.permute(1, 0).unsqueeze(0), x.detach()]
    assert {elements_key(v) for v in views} == {elements_key(x)}  # the same 6 elements of one storage
    assert elements_key(x[:, :2]) != elements_key(x)  # a slice is other elements
    assert elements_key(x.expand(2, 2, 3))[0] == "tensor"  # repeats elements: keyed by the tensor itself
    assert [counter.nonzeros(t) for t in (x, *views)] == [3.0] * 5
    x.t().relu_()  # in place through a view: nothing changes its values here, but the version moves...
    x.view(-1)[0] = 5.0  # ...and now 4 non-zeros: every view sees it
    assert counter.nonzeros(x.t()) == 4.0 and counter.nonzeros(x) == 4.0
    # the non-contiguous slice is counted on its own elements: x[:, :2] is [[5, 1], [0, 0]], 2 non-zeros
    assert counter.nonzeros(x[:, :2]) == 2.0
    # an expanded tensor repeats elements: each counted (x[0] = [5, 1, 2] twice: 6 non-zeros)
    assert counter.nonzeros(x[0].expand(2, 3)) == 6.0


def test_a_freed_tensor_lends_its_count_to_no_tensor_at_its_address():
    from estimator.counting.densities import NonzeroCounter, elements_key

    counter, addresses = NonzeroCounter(), []
    for ones in range(1, 7):  # a new tensor each time, with 10 x ones non-zeros of 100,000
        t = torch.zeros(100_000)
        t[:10 * ones] = 1.0
        addresses.append(elements_key(t)[1])
        assert counter.nonzeros(t) == 10.0 * ones
        del t
    assert len(set(addresses)) < len(addresses)  # the allocator did hand a freed block to a later tensor


def test_a_large_permuted_activation_is_sampled_over_its_block():
    from estimator.counting.densities import SAMPLE, NonzeroCounter, sample_positions

    torch.manual_seed(0)
    base = torch.ones(2_000_000)
    base[torch.randperm(2_000_000)[:600_000]] = 0.0
    permuted = base.view(1000, 2000).t()  # not contiguous, the same 2 x 10^6 elements
    picked = base.index_select(0, sample_positions(2_000_000, "cpu"))
    # the sample is drawn over the block in storage order: the estimate of the contiguous tensor
    assert NonzeroCounter().nonzeros(permuted) == float(picked.bool().sum()) * 2_000_000 / SAMPLE


def test_meta_with_a_saved_table_equals_the_real_profile_on_every_column(tmp_path):
    model, x = small_net(), torch.randn(3, 2, 5, 5)
    real = profile(model, x, backward=True)
    assert 0.3 < real.layers.loc["1", "output_density"] < 0.7  # ReLU of a zero-mean input: about half
    real.save_densities(tmp_path / "d.csv")
    meta = profile(model, input_shape=(3, 2, 5, 5), backward=True, densities=tmp_path / "d.csv")
    pd.testing.assert_frame_equal(real.layers, meta.layers)  # the floats round-trip through the file exactly
    assert meta.density_source == "given"


def test_meta_without_densities_is_dense_and_says_so():
    prof = profile(small_net(), input_shape=(1, 2, 5, 5))
    assert (prof.layers[["input_density", "output_density"]] == 1.0).all().all()
    assert "not measured (meta input)" in prof.to_table() and prof.density_source == "dense"


def test_a_model_without_relu_zeros_is_dense_and_says_so():
    prof = profile(nn.Sequential(nn.Linear(4, 8), nn.GELU()), torch.randn(2, 4))
    assert (prof.layers[["input_density", "output_density"]] == 1.0).all().all()  # GELU gives no exact zeros
    assert "no ReLU-like zeros" in prof.to_table()


def test_given_densities_one_number_or_a_mapping():
    every = profile(small_net(), input_shape=(1, 2, 5, 5), densities=0.25)
    assert (every.layers[["input_density", "output_density"]] == 0.25).all().all()
    some = profile(small_net(), input_shape=(1, 2, 5, 5), densities={"2": 0.4, "1": {"output": 0.5}})
    assert some.layers.loc["2", ["input_density", "output_density"]].tolist() == [0.4, 1.0]
    assert some.layers.loc["1", ["input_density", "output_density"]].tolist() == [1.0, 0.5]
    assert some.layers.loc["0", "input_density"] == 1.0  # not given: dense


@pytest.mark.parametrize("densities, message", [
    (1.5, "densities: 1.5; expected a fraction of non-zero elements, 0 to 1"),
    ({"3": 0.5}, "densities: no layer '3' in the model"),
    ({"conv": 0.5}, "no layer 'conv'"),
    ({"1": "half"}, "densities of layer '1': 'half'; expected a fraction"),
    ("missing.csv", "densities file 'missing.csv' does not exist"),
    (pd.DataFrame({"name": ["1"], "input_density": [0.5]}), "column 'output_density' is missing"),
])
def test_bad_densities_fail_in_one_line_before_the_run(densities, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        profile(small_net(), input_shape=(1, 2, 5, 5), densities=densities)
    assert "\n" not in str(error.value)


def test_rolled_up_densities_are_averaged_over_elements():
    model = nn.Sequential(nn.Sequential(nn.ReLU(), nn.Linear(4, 2), nn.ReLU()))
    x = torch.tensor([[-1.0, 2.0, 0.0, 3.0], [4.0, -5.0, -6.0, 7.0]])
    prof = profile(model, x)
    assert prof.layers.loc["0.2", "input_density"] == 1.0  # the Linear's 4 outputs: random weights, no zeros
    # the block "0" has no row of its own (no work, no parameters); its rows read 8 elements (7 non-zero), 8 (4)
    # and 4 (4): (7 + 4 + 4) / (8 + 8 + 4) = 0.75 (the plain mean of 7/8, 4/8 and 1 would be 0.79)
    assert prof.rolled_up(1).loc["0", "input_density"] == 15 / 20


def test_layer_table_carries_the_densities_and_its_contract_bounds_them():
    model = small_net()
    real = profile(model, torch.randn(2, 2, 5, 5))
    table = layer_table(real)
    second = table[table["name"] == "2"].iloc[0]
    assert second["input_density"] == real.layers.loc["2", "input_density"] < 1.0
    checked = validate(table)
    assert checked["input_density"].dtype == float
    with pytest.raises(LayerTableError, match="column 'input_density' has 1.5 in row '0'; expected a non-negative "
                                              "number at most 1"):
        validate(table.assign(input_density=1.5))


def test_cli_takes_a_densities_file(capsys, tmp_path):
    (tmp_path / "d.csv").write_text("name,input_density,output_density\nc2,0.5,0.25\n")
    assert main(["profile", "cff", "--format", "csv", "--densities", str(tmp_path / "d.csv")]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), index_col="name")
    assert table.loc["c2", ["input_density", "output_density"]].tolist() == [0.5, 0.25]
    assert table.loc["c1", "input_density"] == 1.0
