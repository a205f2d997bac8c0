"""Sweeps: the three workflows, executors (process pool, threads, Dask), resume from the store, TOML specs."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from estimator import energy, profile
from estimator.cli import main
from estimator.models import create
from estimator.plan import ModelChoice, SpecError, SweepSpec, parse_spec
from estimator.store import ResultStore
from estimator.sweep import sweep
from estimator.variants import Variant, apply_variant


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that remembers which points it was asked to train."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.submitted = []

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(args[0])
        return super().submit(fn, *args, **kwargs)


def spec_of(models, variants, **settings) -> SweepSpec:
    return SweepSpec(tuple(ModelChoice(m) for m in models), tuple(Variant.parse(v) for v in variants), **settings)


def test_analytical_sweep_prices_every_configuration_like_a_direct_call():
    spec = spec_of(["digits_cnn"], ["dense", "PS2_P6"], hardware={"weight_bits": [4, 8], "buffer_kib": [1, 64]})
    table = sweep(spec)
    assert len(table) == 2 * 2 * 2
    assert {"point", "model", "variant", "variant_kind", "workflow", "weight_bits", "buffer_kib", "macs", "nz_macs",
            "mults", "shifts", "params", "dram_reads", "sram_writes", "dram_pj", "tier_dram_pj", "memory_pj",
            "arithmetic_pj", "energy_uj", "latency_s", "utilization"} <= set(table.columns)
    assert "test_top1" not in table and set(table["workflow"]) == {"analytical"}  # nothing trained
    direct = energy(profile(apply_variant(create("digits_cnn"), "PS2_P6"), input_shape=(1, 1, 8, 8)),
                    weight_bits=8, buffer_kib=64).summary.loc[0, "energy_pj"]
    row = table[(table.variant == "PS2_P6") & (table.weight_bits == 8) & (table.buffer_kib == 64)]
    assert row["energy_pj"].item() == pytest.approx(direct)


def test_model_options_are_part_of_the_point():
    spec = parse_spec({"sweep": {"models": [{"name": "digits_cnn", "width": 8}, "digits_cnn"]}})
    table = sweep(spec)
    assert list(table["model"]) == ["digits_cnn(width=8)", "digits_cnn"]
    # width 8 vs the default 32: the 3x3 convolutions' MACs scale with in x out channels
    assert table.loc[0, "macs"] < table.loc[1, "macs"] / 4


def test_store_resume_trains_only_missing_points(tmp_path):
    spec = spec_of(["digits_tanh"], ["dense", "PS2_P6", "PS4_P4"], data="digits", epochs=1,
                   runs_dir=str(tmp_path / "runs"))
    store = tmp_path / "results.sqlite"
    first = sweep(spec_of(["digits_tanh"], ["PS2_P6"], data="digits", epochs=1, runs_dir=str(tmp_path / "runs")),
                  store, executor=ThreadPoolExecutor(1))
    executor = CountingExecutor()
    table = sweep(spec, store, executor=executor)
    assert sorted(p.variant.name for p in executor.submitted) == ["PS4_P4", "dense"]  # PS2_P6 was stored
    assert list(table["variant"]) == ["dense", "PS2_P6", "PS4_P4"] and table["test_top1"].notna().all()
    assert table.loc[1, "test_top1"] == first["test_top1"].item()


def test_dyadic_points_start_from_the_trained_dense_model(tmp_path):
    spec = spec_of(["digits_tanh"], ["dyadic:t2e-4"], data="digits", epochs=2, runs_dir=str(tmp_path))
    executor = CountingExecutor()
    table = sweep(spec, executor=executor)
    assert [p.variant.name for p in executor.submitted] == ["dense", "dyadic:t2e-4"]  # the source, then the point
    assert list(table["variant"]) == ["dyadic:t2e-4"] and list(table["workflow"]) == ["approximated"]
    assert table["mults"].item() == 0 and table["test_top1_approximated"].item() > 50
    runs = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))  # .locks: the run locks
    assert runs == ["digits_tanh-digits-dense-adam-e2-s0"]  # one naming scheme


def test_dask_local_cluster_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        spec = spec_of(["digits_tanh"], ["dense", "PS1_P9"], data="digits", epochs=1, runs_dir=str(tmp_path))
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


def test_toml_spec_through_the_command_line_with_exports(tmp_path, capsys):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    store, csv, parquet = tmp_path / "r.sqlite", tmp_path / "r.csv", tmp_path / "r.parquet"
    assert main(["sweep", str(path), "--out", str(store), "--export", str(csv)]) == 0
    assert "2 points, 8 rows" in capsys.readouterr().out
    exported = pd.read_csv(csv)
    assert len(exported) == 2 * 2 * 2 and set(exported["dataflow"]) == {"ws", "os"}
    pytest.importorskip("pyarrow")
    assert main(["sweep", str(path), "--out", str(store), "--export", str(parquet)]) == 0
    with ResultStore(store) as stored:
        pd.testing.assert_frame_equal(pd.read_parquet(parquet), stored.table(), check_dtype=False)


def test_pareto_command_reads_the_store(tmp_path, capsys):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.replace("[hardware]", "[hardware]\nhw = [\"horowitz45\", \"eyeriss65\"]\nmac_energy_pj = "
                                 "0.2").replace("dataflow = [\"ws\", \"os\"]", ""))
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.sqlite")]) == 0
    capsys.readouterr()
    code = main(["pareto", str(tmp_path / "r.sqlite"), "--y", "params", "--out", str(tmp_path / "p.png")])
    assert code == 0 and (tmp_path / "p.png").stat().st_size > 1000
    assert "horowitz45" in capsys.readouterr().out


def test_a_changed_hardware_table_prices_the_new_configurations_and_returns_no_stale_row(tmp_path):
    # The scenario of the report: a store filled at horowitz45 8-bit, then the same sweep with weight_bits [4, 8]
    # on os45 into the same store. Every row returned (and exported) must be of the new grid.
    store = tmp_path / "results.sqlite"
    first = sweep(spec_of(["digits_cnn"], ["dense", "PS2_P6"], hardware={"weight_bits": 8}), store)
    assert set(first["hw"]) == {"horowitz45"} and set(first["weight_bits"]) == {8}
    second = sweep(spec_of(["digits_cnn"], ["dense", "PS2_P6"], hardware={"weight_bits": [4, 8], "hw": "os45"}),
                   store, export=tmp_path / "out.csv")
    assert len(second) == 2 * 2 and set(second["hw"]) == {"os45"} and sorted(set(second["weight_bits"])) == [4, 8]
    exported = pd.read_csv(tmp_path / "out.csv")
    assert set(exported["hw"]) == {"os45"} and len(exported) == 4
    # the first grid's points are still in the store, under their own identity
    again = sweep(spec_of(["digits_cnn"], ["dense", "PS2_P6"], hardware={"weight_bits": 8}), store)
    pd.testing.assert_frame_equal(again[first.columns], first)


def test_an_edited_hardware_file_is_a_new_configuration(tmp_path):
    from tests.hardware_files import HANDCHIP

    chip = tmp_path / "chip.toml"
    chip.write_text(HANDCHIP)
    store = tmp_path / "results.sqlite"
    before = sweep(spec_of(["digits_cnn"], ["dense"], hardware={"hw": str(chip)}), store)
    chip.write_text(HANDCHIP.replace("read_energy_pj = 64.0", "read_energy_pj = 640.0"))
    after = sweep(spec_of(["digits_cnn"], ["dense"], hardware={"hw": str(chip)}), store)
    assert after["dram_pj"].item() > before["dram_pj"].item()  # priced anew, not read from the store


def test_concurrent_sweeps_differing_only_in_weight_bits_each_export_their_own_rows(tmp_path):
    store = tmp_path / "results.sqlite"
    specs = {bits: spec_of(["digits_cnn"], ["dense", "PS2_P6", "PS4_P4"], hardware={"weight_bits": bits})
             for bits in (4, 8)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {bits: pool.submit(sweep, spec, store, export=tmp_path / f"b{bits}.csv")
                   for bits, spec in specs.items()}
        tables = {bits: f.result() for bits, f in futures.items()}
    for bits in (4, 8):
        exported = pd.read_csv(tmp_path / f"b{bits}.csv")
        assert set(tables[bits]["weight_bits"]) == {bits} and set(exported["weight_bits"]) == {bits}
        assert len(exported) == 3


def test_a_sweep_states_its_size_and_refuses_a_huge_one_without_yes(tmp_path, capsys):
    # the report's case: 1e5 seeds started without a word
    spec = tmp_path / "huge.toml"
    spec.write_text('[sweep]\nmodels = ["digits_cnn"]\ndata = "digits"\nseeds = [' + ", ".join(map(str, range(600)))
                    + f']\nruns_dir = "{tmp_path / "runs"}"\n[hardware]\nweight_bits = [4, 8]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "r.sqlite")]) == 2
    err = capsys.readouterr().err
    # 600 seeds x 1 variant = 600 points, x 2 configurations = 1,200 rows; 600 trainings of 15 epochs
    assert "600 points x 2 hardware configurations = 1,200 rows; 600 training runs (9,000 epochs in all)" in err
    assert "600 trainings (bound 500); pass --yes" in err
    assert not (tmp_path / "r.sqlite").exists() and not (tmp_path / "runs").exists()


FACTORY = ("from torch import nn\n"
           "def make(num_classes=10, width=4):\n"
           "    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),\n"
           "                         nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Flatten(),\n"
           "                         nn.Linear(width * 64, num_classes))\n")


def test_a_sweep_file_can_name_a_factory_file(tmp_path):
    # the report's item 9: a sweep file could not name a file.py:factory model
    path = tmp_path / "net.py"
    path.write_text(FACTORY)
    spec = parse_spec({"sweep": {"models": [{"name": f"{path}:make", "width": 2, "input": [1, 1, 8, 8]}],
                                 "variants": ["dense", "PS2_P6"]}})
    table = sweep(spec)
    # dense, 8x8 outputs: conv 1 -> 2 channels 2 * 9 * 64 = 1,152 MACs; conv 2 -> 2: 2 * 2 * 9 * 64 = 2,304;
    # linear 128 -> 10: 1,280
    assert list(table["model"]) == [f"{path}:make(width=2)"] * 2
    assert table.loc[0, "macs"] == 1152 + 2304 + 1280
    # PS2_P6 keeps 2 of each 3x3 kernel's 9 weights in every conv but the first: 2 * 2 * 2 * 64 = 512 non-zero MACs
    assert table.loc[1, "nz_macs"] == 1152 + 512 + 1280
    first = spec.points()[0].key
    path.write_text(FACTORY + "# edited\n")
    edited = parse_spec({"sweep": {"models": [{"name": f"{path}:make", "width": 2, "input": [1, 1, 8, 8]}]}})
    assert edited.points()[0].key != first  # an edited factory file is another model


def test_a_factory_file_trains_in_a_sweep_and_its_run_names_the_file_version(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(FACTORY)
    spec = parse_spec({"sweep": {"models": [f"{path}:make"], "data": "digits", "epochs": 1,
                                 "runs_dir": str(tmp_path / "runs")}})
    table = sweep(spec, executor=ThreadPoolExecutor(1))
    # width 4: 4 * 9 * 64 + 4 * 4 * 9 * 64 + 4 * 64 * 10 MACs
    assert table["test_top1"].notna().all() and table.loc[0, "macs"] == 2304 + 9216 + 2560
    (run,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert run.name.startswith("net.make-") and "-digits-dense-adam-e1-s0" in run.name


@pytest.mark.parametrize("model,message", [
    ("{tmp}/absent.py:make", "model file '{tmp}/absent.py' does not exist"),
    ("{tmp}/net.py", "needs a factory: path/to/file.py:factory"),
    ("{tmp}/net.py:make", "is a factory file, which has no registered input shape; expected a table"),
])
def test_a_bad_factory_reference_in_a_sweep_file_is_one_line(tmp_path, model, message):
    (tmp_path / "net.py").write_text(FACTORY)
    with pytest.raises(SpecError, match=re.escape(message.replace("{tmp}", str(tmp_path)))):
        parse_spec({"sweep": {"models": [model.replace("{tmp}", str(tmp_path))]}}, "s.toml")


def test_a_model_option_that_empties_a_layer_is_one_line(tmp_path, capsys):
    # the report's item 8: width 0 ended as "internal error" (an IndexError in BatchNorm, after the size announcement)
    path = tmp_path / "w0.toml"
    path.write_text('[sweep]\nmodels = [{name = "digits_cnn", width = 0}]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("estimator sweep: error: model digits_cnn(width=0) has an empty parameter features.0.weight of "
                   "shape (0, 1, 3, 3); expected every size >= 1 (a factory option such as width = 0?)")


def test_the_readmes_sweep_example_runs_end_to_end_with_every_width_measured(tmp_path, capsys):
    # the README's example as a user copies it, made cheaper only where the result's shape does not depend on it:
    # one seed instead of two, 2 epochs instead of 8, 1 fine-tuning epoch instead of 2, its runs under tmp_path
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Sweep files"):]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    cheaper = {"seeds = [0, 1]": "seeds = [0]", "epochs = 8": "epochs = 2", "finetune_epochs = 2":
               "finetune_epochs = 1", 'runs_dir = "runs"': f'runs_dir = "{tmp_path / "runs"}"'}
    for old, new in cheaper.items():
        assert old in example, old
        example = example.replace(old, new)
    (tmp_path / "spec.toml").write_text(example)
    exported = tmp_path / "results.csv"
    assert main(["sweep", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "r.sqlite"), "--export",
                 str(exported), "--workers", "2"]) == 0
    capsys.readouterr()
    table = pd.read_csv(exported)
    # 2 models x 4 variants + 1 baseline = 9 trained points, each priced at 2 weight widths x 3 buffers: 54 rows
    assert len(table) == 54 and table["point"].nunique() == 9
    assert table["test_top1"].notna().all()
    masked = table[table["variant"].isin(["PS2_P6", "PSD1_P8"])]
    assert len(masked) == 2 * 2 * 2 * 3
    # each width's accuracy is measured at that width (post-training quantisation of the trained masked model)
    assert (masked["test_top1_at"] == "ptq-w" + masked["weight_bits"].astype(str) + "a8-cal256").all()
    assert (masked.groupby(["model", "variant", "weight_bits"])["test_top1"].nunique() == 1).all()  # per buffer size
