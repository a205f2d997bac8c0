"""The exact mapper: the optimum of the cost model over every factorisation and every order of the temporal loops,
checked against an enumeration of every order, and never above ZigZag's LOMA rule on real networks' layers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from torch import nn

import hwmodels
from estimator import profile
from estimator.models import create
from estimator.workload import layer_table
from hwmodels import mapper
from hwmodels.traffic import SEARCHES

HARDWARE = ("horowitz45", "eyeriss65", "tpu_like")
OPTIONS = {"mac_energy_pj": 1.0}  # eyeriss65 is normalised to a MAC; the others ignore it


def priced(table, hw: str, **options) -> float:
    """Energy of the table's units, pJ (searches recomputed: the cache does not know a forced order)."""
    SEARCHES.clear()
    return float(hwmodels.price(table, hw=hw, per_layer=False, **OPTIONS, **options).summary["energy_pj"].iloc[0])


def forced(order: tuple[int, ...]):
    """A stand-in for :func:`hwmodels.mapper.cheapest_paths` that takes the one given order of loop types
    (innermost first): its cost is the sum of the steps along it (infinite where an allocation is invalid)."""

    def cheapest(lay, step):  # step: (graphs, types, states)
        last = np.zeros((step.shape[0], step.shape[2]), dtype=np.int64)
        cost = np.zeros(step.shape[0], dtype=np.float32)
        state = 0
        for t in order:
            cost += step[:, t, state]
            state += int(lay.strides[t])
            last[:, state] = t
        return last, cost

    return cheapest


def every_order(counts) -> set[tuple[int, ...]]:
    """Every distinct order of a multiset of loop types (type t appearing counts[t] times)."""
    pool = [t for t, c in enumerate(counts) for _ in range(c)]
    return set(itertools.permutations(pool))


@pytest.mark.parametrize("hw", HARDWARE)
def test_the_exact_mapper_finds_the_best_of_every_order(hw, monkeypatch):
    # a 3x3 conv, 4 -> 8 channels, 4 x 4 outputs, batch 2: its temporal loops after each array's unrolling are at
    # most the prime factors B2 OY2 OY2 OX2 OX2 FY3 FX3 (and K, C where an array leaves them): at most 1,260
    # distinct orders per layer, each priced through the whole model with the order forced
    table = layer_table(profile(nn.Conv2d(4, 8, 3, padding=1, bias=False), input_shape=(2, 4, 4, 4)))
    layouts = []
    original = mapper.cheapest_paths

    def recording(lay, step):
        layouts.append(lay)
        return original(lay, step)

    monkeypatch.setattr(mapper, "cheapest_paths", recording)
    exact = priced(table, hw, mapper="exact")
    (lay,) = {id(x): x for x in layouts}.values()  # one nest, one unrolling
    assert 5 <= lay.factors <= 9 and not lay.merged
    energies = []
    for order in every_order(lay.counts.tolist()):
        monkeypatch.setattr(mapper, "cheapest_paths", forced(order))
        energies.append(priced(table, hw, mapper="exact"))
    finite = [e for e in energies if np.isfinite(e)]
    assert max(finite) > 1.005 * min(finite)  # the order matters: the search has something to find
    assert exact == pytest.approx(min(finite), rel=1e-6)
    monkeypatch.setattr(mapper, "cheapest_paths", original)
    assert priced(table, hw, mapper="loma", loop_factor_limit=4) >= exact * (1 - 1e-6)


@pytest.mark.parametrize("network,shape", [("resnet18_cifar", (1, 3, 32, 32)), ("alexnet_imagenet", (1, 3, 224, 224)),
                                           ("mobilenetv2_cifar", (1, 3, 32, 32)), ("vgg16_cifar", (1, 3, 32, 32))])
def test_the_exact_mapper_is_never_above_loma_on_any_layer(network, shape):
    # the benchmark prices every layer; here the forward MAC layers of four networks on three hardware models, in
    # the free mapping space (eyeriss65's row-stationary order constraint left out: LOMA does not know it)
    table = layer_table(profile(create(network), input_shape=shape))
    table = table[table["kind"].isin(["conv", "matmul"])]
    table = table.drop_duplicates(["K", "C", "G", "OY", "OX", "FY", "FX", "SY", "SX"])
    for hw in HARDWARE:
        layers = {}
        for mapper_name, limit in (("free", 4), ("loma", 4), ("loma", 8)):
            result = hwmodels.price(table, hw=hw, mapper=mapper_name, loop_factor_limit=limit, **OPTIONS)
            memory = result.levels.groupby("unit")["energy_pj"].sum()
            layers[(mapper_name, limit)] = memory.to_numpy()
        for limit in (4, 8):
            assert (layers[("free", 4)] <= layers[("loma", limit)] * (1 + 1e-6)).all(), (network, hw, limit)


@pytest.mark.parametrize("mapper_name", ["exact", "loma"])
def test_a_configuration_prices_the_same_alone_and_in_a_grid(mapper_name):
    # The report's case: configurations that fit the same tiles shared one search, run with the first one's
    # energies per access, so on eyeriss65 a buffer size priced in a grid of sizes cost up to 0.81% more than the
    # same size priced alone (ResNet-18-CIFAR). Each configuration's path is now optimal for its own energies:
    # every size of the grid prices exactly as it does alone, whatever is beside it.
    table = layer_table(profile(create("resnet18_cifar"), input_shape=(1, 3, 32, 32)))
    sizes = list(np.geomspace(4, 4096, 24))
    options = {"hw": "eyeriss65", "mac_energy_pj": 1.0, "mapper": mapper_name, "per_layer": False}
    SEARCHES.clear()
    grid = hwmodels.price(table, buffer_kib=sizes, **options).summary["energy_pj"].to_numpy()
    alone = []
    for size in sizes:
        SEARCHES.clear()
        alone.append(hwmodels.price(table, buffer_kib=size, **options).summary["energy_pj"].iloc[0])
    assert np.array_equal(grid, np.array(alone))
