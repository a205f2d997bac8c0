"""The structure of ``hwmodels``: one configuration batch (a parameter is added in two files), bounded parameters,
estimates reported once, no import cycle, and batching that never mixes configurations."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from torch import nn

import hwmodels
from estimator import energy, profile
from estimator.energy import energy_table_text
from estimator.workload import layer_table
from hwmodels.parameters import markdown_table

PACKAGE = Path(hwmodels.__file__).parent


def conv_table() -> pd.DataFrame:
    return layer_table(profile(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3)),
                               input_shape=(1, 3, 12, 12)))


def test_a_parameter_added_in_parameters_and_configs_only(tmp_path):
    # A copy of the package with exactly two files edited: parameters.py declares a factor on the off-chip level's
    # energies, configs.py applies it. Pricing, the grid's checks and the summary follow with no other change.
    copy = tmp_path / "hwmodels"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    parameters = copy / "parameters.py"
    text = parameters.read_text()
    anchor = ')\n"""Every pricing parameter, in the order the grid and the command line list them."""'
    assert anchor in text
    parameters.write_text(text.replace(anchor, '    Parameter("dram_scale", 1.0, float, "factor on DRAM energies"),\n'
                                               + anchor))
    configs = copy / "configs.py"
    text = configs.read_text()
    anchor = "    capacity, read, write, level_notes = level_energies("
    assert anchor in text
    line = text[text.index(anchor):].split("\n")[0]
    scale = ("\n    scale = grid['dram_scale'].to_numpy(dtype=float)\n"
             "    for level in model.levels:\n"
             "        if level.offchip:\n"
             "            read[level.name], write[level.name] = read[level.name] * scale, write[level.name] * scale")
    configs.write_text(text.replace(line, line + scale))
    table = tmp_path / "table.pkl"
    conv_table().to_pickle(table)
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import pandas as pd
import hwmodels
assert hwmodels.__file__.startswith({str(tmp_path)!r})
priced = hwmodels.price(pd.read_pickle({str(table)!r}), hw="horowitz45", dram_scale=[1.0, 2.0], per_layer=False)
s = priced.summary
print(list(s["dram_scale"]), s["dram_pj"].iloc[1] / s["dram_pj"].iloc[0], s["sram_pj"].iloc[1] - s["sram_pj"].iloc[0])
try:
    hwmodels.price(pd.read_pickle({str(table)!r}), dram_scale="x")
except ValueError as exc:
    print(exc)
from estimator.cli import build_parser
from estimator.plan import pricing_identity
from estimator.plots import HARDWARE_COLUMNS
from hwmodels.parameters import markdown_table
energy = build_parser()._subparsers._group_actions[0].choices["energy"].format_help()
print("--dram-scale" in energy, "dram_scale" in HARDWARE_COLUMNS, "| `dram_scale` | `1.0` |" in markdown_table(),
      dict(pricing_identity({{}}))["dram_scale"])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second, derived = out.stdout.strip().splitlines()
    # the column is in the summary, DRAM energy doubles and nothing else moves
    assert first == "[1.0, 2.0] 2.0 0.0"
    assert second.startswith("pricing parameter dram_scale: got 'x'; expected float")
    # and every list of the parameters knows it: the command line's options, the plots' configuration columns,
    # the README's table and a sweep point's identity
    assert derived == "True True True 1.0"


def test_the_readme_lists_every_pricing_parameter_as_declared():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme  # regenerate with hwmodels.parameters.markdown_table()


@pytest.mark.parametrize("value", [13, 40])
def test_loop_factor_limit_above_its_bound_is_a_one_line_error(value):
    with pytest.raises(ValueError) as error:
        hwmodels.price(conv_table(), loop_factor_limit=value)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"pricing parameter loop_factor_limit: got {value}; expected at most 12")


def test_loop_factor_limit_at_its_bound_prices():
    # 12 factors: the first conv's temporal bounds on horowitz45 (K 8, C 3, OY 12, OX 12 over a 16 x 16 array)
    # have fewer prime factors than that, so the limit is inactive and equals the unlimited mapping.
    bounded = hwmodels.price(conv_table(), loop_factor_limit=12, per_layer=False).summary["energy_pj"].iloc[0]
    eight = hwmodels.price(conv_table(), loop_factor_limit=8, per_layer=False).summary["energy_pj"].iloc[0]
    assert bounded == eight


def test_bit_widths_and_infinite_values_are_bounded():
    with pytest.raises(ValueError, match="pricing parameter weight_bits: got 65; expected at most 64"):
        hwmodels.price(conv_table(), weight_bits=65)
    with pytest.raises(ValueError, match="pricing parameter buffer_kib: got inf; expected a finite number"):
        hwmodels.price(conv_table(), buffer_kib=float("inf"))


def test_energy_notes_list_each_estimate_once_marked_estimate():
    # horowitz45's int8 shift energy is a table row flagged estimate (quoted from ShiftAddNet, not verified): it
    # used to print twice, once from the file and once as "(derived)" from the lookup. 16-bit weights also derive
    # the int16 multiply by the width rule.
    table = energy(profile(nn.Sequential(nn.Conv2d(3, 8, 3)), input_shape=(1, 3, 8, 8)), "horowitz45",
                   weight_bits=16, act_bits=16)
    text = energy_table_text(table)
    notes = [line for line in text.splitlines() if line.startswith("  - ")]
    assert len(notes) == len(set(notes))
    shift = [n for n in notes if "compute int8 shift" in n]
    assert len(shift) == 1 and shift[0].endswith("(estimate)")
    mult16 = [n for n in notes if "compute int16 mult" in n]
    assert mult16 == ["  - horowitz45: compute int16 mult: int8 mult x (16/8)^2 (estimate)"]
    assert not any("(derived)" in n for n in notes)


def test_model_source_is_kept(tmp_path):
    from tests.hardware_files import HANDCHIP

    path = tmp_path / "chip.toml"
    path.write_text(HANDCHIP.replace('clock_mhz = 100\n', 'clock_mhz = 100\nsource = "a hand-made chip"\n', 1))
    assert hwmodels.load(path).source == "a hand-made chip"


def module_imports(path: Path) -> set[str]:
    """The hwmodels modules a module imports at its top level (relative imports)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module} if node.module else {a.name for a in node.names}
    return names


