"""A whole training run on the sample workspace (tiny epochs): files, table, atomicity, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from core.dataset import Dataset
from core.errors import Cancelled
from core.model.onnx_io import load_model
from core.train.config import TrainConfig
from core.train.errors import BudgetError, NonFiniteLossError, TrainDataError
from core.train.pipeline import run_training

TINY = {"epochs": 2, "qat_epochs": 1, "hidden": (8, 4, 8), "channels": 6}


def test_autoencoder_run_writes_model_report_thresholds_and_table(sample_ws):
    epochs = []
    cfg = TrainConfig(family="dense_ae", **TINY)
    result = run_training(sample_ws.path, sample_ws.features, cfg, on_epoch=epochs.append)
    assert [(e.phase, e.epoch) for e in epochs] == [("float", 1), ("float", 2), ("qat", 1)]
    folder = sample_ws.path / "models" / "trained_dense_ae"
    assert result.model_dir == folder
    names = {p.name for p in folder.iterdir()}
    assert {"trained_dense_ae.onnx", "trained_dense_ae-int8.onnx", "training.json"} <= names
    assert load_model(folder / "trained_dense_ae.onnx").sample_shape == (57,)
    record = json.loads((folder / "training.json").read_text())
    overall = record["comparison"]["overall"]
    assert record["comparison"]["metric"] == "auc"
    assert all(0.0 <= overall[k] <= 1.0 for k in ("float", "ptq", "qat"))
    assert set(record["qat_ranges"]) >= {"features", "relu0", "reconstruction"}
    assert result.thresholds_path is not None and result.thresholds_path.name == "thresh-v1.json"
    thresholds = json.loads(result.thresholds_path.read_text())
    assert set(thresholds["profiles"]) == set(cfg.profiles)
    assert result.report_path is not None and result.report_path.is_file()
    # No staging leftovers beside the model.
    assert [p.name for p in (sample_ws.path / "models").iterdir()] == ["trained_dense_ae"]


def test_same_seed_same_model(sample_ws):
    cfg = TrainConfig(family="conv1d", **TINY)
    a = run_training(sample_ws.path, sample_ws.features, cfg).deployed_float.read_bytes()
    b = run_training(sample_ws.path, sample_ws.features, cfg).deployed_float.read_bytes()
    assert a == b
    thresholds = sorted(p.name for p in (sample_ws.path / "thresholds" / cfg.model_name).iterdir())
    assert thresholds == ["thresh-v1.json", "thresh-v2.json"]


def test_cancelled_run_leaves_the_previous_model_untouched(sample_ws):
    cfg = TrainConfig(family="dense_ae", **TINY)
    first = run_training(sample_ws.path, sample_ws.features, cfg)
    before = first.deployed_float.read_bytes()
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 40  # mid-way through float training

    with pytest.raises(Cancelled):
        run_training(sample_ws.path, sample_ws.features, cfg.replace(seed=5), cancel=cancel)
    assert first.deployed_float.read_bytes() == before
    assert [p.name for p in (sample_ws.path / "models").iterdir()] == ["trained_dense_ae"]
    assert [p.name for p in first.thresholds_path.parent.iterdir()] == ["thresh-v1.json"]


def test_nan_loss_is_a_clear_error(sample_ws):
    import torch

    from core.train.data import load_train_data
    from core.train.loop import train_float
    from core.train.nets import build_net

    cfg = TrainConfig(family="dense_ae", **TINY)
    data = load_train_data(sample_ws.path, sample_ws.features, cfg)
    net = build_net(cfg, data.sample_shape, 2)
    with torch.no_grad():
        net.layers[0].weight[0, 0] = float("nan")  # what a diverged update leaves behind
    with pytest.raises(NonFiniteLossError, match=r"lower train\.learningRate"):
        train_float(net, data, cfg)


def test_unlabelled_recordings_are_refused(sample_ws):
    with Dataset.open(sample_ws.path) as ds, ds.transaction():
        ds.add_recording(
            np.zeros((3200, 3), np.int16),
            label=None,
            tags={},
            sample_rate=1600.0,
            channel_names=("accX", "accY", "accZ"),
            units="g",
            fixed_point_scale=8000.0,
            session=ds.new_session(),
        )
    with pytest.raises(TrainDataError, match="have no label"):
        run_training(sample_ws.path, sample_ws.features, TrainConfig(**TINY))


def test_a_class_missing_from_a_part_is_named(sample_ws):
    cfg = TrainConfig(family="conv1d", split_fractions=(0.9, 0.05, 0.05), **TINY)
    with pytest.raises(TrainDataError, match=r"has no recordings in the (val|train) part"):
        for seed in range(20):  # some seed leaves a class out of validation
            run_training(sample_ws.path, sample_ws.features, cfg.replace(split_seed=seed))
    assert not (sample_ws.path / "models").exists() or not any(
        p.name.startswith(".") for p in (sample_ws.path / "models").iterdir()
    )


def test_a_model_over_the_ram_budget_is_refused_before_training(sample_ws):
    cfg = TrainConfig(family="dense_ae", hidden=(1024, 1024), epochs=1, qat_epochs=0)
    with pytest.raises(BudgetError, match="over the device budget"):
        run_training(sample_ws.path, sample_ws.features, cfg)
    assert not (sample_ws.path / "models" / cfg.model_name).exists()
