"""The reference trainer: deterministic, resumable, with atomic checkpoints and a run record.

A run folder holds ``checkpoint.pt`` (written to a temporary file and renamed, every epoch; tensors and plain
values only, so it loads with ``weights_only=True``), ``metrics.csv`` and ``metrics.json`` (one row per completed
epoch) and ``run.json`` (model, variant, data, seed, thread count, versions, configuration, and the final and
best epochs' metrics), so sweeps and plots can read results without re-running.

Everything random in an epoch (shuffling, augmentation, dropout) is drawn from generators seeded by
(seed, epoch), and the learning rate of an epoch is a closed form of the epoch (no scheduler state), so a run
interrupted after epoch k and resumed ends with the same weights and metrics as an uninterrupted run with the
same seed. On CPU the thread count changes floating-point reduction order, so it is part of the configuration
(``threads``, default 1) and recorded: the same seed and thread count give the same run.
"""

from __future__ import annotations

import json
import math
import pickle
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hwmodels.errors import UserError

from .data import Splits, load_dataset
from .io import atomic_write, atomic_write_text, exclusive_lock
from .loading import build, reference_label
from .recipes import RECIPES
from .variants.variant import DENSE, Variant


@dataclass
class TrainConfig:
    """What to train and how. Unset recipe fields take the recipe's values.

    Attributes:
        model: registered model name or ``path/to/file.py:factory`` (given ``num_classes`` if it takes it).
        data: dataset name (``estimator.datasets.DATASETS``).
        data_dir: local folder of the dataset (not needed for digits).
        variant: the variant applied to the fresh model (a :class:`~estimator.variants.Variant` or its name:
            ``dense``, ``PSD1_P16``, ``dyadic:t2``...).
        recipe: ``seed``, ``seed120`` or ``adam``; explicit fields below override it.
        epochs, batch_size, optimizer, lr, momentum, weight_decay, schedule, milestones, gamma: the recipe.
        init: ``default`` (the model's own initialisation) or ``seed`` (:func:`seed_initialisation`).
        lr_shift: epochs the schedule runs ahead (1 where the reference code steps its scheduler before training
            an epoch).
        report: ``final`` or ``best`` epoch, the accuracy a run reports (``test_top1`` of
            :func:`train_or_resume`).
        seed: seed of initialisation, shuffling and augmentation.
        threads: CPU threads (results depend on it; recorded).
        device: ``auto`` (cuda when present), ``cpu`` or ``cuda``.
        out: parent folder of run folders; run: this run's folder name (default :meth:`default_run`).
        init_from: a checkpoint or run folder whose model weights initialise the model before the variant.
        model_kwargs: extra keyword arguments of the model factory.
        workers: DataLoader workers for datasets decoded from files.
    """

    model: str
    data: str = "digits"
    data_dir: str | None = None
    variant: str = DENSE
    recipe: str = "adam"
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    milestones: list[int] | None = None
    gamma: float | None = None
    init: str | None = None
    lr_shift: int | None = None
    report: str | None = None
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    out: str = "runs"
    run: str | None = None
    init_from: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    workers: int = 0

    def resolved(self) -> TrainConfig:
        """A copy with every recipe field filled in."""
        if self.recipe not in RECIPES:
            raise UserError(f"unknown recipe '{self.recipe}'; expected one of {', '.join(RECIPES)}")
        values = asdict(self)
        values["variant"] = Variant.parse(self.variant).name
        for key, default in RECIPES[self.recipe].items():
            if values[key] is None:
                values[key] = default
        resolved = TrainConfig(**values)
        resolved.run = self.run or resolved.default_run()
        return resolved

    def default_run(self) -> str:
        """The run folder name every workflow uses:
        ``<model>[_<option><value>...]-<data>-<variant>-<recipe>-e<epochs>-s<seed>``, with ``-from-<source run>``
        for a run initialised from another (fine-tuning). The epoch count is part of it: a 3-epoch and a 6-epoch
        run are two runs (extending a run is explicit: ``train --resume --run NAME --epochs N``)."""
        variant = Variant.parse(self.variant).name
        model = reference_label(self.model) + "".join(f"_{k}{v}" for k, v in sorted(self.model_kwargs.items()))
        name = f"{model}-{self.data}-{variant}-{self.recipe}-e{self.epochs}-s{self.seed}"
        if self.init_from:
            source = Path(self.init_from)
            name += f"-from-{(source.parent if source.is_file() else source).name}"
        return name.replace(":", "_").replace("/", "_")

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.resolved().run


