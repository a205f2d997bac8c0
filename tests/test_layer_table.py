"""The layer-table contract between the counter and the pricing (``hwmodels.layers``): one schema, one vocabulary,
one-line errors that name the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hwmodels
from estimator import profile
from estimator.counting.registry import COUNT_KINDS
from estimator.models import create
from estimator.workload import layer_table
from hwmodels import LayerTableError, validate


def conv_row(**changes) -> dict:
    # 1 x 8 x 4 x 4 -> 16 x 4 x 4 with a 3 x 3 kernel: 16 x 8 x 16 x 9 = 18432 MACs
    row = dict(name="conv", type="Conv2d", phase="forward", role="forward", kind="conv", B=1, K=16, C=8, G=1, OY=4,
               OX=4, FY=3, FX=3, SY=1, SX=1, DY=1, DX=1, PY=1, PX=1, macs=18432, nz_macs=18432, nz_macs_valid=16384,
               mults=18432, adds=18432, weight_elems=1152, weight_nnz=1152, weight_rows=128, weight_row_len=9,
               weight_format="dense")
    row.update(changes)
    return row


def test_one_vocabulary_for_count_kinds():
    assert tuple(k for k in COUNT_KINDS if k != "macs") == hwmodels.COUNT_KINDS


def test_valid_rows_get_defaults_and_types():
    table = validate(pd.DataFrame([conv_row(), {"name": "relu", "type": "ReLU", "compares": 256, "in_elems": 256,
                                                "out_elems": 256}]))
    assert list(table.columns) == [c.name for c in hwmodels.SCHEMA]
    relu = table.iloc[1]
    assert relu["kind"] == "" and relu["macs"] == 0 and relu["weight_format"] == "" and relu["B"] == 1
    assert table["macs"].dtype == np.int64 and table["transposed"].dtype == bool


BAD = {
    "missing name": ({"name": None}, "column 'name'"),
    "mistyped column": ({"wieght_elems": 3}, "unknown column 'wieght_elems'; did you mean 'weight_elems'?"),
    "old vocabulary": ({"mult": 3}, "unknown column 'mult'; did you mean 'mults'?"),
    "capitalised format": ({"weight_format": "Periodic"}, "column 'weight_format' has value 'Periodic' in row "
                                                          "'conv'; expected one of 'dense', 'periodic', "
                                                          "'kernel_subset', ''"),
    "negative count": ({"adds": -1}, "column 'adds' has -1 in row 'conv'; expected a non-negative number"),
    "text count": ({"mults": "many"}, "column 'mults' has 'many' in row 'conv'"),
    "bad phase": ({"phase": "inference"}, "column 'phase' has value 'inference'"),
    "zero loop": ({"K": 0, "macs": 0}, "a nest row has a loop bound below 1"),
    "macs off the loops": ({"macs": 100}, "column 'macs' of row 'conv' is 100, not the product of its loop bounds "
                                          "18432"),
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_tables_fail_in_one_line_naming_the_column(kind):
    changes, message = BAD[kind]
    row = conv_row(**{k: v for k, v in changes.items() if v is not None})
    if "name" in changes and changes["name"] is None:
        del row["name"]
    with pytest.raises(LayerTableError) as error:
        validate(pd.DataFrame([row]))
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1, str(error.value)
    with pytest.raises(LayerTableError):
        hwmodels.price(pd.DataFrame([row]))  # checked when pricing starts


@pytest.mark.parametrize("name", ["resnet18_cifar", "mobilenetv2_cifar", "shufflenetv2_cifar", "alexnet_caffe"])
def test_profiles_export_valid_tables_with_loop_bounds(name):
    from estimator.models import entry

    prof = profile(create(name), input_shape=entry(name).input_shape)
    table = validate(layer_table(prof))
    nests = table[table["kind"] != ""]
    # every MAC of the profile's forward pass sits in exactly one nest row
    assert nests["macs"].sum() == prof.layers["macs"].sum()
    for kind in hwmodels.COUNT_KINDS:
        assert table[kind].sum() == prof.layers[kind].sum(), kind
    assert (nests[["B", "K", "C", "G", "OY", "OX", "FY", "FX"]] >= 1).all().all()
