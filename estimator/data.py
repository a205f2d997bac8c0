"""Datasets, read from local files only (nothing is downloaded at run time).

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images), the default; fixed stratified split.
  ``digits28``: the same upsampled to 28 x 28 (for MNIST-sized models).
* ``mnist``: IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-...``, optionally .gz).
* ``cifar10``: the python-pickle batches (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``).
* ``tinyimagenet``: ``train/<wnid>/images/*.JPEG`` and ``val/images`` with ``val/val_annotations.txt``.
* ``faces``: the CFF's face / non-face crops, ``face/*`` and ``nonface/*`` (any image format Pillow reads),
  converted to 36x32 grayscale.

Images are kept as uint8 (or [0, 1] floats for digits) and normalised per batch by :meth:`Splits.prepare`,
which also applies the training augmentation (random crop with padding and horizontal flip for CIFAR-10 and
Tiny ImageNet, as in the seed recipe).
"""

from __future__ import annotations

import gzip
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from hwmodels.errors import UserError

from .datasets import DATASETS, DatasetError, check_dataset


@dataclass
class Splits:
    """Train and test splits of one dataset and how to turn its batches into model inputs.

    Attributes:
        name: dataset name.
        train, test: map-style datasets yielding ``(image, label)``; images are uint8 C x H x W (or float).
        num_classes: classes (1 for the binary face / non-face task, whose targets are -1 / +1).
        mean, std: per-channel normalisation constants (applied to [0, 1] images).
        crop_padding: padding of the random crop in training (0: no crop augmentation).
        flip: random horizontal flips in training.
    """

    name: str
    train: Dataset
    test: Dataset
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int = 0
    flip: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one image."""
        return tuple(self.train[0][0].shape)

    def prepare(self, images: torch.Tensor, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """A float batch in [0, 1], augmented when ``train``, normalised per channel."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if train and self.crop_padding:
            x = random_crop(x, self.crop_padding, generator)
        if train and self.flip:
            flip = torch.rand(x.shape[0], generator=generator, device="cpu").to(x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None) -> torch.Tensor:
    """Per-sample random crops of a zero-padded batch back to its size (vectorised gather)."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def load_digits_splits(test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's digits with a fixed stratified split (20% test by default, seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=test_fraction,
                                              stratify=digits.target, random_state=seed)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return Splits("digits", TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
                  TensorDataset(torch.from_numpy(x_te), torch.from_numpy(y_te)), 10, (mean,), (std,))


def load_digits28_splits() -> Splits:
    """The digits upsampled (bilinear) to 28 x 28, for the MNIST-sized digit classifier."""
    small = load_digits_splits()

    def upsample(dataset: TensorDataset) -> TensorDataset:
        images, labels = dataset.tensors
        big = torch.nn.functional.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
        return TensorDataset(big, labels)

    return Splits("digits28", upsample(small.train), upsample(small.test), 10, small.mean, small.std)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX array (uint8 data) from ``path`` or ``path.gz``, checking its magic number and size."""
    candidate = path if path.is_file() else path.with_name(path.name + ".gz")  # check_dataset found one of them
    raw = (gzip.open if candidate.suffix == ".gz" else open)(candidate, "rb").read()
    header = np.frombuffer(raw[:4], dtype=">u4")[0] if len(raw) >= 4 else None
    if header != magic:
        raise DatasetError(f"MNIST file {candidate} is malformed: magic number {header}, expected {magic} (IDX format)")
    ndim = magic & 0xFF
    dims = np.frombuffer(raw[4:4 + 4 * ndim], dtype=">u4").astype(int)
    data = np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"MNIST file {candidate} is malformed: {data.size} bytes of data for shape {tuple(dims)}")
    return data.reshape(dims)


def load_mnist_splits(root: Path) -> Splits:
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(root / f"{prefix}-images-idx3-ubyte", 2051)
        labels = read_idx(root / f"{prefix}-labels-idx1-ubyte", 2049)
        if len(images) != len(labels):
            raise DatasetError(f"MNIST {split} split in {root}: {len(images)} images but {len(labels)} labels")
        arrays[split] = TensorDataset(torch.from_numpy(images.copy())[:, None],
                                      torch.from_numpy(labels.astype(np.int64)))
    return Splits("mnist", arrays["train"], arrays["test"], 10, (0.1307,), (0.3081,))


CIFAR10_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                   ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
"""The only callables a CIFAR-10 batch's pickle names (NumPy arrays, as pickled by Python 2 or 3)."""


class RefusedPickle(UserError, pickle.UnpicklingError):
    """A pickle naming a callable outside :data:`CIFAR10_GLOBALS`."""


class BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch without executing anything else: dicts, lists, bytes and NumPy arrays only (a
    pickle naming any other callable, e.g. ``os.system``, is refused before it runs)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in CIFAR10_GLOBALS:
            raise RefusedPickle(f"it names {module}.{name}, which a CIFAR-10 batch never holds (a crafted "
                                         "file?); refused without running it")
        return super().find_class(module, name)


