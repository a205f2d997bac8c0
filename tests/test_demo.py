"""The demo (the README's main job): trains, prices and plots a real trade-off; files appear; a second run reuses
the finished points."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from estimator.cli import main
from estimator.demo import DEMO_SPEC, DEMO_VARIANTS, run_demo
from tests.figure_text import overlaps

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
    # Training is reproducible on one machine but not bit-identical across CPU types (their math kernels round
    # differently): two machines of this project's kind gave PS1_P9's accuracy as 75.3% and 75.8%, and 8 and 7
    # points on the front. The README states one machine's run; energies, which depend only on the masks and
    # widths, must match to the printed digit, accuracies within a point, the front's length within one.
    assert abs(int(count) - len(front)) <= 1
    assert float(low_energy) == round(front["energy_uj"].iloc[0], 2)
    assert float(high_energy) == round(front["energy_uj"].iloc[-1], 2)
    assert abs(float(low_acc) - front["test_top1"].iloc[0]) <= 1.0
    assert abs(float(high_acc) - front["test_top1"].iloc[-1]) <= 1.0
    # and so is its breakdown: memory's share at batch 1 and at batch 32, and the energy per image of both
    stated = re.search(r"memory \((\d+)% of the dense model's energy at batch 1.*?(\d+)% at batch (\d+) \(([\d.]+)"
                       r"\s+uJ\s+per\s+image\s+instead\s+of\s+([\d.]+)\)", README.read_text(), re.S)
    assert stated, "the README no longer states the demo's breakdown"
    splits = summary.attrs["breakdown"].splits
    shares = 100 * splits["memory_pj"] / splits.sum(axis=1)
    assert [int(stated[1]), int(stated[2])] == [round(shares.iloc[0]), round(shares.iloc[1])]
    assert splits.index[1] == f"batch {stated[3]}"
    assert [float(stated[4]), float(stated[5])] == list((splits.sum(axis=1) / 1e6).round(2).iloc[[1, 0]])
    for name in ("results.sqlite", "results.csv", "pareto.png", "breakdown.png"):
        assert (out / name).stat().st_size > 1000, name
    # both figures as written: no two texts (ticks, point labels, legends, titles, axis labels) overlap
    assert overlaps(plot.figure) == [] and overlaps(summary.attrs["breakdown"].figure) == []
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

