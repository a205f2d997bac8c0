"""Profile -> price -> one tidy table: the way every workflow (sweeps, reports, the demo, notebooks) turns models
into priced rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from torch import nn

from .counting import Profile, profile
from .energy import energy

PROFILE_TOTALS = ("macs", "nz_macs", "nz_macs_valid", "mults", "adds", "shifts", "compares", "other_ops")
"""Profile columns summed into every priced row."""

Subject = nn.Module | Profile
"""What a point prices: a model (profiled here, on meta inputs) or a profile already taken."""


def structural_params(prof: Profile) -> int:
    """Parameters after masking: all parameters less the weights a mask or pruning removes (BN, biases counted)."""
    layers = prof.layers
    return int(layers["params"].sum() - (layers["weight_elems"] - layers["weight_nnz"]).sum())


def price_profile(prof: Profile, hardware: Mapping | None = None, optimizer: str = "sgd") -> pd.DataFrame:
    """One profile priced over a hardware grid: one row per configuration, the profile's totals
    (:data:`PROFILE_TOTALS`, ``params`` after masking) beside the priced summary (``hwmodels.price``: energy per
    level, tier, operand and arithmetic unit in pJ, latency, utilisation) and ``energy_uj``.

    Args:
        prof: what to price (a training-step profile prices the whole step).
        hardware: pricing parameters (``hwmodels.PARAMETERS`` names, ``hw`` included); a list sweeps that parameter.
        optimizer: the update priced with a training-step profile.
    """
    summary = energy(prof, per_layer=False, optimizer=optimizer, **dict(hardware or {})).summary
    summary = summary.reset_index(drop=True)
    totals = prof.layers[list(PROFILE_TOTALS)].sum()
    counts = pd.DataFrame({c: [int(totals[c])] * len(summary) for c in PROFILE_TOTALS})
    counts["params"] = structural_params(prof)
    return pd.concat([counts, summary], axis=1).assign(energy_uj=summary["energy_pj"] / 1e6)


def architecture_key(model: nn.Module, input_shape: Sequence[int]) -> tuple:
    """What a profile's shape-derived counts depend on: the module tree (classes, parametrizations looked
    through), every parameter's and buffer's shape, and the input shape. Models with equal keys differ only in
    weight values."""
    modules = tuple((name, type(m).__name__.removeprefix("Parametrized")) for name, m in model.named_modules()
                    if ".parametrizations." not in f".{name}." and not name.endswith("parametrizations"))
    tensors = tuple((name.replace(".parametrizations.", ".").replace(".original", ""), tuple(t.shape))
                    for name, t in model.state_dict().items())
    return modules, tensors, tuple(input_shape)


class Pricer:
    """Prices points one at a time over one hardware grid, profiling each architecture once: models that differ
    only in weight values (:func:`architecture_key`: masks, rounding) are re-weighed, not re-run.

    Args:
        hardware: pricing parameters (``hwmodels.PARAMETERS`` names); a list sweeps that parameter.
        training: price one training step of a batch of ``input_shape[0]`` images (forward, backward and the
            ``optimizer``'s update) instead of one inference.
        optimizer: ``sgd`` (with momentum) or ``adam``, the update of a training step.
    """

    def __init__(self, hardware: Mapping | None = None, *, training: bool = False, optimizer: str = "sgd"):
        self.hardware = dict(hardware or {})
        self.training = training
        self.optimizer = optimizer
        self.profiles: dict[tuple, Profile] = {}

    def profile(self, model: nn.Module, input_shape: Sequence[int]) -> Profile:
        """The profile of ``model`` on meta inputs of ``input_shape``: re-weighed from an earlier profile of the
        same architecture, or taken afresh (a training step's when the pricer prices training)."""
        key = architecture_key(model, input_shape)
        if key in self.profiles:
            return self.profiles[key].reweigh(model)
        self.profiles[key] = profile(model, input_shape=input_shape, backward=self.training)
        return self.profiles[key]

    def price(self, labels: Mapping, subject: Subject, input_shape: Sequence[int] | None = None) -> pd.DataFrame:
        """One point: its ``labels`` (leading columns, e.g. ``{"model": ..., "variant": ...}``), then
        :func:`price_profile`'s columns, one row per configuration. ``subject`` is a model, profiled on meta inputs
        of ``input_shape`` (N, C, H, W), or a :class:`Profile`."""
        prof = subject if isinstance(subject, Profile) else self.profile(subject, input_shape)
        rows = price_profile(prof, self.hardware, self.optimizer)
        return pd.concat([pd.DataFrame([dict(labels)] * len(rows)), rows], axis=1)


def price_points(points: Iterable[tuple[Mapping, Subject, Sequence[int] | None]], hardware: Mapping | None = None,
                 *, training: bool = False, optimizer: str = "sgd") -> pd.DataFrame:
    """Price many points over one hardware grid: one row per (point, configuration).

    Args:
        points: ``(labels, subject, input_shape)`` triples (see :meth:`Pricer.price`).
        hardware: pricing parameters (``hwmodels.PARAMETERS`` names); a list sweeps that parameter.
        training, optimizer: price a training step (see :class:`Pricer`).

    Returns:
        the labels, then :func:`price_profile`'s columns (counts, ``params``, the priced summary, ``energy_uj``).
    """
    pricer = Pricer(hardware, training=training, optimizer=optimizer)
    frames = [pricer.price(labels, subject, shape) for labels, subject, shape in points]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
