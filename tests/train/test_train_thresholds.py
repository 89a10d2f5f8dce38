"""Thresholds at a target false-alarm rate, per band where it matters; versioned on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.model.calibration import EvalSet
from core.train.thresholds import (
    ThresholdError,
    calibrate,
    load_component,
    save_component,
    threshold_at,
    versions,
)


def _set(n_per_band: int, shift_hot: float, seed: int = 0) -> tuple[np.ndarray, EvalSet]:
    rng = np.random.default_rng(seed)
    scores, labels, tags = [], [], []
    for band, shift in (("ambient", 0.0), ("hot", shift_hot)):
        scores += list(rng.normal(1.0 + shift, 0.1, n_per_band))
        labels += [0] * n_per_band
        scores += list(rng.normal(3.0 + shift, 0.1, n_per_band // 4))
        labels += [1] * (n_per_band // 4)
        tags += [{"temperature": band}] * (n_per_band + n_per_band // 4)
    feats = np.zeros((len(scores), 4), np.int16)
    return np.asarray(scores), EvalSet(feats, 1 / 256, np.asarray(labels), tags, ["n", "f"])


def test_threshold_keeps_false_alarms_at_or_below_the_target():
    normal = np.random.default_rng(1).normal(size=1000)
    for far in (0.1, 0.01, 0.005):
        t = threshold_at(normal, far)
        assert np.mean(normal > t) <= far


def test_band_gets_its_own_threshold_only_when_the_data_shows_it_matters():
    scores, data = _set(400, shift_hot=0.0)
    flat = calibrate(scores, data, 0.01)
    assert flat["bands"] == {}
    assert flat["validation"]["false_alarm"] <= 0.01
    scores, data = _set(400, shift_hot=0.5)
    shifted = calibrate(scores, data, 0.01)
    ambient = shifted["bands"]["temperature"]["ambient"]
    # The global threshold sits in the hot band's tail: far too high for ambient windows.
    assert ambient["false_alarm_with_default"] < 0.005
    assert ambient["threshold"] < shifted["threshold"]
    assert ambient["false_alarm"] <= 0.01
    assert ambient["detection"] == 1.0


def test_too_few_normal_windows_are_reported_not_hidden():
    scores, data = _set(30, 0.0)
    out = calibrate(scores, data, 0.001)
    assert "cannot resolve" in out["resolution_note"]


def test_components_are_versioned_and_never_overwritten(tmp_path):
    first = save_component(tmp_path, "m", {"component": "thresholds", "profiles": {}})
    second = save_component(tmp_path, "m", {"component": "thresholds", "profiles": {}})
    assert (first.name, second.name) == ("thresh-v1.json", "thresh-v2.json")
    assert versions(tmp_path, "m") == [1, 2]
    assert load_component(second)["version"] == "thresh-v2"
    assert json.loads(first.read_text())["version_number"] == 1


def test_unreadable_component_is_a_clear_error(tmp_path):
    bad = tmp_path / "thresh-v1.json"
    bad.write_text("{not json")
    with pytest.raises(ThresholdError, match="not a readable threshold component"):
        load_component(bad)