def test_hwmodels_has_no_import_cycle():
    graph = {p.stem: module_imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for child in graph.get(node, ()):
            assert state.get(child) != 1, f"import cycle: {' -> '.join(path + [child])}"
            if child not in state:
                visit(child, path + [child])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert "mapping" not in graph and {"nest", "accounting", "mapper", "configs"} <= set(graph)


def test_a_batch_prices_each_configuration_as_alone():
    # Batching over configurations (one Configs, sliced by take) must not mix them: the grid's rows equal the
    # same configurations priced one at a time.
    table = conv_table()
    grid = dict(weight_bits=[4, 8], buffer_kib=[1.0, 64.0], interlayer=["dram", "fit"])
    together = hwmodels.price(table, per_layer=False, **grid).summary
    for row in together.itertuples():
        alone = hwmodels.price(table, per_layer=False, weight_bits=row.weight_bits, buffer_kib=row.buffer_kib,
                               interlayer=row.interlayer).summary.iloc[0]
        for column in ("energy_pj", "latency_cycles", "dram_pj", "sram_pj"):
            assert np.isclose(getattr(row, column), alone[column], rtol=1e-12), (row, column)


def test_mapping_searches_are_shared_across_calls_and_never_change_a_number():
    from hwmodels.traffic import SEARCHES

    table = conv_table()
    SEARCHES.clear()
    first = hwmodels.price(table, per_layer=True, weight_bits=[4, 8])
    searched = SEARCHES.searches
    assert searched > 0 and SEARCHES.reused == 0
    # the same units on the same hardware: every search is reused, and the cached result is a copy (the first
    # call's tables are not aliased to it)
    second = hwmodels.price(table, per_layer=True, weight_bits=[4, 8])
    assert SEARCHES.searches == searched and SEARCHES.reused == searched
    pd.testing.assert_frame_equal(first.summary, second.summary)
    pd.testing.assert_frame_equal(first.levels, second.levels)
    # a different energy per access is a different search (the search ranks orders by energy)
    hwmodels.price(table, per_layer=False, weight_bits=[4, 8], buffer_kib=64.0)
    assert SEARCHES.searches > searched
    SEARCHES.clear()
    cold = hwmodels.price(table, per_layer=True, weight_bits=[4, 8])
    pd.testing.assert_frame_equal(first.summary, cold.summary)


def test_an_empty_list_of_values_is_a_one_line_error():
    with pytest.raises(ValueError, match="pricing parameter weight_bits: got an empty list; expected at least one"):
        hwmodels.price(conv_table(), weight_bits=[])
