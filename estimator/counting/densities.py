"""Activation densities: the non-zero share of each layer's input and output activations.

A real-input profile measures them (non-zero elements / elements of the floating-point activations a module
consumes and produces, summed over the batch and its calls; a tensor above :data:`EXACT_UP_TO` elements on a
seeded random sample of :data:`SAMPLE`); a meta profile takes them as a parameter: one
fraction for every layer, a mapping from layer name, or the table an earlier real-input profile saved
(:meth:`~estimator.counting.profile.Profile.save_densities`, a CSV of ``name, input_density, output_density``).
Hardware that gates or skips zero inputs, or compresses activations, prices them (:mod:`hwmodels.sparsity`).

What is not known is dense (1.0), and the profile says which: a meta profile given nothing, the gradients of a
training step (not measured), and modules whose activations are not floating point (token ids).
"""

from __future__ import annotations

import difflib
import functools
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from hwmodels.errors import UserError

from ..io import atomic_write_text
from .nonzeros import NUMPY_UP_TO_IN_CACHE, nonzero_count

COLUMNS = ("input_density", "output_density")
"""The layer-table columns this module fills (fractions of non-zero elements, 0 to 1)."""
SOURCES = {"measured": "measured on the real input of this profile (a tensor above 2^20 elements on a seeded "
                        "random sample of 65,536: an estimate, standard error at most 0.2%)",
           "given": "given (densities=...)",
           "dense": "not measured (meta input) and not given: every activation priced dense (density 1); measure "
                    "them on real inputs and pass the table with densities=..."}
"""Where a profile's densities come from."""
NO_ZEROS = 0.99
"""Measured densities all at or above this: the model has no ReLU-like zeros to speak of (said in the notes)."""


SAMPLE = 1 << 16
"""Elements a large tensor's density is measured on: this many drawn at random positions, fixed per tensor size
(standard error at most 0.5 / 256 = 0.2%), so that a large activation costs a gather, not a pass over all of it."""
EXACT_UP_TO = 1 << 20
"""Tensors up to this many elements (and non-contiguous ones) are counted whole: below it a pass is cheaper than a
random gather."""


class NonzeroCounter:
    """Counts the non-zeros of real floating-point tensors, each set of elements once while it is unchanged (a
    module's input is usually its predecessor's output, a container's its first child's, and a permuted or reshaped
    view holds the elements of the tensor it views: :func:`elements_key`), exactly up to :data:`EXACT_UP_TO`
    elements and estimated from a seeded sample of :data:`SAMPLE` above. The counting is not model work: it runs
    outside the counting mode."""

    def __init__(self):
        self.seen: dict[tuple, tuple[weakref.ref, int, float]] = {}  # elements -> (a tensor, its version, non-zeros)

    def nonzeros(self, t: torch.Tensor) -> float:
        """Non-zero elements of ``t`` (an estimate above :data:`EXACT_UP_TO` elements), cached while its elements
        are unchanged."""
        key = elements_key(t)
        known = self.seen.get(key)
        if known is not None and known[1] == t._version and still_holds(known[0](), t, key):
            return known[2]
        with torch._C._DisableTorchDispatch(), torch.no_grad():  # (a C++ guard: cheaper than popping the modes)
            flat = t if key[0] == "tensor" else t.as_strided((t.numel(),), (1,), t.storage_offset())
            n = flat.numel()
            if n <= EXACT_UP_TO or not flat.is_contiguous():
                count = float(nonzero_count(flat, NUMPY_UP_TO_IN_CACHE))
            else:
                picked = flat.view(-1).index_select(0, sample_positions(n, str(flat.device)))
                count = float(nonzero_count(picked)) * n / SAMPLE
        self.seen[key] = (weakref.ref(t), t._version, count)
        return count


def elements_key(t: torch.Tensor) -> tuple:
    """What identifies the elements of ``t``: for a strided tensor whose elements fill one block of its storage
    (contiguous, or a permutation of contiguous: the views, reshapes and transposes of one tensor), the block
    (storage address, offset, elements, dtype), the same for every such view; for any other tensor, itself.
    Views share their base's version counter, so a cached count is stale exactly when the version moved."""
    if t.layout == torch.strided and fills_a_block(t):
        return ("block", t.untyped_storage().data_ptr(), t.storage_offset(), t.numel(), t.dtype, t.device)
    return ("tensor", id(t))


def still_holds(counted: torch.Tensor | None, t: torch.Tensor, key: tuple) -> bool:
    """Whether the cached count of ``key``, made on ``counted`` (None once freed), is a count of ``t``'s elements:
    the same tensor, or a tensor still alive on the same storage block (a freed one's address may be reused)."""
    if counted is None:
        return False
    if key[0] == "tensor":
        return counted is t
    return counted.untyped_storage().data_ptr() == key[1]


