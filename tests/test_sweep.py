"""Sweeps: analytical points, training through executors (process pool, threads, Dask), resume, TOML specs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from estimator import energy, profile
from estimator.cli import main
from estimator.models import create
from estimator.sweep import SweepSpec, load_spec, sweep
from estimator.variants import apply_variant


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that remembers what it was asked to run."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.submitted = []

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(args[0])
        return super().submit(fn, *args, **kwargs)


class Killed(Exception):
    pass


def test_analytical_sweep_reprices_one_profile_per_variant():
    spec = SweepSpec(["digits_cnn"], ["dense", "PS2_P6"], hardware={"weight_bits": [4, 8], "buffer_kib": [1, 64]})
    table = sweep(spec)
    assert len(table) == 2 * 2 * 2
    assert {"model", "variant", "weight_bits", "buffer_kib", "macs", "nz_macs", "mults", "shifts", "params",
            "dram_reads", "sram_writes", "dram_pj", "energy_uj", "latency_s", "utilization"} <= set(table.columns)
    assert "test_top1" not in table  # nothing trained
    direct = energy(profile(apply_variant(create("digits_cnn"), "PS2_P6"), input_shape=(1, 1, 8, 8)),
                    weight_bits=8, buffer_kib=64).summary.loc[0, "energy_pj"]
    row = table[(table.variant == "PS2_P6") & (table.weight_bits == 8) & (table.buffer_kib == 64)]
    assert row["energy_pj"].item() == pytest.approx(direct)


def test_killed_sweep_resumes_computing_only_missing_points(tmp_path):
    spec = SweepSpec(["digits_tanh"], ["dense", "PS2_P6", "PS4_P4"], data="digits", epochs=1,
                     runs_dir=str(tmp_path / "runs"))
    out = tmp_path / "results.csv"
    messages = []

    def die_after_first_point(message):
        messages.append(message)
        if "test top-1" in message:
            raise Killed

    with pytest.raises(Killed):
        sweep(spec, out=out, executor=ThreadPoolExecutor(1), progress=die_after_first_point)
    first = pd.read_csv(out)
    assert first["point"].nunique() == 1  # the finished point was saved at once
    executor = CountingExecutor()
    table = sweep(spec, out=out, executor=executor)
    assert len(executor.submitted) == 2 and first["variant"].iloc[0] not in {p.variant for p in executor.submitted}
    assert sorted(table["variant"]) == ["PS2_P6", "PS4_P4", "dense"] and table["test_top1"].notna().all()
    assert pd.read_csv(out)["point"].nunique() == 3


def test_dyadic_points_start_from_the_trained_dense_model(tmp_path):
    spec = SweepSpec(["digits_tanh"], ["dyadic:t2e-4"], data="digits", epochs=2, runs_dir=str(tmp_path))
    executor = CountingExecutor()
    table = sweep(spec, executor=executor)
    assert [p.variant for p in executor.submitted] == ["dense", "dyadic:t2e-4"]  # prerequisite, then the point
    assert list(table["variant"]) == ["dyadic:t2e-4"]
    assert table["mults"].item() == 0 and table["test_top1_approximated"].item() > 50


def test_dask_local_cluster_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        spec = SweepSpec(["digits_tanh"], ["dense", "PS1_P9"], data="digits", epochs=1, runs_dir=str(tmp_path))
        table = sweep(spec, executor=client.get_executor())
    assert sorted(table["variant"]) == ["PS1_P9", "dense"] and table["test_top1"].notna().all()


SPEC = """
[sweep]
models = ["digits_cnn"]
variants = ["dense", "PS1_P9"]
[hardware]
weight_bits = [8, 16]
dataflow = ["ws", "os"]
"""


def test_toml_spec_and_cli(tmp_path, capsys):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    spec = load_spec(path)
    assert spec.variants == ["dense", "PS1_P9"] and spec.hardware["dataflow"] == ["ws", "os"]
    out = tmp_path / "r.csv"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 2 * 2 * 2
    path.write_text(SPEC.replace("variants", "variantz"))
    assert main(["sweep", str(path)]) == 2
    assert "unknown key(s) variantz" in capsys.readouterr().err


def test_pareto_cli(tmp_path, capsys):
    results = pd.DataFrame({"model": ["a", "a"], "variant": ["dense", "PS2_P6"], "energy_uj": [2.0, 1.0],
                            "test_top1": [99.0, 98.0]})
    results.to_csv(tmp_path / "r.csv", index=False)
    assert main(["pareto", str(tmp_path / "r.csv"), "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert "PS2_P6" in capsys.readouterr().out
