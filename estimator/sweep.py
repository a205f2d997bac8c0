"""Design-space sweeps: models x variants x seeds x hardware configurations, in one tidy table, through one of
three workflows per point (:data:`estimator.plan.WORKFLOWS`):

* analytical (no data): the model as built is profiled and priced; nothing trains;
* trained: the model is trained with its variant in place (dense and periodic variants), then priced as trained;
* approximated: the trained dense run of the same model, data and seed is approximated (dyadic variants), tested,
  fine-tuned with a straight-through estimator for ``finetune_epochs`` when that is above zero, and priced.

Every training run is named by :meth:`estimator.train.TrainConfig.default_run`, so that sweeps, reports and the
command line share finished runs. Training runs through an executor (any ``concurrent.futures.Executor``: a local
process pool by default, or a Dask client's executor). Each finished point is committed to the results store
(:class:`estimator.store.ResultStore`) at once, so a sweep killed at any moment resumes with every finished point
kept and none repeated.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from hwmodels.errors import UserError

from .datasets import DATASETS
from .io import check_writable
from .loading import build as build_model
from .models import entry, unit_weight_model
from .plan import Point, SweepSpec
from .points import Pricer
from .recipes import FINETUNE_LR
from .store import EXPORTS, ResultStore, export_table
from .train import TrainConfig


def input_shape(point: Point) -> tuple[int, ...]:
    """The input a point is priced at: one image of its dataset, or the model's registered input."""
    if point.data is None:
        return point.model.input_shape or tuple(entry(point.model.name).input_shape)
    return (1,) + DATASETS[point.data].image_shape


def build(point: Point) -> nn.Module:
    """A freshly built model of the point, its variant applied."""
    torch.manual_seed(point.seed)
    return point.variant.apply(build_model(point.model.name, **point.model.kwargs))


def analytical_model(point: Point) -> nn.Module:
    """The model of an analytical point. Dense and periodic variants are built on unit weights, so that only masks
    make zeros; dyadic variants on the seeded initial weights (their CSD costs depend on the values)."""
    if point.variant.is_dyadic:
        return build(point)
    model = unit_weight_model(lambda: build_model(point.model.name, **point.model.kwargs))
    return point.variant.apply(model, inplace=True)


def train_config(point: Point) -> TrainConfig:
    """The training run of a trained point, or of the dense source of an approximated one."""
    source = point.dense() if point.variant.is_dyadic else point
    return TrainConfig(source.model.name, data=source.data, data_dir=source.data_dir, variant=source.variant.name,
                       recipe=source.recipe, epochs=source.epochs, seed=source.seed, threads=source.threads,
                       out=source.runs_dir, model_kwargs=source.model.kwargs)


def finetune_config(point: Point) -> TrainConfig:
    """The fine-tuning run of an approximated point: from its dense run, straight-through estimator."""
    dense = train_config(point)
    return TrainConfig(point.model.name, data=point.data, data_dir=point.data_dir, variant=point.variant.name,
                       epochs=point.finetune_epochs, lr=FINETUNE_LR, seed=point.seed, threads=point.threads,
                       out=point.runs_dir, init_from=str(dense.run_dir), model_kwargs=point.model.kwargs)


def train_point(point: Point) -> dict:
    """Train, or approximate (and fine-tune), one point; returns its accuracy columns. Runs in a worker."""
    from .data import load_dataset
    from .train import evaluate, load_run_model, pick_device, train_or_resume

    splits = load_dataset(point.data, point.data_dir)
    if point.workflow == "trained":
        return {"test_top1": train_or_resume(train_config(point), splits)["test_top1"]}
    torch.set_num_threads(point.threads)
    dense = train_config(point)
    approx = point.variant.apply(load_run_model(dense, splits.num_classes))
    tested = evaluate(approx.to(pick_device(dense.device)), splits, pick_device(dense.device))["test_top1"]
    record = {"test_top1_approximated": tested}
    record["test_top1"] = (train_or_resume(finetune_config(point), splits)["test_top1"] if point.finetune_epochs
                           else tested)
    return record


