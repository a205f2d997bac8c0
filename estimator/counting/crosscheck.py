"""Compare this counter's per-layer MACs with fvcore's FlopCountAnalysis and torch's FlopCounterMode."""

from __future__ import annotations

import copy
from collections import Counter

import pandas as pd
import torch
from torch import nn

from .capture import ROOT, reference_kernels
from .profile import profile

FVCORE_MAC_OPS = frozenset({"conv", "linear", "addmm", "matmul", "mm", "bmm", "baddbmm", "einsum"})
"""fvcore operator names whose count is multiply-accumulates of conv/linear/matmul work (1 "flop" = 1 MAC)."""

FVCORE_CONVENTIONS = {
    "batch_norm": "fvcore counts BatchNorm in its flops (estimator: 1 mult + 1 add per element, not MACs)",
    "group_norm": "fvcore counts GroupNorm in its flops (estimator: mults/adds/other_ops, not MACs)",
    "layer_norm": "fvcore counts LayerNorm in its flops (estimator: mults/adds/other_ops, not MACs)",
    "instance_norm": "fvcore counts InstanceNorm in its flops (estimator: mults/adds/other_ops, not MACs)",
    "adaptive_avg_pool2d": "fvcore counts adaptive average pooling as 1 flop per input element "
                           "(estimator: K-1 adds + 1 mult per output, not MACs)",
    "upsample_nearest2d": "fvcore counts nearest upsampling (estimator: free, a copy)",
    "upsample_bilinear2d": "fvcore counts bilinear upsampling (estimator: 3 mults + 6 adds per output)",
}


def own_counts(inclusive: dict[str, float]) -> dict[str, float]:
    """Per-module counts without their submodules', from per-module totals that include them. Each module's total
    is taken from its nearest ancestor that has one, so a container that is never called (a ``ModuleList``,
    absent from the totals) does not leave its children's work on the root."""
    own = dict(inclusive)
    for name, value in inclusive.items():
        if not name:
            continue
        parent = name
        while parent:
            parent = parent.rsplit(".", 1)[0] if "." in parent else ""
            if parent in own:
                own[parent] -= value
                break
    return own


