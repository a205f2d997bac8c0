"""The demo (the README's main job): trains, prices and plots; files appear; a second run reuses results."""

from __future__ import annotations

import pandas as pd

from estimator.cli import main
from estimator.demo import DEMO_BASELINES, DEMO_VARIANTS


def test_demo_writes_results_and_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "2", "--workers", "2"]) == 0
    captured = capsys.readouterr()
    for name in ("results.csv", "pareto.png", "breakdown.png"):
        assert (out / name).stat().st_size > 1000, name
    results = pd.read_csv(out / "results.csv")
    assert set(results.variant) == set(DEMO_VARIANTS)
    assert set(DEMO_BASELINES) <= set(results.model)
    assert results.test_top1.notna().all() and (results.test_top1 > 20).all()  # trained, better than chance
    assert (results[results.variant.str.startswith("dyadic:")].mults == 0).all()
    assert "Pareto front" in captured.out and "PS1_P9" in captured.out
    assert main(["demo", "--out", str(out), "--epochs", "2"]) == 0
    assert "10 points, 10 already in" in capsys.readouterr().err
