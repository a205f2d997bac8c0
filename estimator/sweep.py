"""Design-space sweeps: models x variants x hardware configurations, in one tidy table.

Analytical work never trains: each model is profiled once (shape-only), re-weighed for every mask variant
(dyadic variants, which change modules, are profiled afresh), and priced over the whole hardware grid in one
vectorised call. Points that need accuracy train through an executor (any
``concurrent.futures.Executor``: a local process pool by default, or a Dask client's executor); every
finished point's rows are written to the results file at once (atomically), so an interrupted sweep resumes
without recomputing finished points.

Variants: ``dense``, periodic sparsity names (``PS2_P6``...), which train from scratch with fixed masks, and
dyadic levels (``dyadic:t2e-4``), which approximate the trained dense model of the same model, data and seed
(and fine-tune it for ``finetune_epochs`` when that is above zero).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch

from .counting import Profile, profile
from .energy import price_profile
from .models import create, entry
from .reports import unit_weight_model
from .train import atomic_write_text
from .variants import DYADIC_PREFIX, apply_variant


@dataclass(frozen=True)
class Point:
    """One (model, variant) of a sweep, with how to train it when accuracy is wanted.

    Attributes:
        model, variant: what to build.
        data: dataset to train and evaluate on; None for an analytical point.
        seed, epochs, recipe, finetune_epochs: training settings (dyadic points fine-tune, others train).
        runs_dir: where the training runs live (reused when finished).
    """

    model: str
    variant: str = "dense"
    data: str | None = None
    seed: int = 0
    epochs: int = 15
    recipe: str = "adam"
    finetune_epochs: int = 0
    runs_dir: str = "runs"

    @property
    def key(self) -> str:
        """A stable identifier of what the point computes (not where its runs live)."""
        fields = {k: v for k, v in asdict(self).items() if k != "runs_dir"}
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def is_dyadic(self) -> bool:
        return self.variant.startswith(DYADIC_PREFIX)

    def dense(self) -> Point:
        return Point(self.model, "dense", self.data, self.seed, self.epochs, self.recipe, 0, self.runs_dir)


@dataclass
class SweepSpec:
    """A whole sweep: models x variants, plus baseline models (dense), and the hardware grid
    (``hwmodels.DEFAULTS`` keys; lists sweep)."""

    models: Sequence[str]
    variants: Sequence[str] = ("dense",)
    baselines: Sequence[str] = ()
    data: str | None = None
    seeds: Sequence[int] = (0,)
    epochs: int = 15
    recipe: str = "adam"
    finetune_epochs: int = 0
    runs_dir: str = "runs"
    hardware: dict = field(default_factory=dict)

    def points(self) -> list[Point]:
        variants = [Point(m, v, self.data, s, self.epochs, self.recipe,
                          self.finetune_epochs if v.startswith(DYADIC_PREFIX) else 0, self.runs_dir)
                    for m in self.models for v in self.variants for s in self.seeds]
        baselines = [Point(m, "dense", self.data, s, self.epochs, self.recipe, 0, self.runs_dir)
                     for m in self.baselines for s in self.seeds]
        return variants + baselines


def load_spec(path: str | Path) -> SweepSpec:
    """A :class:`SweepSpec` from a TOML file with a ``[sweep]`` table and an optional ``[hardware]`` table."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} not found")
    data = tomllib.loads(path.read_text())
    if "sweep" not in data or "models" not in data["sweep"]:
        raise ValueError(f"{path}: expected a [sweep] table with at least models = [...]")
    known = set(SweepSpec.__dataclass_fields__) - {"hardware"}
    unknown = set(data["sweep"]) - known
    if unknown:
        raise ValueError(f"{path}: [sweep] has unknown key(s) {', '.join(sorted(unknown))}; "
                         f"expected {', '.join(sorted(known))}")
    return SweepSpec(**data["sweep"], hardware=data.get("hardware", {}))


def analytical_model(point: Point) -> torch.nn.Module:
    """The model of an analytical point. Periodic and dense variants are built on unit weights, so that only
    masks make zeros; dyadic variants on the seeded initial weights (their CSD costs depend on values)."""
    if point.is_dyadic:
        torch.manual_seed(point.seed)
        return apply_variant(create(point.model), point.variant)
    return apply_variant(unit_weight_model(point.model), point.variant, inplace=True)


def price_point(point: Point, prof: Profile, hardware: dict) -> pd.DataFrame:
    """Price a point's profile over the hardware grid: one row per configuration."""
    rows = price_profile(prof, hardware)
    rows.insert(0, "variant", point.variant)
    rows.insert(0, "model", point.model)
    rows.insert(0, "point", point.key)
    return rows


class Profiler:
    """Shape-only profiles of sweep points. Dense and periodic variants of one model share an architecture,
    so after the first is profiled the others are re-weighed (:meth:`Profile.reweigh`) instead of re-run;
    dyadic variants (whose approximation changes modules) are profiled afresh."""

    def __init__(self):
        self.by_model: dict[str, Profile] = {}

    def profile(self, point: Point, model: torch.nn.Module) -> Profile:
        shape = entry(point.model).input_shape
        if point.is_dyadic:
            return profile(model, input_shape=shape)
        if point.model not in self.by_model:
            self.by_model[point.model] = profile(model, input_shape=shape)
            return self.by_model[point.model]
        return self.by_model[point.model].reweigh(model)