def fvcore_counts(model: nn.Module, inputs: tuple) -> tuple[dict[str, float], dict[str, Counter], dict]:
    """fvcore's own MACs per module, its other (convention) counts per module, and the ops it skipped."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, inputs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    by_op = analysis.by_module_and_operator()
    ops = {op for counts in by_op.values() for op in counts}
    own = {op: own_counts({n: counts.get(op, 0) for n, counts in by_op.items()}) for op in ops}
    macs = {n: sum(own[op][n] for op in ops & FVCORE_MAC_OPS) for n in by_op}
    others = {n: Counter({op: own[op][n] for op in sorted(ops - FVCORE_MAC_OPS) if own[op][n]}) for n in by_op}
    return macs, others, analysis.unsupported_ops()


def torch_counts(model: nn.Module, inputs: tuple, kwargs: dict | None = None
                 ) -> tuple[dict[str, float] | None, str]:
    """FlopCounterMode's own MACs (its FLOPs / 2) per module, keyed like named_modules(), and how it was run. It
    runs with the reference kernels the counter uses (math scaled dot-product attention, so that attention is
    matrix products it counts, not a fused CPU kernel it gives 0; no oneDNN RNN kernel, whose work it does not
    see), under ``no_grad``; where FlopCounterMode itself
    fails there (its assertion when a Parameter is created inside a module), with gradients enabled; None where
    it fails both ways."""
    from torch.utils.flop_counter import FlopCounterMode

    recurrent = any(isinstance(m, nn.RNNBase) for m in model.modules())
    failures = []
    for grad in (False, True):
        counter = FlopCounterMode(display=False)
        try:
            with reference_kernels(recurrent), torch.set_grad_enabled(grad), counter:
                model(*inputs, **(kwargs or {}))
        except Exception as exc:  # the other tool's failure: report it, do not fail the comparison
            failures.append(f"{type(exc).__name__}: {first_line(exc)}")
            continue
        inclusive = {}
        for key, ops in counter.get_flop_counts().items():
            if key == "Global":
                continue
            name = key.split(".", 1)[1] if "." in key else ""
            inclusive[name] = sum(ops.values()) / 2
        how = "" if not grad else f"FlopCounterMode failed under no_grad ({failures[0]}); run with gradients"
        return own_counts(inclusive), how
    return None, f"FlopCounterMode failed ({failures[-1]}): no torch counts"


def comparison_row(name: str, ours: pd.DataFrame, fv_macs: dict | None, fv_other: dict, fv_unsupported, th_macs,
                   notes: str) -> dict:
    """One layer's MACs from the three counters, whether they disagree, and the known reasons (``notes``: how the
    references ran, where they could not or needed a fallback)."""
    key = "" if name == ROOT else name
    est = int(ours["macs"].get(name, 0))
    fv = None if fv_macs is None else int(round(fv_macs.get(key, 0)))
    th = None if th_macs is None else int(round(th_macs.get(key, 0)))
    other = fv_other.get(key, Counter())
    reasons = [FVCORE_CONVENTIONS.get(op, f"fvcore also counts {op}") for op in other]
    reasons += [notes] if notes else []
    mismatch = (fv is not None and fv != est) or (th is not None and th != est)
    if mismatch and fv is not None and fv != est and fv_unsupported:
        reasons.append("fvcore skipped ops it has no handle for: " + ", ".join(sorted(fv_unsupported)))
    return {"name": name, "type": ours["type"].get(name, ""), "estimator_macs": est, "fvcore_macs": fv,
            "torch_macs": th, "mac_mismatch": mismatch,
            "fvcore_other": ", ".join(f"{op}={int(v)}" for op, v in other.items()), "reason": "; ".join(reasons)}


def crosscheck(model: nn.Module, inputs, *, all_layers: bool = False) -> pd.DataFrame:
    """Per-layer conv/linear/matmul MACs from estimator, fvcore and FlopCounterMode/2, side by side.

    Args:
        model: the model (not modified: the other tools run on a private eval-mode copy).
        inputs: a tensor or tuple of tensors.
        all_layers: return every layer with MACs, not only those where the tools differ.

    Returns:
        One row per layer (index: qualified name) with ``estimator_macs``, ``fvcore_macs``, ``torch_macs``,
        ``mac_mismatch`` (the MAC counts disagree), ``fvcore_other`` (what else fvcore counts there) and
        ``reason`` (the convention behind a difference, where one is known, and how FlopCounterMode ran when it
        needed the fallback). A reference that cannot run the model (fvcore's tracer refuses a model returning a
        cache object, say) leaves its column empty and says why in every row's ``reason``; the table's
        ``attrs["not_run"]`` maps each such tool to its reason.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    ours = profile(model, inputs).layers
    clone = copy.deepcopy(model).eval()
    try:
        fv_macs, fv_other, fv_unsupported = fvcore_counts(clone, inputs)
        fv_note = ""
    except Exception as exc:  # the other tool's failure: report it, do not fail the comparison
        fv_macs, fv_other, fv_unsupported = None, {}, {}
        fv_note = f"fvcore could not run the model ({type(exc).__name__}: {first_line(exc)}): no fvcore counts"
    th_macs, torch_note = torch_counts(clone, inputs)
    names = set(ours.index) | {n or ROOT for n in fv_macs or {}} | {n or ROOT for n in th_macs or {}}
    order = {n: i for i, n in enumerate(ours.index)}
    notes = "; ".join(note for note in (fv_note, torch_note) if note)
    rows = [comparison_row(name, ours, fv_macs, fv_other, fv_unsupported, th_macs, notes)
            for name in sorted(names, key=lambda n: order.get(n, len(order)))]
    rows = [r for r in rows if r["mac_mismatch"] or r["fvcore_other"] or (
        all_layers and (r["estimator_macs"] or r["fvcore_macs"] or r["torch_macs"]))]
    columns = ["name", "type", "estimator_macs", "fvcore_macs", "torch_macs", "mac_mismatch", "fvcore_other", "reason"]
    table = pd.DataFrame(rows, columns=columns).astype({"fvcore_macs": "Int64", "torch_macs": "Int64"})
    table.attrs["not_run"] = {tool: note for tool, counts, note in (("fvcore", fv_macs, fv_note),
                                                                   ("FlopCounterMode", th_macs, torch_note))
                              if counts is None}
    return table.set_index("name")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (empty where it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


__all__ = ["crosscheck"]