RESUMABLE = {"epochs", "device", "workers", "out", "run"}
"""Configuration fields a resumed run may change (a longer schedule re-plans from where the run stopped)."""


@dataclass
class TrainResult:
    """The end of a run: its folder, per-epoch metrics and the trained model."""

    run_dir: Path
    metrics: pd.DataFrame
    model: nn.Module

    @property
    def final(self) -> dict:
        return self.metrics.iloc[-1].to_dict()

    @property
    def best(self) -> dict:
        """The epoch of the highest test top-1 accuracy (the first of ties)."""
        return self.metrics.loc[self.metrics["test_top1"].idxmax()].to_dict()


def pick_device(name: str) -> torch.device:
    """``auto``: cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_model(config: TrainConfig, num_classes: int, transform: Callable[[nn.Module], nn.Module] | None) -> nn.Module:
    """Fresh model (seeded; the recipe's initialisation), optional initial weights, then the variant."""
    torch.manual_seed(config.seed)
    model = build(config.model, num_classes, **config.model_kwargs)
    if config.init == "seed":
        seed_initialisation(model)
    elif config.init != "default":
        raise UserError(f"unknown initialisation '{config.init}'; expected default or seed")
    if config.init_from:
        source = Path(config.init_from)
        model.load_state_dict(load_checkpoint(source / "checkpoint.pt" if source.is_dir() else source)["model"])
    variant = Variant.parse(config.variant)
    if not variant.is_dense:
        model = variant.apply(model)
    return transform(model) if transform else model


def check_outputs(model: nn.Module, splits: Splits, device: torch.device, name: str) -> None:
    """Refuse, before training, a model whose outputs do not match the dataset's classes (one evaluation batch of
    two images; no state changes)."""
    images, _ = next(batches(splits.test, 2, None, 0))
    model.eval()
    batch = splits.prepare(images.to(device), train=False)
    try:
        with torch.no_grad():
            shape = tuple(model(batch).shape)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model {name} cannot run on {splits.name}'s images of shape {tuple(batch.shape[1:])} "
                        f"(channels, height, width): {reason}") from None
    if len(shape) != 2 or shape[1] != splits.num_classes:
        raise UserError(f"model {name} gives outputs of shape {shape} on {splits.name}; expected (batch, "
                         f"{splits.num_classes}) for its {splits.num_classes} classes")


def seed_initialisation(model: nn.Module) -> None:
    """The periodic-sparsity paper's official initialisation: convolutions Xavier-uniform with gain 0.5, batch
    norms weight 0.5, linear layers normal(0, 0.01), every bias 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight, gain=0.5)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(0.5)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0, 0.01)
            else:
                continue
            if module.bias is not None:
                module.bias.zero_()


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    raise UserError(f"unknown optimizer '{config.optimizer}'; expected sgd or adam")


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (0-based): a closed form of the schedule over ``config.epochs``, so that a
    resumed or lengthened run continues the schedule it would have followed."""
    step = epoch + config.lr_shift
    if config.schedule == "multistep":
        return config.lr * config.gamma ** sum(step >= m for m in config.milestones)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(step, config.epochs) / max(config.epochs, 1)))
    raise UserError(f"unknown schedule '{config.schedule}'; expected multistep or cosine")


class CheckpointError(UserError):
    """A checkpoint that cannot be read: truncated or not a checkpoint, holding objects other than tensors and
    plain values, or without the model's weights; names the file."""


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded without executing code (``weights_only=True``).

    Raises:
        CheckpointError: the file is truncated or not a torch checkpoint, holds objects that only a full unpickler
            could build (refused: loading them would run code from the file), or has no ``model`` state.
        OSError: the file cannot be opened.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+) was not an allowed global", str(exc))
        what = f"it names {found.group(1)}" if found else "objects other than tensors and plain values"
        raise CheckpointError(f"checkpoint {path} is refused: {what}, and loading it would run code from the "
                              "file; expected tensors and plain values only") from None
    except (RuntimeError, KeyError, EOFError, ValueError) as exc:
        detail = str(exc).strip().split(". ")[0] or type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is truncated or not a torch checkpoint ({detail})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} has no 'model' state; expected a checkpoint written by this tool's "
                              "training (a dict with 'model', 'optimizer', 'epoch', 'history')")
    return state


