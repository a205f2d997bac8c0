"""Pareto fronts on hand-made sets, and the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimator.pareto import pareto_front
from estimator.plots import plot_breakdown, plot_heatmap, plot_pareto


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
    with pytest.raises(KeyError, match="no column"):
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
                         "energy_uj": [10.0, 4.0, 8.0, 6.0], "test_top1": [99.0, 98.5, 98.9, 97.0],
                         "density": [1.0, 0.22, 1.0, 1.0], "weight_bits": [8, 8, 8, 8]})


@pytest.mark.parametrize("suffix,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_pareto_plot_files(tmp_path, results, suffix, magic):
    out = tmp_path / f"pareto.{suffix}"
    fig = plot_pareto(results, out, baselines=["mobilenetv2_digits"], title="t")
    assert out.read_bytes().startswith(magic)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "mobilenetv2" in labels and "PS2_P6" in labels and "t2e-4" in labels
    front_line = fig.axes[0].lines[0]
    assert list(front_line.get_xdata()) == [4.0, 8.0, 10.0]  # PS2_P6, t2e-4, dense form the front


def test_breakdown_and_heatmap(tmp_path, results):
    layers = pd.DataFrame({"name": ["conv1", "bn", "fc"], "energy_pj": [3.0, 0.0, 1.0], "dram_pj": [2.0, 0.0, 1.0],
                           "mult_pj": [1.0, 0.0, 0.0]})
    fig = plot_breakdown(layers, tmp_path / "b.png")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["conv1", "fc"]  # no-energy layers dropped
    assert (tmp_path / "b.png").stat().st_size > 1000
    fig = plot_heatmap(results, tmp_path / "h.png", x="density", y="weight_bits")
    assert len(fig.axes[0].texts) == 2  # two density values at one width