def trained_model(point: Point) -> nn.Module:
    """The trained model of a finished point, as it computes (masks and dyadic weights included)."""
    from .train import load_run_model, read_run

    classes = read_run(train_config(point).run_dir)["num_classes"]
    if point.workflow == "trained":
        return load_run_model(train_config(point), classes)
    if point.finetune_epochs:
        return load_run_model(finetune_config(point), classes)
    return point.variant.apply(load_run_model(train_config(point), classes))


class WidthAccuracy:
    """Test accuracy of trained points at the widths they are priced at (:mod:`estimator.quantize`), each
    dataset loaded once."""

    def __init__(self):
        self.splits: dict[tuple, object] = {}

    def columns(self, point: Point, model: nn.Module, priced: pd.DataFrame, accuracy: dict) -> pd.DataFrame:
        """``priced`` with ``test_top1_float`` (the float model's accuracy) and ``test_top1`` at each row's
        ``weight_bits``/``act_bits`` (post-training fake quantisation below 32 bits)."""
        from .data import load_dataset
        from .quantize import CALIBRATION_IMAGES, quantised_model
        from .train import evaluate

        key = (point.data, point.data_dir)
        if key not in self.splits:
            self.splits[key] = load_dataset(point.data, point.data_dir)
        splits = self.splits[key]
        images = torch.stack([splits.train[i][0] for i in range(min(CALIBRATION_IMAGES, len(splits.train)))])
        calibration = splits.prepare(images, train=False)
        at_width = {}
        for weight_bits, act_bits in priced[["weight_bits", "act_bits"]].drop_duplicates().itertuples(index=False):
            quantised = quantised_model(model, int(weight_bits), int(act_bits), calibration)
            at_width[weight_bits, act_bits] = evaluate(quantised, splits, torch.device("cpu"))["test_top1"]
        widths = list(zip(priced["weight_bits"], priced["act_bits"], strict=True))
        return priced.assign(**accuracy).assign(test_top1_float=accuracy["test_top1"],
                                                test_top1=[at_width[w] for w in widths],
                                                test_top1_at=[quantisation_label(*w) for w in widths])


def quantisation_label(weight_bits: int, act_bits: int) -> str:
    """How ``test_top1`` was measured at these widths: ``float32``, or ``ptq-w<b>a<b>-cal<n>`` (post-training fake
    quantisation, :mod:`estimator.quantize`, calibrated on the first n training images)."""
    from .quantize import CALIBRATION_IMAGES, FLOAT_BITS

    if weight_bits >= FLOAT_BITS and act_bits >= FLOAT_BITS:
        return "float32"
    return f"ptq-w{min(weight_bits, FLOAT_BITS)}a{min(act_bits, FLOAT_BITS)}-cal{CALIBRATION_IMAGES}"


