"""The trainer: accuracy on digits, interrupt/resume equivalence, run records, device choice."""

from __future__ import annotations

import json

import pytest
import torch

from estimator.train import TrainConfig, pick_device, read_run, train
from tests.formats import write_cifar10, write_faces


class Interrupt(Exception):
    pass


def test_digits_model_reaches_97_percent(tmp_path):
    result = train(TrainConfig("digits_cnn", out=str(tmp_path), epochs=15), progress=False)
    assert result.final["test_top1"] >= 97.0
    record = read_run(result.run_dir)
    assert record["status"] == "finished" and record["final"]["test_top1"] == result.final["test_top1"]
    assert record["versions"]["torch"] == torch.__version__ and record["seed"] == 0


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    config = TrainConfig("digits_tanh", out=str(tmp_path), epochs=3, run="straight")
    straight = train(config, progress=False)

    def stop_after_second(epoch, metrics):
        if epoch == 1:
            raise Interrupt

    broken = TrainConfig("digits_tanh", out=str(tmp_path), epochs=3, run="broken")
    with pytest.raises(Interrupt):
        train(broken, progress=False, on_epoch_end=stop_after_second)
    assert len(json.loads((tmp_path / "broken" / "metrics.json").read_text())) == 2
    resumed = train(broken, resume=True, progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    columns = [c for c in straight.metrics.columns if c != "epoch_time_s"]
    assert straight.metrics[columns].equals(resumed.metrics[columns])
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic writes leave no temporary files


def test_existing_run_is_not_overwritten_and_resume_needs_a_checkpoint(tmp_path):
    config = TrainConfig("digits_tanh", out=str(tmp_path), epochs=1)
    train(config, progress=False)
    with pytest.raises(FileExistsError, match="already has a checkpoint"):
        train(config, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=1, run="other"), resume=True, progress=False)


def test_seed_recipe_and_cifar_pipeline(tmp_path):
    data = write_cifar10(tmp_path / "cifar")
    config = TrainConfig("mobilenetv2_cifar", data="cifar10", data_dir=str(data), recipe="seed", epochs=1,
                         batch_size=8, out=str(tmp_path / "runs"))
    resolved = config.resolved()
    assert (resolved.optimizer, resolved.lr, resolved.momentum, resolved.weight_decay) == ("sgd", 0.1, 0.9, 5e-4)
    assert resolved.milestones == [40, 80, 100, 115, 130, 140] and resolved.gamma == 0.2
    result = train(config, progress=False)
    assert set(result.metrics.columns) >= {"train_loss", "test_top1", "test_top5", "lr"}


def test_device_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    assert pick_device("cpu").type == "cpu"


def test_face_finder_trains_on_a_folder_of_crops(tmp_path):
    data = write_faces(tmp_path / "faces", per_class=12)
    result = train(TrainConfig("cff", data="faces", data_dir=str(data), epochs=2, batch_size=8,
                               out=str(tmp_path / "runs")), progress=False)
    assert result.model.n2.out_features == 1  # one tanh score, -1 non-face / +1 face
    assert len(result.metrics) == 2
    # the binary path: accuracy is the sign of the score, so top-5 is top-1, and the MSE of a tanh score
    # against -1/+1 targets lies in [0, 4]
    assert result.final["test_top5"] == result.final["test_top1"]
    assert 0 < result.final["train_loss"] < 4
