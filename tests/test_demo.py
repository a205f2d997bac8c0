"""The demo (the README's main job): trains, prices and plots a real trade-off; files appear; a second run reuses
the finished points."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from estimator.cli import main
from estimator.demo import DEMO_SPEC, DEMO_VARIANTS, run_demo

README = Path(__file__).parent.parent / "README.md"


def test_demo_front_shows_a_trade_off_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    summary = run_demo(out, workers=2, progress=False)
    plot = summary.attrs["plot"]
    (front,) = plot.fronts.values()  # one hardware configuration: one front
    spread = front["test_top1"].max() - front["test_top1"].min()
    assert len(front) >= 4 and spread >= 5.0, front[["model", "variant", "energy_uj", "test_top1"]]
    # the front is non-dominated and ordered: energy and accuracy both rise along it
    assert front["energy_uj"].is_monotonic_increasing and front["test_top1"].is_monotonic_increasing
    # the README's figure and numbers are the demo's (docs/pareto.png is its pareto.png, regenerated)
    stated = re.search(r"\((\d+) points on the front, from ([\d.]+)% at ([\d.]+) uJ to ([\d.]+)% at ([\d.]+) uJ",
                       README.read_text())
    assert stated, "the README no longer states the demo's front"
    count, low_acc, low_energy, high_acc, high_energy = stated.groups()
    assert int(count) == len(front)
    assert (float(low_acc), float(low_energy)) == (round(front["test_top1"].iloc[0], 1),
                                                   round(front["energy_uj"].iloc[0], 2))
    assert (float(high_acc), float(high_energy)) == (round(front["test_top1"].iloc[-1], 1),
                                                     round(front["energy_uj"].iloc[-1], 2))
    for name in ("results.sqlite", "results.csv", "pareto.png", "breakdown.png"):
        assert (out / name).stat().st_size > 1000, name
    results = pd.read_csv(out / "results.csv")
    points = len(DEMO_SPEC.points())
    assert results["point"].nunique() == points == len(DEMO_SPEC.models) * len(DEMO_VARIANTS) + 2
    assert set(results.variant) == set(DEMO_VARIANTS)
    assert (results.loc[results.role == "baseline", "variant"] == "dense").all()
    assert results.test_top1.notna().all() and (results.test_top1 > 20).all()  # trained, better than chance
    assert (results.loc[results.variant.str.startswith("dyadic:"), "mults"] == 0).all()
    assert results.loc[results.variant.str.startswith("dyadic:"), "test_top1_approximated"].notna().all()
    # the command resumes: every point is read from the store, nothing retrained
    assert main(["demo", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"{points}/{points}" in captured.err and "Pareto front" in captured.out