def load_cifar10_splits(root: Path) -> Splits:
    folder = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = folder / name
        try:
            with open(path, "rb") as f:
                batch = BatchUnpickler(f, encoding="bytes").load()
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except RefusedPickle as exc:
            raise DatasetError(f"CIFAR-10 batch {path}: {exc}") from None
        except Exception as exc:
            raise DatasetError(f"CIFAR-10 batch {path} is malformed ({type(exc).__name__}: {exc}); "
                               f"expected a pickled dict with b'data' (N x 3072 uint8) and b'labels'") from exc
        if len(data) != len(labels):
            raise DatasetError(f"CIFAR-10 batch {path}: {len(data)} images but {len(labels)} labels")
        return data, labels

    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    test = read("test_batch")
    x_tr = torch.from_numpy(np.concatenate([d for d, _ in train]))
    y_tr = torch.from_numpy(np.concatenate([lab for _, lab in train]))
    test_set = TensorDataset(torch.from_numpy(test[0]), torch.from_numpy(test[1]))
    return Splits("cifar10", TensorDataset(x_tr, y_tr), test_set, 10, (0.4914, 0.4822, 0.4465),
                  (0.2023, 0.1994, 0.2010), crop_padding=4, flip=True)


class ImageFiles(Dataset):
    """Images decoded on access (Pillow), resized and converted to a fixed mode; uint8 C x H x W."""

    def __init__(self, paths: list[Path], labels: list[int], size: tuple[int, int], mode: str):
        self.paths, self.labels, self.size, self.mode = paths, labels, size, mode

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.paths[i]) as image:
            image = image.convert(self.mode)
            if image.size != (self.size[1], self.size[0]):
                image = image.resize((self.size[1], self.size[0]))
            array = np.asarray(image, dtype=np.uint8)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(array.copy()), self.labels[i]


def load_tinyimagenet_splits(root: Path) -> Splits:
    train_dir, annotations = root / "train", root / "val" / "val_annotations.txt"
    wnids = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    index = {w: i for i, w in enumerate(wnids)}
    train_paths, train_labels = [], []
    for wnid in wnids:
        for path in sorted((train_dir / wnid / "images").glob("*")):
            train_paths.append(path)
            train_labels.append(index[wnid])
    val_paths, val_labels = [], []
    for line_no, line in enumerate(annotations.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise DatasetError(f"{annotations}:{line_no} is malformed: expected '<file>\\t<wnid>\\t...' with a wnid "
                               f"from train/; got {line!r}")
        val_paths.append(root / "val" / "images" / fields[0])
        val_labels.append(index[fields[1]])
    if not train_paths:
        raise DatasetError(f"Tiny ImageNet folder {root} has no training images; expected "
                           f"{DATASETS['tinyimagenet'].layout}")
    return Splits("tinyimagenet", ImageFiles(train_paths, train_labels, (64, 64), "RGB"),
                  ImageFiles(val_paths, val_labels, (64, 64), "RGB"), len(wnids),
                  (0.4802, 0.4481, 0.3975), (0.2302, 0.2265, 0.2262), crop_padding=4, flip=True)


def load_faces_splits(root: Path, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """Face (+1) / non-face (-1) crops from ``face/`` and ``nonface/``, 36 x 32 grayscale, stratified split."""
    from sklearn.model_selection import train_test_split

    folders = {1: root / "face", 0: root / "nonface"}
    paths, labels = [], []
    for label, folder in folders.items():
        files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
        if not files:
            raise DatasetError(f"face folder {folder} is missing or empty; expected {root}/face/* and "
                               f"{root}/nonface/* image crops")
        paths += files
        labels += [label] * len(files)
    tr_p, te_p, tr_y, te_y = train_test_split(paths, labels, test_size=test_fraction, stratify=labels,
                                              random_state=seed)
    return Splits("faces", ImageFiles(tr_p, tr_y, (36, 32), "L"), ImageFiles(te_p, te_y, (36, 32), "L"), 1,
                  (0.5,), (0.5,))


LOADERS: dict[str, Callable[..., Splits]] = {
    "digits": lambda root: load_digits_splits(),
    "digits28": lambda root: load_digits28_splits(),
    "mnist": load_mnist_splits,
    "cifar10": load_cifar10_splits,
    "tinyimagenet": load_tinyimagenet_splits,
    "faces": load_faces_splits,
}


def load_dataset(name: str, data_dir: str | Path | None = None) -> Splits:
    """Train/test splits of dataset ``name`` (see the module doc and :data:`~estimator.datasets.DATASETS`), read
    from ``data_dir``."""
    check_dataset(name, data_dir)
    return LOADERS[name](Path(data_dir) if data_dir is not None else None)
