"""The hardware file's format is declared once (hwmodels/file_format.py): the reader, its one-line errors and the
README's table all follow the declaration, and a key added there alone is read, checked and documented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hwmodels
from hwmodels import HardwareFileError, load
from hwmodels.file_format import TABLES, markdown_table
from hwmodels.parameters import MAX_CLOCK_MHZ
from tests.hardware_files import HANDCHIP

PACKAGE = Path(hwmodels.__file__).parent


def test_the_readme_shows_the_declared_format():
    readme = (PACKAGE.parent / "README.md").read_text()
    assert markdown_table() in readme  # regenerate with hwmodels.file_format.markdown_table()


def test_every_key_the_presets_write_is_declared():
    # every [[level]], [array], ... key in the shipped presets appears in the declaration (the reader would refuse
    # an undeclared one, so this holds by loading them; the count says the declaration is the whole format)
    declared = {(t.name, k.name) for t in TABLES for k in t.keys}
    assert ("level", "compression") in declared and ("array", "fill") in declared and ("order", "groups") in declared
    for preset in ("horowitz45", "eyeriss65", "os45", "tpu_like"):
        hwmodels.get(preset)
    assert len(declared) == sum(len(t.keys) for t in TABLES)  # no key declared twice in one table


def test_a_key_added_in_the_declaration_alone_is_read_checked_and_documented(tmp_path):
    # A copy of the package with one edit: [model] gains an optional text key "vendor". The reader accepts it,
    # refuses a wrong type naming the field and the key's own help, lists it among the known fields, and the
    # README's table has its row.
    copy = tmp_path / "hwmodels"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / "file_format.py"
    text = source.read_text()
    anchor = '    Key("clock_mhz", "number", "clock frequency, MHz", above=0, maximum=MAX_CLOCK_MHZ),\n'
    assert anchor in text
    source.write_text(text.replace(anchor, anchor + '    Key("vendor", "text", "who makes the chip", ""),\n'))
    good, bad, typo = (tmp_path / f"{name}.toml" for name in ("good", "bad", "typo"))
    good.write_text(HANDCHIP.replace('clock_mhz = 100\n', 'clock_mhz = 100\nvendor = "acme"\n', 1))
    bad.write_text(HANDCHIP.replace('clock_mhz = 100\n', 'clock_mhz = 100\nvendor = 3\n', 1))
    typo.write_text(HANDCHIP.replace('clock_mhz = 100\n', 'clock_mhz = 100\nvendr = "acme"\n', 1))
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import hwmodels
from hwmodels.file_format import markdown_table
assert hwmodels.__file__.startswith({str(tmp_path)!r})
print(hwmodels.load({str(good)!r}).name)
for path in ({str(bad)!r}, {str(typo)!r}):
    try:
        hwmodels.load(path)
    except hwmodels.HardwareFileError as exc:
        print(str(exc).split(": ", 1)[1])
print('| `model.vendor` | text | `""` | who makes the chip |' in markdown_table())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    name, wrong_type, unknown, documented = out.stdout.strip().splitlines()
    assert name == "handchip"
    assert wrong_type == "model.vendor: got 3; expected a text: who makes the chip"
    assert unknown.startswith("model.vendr: got 'vendr'; expected one of the fields ") and "vendor" in unknown
    assert documented == "True"


@pytest.mark.parametrize("old, new, message", [
    # bounds come from the declaration: clock above 0 and at most MAX_CLOCK_MHZ, finite
    ("clock_mhz = 100", "clock_mhz = 0", "model.clock_mhz: got 0; expected a number above 0 and at most"),
    ("clock_mhz = 100", f"clock_mhz = {MAX_CLOCK_MHZ * 2:g}", f"model.clock_mhz: got {MAX_CLOCK_MHZ * 2:g}"),
    ("clock_mhz = 100", "clock_mhz = nan", "model.clock_mhz: got nan"),
    ("word_bits = 8\n", "word_bits = 0\n", "level[0].word_bits: got 0; expected an integer above 0"),
    ("word_bits = 8\n", "word_bits = true\n", "level[0].word_bits: got True; expected an integer"),
    ('name = "handchip"\n', "", "model.name: missing; expected a text: the hardware's name"),
    ('unroll = ["K", "C"]\n', 'unroll = ["K", "C"]\nfill = "twice"\n', "array.fill: got 'twice'; expected once or "
                                                                        "per_fold"),
    ("\n[model]", "sparsity = 3\n[model]", "sparsity: got 3; expected a [sparsity] table"),
])
def test_declared_bounds_and_types_fail_in_one_line(tmp_path, old, new, message):
    assert old in HANDCHIP
    path = tmp_path / "chip.toml"
    path.write_text(HANDCHIP.replace(old, new, 1))
    with pytest.raises(HardwareFileError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)
    assert "\n" not in str(error.value)


def test_declared_defaults_are_the_loaded_values(tmp_path):
    # HANDCHIP gives neither min_bits nor bandwidth_bits nor a [sparsity] table: word_bits fills both, and the
    # declared sparsity default (skip zero weights, gate nothing) is what the model carries
    path = tmp_path / "chip.toml"
    path.write_text(HANDCHIP)
    chip = load(path)
    rf = chip.level("rf_w")
    assert rf.min_bits == rf.word_bits == 8 and rf.ports[0].bandwidth_bits == 8.0
    assert chip.sparsity.skip == {"W"} and chip.sparsity.gate == frozenset()
    assert chip.array.fill == "once" and chip.order is None
