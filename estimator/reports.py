"""Reproduction tables of the seed papers' complexity claims (analytical: nothing is trained)."""

from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn

from .counting import profile
from .energy import energy
from .models import create, entry
from .variants import PAPER_VARIANTS, apply_variant

PERIODIC_TABLE_MODELS = ("resnet18_cifar", "vgg16_cifar", "resnet18_tiny", "vgg16_tiny")


def with_unit_weights(model: nn.Module) -> nn.Module:
    """A copy whose weights are all 1, so that only masks make zeros (random initial values can be exactly 0)."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    return model


def structural_params(layers: pd.DataFrame) -> int:
    """Parameters after masking: all parameters less the weights a mask removes (BN and biases counted)."""
    return int(layers["params"].sum() - (layers["weight_elems"] - layers["weight_nnz"]).sum())


def conv_weights(layers: pd.DataFrame) -> int:
    """Non-zero convolution weights."""
    return int(layers.loc[layers["type"].str.startswith("Conv"), "weight_nnz"].sum())


def periodic_complexity_table(models=PERIODIC_TABLE_MODELS, variants=("dense",) + PAPER_VARIANTS,
                              bits=(8, 16), hw="horowitz45") -> pd.DataFrame:
    """Parameters, reductions, MACs (zeros skipped, the paper's "FLOPs") and energy per model and variant.

    Analytical: shapes and masks only (weights are set to 1 before masking, so only masks make zeros).

    Energy uses the model's default input, weights and activations of each width in ``bits``, the periodic
    storage format for periodic layers, and the remaining pricing defaults of ``hwmodels.GRID_DEFAULTS``.
    """
    rows = []
    for name in models:
        base = with_unit_weights(create(name))
        shape = entry(name).input_shape
        dense = None
        for variant in variants:
            layers = profile(apply_variant(base, variant), input_shape=shape).layers
            row = {"model": name, "variant": variant, "params": structural_params(layers),
                   "conv_weights": conv_weights(layers), "macs": int(layers["nz_macs"].sum())}
            for b in bits:
                summary = energy(layers, hw, weight_bits=b, act_bits=b).summary
                row[f"energy_uj_{b}bit"] = summary.loc[0, "energy_pj"] / 1e6
            if variant == "dense":
                dense = row
            rows.append(row)
        for row in rows[-len(variants):]:
            reference = dense or rows[-len(variants)]
            row["param_reduction_pct"] = 100 * (1 - row["params"] / reference["params"])
            row["conv_weight_reduction_pct"] = 100 * (1 - row["conv_weights"] / reference["conv_weights"])
            row["mac_ratio"] = reference["macs"] / row["macs"]
    columns = ["model", "variant", "params", "param_reduction_pct", "conv_weights", "conv_weight_reduction_pct",
               "macs", "mac_ratio"] + [f"energy_uj_{b}bit" for b in bits]
    return pd.DataFrame(rows)[columns]