def fills_a_block(t: torch.Tensor) -> bool:
    """Whether ``t``'s elements are exactly ``numel`` consecutive elements of its storage: its strides, sorted, are
    those of a contiguous tensor of its (correspondingly permuted) sizes (size-1 dimensions aside)."""
    if t.is_contiguous():
        return True
    expected = 1
    for stride, size in sorted((st, sz) for st, sz in zip(t.stride(), t.shape, strict=True) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True


@functools.lru_cache(maxsize=64)
def sample_positions(n: int, device: str) -> torch.Tensor:
    """:data:`SAMPLE` positions among ``n``, the same for every tensor of ``n`` elements (seeded by ``n``), in
    increasing order: the gather then walks memory forwards (about 3x faster on 12.8 M elements than in drawn
    order; the sample, and so the estimate, is the same)."""
    return torch.randint(n, (SAMPLE,), generator=torch.Generator().manual_seed(n)).sort().values.to(device)


@dataclass
class Tally:
    """Non-zero and total elements of a module's floating-point activations, over its calls (inputs, outputs)."""

    counts: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # nz in, in, nz out, out

    def add(self, counter: NonzeroCounter, inputs: list[torch.Tensor], outputs: list[torch.Tensor]) -> None:
        """Count the non-zeros of the real floating-point tensors among a call's inputs and outputs."""
        for offset, tensors in ((0, inputs), (2, outputs)):
            for t in tensors:
                if t.is_floating_point() and t.device.type != "meta":
                    self.counts[offset] += counter.nonzeros(t)
                    self.counts[offset + 1] += t.numel()

    def densities(self) -> tuple[float, float]:
        """(input, output) density; 1.0 where no floating-point activation was seen."""
        nz_in, n_in, nz_out, n_out = self.counts
        return (nz_in / n_in if n_in else 1.0, nz_out / n_out if n_out else 1.0)


@dataclass(frozen=True)
class Densities:
    """Each layer's (input, output) density and where they come from (:data:`SOURCES`); a layer not listed is
    dense."""

    by_layer: dict[str, tuple[float, float]]
    source: str

    def of(self, name: str) -> tuple[float, float]:
        """(input, output) density of row ``name``, fractions; 1 where not known."""
        return self.by_layer.get(name, (1.0, 1.0))

    def note(self) -> str:
        """One line for the profile's notes."""
        text = f"activation densities: {SOURCES[self.source]}"
        if self.source == "measured" and self.by_layer and min(min(v) for v in self.by_layer.values()) >= NO_ZEROS:
            text += f" (no ReLU-like zeros: every density at least {NO_ZEROS}, priced as dense)"
        return text + "."


DENSE = Densities({}, "dense")


def measured(tallies: Mapping[str, Tally]) -> Densities:
    """The densities a real-input run measured, per row."""
    return Densities({name: tally.densities() for name, tally in tallies.items()}, "measured")


def given(densities, names: list[str]) -> Densities:
    """``densities`` checked against the model's row ``names``: a fraction for every layer's input and output; a
    mapping from layer name to a fraction (its input) or to ``{"input": ..., "output": ...}``; a table with
    :data:`COLUMNS` indexed (or with a column) ``name``; or the path of a CSV saved by
    :meth:`~estimator.counting.profile.Profile.save_densities`. A one-line error names a bad value or an unknown
    layer, before any run."""
    if isinstance(densities, (str, Path)):
        densities = read(densities)
    if isinstance(densities, pd.DataFrame):
        frame = densities.set_index("name") if "name" in densities.columns else densities
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise UserError(f"densities table: column '{missing[0]}' is missing; expected name, "
                            f"{', '.join(COLUMNS)}")
        densities = {str(name): {"input": row[COLUMNS[0]], "output": row[COLUMNS[1]]}
                     for name, row in frame.iterrows()}
    if isinstance(densities, (int, float)) and not isinstance(densities, bool):
        value = fraction(densities, "densities")
        return Densities(dict.fromkeys(names, (value, value)), "given")
    if not isinstance(densities, Mapping):
        raise UserError(f"densities: expected a fraction 0..1, a mapping of layer names, a densities table or its "
                        f"CSV file; got {type(densities).__name__}")
    known = set(names)
    out = {}
    for name, value in densities.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), names, n=1)
            raise UserError(f"densities: no layer '{name}' in the model"
                            + (f"; did you mean '{close[0]}'?" if close else ""))
        pair = (value.get("input", 1.0), value.get("output", 1.0)) if isinstance(value, Mapping) else (value, 1.0)
        out[name] = (fraction(pair[0], f"densities of layer '{name}'"), fraction(pair[1], f"densities of layer "
                                                                                          f"'{name}'"))
    return Densities(out, "given")


def fraction(value, what: str) -> float:
    """``value`` as a fraction of non-zero elements, or a one-line error naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise UserError(f"{what}: {value!r}; expected a fraction of non-zero elements, 0 to 1")
    return number


def read(path: str | Path) -> pd.DataFrame:
    """A densities CSV (``name, input_density, output_density``), read as data (nothing in it executes)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"densities file '{path}' does not exist; expected a CSV with columns name, "
                        f"{', '.join(COLUMNS)} (Profile.save_densities writes one)")
    try:
        return pd.read_csv(path, dtype={"name": str}, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"densities file '{path}' is not a CSV table: {str(exc).splitlines()[0]}") from None


def write(table: pd.DataFrame, path: str | Path) -> None:
    """``table`` (:data:`COLUMNS` indexed by name) to ``path`` as CSV, atomically; floats round-trip exactly."""
    atomic_write_text(path, table[list(COLUMNS)].to_csv(float_format="%.17g"))
