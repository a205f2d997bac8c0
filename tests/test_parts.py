"""Per-layer tables streamed to Parquet parts (hwmodels.parts): the same rows as the tables held in memory, refused
folders in one line before any pricing, and columns read back by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torch import nn

import hwmodels
import hwmodels.pricing
from estimator import profile
from estimator.workload import layer_table
from hwmodels.errors import UserError
from hwmodels.parts import read_parts
from hwmodels.pricing import known_codes

GRID = {"hw": ["horowitz45", "tpu_like"], "buffer_kib": [16, 64], "weight_bits": [4, 8]}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return layer_table(profile(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3),
                                             nn.Flatten(), nn.Linear(8 * 10 * 10, 10)), input_shape=(1, 3, 12, 12)))


def in_order(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def test_streamed_parts_hold_the_rows_of_the_tables_held_in_memory(table, tmp_path, monkeypatch):
    held = hwmodels.price(table, **GRID)
    streamed = hwmodels.price(table, parts=tmp_path / "parts", **GRID)
    assert streamed.parts == tmp_path / "parts" and streamed.layers.empty and streamed.levels.empty
    # one part per hardware here (4 configurations x a few units stay far below PART_ROWS per-level rows)
    assert sorted(p.name for p in (tmp_path / "parts" / "layers").iterdir()) == ["part-00000.parquet",
                                                                                  "part-00001.parquet"]
    assert not list((tmp_path / "parts").rglob("*.tmp*"))  # written under a temporary name, then renamed
    pd.testing.assert_frame_equal(streamed.summary, held.summary)
    for name, keys in (("layers", ["config", "unit"]), ("levels", ["config", "unit", "level", "operand"])):
        back = read_parts(tmp_path / "parts", name)
        expected = getattr(held, name)
        assert len(back) == len(expected) > 0
        pd.testing.assert_frame_equal(in_order(back[expected.columns], keys), in_order(expected, keys),
                                      check_dtype=False)
    # smaller parts, a chunk of a few configurations each: the same numbers (a configuration's mapping is the
    # optimum for its own energies, whatever else its chunk holds), every row still there
    monkeypatch.setattr(hwmodels.pricing, "PART_ROWS", 200)
    small = hwmodels.price(table, parts=tmp_path / "small", **GRID)
    assert len(list((tmp_path / "small" / "layers").iterdir())) > 2
    pd.testing.assert_frame_equal(small.summary, held.summary)
    back = read_parts(tmp_path / "small", "levels")
    keys = ["config", "unit", "level", "operand"]
    pd.testing.assert_frame_equal(in_order(back[held.levels.columns], keys), in_order(held.levels, keys),
                                  check_dtype=False)

def test_columns_read_by_name_are_nan_where_a_part_lacks_them(table, tmp_path):
    hwmodels.price(table, parts=tmp_path / "p", **GRID)
    # tpu_like has a level named sram_2MB, horowitz45 none: its rows read NaN there
    back = read_parts(tmp_path / "p", columns=["config", "hw", "energy_pj", "sram_2MB_pj"])
    assert list(back.columns) == ["config", "hw", "energy_pj", "sram_2MB_pj"]
    assert back.loc[back["hw"] == "horowitz45", "sram_2MB_pj"].isna().all()
    assert back.loc[back["hw"] == "tpu_like", "sram_2MB_pj"].notna().all()


def test_a_used_folder_or_parts_without_per_layer_tables_is_one_line_before_pricing(table, tmp_path, monkeypatch):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("a user's file")
    monkeypatch.setattr(hwmodels.pricing, "price_chunk", lambda *a: pytest.fail("priced before refusing"))
    with pytest.raises(UserError, match="expected a new or empty folder") as error:
        hwmodels.price(table, parts=used, **GRID)
    assert "\n" not in str(error.value) and (used / "keep.txt").read_text() == "a user's file"
    with pytest.raises(UserError, match="per_layer=False"):
        hwmodels.price(table, parts=tmp_path / "new", per_layer=False)
    with pytest.raises(UserError, match="no levels parts"):
        read_parts(tmp_path / "nothing", "levels")


def test_text_columns_are_categorical_and_stay_so_across_chunks(table, monkeypatch):
    # one configuration per chunk: 8 chunks over two hardware models concatenated. Names, types, parameters, levels
    # and operands are categorical (a code per row, not a string) with the categories every chunk shares, so that
    # concatenation keeps them categorical; their values are the strings of the one-chunk pricing.
    whole = hwmodels.price(table, **GRID)
    monkeypatch.setattr(hwmodels.pricing, "CHUNK", 1)
    chunked = hwmodels.price(table, **GRID)
    for frame, columns in ((chunked.layers, ["name", "type", "phase", "role", "hw", "dataflow", "mapper",
                                             "weight_storage"]),
                           (chunked.levels, ["name", "level", "operand"])):
        for column in columns:
            assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    for name, keys in (("layers", ["config", "unit"]), ("levels", ["config", "unit", "level", "operand"])):
        pd.testing.assert_frame_equal(in_order(getattr(chunked, name), keys), in_order(getattr(whole, name), keys))
    assert set(chunked.levels["level"].astype(str)) == {lv.name for hw in GRID["hw"]
                                                        for lv in hwmodels.get(hw).levels}


def test_known_codes_place_each_text_among_the_categories():
    # the position of each value in the category list: "dense" is 1, "" 0, "periodic" 2
    codes = known_codes(np.array(["dense", "", "periodic", "dense"]), ["", "dense", "periodic"], "storage form")
    assert codes.tolist() == [1, 0, 2, 1]
    with pytest.raises(ValueError, match="storage form 'csr' is not one of"):
        known_codes(np.array(["dense", "csr"]), ["", "dense"], "storage form")
