"""Writers of tiny datasets in the standard on-disk formats, for tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, n_train: int = 20, n_test: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 2049)
    return root


def write_cifar10(root: Path, per_batch: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": list(range(per_batch))}
        (folder / name).write_bytes(pickle.dumps(batch))
    return root


def write_image(path: Path, size: tuple[int, int], mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)


def write_tinyimagenet(root: Path, wnids=("n01443537", "n01629819"), per_class: int = 2) -> Path:
    lines = []
    for c, wnid in enumerate(wnids):
        images = root / "train" / wnid / "images"
        images.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            write_image(images / f"{wnid}_{i}.JPEG", (64, 64), "RGB", seed=10 * c + i)
        (root / "val" / "images").mkdir(parents=True, exist_ok=True)
        name = f"val_{c}.JPEG"
        write_image(root / "val" / "images" / name, (64, 64), "RGB", seed=100 + c)
        lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def write_faces(root: Path, per_class: int = 5) -> Path:
    for label, folder in enumerate(("nonface", "face")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            write_image(root / folder / f"{i}.png", (40, 44), "L", seed=1000 * label + i)
    return root
