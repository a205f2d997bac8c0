"""Pareto fronts on hand-made sets, and the figures."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from estimator.pareto import pareto_front
from estimator.plots import STYLE, draw_pareto, plot_breakdown, plot_heatmap, plot_pareto
from hwmodels.errors import UserError


def test_front_of_a_hand_made_set():
    df = pd.DataFrame({"energy": [1, 2, 3, 2, 5], "acc": [90, 95, 94, 80, 99]}, index=list("abcde"))
    # c (3, 94) is dominated by b (2, 95); d (2, 80) by b; a, b, e trade off
    assert list(pareto_front(df, minimize=["energy"], maximize=["acc"]).index) == ["a", "b", "e"]


def test_ties_and_duplicates_stay_on_the_front():
    df = pd.DataFrame({"energy": [1, 1, 1, 2], "acc": [90, 90, 85, 95]})
    # rows 0 and 1 are identical: neither dominates the other; row 2 ties on energy but is worse
    assert list(pareto_front(df, minimize=["energy"], maximize=["acc"]).index) == [0, 1, 3]


def test_three_objectives_and_missing_values():
    df = pd.DataFrame({"e": [1, 2, 2, np.nan], "lat": [3, 1, 2, 0], "acc": [90, 90, 90, 99]})
    # row 2 is dominated by row 1 (same e and acc, higher latency); row 3 has no energy
    assert list(pareto_front(df, minimize=["e", "lat"], maximize=["acc"]).index) == [0, 1]


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one column"):
        pareto_front(pd.DataFrame({"a": [1]}))
    with pytest.raises(UserError, match="no column"):
        pareto_front(pd.DataFrame({"a": [1]}), minimize=["b"])


def test_large_set_matches_brute_force():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.random(1500), "y": rng.random(1500)})
    front = set(pareto_front(df, minimize=["x"], maximize=["y"]).index)
    brute = {i for i in df.index if not ((df.x <= df.x[i]) & (df.y >= df.y[i])
                                         & ((df.x < df.x[i]) | (df.y > df.y[i]))).any()}
    assert front == brute


@pytest.fixture
def results():
    return pd.DataFrame({"model": ["cnn", "cnn", "cnn", "mobilenetv2_digits"],
                         "variant": ["dense", "PS2_P6", "dyadic:t2e-4", "dense"],
                         "role": ["variant", "variant", "variant", "baseline"],
                         "energy_uj": [10.0, 4.0, 8.0, 6.0], "test_top1": [99.0, 98.5, 98.9, 97.0],
                         "density": [1.0, 0.22, 1.0, 1.0], "weight_bits": [8, 8, 8, 8], "hw": ["horowitz45"] * 4,
                         "act_bits": [8] * 4, "data": ["digits"] * 4})


@pytest.mark.parametrize("suffix,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_pareto_plot_files(tmp_path, results, suffix, magic):
    out = tmp_path / f"pareto.{suffix}"
    plot = plot_pareto(results, out, group_by="hardware")
    assert out.read_bytes().startswith(magic)
    assert list(plot.points["label"]) == ["cnn", "cnn PS2_P6", "cnn t2e-4", "mobilenetv2_digits"]
    (front,) = plot.fronts.values()
    assert list(front["variant"]) == ["PS2_P6", "dyadic:t2e-4", "dense"]  # the baseline (6, 97) is dominated
    title = plot.figure.axes[0].get_title(loc="left")
    assert title == ("test accuracy vs energy per inference · data: digits · hardware: horowitz45 · 8-bit weights, "
                     "8-bit activations")


def grid_results(seed: int) -> pd.DataFrame:
    """2 models x 2 hardware configurations x 5 variants with random energy and accuracy."""
    rng = np.random.default_rng(seed)
    rows = [{"model": model, "variant": variant, "hw": hw, "weight_bits": 8, "act_bits": 8, "data": "digits",
             "energy_uj": rng.uniform(1, 10), "test_top1": rng.uniform(90, 99)}
            for model in ("digits_cnn", "resnet18_cifar") for hw in ("horowitz45", "eyeriss65")
            for variant in ("dense", "PS4_P4", "PS2_P6", "PS1_P9", "dyadic:t2e-4")]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(3))
def test_two_models_on_two_hardware_configurations_draw_four_fronts(seed):
    table = grid_results(seed)
    plot = plot_pareto(table)  # default: a front per model family and hardware configuration
    assert len(plot.fronts) == 4
    for name, front in plot.fronts.items():
        model, hw = name.split(" · ")
        members = table[(table.model == model) & (table.hw == hw)]
        assert set(front.index) == set(pareto_front(members, minimize=["energy_uj"], maximize=["test_top1"]).index)
    assert all(row.model in row.label for row in plot.points.itertuples())  # every label names its model
    assert plot.points.groupby("group")["label"].apply(lambda labels: labels.is_unique).all()
    boxes = [Bbox.from_extents(*box) for box in plot.points["label_box"]]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])  # labels never collide
    # every marker is drawn exactly at its values (read back from the figure's own scatter artists)
    assert np.array_equal(plot.points["marker_x"].to_numpy(), table["energy_uj"].to_numpy())
    assert np.array_equal(plot.points["marker_y"].to_numpy(), table["test_top1"].to_numpy())


def test_crowded_and_coincident_points_keep_their_markers_and_move_their_labels():
    # the report's case: a 99.44% point was drawn at 100.11% to avoid its neighbours
    table = pd.DataFrame({"model": ["a", "b", "c", "d"], "variant": ["dense"] * 4,
                          "energy_uj": [2.0, 2.0, 2.01, 2.02], "test_top1": [99.44, 99.44, 99.45, 99.43]})
    plot = plot_pareto(table, group_by="none")
    drawn = np.concatenate([c.get_offsets() for c in plot.figure.axes[0].collections if len(c.get_offsets())])
    assert sorted(map(tuple, drawn)) == sorted(zip(table["energy_uj"], table["test_top1"], strict=True))
    assert (plot.points["marker_y"] <= 100).all()
    boxes = [Bbox.from_extents(*box) for box in plot.points["label_box"]]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])  # every label readable
    assert len(plot.fronts["all points"]) == 3  # equal points do not dominate each other; d is dominated


def test_axis_titles_follow_the_plotted_columns():
    table = grid_results(0).assign(latency_s=lambda t: t["energy_uj"] / 1e3, params_kept=1000)
    plot = plot_pareto(table, x="latency_s", y="test_top1")
    ax = plot.figure.axes[0]
    assert ax.get_xlabel() == "latency per inference (s, estimate)" and ax.get_ylabel() == "test accuracy (%)"
    assert ax.get_title(loc="left").startswith("test accuracy vs latency per inference · ")
    assert plot_pareto(table, x="energy_uj", y="params_kept").figure.axes[0].get_ylabel() == "params kept"


def test_families_are_model_and_options_and_labels_carry_the_width_where_it_varies():
    table = pd.DataFrame({"model": ["digits_cnn(width=8)", "digits_cnn(width=32)"] * 2,
                          "variant": ["dense"] * 4, "weight_bits": [4, 4, 8, 8], "hw": ["horowitz45"] * 4,
                          "energy_uj": [1.0, 2.0, 1.5, 2.5], "test_top1": [90.0, 95.0, 91.0, 96.0]})
    plot = plot_pareto(table, group_by="model")
    assert sorted(plot.fronts) == ["digits_cnn(width=32)", "digits_cnn(width=8)"]  # two families, not one
    none = plot_pareto(table, group_by="none")
    assert list(none.points["label"]) == ["digits_cnn(width=8) w4", "digits_cnn(width=32) w4",
                                          "digits_cnn(width=8) w8", "digits_cnn(width=32) w8"]


def test_breakdown_separates_memory_from_arithmetic(tmp_path):
    layers = pd.DataFrame({"name": ["conv1", "bn", "fc"], "energy_pj": [6.0, 0.0, 2.0],
                           "tier_dram_pj": [2.0, 0.0, 1.0], "tier_rf_pj": [1.0, 0.0, 0.5],
                           "mac_pj": [3.0, 0.0, 0.0], "add_pj": [0.0, 0.0, 0.5]})
    plot = plot_breakdown(layers, tmp_path / "b.png")
    ax, share = plot.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "fc"]  # no-energy layers dropped
    assert list(plot.points["memory_pj"]) == [3.0, 1.5] and list(plot.points["arithmetic_pj"]) == [3.0, 0.5]
    # memory 4.5 of 8 pJ: 56%, arithmetic 44%
    assert {t.get_text() for t in share.texts} == {"memory\n56%", "arithmetic\n44%"}
    assert (tmp_path / "b.png").stat().st_size > 1000


def test_heatmap(tmp_path, results):
    plot = plot_heatmap(results, tmp_path / "h.png", x="density", y="weight_bits")
    assert len(plot.figure.axes[0].texts) == 2  # two density values at one width


def test_breakdown_names_layers_groups_small_ones_and_prices_a_second_case():
    # the report: raw module paths as labels, 8 invisible bars, and a conclusion drawn from batch 1 alone
    layers = pd.DataFrame({"name": ["conv1", "relu", "conv2", "fc"], "type": ["Conv2d", "ReLU", "Conv2d", "Linear"],
                           "energy_pj": [500.0, 1.0, 400.0, 2.0], "tier_dram_pj": [300.0, 0.0, 200.0, 2.0],
                           "tier_rf_pj": [100.0, 1.0, 100.0, 0.0], "mac_pj": [100.0, 0.0, 99.0, 0.0],
                           "add_pj": [0.0, 0.0, 1.0, 0.0]})
    batched = layers.assign(tier_dram_pj=layers["tier_dram_pj"] / 10, energy_pj=layers["energy_pj"] - 450)
    plot = plot_breakdown(layers, label="batch 1", cases={"batch 10": batched}, note="the weights fit on chip")
    ax, share = plot.figure.axes
    # relu (1 pJ) and fc (2 pJ) are under 1% of conv1's 500 pJ: one bar of the two, at the end
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1 (Conv2d)", "conv2 (Conv2d)", "2 smaller layers"]
    # add (1 pJ) is under 0.5% of the 903 pJ total: it is drawn as the arithmetic "other" series, not alone
    assert ax.get_legend_handles_labels()[1] == ["memory: dram", "memory: rf", "arithmetic: mac",
                                                 "arithmetic: add (each < 0.5%)"]
    # the split of each pricing: batch 1 memory 502 + 201 = 703 pJ, arithmetic 200; batch 10 dram / 10: 50.2 + 201
    assert plot.splits.loc["batch 1"].tolist() == [703.0, 200.0]
    assert plot.splits.loc["batch 10"].tolist() == pytest.approx([251.2, 200.0])
    assert [t.get_text().split("\n")[0] for t in share.get_xticklabels()] == ["batch 1", "batch 10"]
    assert any("the weights fit on chip" in t.get_text() for t in ax.texts)


def tick_label_boxes(figure) -> list:
    """The drawn, non-empty x tick labels of every axes, as display boxes (the figure rendered first)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [[t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
            for ax in figure.axes]


@pytest.mark.parametrize("low,high", [(400, 6000), (0.2, 50), (1000, 1900), (3, 3.5e5)])
def test_log_axis_tick_labels_never_run_together(low, high):
    # the report's case: "3000" and "4000" drawn into one another ("30004000") on an axis spanning 400-6000
    energies = np.geomspace(low, high, 9)
    table = pd.DataFrame({"model": [f"m{i}" for i in range(9)], "variant": ["dense"] * 9, "energy_uj": energies,
                          "test_top1": np.linspace(80, 95, 9)})
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(4.0, 3.0))  # a narrow panel, as in the two-panel figures
        plot = draw_pareto(figure.subplots(), table, group_by="none")
        (boxes,) = tick_label_boxes(plot.figure)
    assert len(boxes) >= 2  # the axis is labelled
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), [
        t.get_text() for t in plot.figure.axes[0].get_xticklabels()]


def test_a_front_of_one_point_is_drawn_as_a_ring_not_an_empty_line():
    # the report's case: the comparison figure's legend listed a front that was not drawn (a step line through one
    # point is empty); (1 uJ, 95%) dominates the other two points
    table = pd.DataFrame({"model": ["a", "b", "c"], "variant": ["dense"] * 3, "energy_uj": [1.0, 2.0, 3.0],
                          "test_top1": [95.0, 90.0, 94.0]})
    plot = plot_pareto(table, group_by="none")
    ax = plot.figure.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Pareto front (one point)" in labels and "Pareto front" not in labels
    rings = [c for c in ax.collections if len(c.get_offsets()) and c.get_label() == "Pareto front (one point)"]
    assert len(rings) == 1 and rings[0].get_offsets().tolist() == [[1.0, 95.0]]
