"""Cross-checking this tool's pricing against ZigZag on a model's layers (``estimator crosscheck-hw``, the validation
benchmark and the tests use it). ZigZag is an optional extra: ``pip install -e '.[zigzag]'``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
from torch import nn

from hwmodels.errors import MissingExtraError
from hwmodels.zigzag_run import CrossCheck, ZigZagRun, crosscheck, run

from .counting import profile
from .workload import layer_table


def zigzag_inputs() -> Path:
    """The folder of ZigZag's bundled example inputs (``hardware/`` and ``mapping/`` YAMLs)."""
    spec = importlib.util.find_spec("zigzag")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("ZigZag is not installed: pip install -e '.[zigzag]'")
    return Path(list(spec.submodule_search_locations)[0]) / "inputs"


def bundled(name: str) -> tuple[Path, Path]:
    """(accelerator YAML, mapping YAML) of one of ZigZag's bundled examples, e.g. ``tpu_like``."""
    base = zigzag_inputs()
    return base / "hardware" / f"{name}.yaml", base / "mapping" / f"{name}.yaml"


def mac_layers(model: nn.Module, input_shape, kinds=("conv",)) -> pd.DataFrame:
    """The forward multiply-accumulate units of ``model`` (of the given nest kinds) as a layer table."""
    table = layer_table(profile(model, input_shape=input_shape))
    return table[table["kind"].isin(kinds) & (table["phase"] == "forward")].reset_index(drop=True)


def crosscheck_model(model: nn.Module, input_shape, accelerator, mapping, *, kinds=("conv",),
                     lpf_limit: int = 4, zigzag: ZigZagRun = run) -> CrossCheck:
    """Price ``model``'s MAC layers here and in ZigZag (``zigzag``: how its side is evaluated, see
    :func:`hwmodels.zigzag_run.crosscheck`) on the same hardware and mapping files."""
    return crosscheck(mac_layers(model, input_shape, kinds), accelerator, mapping, lpf_limit=lpf_limit,
                      zigzag=zigzag)


def crosscheck_text(result: CrossCheck) -> str:
    """The cross-check as text: per layer, per level and operand, the totals and both sides' times."""
    layers = result.layers
    shown = pd.DataFrame({
        "layer": layers["name"], "energy_uJ": layers["energy_pj_ours"] / 1e6,
        "energy_ratio": layers["energy_pj_ratio"], "cycles": layers["latency_cycles_ours"],
        "cycles_ratio": layers["latency_cycles_ratio"], "util": layers["utilization_ours"],
        "util_zigzag": layers["utilization_zigzag"]})
    levels = result.levels.assign(cell=result.levels["operand"].astype(str) + "@" + result.levels["level"].astype(str))
    energy = levels.pivot_table(index="unit", columns="cell", values="energy_pj_ratio", aggfunc="first")
    accesses = levels.pivot_table(index="unit", columns="cell", values="reads_ratio", aggfunc="first")
    energy.index = accesses.index = layers["name"].to_numpy()[energy.index.astype(int)]
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    return (f"per layer (ratio = ours / ZigZag; energy = MAC + memories):\n"
            f"{shown.to_string(index=False, float_format=fmt)}\n\n"
            f"energy ratio per operand@level:\n{energy.to_string(float_format=fmt)}\n\n"
            f"read-access ratio per operand@level:\n{accesses.to_string(float_format=fmt)}\n\n"
            f"network: energy ratio {result.total_ratio():.4f}, latency ratio "
            f"{result.total_ratio('latency_cycles'):.4f}\n"
            f"time: ours {result.ours_s:.3f} s, ZigZag {result.zigzag_s:.1f} s "
            f"({result.zigzag_s / max(result.ours_s, 1e-9):,.0f}x)")
