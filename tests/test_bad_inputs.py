"""Bad inputs that used to crash, run late or give a silent wrong answer: each is now one line (exit 2) before any
work, or, where the input is legitimate, a priced answer."""

from __future__ import annotations

import math
import time

import pytest
from torch import nn

from estimator import energy, profile
from estimator.cli import main
from tests.hardware_files import DRAM_ONLY

HOROWITZ = (__import__("pathlib").Path(__file__).parent.parent / "hwmodels" / "presets" / "horowitz45.toml").read_text()


def one_line_error(capsys, *argv) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_deeply_nested_toml_file_is_refused(tmp_path, capsys):
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"  # Python's TOML reader recurses once per level
    (tmp_path / "hw.toml").write_text(deep)
    (tmp_path / "sweep.toml").write_text(deep)
    assert "nested too deeply" in one_line_error(capsys, "energy", "digits_cnn", "--hw", str(tmp_path / "hw.toml"))
    assert "nested too deeply" in one_line_error(capsys, "sweep", str(tmp_path / "sweep.toml"))


@pytest.mark.parametrize("old,new,message", [
    ("clock_mhz = 1000", "clock_mhz = inf", "model.clock_mhz: got inf; expected a number above 0 and at most"),
    ("sizes = [16, 16]", "sizes = [100000, 100000]", "array.sizes: got [100000, 100000]; expected 2 integers from 1"),
])
def test_hardware_file_numbers_are_bounded(tmp_path, capsys, old, new, message):
    path = tmp_path / "hw.toml"
    assert old in HOROWITZ
    path.write_text(HOROWITZ.replace(old, new))
    assert message in one_line_error(capsys, "energy", "digits_cnn", "--hw", str(path))


def test_a_hardware_file_whose_mac_costs_nothing_is_refused(tmp_path, capsys):
    # every energy_mac16 figure divides by the 16-bit MAC's energy: 0 printed "nan x a 16-bit MAC"
    text = "\n".join("energy_pj = 0.0" if line.startswith("energy_pj") else line for line in HOROWITZ.splitlines())
    (tmp_path / "hw.toml").write_text(text)
    assert "compute (mac): got 0; expected a 16-bit MAC of positive energy" in one_line_error(
        capsys, "energy", "digits_cnn", "--hw", str(tmp_path / "hw.toml"))


@pytest.mark.parametrize("option,value,message", [
    ("--buffer-kib", "1e308", "buffer_kib: got 1e+308; expected at most 1,073,741,824"),
    ("--pe-rows", "100000", "pe_rows: got 100000; expected at most 16,384"),
    ("--clock-mhz", "1e9", "clock_mhz: got 1000000000.0; expected at most 100,000"),
    ("--mapping", "map.yaml", "a mapping file (map.yaml) applies to a ZigZag accelerator YAML, not to the preset"),
])
def test_pricing_parameters_out_of_range_or_inapplicable(capsys, option, value, message):
    assert message in one_line_error(capsys, "energy", "digits_cnn", option, value)


@pytest.mark.parametrize("config,message", [
    ({"hw": ["horowitz45", "horowitz45"]}, "pricing parameter hw: 'horowitz45' is listed twice"),
    ({"weight_bits": [8, 4, 8]}, "pricing parameter weight_bits: 8 is listed twice"),
])
def test_a_value_listed_twice_is_refused_not_priced_twice(config, message):
    prof = profile(nn.Conv2d(2, 3, 1), input_shape=(1, 2, 2, 2))
    with pytest.raises(ValueError, match=message):
        energy(prof, **config)


def test_the_first_value_listed_twice_is_found_among_many_and_among_objects():
    import hwmodels
    from hwmodels.grid import first_repeat

    # 12,500 buffer sizes (a sweep's axis) checked in one pass: the repeat at the end is found, none before it
    sizes = [float(v) for v in range(1, 12_501)]
    assert first_repeat(sizes) is None and first_repeat([*sizes, 7.0]) == (7.0,)
    assert first_repeat([1, True]) == (True,)  # equal values, as == says (1 == True), whatever their type
    model = hwmodels.get("horowitz45")  # a hardware description given as an object: not hashable, compared pairwise
    assert first_repeat(["tpu_like", model, model]) == (model,) and first_repeat(["tpu_like", model]) is None


def test_a_hardware_file_with_dram_as_its_only_level_prices(tmp_path):
    # the MAC reads every operand from DRAM: at least the compulsory traffic, W 3 x 2 = 6 and I 2 x 4 = 8 words read,
    # the 3 x 4 = 12 outputs written; it has nothing for buffer_kib to resize
    sram, dram = DRAM_ONLY.index('[[level]]\nname = "sram"'), DRAM_ONLY.index('[[level]]\nname = "dram"')
    text = DRAM_ONLY[:sram] + DRAM_ONLY[dram:]
    path = tmp_path / "dram.toml"
    path.write_text(text)
    prof = profile(nn.Conv2d(2, 3, 1, bias=False), input_shape=(1, 2, 2, 2))
    table = energy(prof, str(path), interlayer="dram", zero_skipping=False)
    dram = table.levels.groupby("operand")[["reads", "writes"]].sum()
    assert dram.loc["W", "reads"] >= 6 and dram.loc["I", "reads"] >= 8 and dram.loc["O", "writes"] >= 12
    assert math.isfinite(table.summary["energy_pj"].iloc[0]) and table.summary["energy_pj"].iloc[0] > 0
    with pytest.raises(ValueError, match="buffer_kib: hardware 'dramonly' has no on-chip level to resize"):
        energy(prof, str(path), buffer_kib=64)


def test_a_figure_path_without_a_figure_format_is_refused_first(tmp_path, capsys):
    assert "p.xyz: expected a figure file ending in .png, .svg, .pdf" in one_line_error(
        capsys, "pareto", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "p.xyz"))


def test_a_runs_folder_that_cannot_be_made_fails_before_training(tmp_path, capsys):
    # the report's case: /proc is a folder that access() calls writable, yet nothing can be made in it
    spec = tmp_path / "sweep.toml"
    spec.write_text('[sweep]\nmodels = ["digits_cnn"]\nvariants = ["dense"]\ndata = "digits"\nepochs = 1\n'
                    'runs_dir = "/proc/estimator-runs"\n')
    start = time.monotonic()
    code = main(["sweep", str(spec), "--out", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err.strip().splitlines()  # the sweep's size first, then the error
    assert code == 2 and "Traceback" not in "".join(err)
    assert "cannot be made" in err[-1] or "not a writable folder" in err[-1]  # as root, or not
    assert time.monotonic() - start < 20  # before any training (it used to fail after 24 s)
