"""The dataset catalogue: names, image shapes, classes and the folder layout each file dataset expects, readable
without torch so that sweep files and command lines are checked before any work. :mod:`estimator.data` reads
the data."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from hwmodels.errors import UserError


class DatasetError(UserError):
    """A dataset that is unknown, missing or malformed; the message names the path and the layout expected."""


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset.

    Attributes:
        name: the name used everywhere (``--data``, sweep files, run records).
        image_shape: (C, H, W) of one image as models receive it.
        num_classes: classes (1: the binary face / non-face task with -1 / +1 targets).
        layout: what its folder holds (empty for bundled data, which needs no folder).
        required: files or folders that must exist under the folder, each as alternatives (any one suffices).
    """

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int | None
    layout: str = ""
    required: tuple[tuple[str, ...], ...] = ()

    @property
    def bundled(self) -> bool:
        return not self.layout


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATASETS = {d.name: d for d in (
    DatasetInfo("digits", (1, 8, 8), 10),
    DatasetInfo("digits28", (1, 28, 28), 10),
    DatasetInfo("mnist", (1, 28, 28), 10, "the four IDX files " + ", ".join(MNIST_FILES) + " (optionally .gz)",
                tuple((f, f + ".gz") for f in MNIST_FILES)),
    DatasetInfo("cifar10", (3, 32, 32), 10, "cifar-10-batches-py/data_batch_1..5 and test_batch (the python pickle "
                "version)", tuple((f"cifar-10-batches-py/{f}", f) for f in
                                  [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])),
    DatasetInfo("tinyimagenet", (3, 64, 64), None, "train/<wnid>/images/*.JPEG, val/images/*.JPEG and "
                "val/val_annotations.txt", (("train",), ("val/val_annotations.txt",))),
    DatasetInfo("faces", (1, 36, 32), 1, "face/* and nonface/* image crops", (("face",), ("nonface",))),
)}
"""Every dataset: digits (scikit-learn's, bundled) and digits28 (the same upsampled) need no folder."""


def dataset_info(name: str) -> DatasetInfo:
    """The catalogue entry of ``name``.

    Raises:
        DatasetError: an unknown name, with the closest known ones.
    """
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise DatasetError(f"unknown dataset '{name}'; {hint}expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def check_dataset(name: str, data_dir: str | Path | None) -> DatasetInfo:
    """``name``'s entry, after checking (without reading any data) that a file dataset's folder exists and holds
    its layout's files.

    Raises:
        DatasetError: one line naming the dataset, the folder and what is missing.
    """
    info = dataset_info(name)
    if info.bundled:
        return info
    if data_dir is None:
        raise DatasetError(f"dataset '{name}' is read from a local folder; pass data_dir (--data-dir PATH) holding "
                           f"{info.layout}")
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; expected {info.layout}")
    for alternatives in info.required:
        if not any((root / candidate).exists() for candidate in alternatives):
            raise DatasetError(f"dataset folder {root} has no {alternatives[0]}; expected {info.layout}")
    return info
