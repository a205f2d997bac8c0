"""Sweep files are checked whole before any work: every mistake is one line naming the file, the table and the key,
a non-zero exit, no training, and no torch import (which is what keeps the check under a second; the time itself is
measured by benchmarks/cli_startup.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from estimator.plan import SWEEP_KEYS, TABLES, SpecError, load_spec, parse_spec

GOOD = {"sweep": {"models": ["digits_cnn"], "variants": ["dense", "PS2_P6"], "data": "digits", "epochs": 1},
        "hardware": {"weight_bits": [4, 8]}}

CASES = {
    "mistyped table": ({"hardwre": {"weight_bits": 4}}, None,
                       "table [hardwre] is unknown; did you mean [hardware]?"),
    "mistyped sweep key": ({"sweep": {"variantz": ["dense"]}}, None,
                           "[sweep] key 'variantz' is unknown; did you mean 'variants'?"),
    "mistyped hardware key": ({"hardware": {"weight_bitz": 4}}, None,
                              "[hardware] unknown pricing parameter 'weight_bitz'; did you mean weight_bits?"),
    "impossible variant": ({"sweep": {"variants": ["dense", "PS2_P66"]}}, None,
                           "[sweep] variants: variant 'PS2_P66': PS2 cycles 6 patterns, so its period is P6"),
    "unknown model": ({"sweep": {"models": ["digits_cnm"]}}, None,
                      "[sweep] models: unknown model 'digits_cnm'; did you mean digits_cnn"),
    "unknown dataset": ({"sweep": {"data": "cifar100"}}, None,
                        "[sweep] data: unknown dataset 'cifar100'; did you mean cifar10?"),
    "missing data folder": ({"sweep": {"data": "mnist", "data_dir": "{tmp}/nowhere"}}, None,
                            "[sweep] data: dataset folder {tmp}/nowhere does not exist"),
    "wrong type": ({"sweep": {"epochs": "ten"}}, None, "[sweep] epochs = 'ten'; expected an integer >= 1"),
    "out of range": ({"sweep": {"seeds": [0, -1]}}, None, "[sweep] seeds = -1; expected an integer >= 0"),
    "bad hardware value": ({"hardware": {"dataflow": "diagonal"}}, None,
                           "[hardware] pricing parameter dataflow: got 'diagonal'; expected one of native, ws"),
    "unwritable output": ({}, "{tmp}/missing/results.sqlite",
                          "results store {tmp}/missing/results.sqlite: folder {tmp}/missing does not exist"),
    "output is a folder": ({}, "{tmp}", "results store {tmp} is a folder; expected a file path"),
}


def to_toml(tables: dict) -> str:
    lines = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


RUNNER = """
import json, sys
from estimator.cli import main
results = {}
for name, argv in json.loads(sys.argv[1]).items():
    code = main(argv)
    results[name] = [code, "torch" in sys.modules]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case run through the command line in one fresh interpreter (stderr captured per case)."""
    tmp = tmp_path_factory.mktemp("specs")
    commands, expected = {}, {}
    for name, (change, out, message) in CASES.items():
        tables = {t: dict(v) for t, v in GOOD.items()}
        for table, keys in change.items():
            tables.setdefault(table, {}).update({k: v.replace("{tmp}", str(tmp)) if isinstance(v, str) else v
                                                  for k, v in keys.items()})
        path = tmp / f"{name.replace(' ', '_')}.toml"
        path.write_text(to_toml(tables))
        commands[name] = ["sweep", str(path), "--out", (out or "{tmp}/r.sqlite").replace("{tmp}", str(tmp))]
        expected[name] = (path, message.replace("{tmp}", str(tmp)))
    results = {}
    for name, argv in commands.items():  # one interpreter per case: torch must not be imported by any of them
        done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps({name: argv})], capture_output=True,
                              text=True, timeout=120)
        code, torch_loaded = json.loads(done.stdout.strip().splitlines()[-1])[name]
        results[name] = (code, torch_loaded, done.stderr, *expected[name])
    return tmp, results


@pytest.mark.parametrize("case", list(CASES))
def test_bad_spec_fails_first_in_one_line(outcomes, case):
    tmp, results = outcomes
    code, torch_loaded, err, path, message = results[case]
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    if "output" not in case:
        assert str(path) in err  # names the file
    assert not torch_loaded  # failed before anything heavy was imported, so before any training
    assert not (tmp / "runs").exists()


def test_good_spec_parses_to_typed_values():
    spec = parse_spec(GOOD, "good.toml")
    assert [v.name for v in spec.variants] == ["dense", "PS2_P6"] and spec.variants[1].kind == "periodic"
    assert spec.hardware == {"weight_bits": [4, 8]} and spec.epochs == 1
    assert [p.workflow for p in spec.points()] == ["trained", "trained"]
    with pytest.raises(SpecError, match=r"good.toml: no \[sweep\] table"):
        parse_spec({"hardware": {}}, "good.toml")


def test_binary_sweep_file_is_one_line(tmp_path, capsys):
    from estimator.cli import main

    path = tmp_path / "spec.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not a TOML file" in err and len(err.strip().splitlines()) == 1


def test_readme_documents_every_key_with_a_complete_example(tmp_path):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Sweep files"):]
    section = section[:section.index("\n## ", 4)]
    for key in SWEEP_KEYS:
        assert f"`{key.name}`" in section, key.name
    for table in TABLES:
        assert f"[{table}]" in section
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    (tmp_path / "example.toml").write_text(example)
    spec = load_spec(tmp_path / "example.toml")  # the example is complete and valid
    assert all(f"{key.name} =" in example for key in SWEEP_KEYS if key.name != "data_dir")
    assert len(spec.points()) > 1