def batches(dataset, batch_size: int, order: torch.Tensor | None, workers: int):
    """(images, labels) batches in ``order`` (all in sequence when None)."""
    if isinstance(dataset, TensorDataset):
        images, labels = dataset.tensors
        index = order if order is not None else torch.arange(len(images))
        for start in range(0, len(index), batch_size):
            chunk = index[start:start + batch_size]
            yield images[chunk], labels[chunk]
        return
    sampler = order.tolist() if order is not None else None
    yield from DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers)


def loss_and_correct(output: torch.Tensor, labels: torch.Tensor, top: int = 1) -> tuple[torch.Tensor, int]:
    """Loss and number correct. One output: tanh score against -1/+1 targets (MSE, as the CFF was trained);
    otherwise cross-entropy and top-``top`` accuracy."""
    if output.shape[1] == 1:
        targets = labels.float() * 2 - 1
        return F.mse_loss(output[:, 0], targets), int(((output[:, 0] > 0) == (labels > 0)).sum())
    k = min(top, output.shape[1])
    correct = (output.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum()
    return F.cross_entropy(output, labels), int(correct)


def evaluate(model: nn.Module, splits: Splits, device: torch.device, batch_size: int = 256, workers: int = 0) -> dict:
    """Test loss, top-1 and top-5 accuracy (in %)."""
    model.eval()
    total, loss_sum, top1, top5 = 0, 0.0, 0, 0
    with torch.no_grad():
        for images, labels in batches(splits.test, batch_size, None, workers):
            x, y = splits.prepare(images.to(device), train=False), labels.to(device)
            out = model(x)
            loss, c1 = loss_and_correct(out, y, 1)
            _, c5 = loss_and_correct(out, y, 5)
            total += len(y)
            loss_sum += float(loss) * len(y)
            top1, top5 = top1 + c1, top5 + c5
    return {"test_loss": loss_sum / total, "test_top1": 100.0 * top1 / total, "test_top5": 100.0 * top5 / total}


def train_epoch(model, splits, optimizer, config: TrainConfig, device, epoch: int, progress: bool) -> dict:
    """One epoch with all randomness drawn from generators seeded by (seed, epoch)."""
    from tqdm.auto import tqdm

    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and other global-RNG draws
    order = torch.randperm(len(splits.train), generator=generator)
    model.train()
    seen, loss_sum, correct = 0, 0.0, 0
    steps = -(-len(order) // config.batch_size)
    bar = tqdm(batches(splits.train, config.batch_size, order, config.workers), total=steps, leave=False,
               desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, file=sys.stderr)
    for images, labels in bar:
        x = splits.prepare(images.to(device), train=True, generator=generator)
        y = labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss, c = loss_and_correct(model(x), y)
        loss.backward()
        optimizer.step()
        seen += len(y)
        loss_sum += loss.item() * len(y)
        correct += c
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}%", refresh=False)
    return {"train_loss": loss_sum / seen, "train_top1": 100.0 * correct / seen}


def versions() -> dict:
    from . import __version__

    return {"estimator": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def train(config: TrainConfig, *, transform: Callable[[nn.Module], nn.Module] | None = None, resume: bool = False,
          progress: bool = True, splits: Splits | None = None,
          on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data``; see the module doc for the run folder.

    Args:
        config: what and how to train.
        transform: a model transformation (variant hook) applied after ``config.variant``; its constraints
            must hold through optimisation (e.g. a parametrization).
        resume: continue from the run folder's checkpoint (an error if there is none); otherwise an existing
            run folder is an error, so nothing is overwritten.
        progress: show a progress bar per epoch.
        splits: the data, if already loaded (else ``load_dataset(config.data, config.data_dir)``).
        on_epoch_end: called with (epoch, metrics) after each epoch's checkpoint is written.
    """
    config = config.resolved()
    run_dir = Path(config.out) / config.run
    with exclusive_lock(run_dir.parent / ".locks" / run_dir.name, f"run folder {run_dir}"):
        return train_locked(config, run_dir, transform, resume, progress, splits, on_epoch_end)


def train_locked(config: TrainConfig, run_dir: Path, transform, resume: bool, progress: bool, splits: Splits | None,
                 on_epoch_end) -> TrainResult:
    """:func:`train` of a resolved configuration, its run folder locked by this process."""
    checkpoint_path = run_dir / "checkpoint.pt"
    if resume and not checkpoint_path.is_file():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {checkpoint_path}")
    if not resume and checkpoint_path.exists():
        raise FileExistsError(f"run folder {run_dir} already has a checkpoint; pass resume=True (--resume) "
                              "or choose another run name")
    state = load_checkpoint(checkpoint_path) if resume else None
    if state is not None:
        check_resumable(config, read_run(run_dir)["config"], state["epoch"] + 1, run_dir)
    splits = splits or load_dataset(config.data, config.data_dir)
    device = pick_device(config.device)
    torch.set_num_threads(config.threads)
    model = build_model(config, splits.num_classes, transform).to(device)
    check_outputs(model, splits, device, config.model)
    optimizer = make_optimizer(config, model)
    history: list[dict] = []
    start_epoch = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch = state["history"], state["epoch"] + 1
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"model": config.model, "variant": config.variant, "data": config.data, "seed": config.seed,
              "threads": config.threads, "num_classes": splits.num_classes, "config": asdict(config),
              "versions": versions(), "device": str(device), "status": "running"}
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=1, default=str))
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch)
        metrics = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        metrics.update(train_epoch(model, splits, optimizer, config, device, epoch, progress))
        metrics.update(evaluate(model, splits, device, workers=config.workers))
        metrics["epoch_time_s"] = time.perf_counter() - started
        history.append(metrics)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                 "history": history}
        atomic_write(checkpoint_path, lambda tmp, s=state: torch.save(s, tmp))
        frame = pd.DataFrame(history)
        atomic_write_text(run_dir / "metrics.csv", frame.to_csv(index=False))
        atomic_write_text(run_dir / "metrics.json", frame.to_json(orient="records", indent=1))
        if progress:
            print(f"epoch {epoch + 1}/{config.epochs}: train {metrics['train_top1']:.2f}%  "
                  f"test {metrics['test_top1']:.2f}%  ({metrics['epoch_time_s']:.1f} s)", file=sys.stderr)
        if on_epoch_end:
            on_epoch_end(epoch, metrics)
    result = TrainResult(run_dir, pd.DataFrame(history), model)
    record.update(status="finished", final=result.final if history else {}, best=result.best if history else {},
                  reported=config.report, params=sum(p.numel() for p in model.parameters()))
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=1, default=str))
    return result


def check_resumable(config: TrainConfig, stored: dict, completed: int, run_dir: Path) -> None:
    """Refuse to resume a run under a configuration it was not trained with (but for :data:`RESUMABLE` fields),
    or with fewer epochs than it has completed."""
    current = asdict(config)
    differing = [f"{k} ({stored.get(k)!r} -> {current[k]!r})" for k in current
                 if k not in RESUMABLE and stored.get(k) != current[k]]
    if differing:
        raise UserError(f"cannot resume {run_dir}: its configuration differs in {', '.join(differing)}; start a "
                         "new run (another --run name) or restore them")
    if config.epochs < completed:
        raise UserError(f"cannot resume {run_dir} with {config.epochs} epochs: it has completed {completed}")


def read_run(run_dir: str | Path) -> dict:
    """The run record of a finished or running run folder."""
    return json.loads((Path(run_dir) / "run.json").read_text())


def is_finished(run_dir: str | Path) -> bool:
    """True when the run folder records a finished run."""
    path = Path(run_dir) / "run.json"
    return path.is_file() and read_run(run_dir)["status"] == "finished"


def train_or_resume(config: TrainConfig, splits: Splits | None = None, progress: bool = False) -> dict:
    """The reported epoch's metrics of the run ``config`` names (the final epoch, or the best for recipes that
    report it): read when the run finished with this configuration, else trained (resumed from its checkpoint when
    one exists; a finished run asked for more epochs is continued on its re-planned schedule). Lets sweeps and
    tables rerun without repeating finished work.

    Raises:
        ValueError: the run folder holds a run of another configuration (the fields are named).
    """
    resolved = config.resolved()
    run_dir = Path(resolved.out) / resolved.run
    if is_finished(run_dir):
        record = read_run(run_dir)
        completed = int(record["final"].get("epoch", 0)) if record.get("final") else 0
        check_resumable(resolved, record["config"], completed, run_dir)
        if completed == resolved.epochs:
            return record[resolved.report]
    result = train(config, splits=splits, progress=progress, resume=(run_dir / "checkpoint.pt").exists())
    return result.best if resolved.report == "best" else result.final


def load_run_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """The trained model of a run folder, rebuilt as its run built it (initial weights, variant) and loaded
    from its checkpoint."""
    config = config.resolved()
    model = build_model(config, num_classes, None)
    model.load_state_dict(load_checkpoint(Path(config.out) / config.run / "checkpoint.pt")["model"])
    return model
