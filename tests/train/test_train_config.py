"""The [train] table: round trip through TOML, typed errors naming the key."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.sample import ensure_sample_workspace
from core.train.config import TrainConfig, load_train_config
from core.workspace import Workspace


def test_config_round_trips_through_the_workspace_file(tmp_path):
    ws = ensure_sample_workspace(tmp_path / "ws")
    cfg = TrainConfig(family="dscnn", channels=8, blocks=1, snr_db=None, target_false_alarm=0.02)
    ws.raw["train"] = cfg.to_mapping()
    ws.save()
    again = load_train_config(Workspace.open(ws.path).raw)
    assert again == cfg
    assert again.task == "classifier"
    assert again.model_name == "trained_dscnn"


def test_missing_table_gives_defaults():
    assert load_train_config({}) == TrainConfig()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"family": "transformer"}, "choose one of"),
        ({"epochs": "ten"}, "train.epochs"),
        ({"learningRate": 3}, "learningRate"),
        ({"hidden": [8, 0]}, "train.hidden"),
        ({"lernRate": 0.1}, "unknown key"),
        ({"targetFalseAlarm": 0.9}, "targetFalseAlarm"),
        ({"profiles": ["lab"]}, "profiles"),
    ],
)
def test_bad_values_name_the_key(raw, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig.from_mapping(raw)


def test_profile_rates_default_per_profile_unless_set():
    assert TrainConfig().false_alarm_for("safety-critical") == 0.005
    assert TrainConfig(target_false_alarm=0.03).false_alarm_for("safety-critical") == 0.03
