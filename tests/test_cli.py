"""The command line: outputs, and one clear line (no traceback) for every user error."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from estimator.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_profile_table_has_total_and_flops_note(capsys):
    code, out, err = run(capsys, "profile", "resnet18_cifar", "--depth", "1")
    assert code == 0
    assert "TOTAL" in out and "11,173,962" in out and "555,422,720" in out
    assert "FLOPs = 2 x MACs" in out


def test_profile_csv_and_json_outputs(capsys, tmp_path):
    out_file = tmp_path / "p.csv"
    code, _, err = run(capsys, "profile", "digits_cnn", "--format", "csv", "--out", str(out_file))
    assert code == 0 and f"wrote {out_file}" in err
    frame = pd.read_csv(out_file, index_col="name")
    assert frame["params"].sum() == 65_834
    code, out, _ = run(capsys, "profile", "digits_cnn", "--format", "json", "--input", "4,1,8,8")
    document = json.loads(out)  # an object: what was profiled, the totals and the layers
    assert document["model"] == "digits_cnn" and document["input"] == [4, 1, 8, 8]
    records = document["layers"]
    assert records[0]["name"] == "features.0" and records[0]["macs"] == 4 * 32 * 64 * 9
    assert document["totals"]["params"] == 65_834 == sum(r["params"] for r in records)
    assert document["totals"]["flops"] == 2 * document["totals"]["macs"]


def test_backward_and_crosscheck_flags(capsys):
    code, out, _ = run(capsys, "profile", "lenet5_mnist", "--backward", "--crosscheck")
    assert code == 0
    assert "macs_bwd" in out
    assert "0 layer(s) with different conv/linear/matmul MACs" in out


def test_factory_file(capsys, tmp_path):
    path = tmp_path / "net.py"
    path.write_text("import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n")
    code, out, _ = run(capsys, "profile", f"{path}:make", "--input", "3,4")
    assert code == 0 and "24" in out  # 3 rows x 4 x 2 = 24 MACs


@pytest.mark.parametrize("argv,message", [
    (["profile", "resnet18_cifra"], "unknown model 'resnet18_cifra'; did you mean resnet18_cifar"),
    (["profile", "resnet18_cifar", "--input", "1,3,x"], "input shape '1,3,x' is malformed"),
    (["profile", "resnet18_cifar", "--input", "1,5,32,32"], "rejected an input of shape 1,5,32,32"),
    (["profile", "missing.py:make", "--input", "1,3"], "model file 'missing.py' does not exist"),
])
def test_user_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_factory_that_raises(capsys, tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def make():\n    raise RuntimeError('no GPU here')\n")
    code, _, err = run(capsys, "profile", f"{path}:make", "--input", "1,3")
    assert code == 2 and "raised RuntimeError: no GPU here" in err


def test_console_script_is_installed():
    beside_python = Path(sys.executable).parent / "estimator"
    exe = str(beside_python) if beside_python.exists() else shutil.which("estimator")
    assert exe, "the estimator console script is not on PATH"
    result = subprocess.run([exe, "models", "resnet*"], capture_output=True, text=True, check=True)
    assert "resnet18_cifar" in result.stdout


def test_energy_options_are_generated_from_the_parameter_table():
    from estimator.cli import build_parser
    from hwmodels import PARAMETERS

    energy_parser = build_parser()._subparsers._group_actions[0].choices["energy"]
    options = {a.dest for a in energy_parser._actions}
    assert {p.name for p in PARAMETERS} <= options
    assert all(a.default is None for a in energy_parser._actions if a.dest in {p.name for p in PARAMETERS})


def test_energy_table_shows_levels_latency_and_estimates(capsys):
    code, out, _ = run(capsys, "energy", "digits_cnn", "--weight-bits", "4", "--no-zero-skipping",
                       "--interlayer", "dram", "--dataflow", "os")
    assert code == 0
    assert "dram_nj" in out and "rf_w_nj" in out and "cycles" in out and "TOTAL" in out
    assert "latency" in out and "utilization" in out and "EDP" in out
    assert "weight_bits=4" in out and "zero_skipping=False" in out and "interlayer=dram" in out
    assert "Estimates and derived values used" in out and "level dram: write energy taken equal" in out


def test_energy_with_zigzag_files_as_csv(capsys, tmp_path):
    pytest.importorskip("zigzag")
    from estimator.hwcheck import bundled

    accelerator, mapping = bundled("tpu_like")
    out_file = tmp_path / "energy.csv"
    code, _, _ = run(capsys, "energy", "alexnet_imagenet", "--input", "1,3,224,224", "--hw", str(accelerator),
                     "--mapping", str(mapping), "--format", "csv", "--out", str(out_file))
    assert code == 0
    frame = pd.read_csv(out_file)
    assert {"name", "energy_pj", "cycles", "spatial_utilization", "rf_2B_pj", "dram_pj"} <= set(frame.columns)
    assert frame.loc[frame["name"] == "features.0", "spatial_utilization"].item() == pytest.approx(3 / 32)
    code, out, _ = run(capsys, "energy", "digits_cnn", "--hw", str(accelerator), "--mapping", str(mapping),
                       "--format", "csv", "--levels")
    levels = pd.read_csv(__import__("io").StringIO(out))
    assert {"name", "level", "operand", "reads", "writes", "energy_pj"} <= set(levels.columns)


def test_debug_anywhere_on_the_line_shows_the_traceback(capsys):
    from estimator.models import UnknownModelError

    assert main(["profile", "resnet18_cifra"]) == 2
    with pytest.raises(UnknownModelError):
        main(["profile", "resnet18_cifra", "--debug"])
    with pytest.raises(UnknownModelError):
        main(["--debug", "profile", "resnet18_cifra"])


def test_programming_errors_are_not_disguised_as_user_errors(capsys, monkeypatch):
    import estimator.models

    def broken(pattern):  # a bug: a lookup that fails outside any check of the user's input
        return {}["registry"]

    monkeypatch.setattr(estimator.models, "list_models", broken)
    code, _, err = run(capsys, "models", "resnet")
    assert code == 3
    assert "internal error: KeyError: 'registry'" in err and "--debug" in err and len(err.strip().splitlines()) == 1


def test_models_pattern_matches_substrings(capsys):
    code, out, _ = run(capsys, "models", "mobile")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and names == ["mobilenetv2_cifar", "mobilenetv2_digits", "mobilenetv2_imagenet",
                                   "mobilenetv2_tiny"]


def test_train_accepts_a_factory_file(capsys, tmp_path):
    path = tmp_path / "net.py"
    path.write_text("from torch import nn\n"
                    "def make(num_classes=3):\n"
                    "    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))\n")
    code, out, _ = run(capsys, "train", f"{path}:make", "--epochs", "1", "--out", str(tmp_path / "runs"), "--quiet")
    assert code == 0, out
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]  # the run folder names the file's version
    record = json.loads((tmp_path / "runs" / f"net.make-{digest}-digits-dense-adam-e1-s0" / "run.json").read_text())
    assert record["status"] == "finished" and record["params"] == 64 * 10 + 10  # built with the data's 10 classes


def test_help_starts_without_importing_torch():
    script = ("import sys\nfrom estimator.cli import main\n"
              "for argv in (['--help'], ['sweep', '--help'], ['energy', '--help'], ['train', '--help']):\n"
              "    try:\n        main(argv)\n    except SystemExit as done:\n        assert done.code == 0\n"
              "print(sorted(m for m in ('torch', 'pandas', 'numpy', 'matplotlib') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"  # the time is measured by benchmarks/cli_startup.py


@pytest.mark.parametrize("change,message", [
    (lambda text: "\x00\x01binary\xff".encode("latin-1"), "not valid TOML"),
    (lambda text: text + '\n[[compute]]\nformat = "int8"\naction = "mult"\nenergy_pj = 0.2\nsource = "x"\n',
     "got 'a second int8 mult'; expected one row per format and action"),
    (lambda text: text + '\n[[sram_size]]\nsize_kib = 8\nword_bits = 64\nenergy_pj = 11.0\nsource = "x"\n',
     "sram_size[3]: got 'a duplicate'; expected one row per size and word (sram_size[0] already has 8 KiB"),
])
def test_bad_hardware_files_are_one_line(capsys, tmp_path, change, message):
    from hwmodels.registry import PRESETS

    text = (PRESETS / "horowitz45.toml").read_text()
    path = tmp_path / "hw.toml"
    content = change(text)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = run(capsys, "energy", "digits_cnn", "--hw", str(path))
    assert code == 2 and str(path) in err and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["factory", "import"])
def test_a_factory_that_calls_sys_exit_is_an_error_naming_it(capsys, tmp_path, where):
    # the report's case: a factory calling sys.exit(0) ended the tool silently with exit code 0
    path = tmp_path / "net.py"
    body = "import sys\nfrom torch import nn\n"
    body += ("def make():\n    sys.exit(0)\n" if where == "factory"
             else "sys.exit(0)\ndef make():\n    return nn.ReLU()\n")
    path.write_text(body)
    code, _, err = run(capsys, "profile", f"{path}:make", "--input", "1,1,8,8")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "called sys.exit(0)" in err and str(path) in err


@pytest.mark.parametrize("argv,named", [
    (("energy", "digits_cnn", "--num-classes", "-1"), "--num-classes: -1 is below 1"),
    (("energy", "digits_cnn", "--weight-bits", "0"), "weight_bits: got 0; expected a positive number"),
    (("energy", "digits_cnn", "--weight-bits", "4,x"), "--weight-bits: 'x' is not a int"),
    (("train", "digits_cnn", "--workers", "-2"), "--workers: -2 is below 0"),
    (("demo", "--workers", "0"), "--workers: 0 is below 1"),
    (("train", "digits_cnn", "--lr", "nan"), "--lr: nan is not a finite number"),
])
def test_user_mistakes_exit_2_naming_the_option(capsys, argv, named):
    # the report's item 8: these ended as "internal error" (exit 3) or ran with a nonsense value; argparse's own
    # checks exit 2 through SystemExit (with the usage line), the tool's return 2
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    assert named in capsys.readouterr().err


def test_models_matching_nothing_says_so(capsys):
    code, out, err = run(capsys, "models", "zzz")
    assert code == 2 and out == "" and "no registered model matches 'zzz'" in err


@pytest.mark.parametrize("command", [("profile", "digits_cnn"), ("energy", "digits_cnn")])
def test_out_into_a_missing_folder_is_refused_before_any_work(capsys, tmp_path, command):
    out = tmp_path / "missing" / "table.txt"
    code, _, err = run(capsys, *command, "--out", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(out.parent) in err
    assert not out.parent.exists()  # nothing created, no hidden temporary file left


def test_pareto_does_not_create_folders(capsys, tmp_path):
    results = tmp_path / "r.csv"
    results.write_text("model,variant,energy_uj,test_top1\nm,dense,1.0,90.0\n")
    figure = tmp_path / "new" / "front.png"
    code, _, err = run(capsys, "pareto", str(results), "--out", str(figure))
    assert code == 2 and not figure.parent.exists()


def write_checkpoint(path, kind):
    """A checkpoint file of the given damage: truncated halfway, or naming a callable (print) that only
    a full unpickler would call."""
    import torch

    class Runs:
        def __reduce__(self):
            return (print, ("this ran",))

    torch.save({"model": Runs() if kind == "code" else {"w": torch.ones(3)}}, path)
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("kind,message", [
    ("truncated", "is truncated or not a torch checkpoint"),
    ("code", "is refused: it names print, and loading it would run code from the file"),
])
def test_unreadable_checkpoints_exit_2_naming_the_file(capsys, tmp_path, kind, message):
    # the report's item 8: a truncated checkpoint ended as "internal error"; a refused one printed torch's advice
    # to turn weights_only off
    path = tmp_path / "checkpoint.pt"
    write_checkpoint(path, kind)
    code, out, err = run(capsys, "train", "digits_cnn", "--init-from", str(path), "--epochs", "1",
                         "--out", str(tmp_path / "runs"), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and message in err and "weights_only" not in err and "this ran" not in out


def test_a_model_for_other_images_exits_2_before_training(capsys, tmp_path):
    # the report's item 8: a 3-channel model trained on the 1-channel digits ended as "internal error"
    path = tmp_path / "rgb.py"
    path.write_text("from torch import nn\n"
                    "def make(num_classes=10):\n"
                    "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(num_classes))\n")
    code, _, err = run(capsys, "train", f"{path}:make", "--epochs", "1", "--out", str(tmp_path / "runs"), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "cannot run on digits's images of shape (1, 8, 8)" in err and "expected input" in err
    assert not any((tmp_path / "runs").rglob("checkpoint.pt"))


def test_every_user_error_crosses_a_process_boundary_as_itself():
    # the CLI recognises users' mistakes by type, also when a sweep worker raised them: each subclass must pickle
    # back to its own type and message
    import pickle

    import estimator.cli  # noqa: F401  (imports every module defining an error)
    import estimator.counting.capture  # noqa: F401
    import estimator.plan  # noqa: F401
    import estimator.store  # noqa: F401
    import estimator.train  # noqa: F401
    import hwmodels.layers  # noqa: F401
    import hwmodels.model  # noqa: F401
    from hwmodels.errors import UserError

    def subclasses(cls):
        return {cls} | {s for c in cls.__subclasses__() for s in subclasses(c)}

    found = subclasses(UserError)
    assert len(found) >= 15
    for cls in found:
        back = pickle.loads(pickle.dumps(cls("file x.toml: field y; expected z")))
        assert type(back) is cls and str(back) == "file x.toml: field y; expected z"


def test_every_option_has_help_text():
    # the report's item 9: about 25 options had no help text
    import argparse

    from estimator.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {action.option_strings or action.dest}" for name, parser in commands.choices.items()
               for action in parser._actions if not action.help and not isinstance(action, argparse._HelpAction)]
    assert missing == []
