"""``fieldbench train`` on the sample workspace: table printed, model saved, config stored."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from core.cli import main
from core.train.config import load_train_config
from core.workspace import Workspace


def test_cli_trains_and_prints_the_comparison(sample_ws, capsys):
    argv = ["train", str(sample_ws.path), "--family", "dense_ae", "--epochs", "2"]
    assert main([*argv, "--qat-epochs", "1", "--save-config"]) == 0
    out = capsys.readouterr().out
    assert "| **overall** |" in out and "QAT int8" in out
    assert (sample_ws.path / "models" / "trained_dense_ae" / "trained_dense_ae.onnx").is_file()
    assert load_train_config(Workspace.open(sample_ws.path).raw).epochs == 2


def test_cli_bad_config_is_an_error_not_a_traceback(sample_ws, capsys):
    ws = Workspace.open(sample_ws.path)
    ws.raw["train"] = {"family": "transformer"}
    ws.save()
    assert main(["train", str(sample_ws.path)]) == 2
    assert "choose one of" in capsys.readouterr().err