def train_point(point: Point) -> dict:
    """Train (or approximate, and fine-tune) one point; returns its accuracy. Runs in a worker process."""
    from .data import load_dataset
    from .train import evaluate, load_run_model, train_or_resume

    if multiprocessing.current_process().name != "MainProcess":
        torch.set_num_threads(1)  # worker processes share the machine's cores
    splits = load_dataset(point.data)
    if not point.is_dyadic:
        return {"test_top1": train_or_resume(point_config(point), splits)["test_top1"]}
    approx = apply_variant(load_run_model(point_config(point.dense()), splits.num_classes), point.variant)
    record = {"test_top1_approximated": evaluate(approx, splits, torch.device("cpu"))["test_top1"]}
    record["test_top1"] = (train_or_resume(finetune_config(point), splits)["test_top1"] if point.finetune_epochs
                           else record["test_top1_approximated"])
    return record


def trained_model(point: Point) -> torch.nn.Module:
    """The trained model of a finished point, as it computes (masks and dyadic weights included)."""
    from .data import load_dataset
    from .train import load_run_model

    classes = load_dataset(point.data).num_classes
    if not point.is_dyadic:
        return load_run_model(point_config(point), classes)
    if point.finetune_epochs:
        return load_run_model(finetune_config(point), classes)
    return apply_variant(load_run_model(point_config(point.dense()), classes), point.variant)


def point_config(point: Point):
    """The training configuration of a non-dyadic point."""
    from .train import TrainConfig

    return TrainConfig(point.model, data=point.data, variant=None if point.variant == "dense" else point.variant,
                       epochs=point.epochs, seed=point.seed, recipe=point.recipe, out=point.runs_dir,
                       run=f"{point.key}-{point.model}-{point.variant}")


def finetune_config(point: Point):
    """The fine-tuning configuration of a dyadic point: from its dense run, straight-through estimator."""
    from .train import FINETUNE_LR, TrainConfig

    dense = point_config(point.dense())
    return TrainConfig(point.model, data=point.data, variant=point.variant, epochs=point.finetune_epochs,
                       lr=FINETUNE_LR, seed=point.seed, out=point.runs_dir,
                       init_from=str(Path(dense.out) / dense.run), run=f"{point.key}-{point.model}-ft")


def read_results(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()


def append_results(path: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``rows`` to the results file atomically (write a temporary file, rename); returns the whole table."""
    table = pd.concat([read_results(path), rows], ignore_index=True)
    atomic_write_text(path, table.to_csv(index=False))
    return table


def sweep(spec: SweepSpec, out: str | Path | None = None, executor: Executor | None = None, workers: int | None = None,
          progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run a sweep; returns one row per (point, hardware configuration).

    Args:
        spec: models, variants, data (None: analytical only), training settings and the hardware grid.
        out: results CSV; finished points found there are not recomputed, new ones are added as they finish.
        executor: runs training points; default a local process pool of ``workers`` processes.
        workers: process-pool size (default: the number of CPUs).
        progress: called with a one-line message as points finish.
    """
    say = progress or (lambda message: None)
    out = Path(out) if out else None
    done = read_results(out) if out else pd.DataFrame()
    finished = set(done["point"]) if "point" in done else set()
    points = [p for p in spec.points() if p.key not in finished]
    say(f"{len(spec.points())} points, {len(spec.points()) - len(points)} already in {out}" if out else
        f"{len(points)} points")
    results = [done] if len(done) else []
    profiler = Profiler()

    def record(point: Point, accuracy: dict | None, model: torch.nn.Module) -> None:
        rows = price_point(point, profiler.profile(point, model), spec.hardware)
        rows.insert(3, "data", point.data or "")
        rows.insert(4, "seed", point.seed)
        for key, value in (accuracy or {}).items():
            rows[key] = value
        results.append(rows)
        if out:
            append_results(out, rows)

    if spec.data is None:
        for i, point in enumerate(points, 1):
            record(point, None, analytical_model(point))
            say(f"[{i}/{len(points)}] {point.model} {point.variant}: priced")
        return pd.concat(results, ignore_index=True) if results else pd.DataFrame()

    own_pool = executor is None
    executor = executor or ProcessPoolExecutor(max_workers=workers or os.cpu_count(),
                                               mp_context=multiprocessing.get_context("spawn"))
    try:
        # stage 1 trains every non-dyadic point and the dense models dyadic points start from
        needed_dense = {p.dense() for p in points if p.is_dyadic}
        stage1 = [p for p in points if not p.is_dyadic]
        prerequisites = [d for d in needed_dense if d not in stage1]
        for stage, batch in ((1, stage1 + prerequisites), (2, [p for p in points if p.is_dyadic])):
            futures = {executor.submit(train_point, p): p for p in batch}
            for count, future in enumerate(as_completed(futures), 1):
                point = futures[future]
                accuracy = future.result()
                if point in stage1 or stage == 2:
                    record(point, accuracy, trained_model(point))
                say(f"[stage {stage}: {count}/{len(batch)}] {point.model} {point.variant}: "
                    f"test top-1 {accuracy['test_top1']:.2f}%")
    finally:
        if own_pool:
            executor.shutdown()
    return pd.concat(results, ignore_index=True)


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
