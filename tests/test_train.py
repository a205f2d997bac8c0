"""The trainer: accuracy on digits, interrupt/resume equivalence, run records, device choice."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys

import pytest
import torch

from estimator.train import (
    TrainConfig,
    build_model,
    learning_rate,
    pick_device,
    read_run,
    train,
    train_or_resume,
)
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


def test_resume_with_more_epochs_continues_the_schedule(tmp_path):
    # cosine over 2 epochs ends at lr 0; resumed to 4 epochs the schedule is re-planned over 4:
    # epochs 3 and 4 train at 3e-3 x (1 + cos(pi x 2/4)) / 2 = 1.5e-3 and x (1 + cos(3 pi/4)) / 2 = 4.4e-4
    config = TrainConfig("digits_tanh", out=str(tmp_path), epochs=2, run="grow")
    train(config, progress=False)
    longer = TrainConfig("digits_tanh", out=str(tmp_path), epochs=4, run="grow")
    result = train(longer, resume=True, progress=False)
    lrs = result.metrics["lr"].tolist()
    assert lrs[2] == pytest.approx(1.5e-3) and lrs[3] == pytest.approx(3e-3 * (1 + math.cos(3 * math.pi / 4)) / 2)
    assert min(lrs) > 0


def test_resume_refuses_a_changed_configuration(tmp_path):
    train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=1, run="r"), progress=False)
    with pytest.raises(ValueError, match=r"configuration differs in lr \(None -> 0.01\)|differs in lr"):
        train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=2, run="r", lr=0.01), resume=True,
              progress=False)
    with pytest.raises(ValueError, match="with 0 epochs: it has completed 1"):
        train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=0, run="r"), resume=True, progress=False)


def test_checkpoints_load_without_executing_code(tmp_path):
    result = train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=1), progress=False)
    state = torch.load(result.run_dir / "checkpoint.pt", weights_only=True)
    assert set(state) == {"model", "optimizer", "epoch", "history"}


def test_seed_recipe_follows_the_official_code():
    config = TrainConfig("resnet18_cifar", recipe="seed").resolved()
    # the official code steps MultiStepLR([40, 80, ...], 0.2) before each epoch: epoch 39 (0-based) trains at 0.02
    assert learning_rate(config, 38) == pytest.approx(0.1) and learning_rate(config, 39) == pytest.approx(0.02)
    assert learning_rate(config, 149) == pytest.approx(0.1 * 0.2**6)
    assert (config.epochs, config.batch_size, config.report) == (150, 128, "best")
    assert TrainConfig("vgg16_cifar", recipe="seed120").resolved().batch_size == 64
    model = build_model(config, 10, None)
    assert float(model.stem[1].weight.detach().mean()) == 0.5 and float(model.fc.weight.detach().std()) < 0.02


def test_run_record_has_best_epoch_and_threads(tmp_path):
    result = train(TrainConfig("digits_tanh", out=str(tmp_path), epochs=3, threads=1), progress=False)
    record = read_run(result.run_dir)
    assert record["threads"] == 1 and record["best"]["test_top1"] == max(result.metrics["test_top1"])
    assert record["reported"] == "final"


def test_finished_run_is_read_and_another_epoch_count_is_another_run(tmp_path):
    config = TrainConfig("digits_tanh", out=str(tmp_path), epochs=2)
    first = train_or_resume(config)
    mtime = (config.run_dir / "checkpoint.pt").stat().st_mtime_ns
    assert train_or_resume(config) == first  # finished with this configuration: read, not retrained
    assert (config.run_dir / "checkpoint.pt").stat().st_mtime_ns == mtime
    # the report's scenario: 3 epochs over a finished 2-epoch run trains a new run (its own folder) from scratch,
    # on the 3-epoch schedule, and leaves the 2-epoch run as it was
    three = TrainConfig("digits_tanh", out=str(tmp_path), epochs=3)
    longer = train_or_resume(three)
    assert three.run_dir != config.run_dir and longer["epoch"] == 3
    assert [m["epoch"] for m in json.loads((three.run_dir / "metrics.json").read_text())] == [1, 2, 3]
    assert (config.run_dir / "checkpoint.pt").stat().st_mtime_ns == mtime
    fewer = train_or_resume(TrainConfig("digits_tanh", out=str(tmp_path), epochs=1))  # fewer: also a new run
    assert fewer["epoch"] == 1
    # extending a run stays possible, explicitly: the run named, more epochs
    extended = train_or_resume(TrainConfig("digits_tanh", out=str(tmp_path), epochs=3, run=config.run_dir.name))
    assert extended["epoch"] == 3 and read_run(config.run_dir)["final"]["lr"] > 0
    with pytest.raises(ValueError, match=r"differs in lr \(0.003 -> 0.01\)"):
        train_or_resume(TrainConfig("digits_tanh", out=str(tmp_path), epochs=3, lr=0.01, run=config.run_dir.name))


def test_a_run_folder_being_trained_into_refuses_a_second_process(tmp_path):
    from estimator.io import BusyError, exclusive_lock

    config = TrainConfig("digits_tanh", out=str(tmp_path), epochs=1).resolved()
    run_dir = config.run_dir
    lock = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom estimator.io import exclusive_lock\n"
        f"with exclusive_lock({str(run_dir.parent / '.locks' / run_dir.name)!r}, 'x'):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert lock.stdout.readline().strip() == "held"
        with pytest.raises(BusyError, match=f"run folder {run_dir} is in use by another process"):
            train(config, progress=False)
        assert not run_dir.exists()  # refused before anything was written
    finally:
        lock.kill()
        lock.wait()
    with exclusive_lock(run_dir.parent / ".locks" / run_dir.name, "x"):  # released when its holder died
        pass
    assert train(config, progress=False).final["epoch"] == 1


def test_default_run_names_share_one_scheme(tmp_path):
    dense = TrainConfig("digits_cnn", model_kwargs={"width": 8}, out=str(tmp_path))
    assert dense.resolved().run == "digits_cnn_width8-digits-dense-adam-e30-s0"
    tuned = TrainConfig("digits_cnn", variant="dyadic:t2e-4", init_from=str(dense.run_dir))
    assert tuned.resolved().run == ("digits_cnn-digits-dyadic_t2e-4-adam-e30-s0-from-"
                                    "digits_cnn_width8-digits-dense-adam-e30-s0")
    path = tmp_path / "net.py"
    path.write_text("def make():\n    pass\n")
    digest = hashlib.sha256(b"def make():\n    pass\n").hexdigest()[:8]  # an edited file is another run
    assert TrainConfig(f"{path}:make", epochs=3).resolved().run == f"net.make-{digest}-digits-dense-adam-e3-s0"


def test_a_model_whose_outputs_do_not_match_the_classes_is_refused_before_training(tmp_path):
    path = tmp_path / "net.py"  # a factory that ignores the class count
    path.write_text("from torch import nn\ndef make():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 7))\n")
    with pytest.raises(ValueError, match=r"outputs of shape \(2, 7\) on digits; expected \(batch, 10\)"):
        train(TrainConfig(f"{path}:make", out=str(tmp_path), epochs=1), progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("net.make-")]
