"""A dataflow's loop-order constraint (hwmodels.order): the steps it allows, and the exact mapper honouring
eyeriss65's row-stationary order on networks other than the AlexNet it is validated on."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

import hwmodels
from estimator import profile
from estimator.models import create
from estimator.workload import layer_table
from hwmodels.model import HardwareFileError
from hwmodels.order import LoopOrder, allowed_steps
from tests.hardware_files import HANDCHIP

RS = LoopOrder((("FX", "C", "K"), ("OX",)), frozenset({"FX", "OX"}), "rs")


def test_the_steps_a_row_stationary_order_allows():
    # four loop types of one factor each, FX, K, OX, OY; a state is the set of types below it (digits 0/1)
    dims = ["FX", "K", "OX", "OY"]
    digits = np.array([[(s >> t) & 1 for t in range(4)] for s in range(16)])
    allowed = allowed_steps((RS,), dims, digits, np.ones(4, dtype=int))

    def may(below: set[str]) -> set[str]:
        state = sum(1 << dims.index(d) for d in below)
        return {d for t, d in enumerate(dims) if allowed[state, t] and d not in below}  # (one factor each)

    assert may(set()) == {"FX", "K"}  # inside the PE: the filter row and filters, interleaved; no OX yet
    assert may({"K"}) == {"FX"}  # (not OX: the filter row is not whole)
    assert may({"FX"}) == {"K", "OX"}  # the row done: more filters, or the output row
    assert may({"FX", "OX"}) == {"K", "OY"}  # the output row whole: the template is over, any loop may follow
    assert may({"FX", "K", "OX"}) == {"OY"}
    assert allowed_steps((), dims, digits, np.ones(4, dtype=int)) is None


def order_respects_row_stationary(text: str) -> bool:
    """Whether a loop order (``FX3 C2 K4 OX13 B2 ...``, innermost first) keeps FX, C and K inside the whole OX."""
    dims = [token.rstrip("0123456789") for token in text.split()]
    if "OX" not in dims:
        return all(d in ("FX", "C", "K") for d in dims[:dims.index("FX") + 1]) if "FX" in dims else True
    first_ox, last_ox = dims.index("OX"), len(dims) - 1 - dims[::-1].index("OX")
    return (all(d in ("FX", "C", "K") for d in dims[:first_ox]) and "FX" not in dims[first_ox:]
            and all(d == "OX" for d in dims[first_ox:last_ox + 1]))


@pytest.mark.parametrize("network", ["resnet18_cifar", "vgg16_cifar"])
def test_eyeriss65_maps_other_networks_within_its_dataflow_and_never_below_the_free_optimum(network):
    table = layer_table(profile(create(network), input_shape=(1, 3, 32, 32)))
    table = table[table["kind"] == "conv"].drop_duplicates(["K", "C", "G", "OY", "OX", "FY", "FX", "SY", "SX"])
    priced = {m: hwmodels.price(table, hw="eyeriss65", mac_energy_pj=1.0, mapper=m).layers for m in ("exact", "free")}
    assert all(order_respects_row_stationary(t) for t in priced["exact"]["loop_order"]), priced["exact"]["loop_order"]
    # the row-stationary space is part of the free one: never cheaper, and on some layer dearer
    exact, free = priced["exact"]["energy_pj"].to_numpy(), priced["free"]["energy_pj"].to_numpy()
    assert (exact >= free * (1 - 1e-6)).all() and (exact > free * 1.001).any()


@pytest.mark.parametrize("table, message", [
    ('groups = [["FX", "Q"]]\ndataflow = "rs"', r"order.groups: got \[\['FX', 'Q'\]\]; expected a list: lists of loop "
                                                 "dimensions"),
    ('groups = [["FX"], ["FX"]]\ndataflow = "rs"', "order.groups: .*each loop dimension in one group at most"),
    ('groups = [["FX"]]\ncomplete = ["OX"]\ndataflow = "rs"', "order.complete: got .*expected loop dimensions among"),
    ('groups = [["FX"]]\ndataflow = "xs"', "order.dataflow: got 'xs'; expected ws or os or is or rs"),
])
def test_bad_order_tables_fail_in_one_line(tmp_path, table, message):
    path = tmp_path / "chip.toml"
    path.write_text(HANDCHIP + "\n[order]\n" + table + "\n")
    with pytest.raises(HardwareFileError, match=message) as error:
        hwmodels.load(str(path))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("stationary, inner", [("weight", {"B", "OY", "OX"}), ("output", {"C", "FY", "FX"}),
                                               ("input", {"K"})])
def test_a_pinned_stationary_operand_keeps_every_loop_not_indexing_it_innermost(stationary, inner):
    # a 3x3 conv, 16 -> 32 channels on 16 x 16, batch 2, on horowitz45 (its 16 x 16 array unrolls K and C, leaving
    # K2 temporal): the temporal loops not indexing the pinned operand come first, all of them: for weights B, OY,
    # OX; for outputs C, FY, FX; for inputs K
    table = layer_table(profile(nn.Conv2d(16, 32, 3, padding=1, bias=False), input_shape=(2, 16, 16, 16)))
    free = hwmodels.price(table, hw="horowitz45").layers.iloc[0]
    pinned = hwmodels.price(table, hw="horowitz45", stationary=stationary).layers.iloc[0]
    dims = [token.rstrip("0123456789") for token in pinned["loop_order"].split()]
    first_other = next((i for i, d in enumerate(dims) if d not in inner), len(dims))
    assert first_other > 0 and not inner & set(dims[first_other:])  # all of them, before anything else
    assert pinned["energy_pj"] >= free["energy_pj"] * (1 - 1e-6)  # a constraint never finds a cheaper mapping
