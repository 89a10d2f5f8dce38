"""Evaluation sets from the workspace's dataset store, and the sample models built from it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main as cli_main
from core.dataset import Dataset, DatasetError, Segment
from core.dataset.schema import BUILTIN_TAGS
from core.dataset.splits import load_split, make_split
from core.dsp.fixed import extract_features, frame_count
from core.model import samples
from core.model.budget import DEFAULT_MAX_LATENCY_MS, DEFAULT_PEAK_RAM_BUDGET_BYTES
from core.model.datasets import (
    DatasetEvalError,
    WindowLayout,
    dataset_eval_set,
    workspace_sets,
)
from core.model.report import load_report
from core.paths import resources_dir
from core.sample import ensure_sample_workspace
from core.workspace import Workspace

AE = resources_dir() / "models" / "fan_autoencoder.onnx"
SPLIT = "eval"
SCHEMA_TAGS = {*BUILTIN_TAGS, "speed"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    workspace = ensure_sample_workspace(tmp_path_factory.mktemp("sample") / "ws")
    with Dataset.open(workspace.path) as ds:
        make_split(ds, fractions=samples.SPLIT_FRACTIONS, seed=samples.TRAIN_SEED, name=SPLIT)
    return workspace


def _part(ws: Workspace, part: str) -> list:
    with Dataset.open(ws.path) as ds:
        return [ds.get(int(i)) for i in load_split(ds, SPLIT).parts[part]]


def test_a_split_part_gives_one_row_per_frame_with_the_catalogs_tags_and_labels(ws):
    data = dataset_eval_set(ws, split=SPLIT, part="val")
    infos = _part(ws, "val")
    assert len(data) == sum(frame_count(i.samples, ws.features) for i in infos)
    assert data.features.shape[1:] == (ws.features.frame_length,)
    assert data.class_names == ["normal", "imbalance"]  # [dataset] labels
    assert set(data.tag_keys()) == SCHEMA_TAGS and "sensor_age" not in data.tag_keys()
    expected_labels, expected_tags = [], []
    for info in infos:
        n = frame_count(info.samples, ws.features)
        expected_labels += [data.class_names.index(info.label)] * n
        expected_tags += [info.tags] * n
    assert data.labels.tolist() == expected_labels
    assert data.tags == expected_tags


def test_rows_are_the_front_ends_frames_of_each_recording(ws):
    infos = _part(ws, "test")
    data = dataset_eval_set(ws, split=SPLIT, part="test")
    with Dataset.open(ws.path) as ds:
        first = extract_features(np.asarray(ds.load(infos[0].id)), ws.features)
    assert np.array_equal(data.features[: first.shape[0]], first)
    assert data.input_scale == 1 / 256


def test_a_conv_model_gets_consecutive_frames_feature_major(ws):
    frames = 8
    data = dataset_eval_set(
        ws, split=SPLIT, part="test", sample_shape=(ws.features.frame_length, 1, frames)
    )
    infos = _part(ws, "test")
    with Dataset.open(ws.path) as ds:
        first = extract_features(np.asarray(ds.load(infos[0].id)), ws.features)
    assert data.features.shape[1:] == (ws.features.frame_length, 1, frames)
    assert np.array_equal(data.features[0], first[:frames].T[:, None, :])
    assert np.array_equal(data.features[1], first[frames : 2 * frames].T[:, None, :])
    counts = [frame_count(i.samples, ws.features) for i in infos]
    assert len(data) == sum((n - frames) // frames + 1 for n in counts)


def test_noise_profile_recordings_are_left_out(ws):
    data = dataset_eval_set(ws, task="anomaly")  # no split: every recording
    speeds = {t["speed"] for t in data.tags}
    assert "off" not in speeds  # the background recordings are the only ones at speed off
    assert data.class_names == ["normal", "imbalance"]
    assert set(data.labels.tolist()) == {0, 1}


def test_calibration_comes_from_the_train_part_and_validation_from_another(ws):
    sets = workspace_sets(ws, SPLIT, part="test", task="anomaly")
    train = _part(ws, "train")
    assert len(sets.calibration) == sum(frame_count(i.samples, ws.features) for i in train)
    assert len(sets.validation) == len(dataset_eval_set(ws, split=SPLIT, part="test"))
    assert sets.features == ws.features


def test_segments_label_the_windows_they_hold(tmp_path):
    ws = Workspace.create(tmp_path / "seg", "seg")
    cfg = ws.features
    n = cfg.segment_length + 9 * cfg.hop  # 10 frames
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, 3)) * 400).astype(np.int16)
    cut = cfg.segment_length + 4 * cfg.hop  # frames 0..4 end at or before the cut
    with Dataset.open(ws.path) as ds:
        ds.add_recording(
            x,
            label=None,
            tags={"temperature": "hot"},
            sample_rate=cfg.sampleRate,
            channel_names=("x", "y", "z"),
            units="g",
            fixed_point_scale=cfg.fixedPointScale,
            session=ds.new_session(),
            segments=[Segment(0, cut, "normal"), Segment(cut, n, "imbalance")],
        )
    data = dataset_eval_set(ws, class_names=["normal", "imbalance"])
    # Frames 0-4 lie in the first segment; frames 5-6 straddle the cut and are left out;
    # frames 7-9 start at or after it.
    starts = [k * cfg.hop for k in range(10)]
    inside_first = [s + cfg.segment_length <= cut for s in starts]
    inside_second = [s >= cut for s in starts]
    assert data.labels.tolist() == [0] * sum(inside_first) + [1] * sum(inside_second)
    assert data.tags[0] == {"temperature": "hot"}


def test_a_model_shape_that_does_not_fit_the_features_names_both(ws):
    with pytest.raises(DatasetEvalError, match=r"\[40\].*frames of 57 values"):
        dataset_eval_set(ws, split=SPLIT, sample_shape=(40,))
    assert WindowLayout.for_shape((57, 1, 4), 57) == WindowLayout(4, True)


def test_an_unknown_split_lists_the_saved_ones(ws):
    with pytest.raises(DatasetError, match=f"no split named 'nope'; saved splits: .*{SPLIT}"):
        dataset_eval_set(ws, split="nope")
    with pytest.raises(DatasetEvalError, match="part 'holdout' is unknown"):
        dataset_eval_set(ws, split=SPLIT, part="holdout")


def test_a_recording_at_another_rate_is_refused_with_the_fix(tmp_path):
    ws = Workspace.create(tmp_path / "rate", "rate")
    with Dataset.open(ws.path) as ds:
        ds.add_recording(
            np.zeros((4000, 3), np.int16),
            label="normal",
            tags={},
            sample_rate=800.0,
            channel_names=("x", "y", "z"),
            units="g",
            fixed_point_scale=8000.0,
            session=ds.new_session(),
        )
    with pytest.raises(DatasetEvalError, match="800 Hz but \\[features\\] sampleRate is 1600"):
        dataset_eval_set(ws)


def test_cli_quantizes_and_validates_on_a_workspace_split(ws, tmp_path, capsys):
    out = tmp_path / "ae.int8.onnx"
    args = ["--workspace", str(ws.path), "--split", SPLIT, "--part", "test"]
    rc = cli_main(["quantize", str(AE), *args, "--out", str(out)])
    text = capsys.readouterr().out
    assert rc in (0, 1) and out.is_file()
    assert "temperature=" in text and "age=" in text and "tag combinations" in text
    report = load_report(ws.path / "reports" / "quantization" / "fan_autoencoder" / "report.json")
    assert report["overall"]["n"] == len(dataset_eval_set(ws, split=SPLIT, part="test"))
    keys = {k for s in report["strata"] for k in s["tags"]}
    assert keys == SCHEMA_TAGS
    rc = cli_main(["validate", str(AE), str(out), *args])
    assert rc in (0, 1) and "overall auc" in capsys.readouterr().out
    rc = cli_main(["validate", str(AE), str(out), "--workspace", str(ws.path), "--split", "x"])
    assert rc == 2 and "no split named 'x'" in capsys.readouterr().err


def test_sample_models_regenerate_identically_from_the_sample_workspace(tmp_path):
    first = samples.build_sample_models(tmp_path / "a")
    samples.build_sample_models(tmp_path / "b")
    for name in ("fan_autoencoder.onnx", "fan_conv1d_classifier.onnx", "models.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    ae = first[samples.AUTOENCODER_NAME]
    assert ae["tags"] == ["temperature", "orientation", "noise", "age", "speed"]
    assert ae["peakRamBudgetBytes"] == DEFAULT_PEAK_RAM_BUDGET_BYTES == 12288
    assert ae["maxLatencyMs"] == DEFAULT_MAX_LATENCY_MS == 45.0
    budget = ae["budget"]
    assert isinstance(budget, dict)
    assert budget["pool_bytes"] <= 12288 and budget["latency_ms"] <= 45.0
    if budget["fe_pool_bytes"] is not None:  # the C++ host build is there: the pool counts it
        assert budget["pool_bytes"] == budget["arena_bytes"] + budget["fe_pool_bytes"]
    saved = json.loads((tmp_path / "a" / "models.json").read_text())
    assert saved[samples.CLASSIFIER_NAME]["classes"] == ["normal", "imbalance"]


def test_the_shipped_sample_models_are_the_regenerated_ones(tmp_path):
    samples.build_sample_models(tmp_path)
    shipped = resources_dir() / "models"
    for name in ("fan_autoencoder.onnx", "fan_conv1d_classifier.onnx", "models.json"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), (
            f"{name} differs: run scripts/make_sample_models.py"
        )


def test_the_sample_models_take_the_sample_workspaces_frames():
    manifest = json.loads((resources_dir() / "models" / "models.json").read_text())
    width = samples.SAMPLE_FEATURES.frame_length
    assert manifest[samples.AUTOENCODER_NAME]["input_shape"] == [1, width]
    assert manifest[samples.CLASSIFIER_NAME]["input_shape"] == [1, width, 1, 8]