def preflight(points: Iterable[Point]) -> None:
    """Build every distinct model of the sweep on the meta device and run it on its input shape, so that a bad
    factory option or an input the model cannot take fails in seconds, before any training; and make every trained
    point's runs folder, so that one that cannot be made fails before any work too.

    Raises:
        ValueError: one line naming the model or the folder and the problem.
    """
    points = list(points)
    for folder in sorted({p.runs_dir for p in points if p.workflow != "analytical"}):
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"runs_dir {folder}: cannot be made ({exc.strerror or exc}); expected a writable folder "
                            "for the training runs") from None
    for model, shape in {(p.model, input_shape(p)) for p in points}:
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's note on zero-element tensors: refused below
                built = build_model(model.name, **model.kwargs).eval()
                empty = next(((n, tuple(t.shape)) for n, t in built.named_parameters() if t.numel() == 0), None)
                if empty:
                    raise UserError(f"model {model.label} has an empty parameter {empty[0]} of shape {empty[1]}; "
                                    "expected every size >= 1 (a factory option such as width = 0?)")
                built(torch.empty(shape))
        except UserError:
            raise
        except (TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise UserError(f"model {model.label} cannot be built and run on input {shape}: "
                            f"{str(exc).splitlines()[0]}") from None


def sweep(spec: SweepSpec, store: str | Path | None = None, *, export: str | Path | None = None,
          executor: Executor | None = None, workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Run a sweep; returns one row per (point, hardware configuration) of ``spec``.

    Args:
        spec: a checked :class:`~estimator.plan.SweepSpec` (:func:`~estimator.plan.load_spec`).
        store: the results store (SQLite); points found there are not recomputed, each new one is committed as it
            finishes. None keeps results in memory only.
        export: also write the results to this ``.csv`` or ``.parquet`` file at the end.
        executor: runs training; default a local process pool of ``workers`` processes.
        workers: process-pool size (default: the CPU count, at most the number of points to train).
        progress: show a progress bar.
    """
    from tqdm.auto import tqdm

    for path, what in ((store, "results store"), (export, "export file")):
        if path is not None:
            check_writable(path, what)
    if export is not None and Path(export).suffix not in EXPORTS:
        raise UserError(f"export file {export}: expected a {' or '.join(EXPORTS)} suffix")
    points = spec.points()
    results = ResultStore(store) if store is not None else None
    try:
        finished = results.finished() if results else set()
        todo = [p for p in points if p.key not in finished]
        preflight(todo)
        pricer = Pricer(spec.hardware)
        widths = WidthAccuracy()
        rows: list[pd.DataFrame] = []
        bar = tqdm(total=len(points), initial=len(points) - len(todo), desc="sweep", unit="point",
                   disable=not progress)

        def record(point: Point, model: nn.Module, accuracy: dict) -> None:
            priced = pricer.price(point.labels(), model, input_shape(point))
            priced = widths.columns(point, model, priced, accuracy) if accuracy else priced
            if results:
                results.put(point.key, point.settings(), priced)
            rows.append(priced)
            bar.set_postfix_str(f"{point.model.label} {point.variant.name}" + (
                f": {accuracy['test_top1']:.2f}% (float)" if accuracy else ""), refresh=False)
            bar.update()

        for point in [p for p in todo if p.workflow == "analytical"]:
            record(point, analytical_model(point), {})
        trained = [p for p in todo if p.workflow != "analytical"]
        if trained:
            run_training(trained, record, executor, workers)
        bar.close()
        table = results.table() if results else pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    finally:
        if results:
            results.close()
    if "point" in table:
        order = {key: i for i, key in enumerate(p.key for p in points)}
        table = table[table["point"].isin(order)].sort_values("point", key=lambda k: k.map(order), kind="stable")
        table = table.reset_index(drop=True)
    if export is not None:
        export_table(table, export)
    return table


PARENT_POLL_S = 0.5
"""How often a sweep worker checks that the sweep's process is still alive."""


def die_with_parent(parent: int) -> None:
    """Initialiser of a sweep's worker processes: a daemon thread ends the worker as soon as the process that
    started it is gone (any signal, kill -9 included: the worker is then re-parented), so that no orphaned
    training keeps running."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def run_training(points: list[Point], record, executor: Executor | None, workers: int | None) -> None:
    """Train the trained points and the dense runs approximated points start from (stage 1), then approximate
    (stage 2); each point is recorded as it finishes."""
    stage1 = [p for p in points if p.workflow == "trained"]
    sources = {p.dense() for p in points if p.workflow == "approximated"} - set(stage1)
    stage2 = [p for p in points if p.workflow == "approximated"]
    own_pool = executor is None
    if own_pool:
        size = workers or min(os.cpu_count() or 1, max(len(stage1) + len(sources), len(stage2)))
        executor = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        for batch in (stage1 + sorted(sources, key=lambda p: p.key), stage2):
            futures = {executor.submit(train_point, p): p for p in batch}
            for future in as_completed(futures):
                point = futures[future]
                accuracy = future.result()
                if point not in sources:
                    record(point, trained_model(point), accuracy)
    finally:
        if own_pool:
            executor.shutdown(cancel_futures=True)
