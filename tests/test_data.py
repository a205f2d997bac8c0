"""Datasets: each standard format read from tiny files made here; malformed input names path and layout."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from estimator.data import DatasetError, load_dataset, random_crop
from tests.formats import write_cifar10, write_faces, write_idx, write_mnist, write_tinyimagenet


def test_digits_is_bundled_and_split_stratified():
    splits = load_dataset("digits")
    assert (len(splits.train), len(splits.test)) == (1437, 360)  # 1,797 images, 20% test
    assert splits.input_shape == (1, 8, 8) and splits.num_classes == 10
    counts = torch.bincount(splits.test.tensors[1], minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 per class
    assert torch.equal(load_dataset("digits").test.tensors[1], splits.test.tensors[1])  # fixed


def test_mnist_idx(tmp_path):
    splits = load_dataset("mnist", write_mnist(tmp_path))
    assert (len(splits.train), len(splits.test), splits.input_shape) == (20, 10, (1, 28, 28))
    image, label = splits.train[3]
    assert image.dtype == torch.uint8 and int(label) == 3


def test_cifar10_pickles_and_augmentation(tmp_path):
    splits = load_dataset("cifar10", write_cifar10(tmp_path))
    assert (len(splits.train), len(splits.test), splits.input_shape) == (20, 4, (3, 32, 32))
    images = torch.stack([splits.train[i][0] for i in range(4)])
    x = splits.prepare(images, train=True, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 32, 32)
    plain = splits.prepare(images, train=False)
    expected = (images[0, 0, 0, 0] / 255.0 - 0.4914) / 0.2023
    assert plain[0, 0, 0, 0].item() == pytest.approx(expected.item(), rel=1e-5)


def test_tinyimagenet_folders(tmp_path):
    splits = load_dataset("tinyimagenet", write_tinyimagenet(tmp_path))
    assert (len(splits.train), len(splits.test), splits.num_classes) == (4, 2, 2)
    image, label = splits.test[1]
    assert image.shape == (3, 64, 64) and label == 1


def test_faces_folders(tmp_path):
    splits = load_dataset("faces", write_faces(tmp_path))
    assert splits.num_classes == 1 and len(splits.train) + len(splits.test) == 10
    assert splits.train[0][0].shape == (1, 36, 32)


def test_random_crop_shifts_content():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    crops = {tuple(random_crop(x, 1, torch.Generator().manual_seed(s)).flatten().tolist()) for s in range(20)}
    assert len(crops) > 1  # different offsets
    assert tuple(x.flatten().tolist()) in crops  # offset (1, 1) is the identity


@pytest.mark.parametrize("name,break_it,message", [
    ("mnist", lambda root: (root / "t10k-labels-idx1-ubyte").unlink(),
     "has no t10k-labels-idx1-ubyte; expected the four IDX files"),
    ("mnist", lambda root: write_idx(root / "train-images-idx3-ubyte", np.zeros((2, 28, 28)), 2049),
     "magic number 2049, expected 2051"),
    ("mnist", lambda root: (root / "train-labels-idx1-ubyte").write_bytes(
        (root / "train-labels-idx1-ubyte").read_bytes()[:-3]), "bytes of data for shape"),
    ("cifar10", lambda root: (root / "cifar-10-batches-py" / "data_batch_3").unlink(),
     "has no cifar-10-batches-py/data_batch_3"),
    ("cifar10", lambda root: (root / "cifar-10-batches-py" / "test_batch").write_bytes(b"junk"), "is malformed"),
    ("tinyimagenet", lambda root: (root / "val" / "val_annotations.txt").unlink(), "has no val/val_annotations.txt"),
    ("tinyimagenet", lambda root: (root / "val" / "val_annotations.txt").write_text("x.JPEG\tn0000\n"),
     "val_annotations.txt:1 is malformed"),
    ("faces", lambda root: [p.unlink() for p in (root / "face").iterdir()], "is missing or empty"),
])
def test_malformed_datasets_name_path_and_layout(tmp_path, name, break_it, message):
    writers = {"mnist": write_mnist, "cifar10": write_cifar10, "tinyimagenet": write_tinyimagenet,
               "faces": write_faces}
    root = writers[name](tmp_path)
    break_it(root)
    with pytest.raises(DatasetError) as error:
        load_dataset(name, root)
    assert message in str(error.value) and str(tmp_path) in str(error.value)


def test_missing_folder_and_unknown_name(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("cifar10", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="pass data_dir"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")


class RunsACommand:
    """What a crafted batch holds: unpickling it would call os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_crafted_cifar10_pickle_is_refused_without_running_anything(tmp_path, protocol):
    root = write_cifar10(tmp_path / "data")
    marker = tmp_path / "ran"
    batch = root / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(pickle.dumps({b"data": RunsACommand(marker), b"labels": [0]}, protocol=protocol))
    with pytest.raises(DatasetError, match=r"data_batch_2: it names (posix|os)\.system, which a CIFAR-10 batch never "
                                           "holds"):
        load_dataset("cifar10", root)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_batches_of_every_pickle_protocol_load(tmp_path, protocol):
    # the real batches are Python 2 pickles (protocol 2) of a dict of bytes keys, a uint8 array and a list
    root = tmp_path / "data"
    write_cifar10(root)
    for path in (root / "cifar-10-batches-py").iterdir():
        batch = pickle.loads(path.read_bytes())
        batch[b"batch_label"], batch[b"filenames"] = b"training batch 1 of 5", [b"a.png"] * len(batch[b"labels"])
        path.write_bytes(pickle.dumps(batch, protocol=protocol))
    splits = load_dataset("cifar10", root)
    assert len(splits.train) == 5 * 4 and len(splits.test) == 4
