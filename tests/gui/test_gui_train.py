"""The Train tab: a tiny run from the form, live epochs, results, hand-off, cancel."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from core.sample import ensure_sample_workspace
from core.train.config import TrainConfig, load_train_config
from core.workspace import Workspace
from gui.train_tab import TrainTab
from gui.worker import WorkerPool

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(qtbot, tmp_path):
    ws = ensure_sample_workspace(tmp_path / "ws")
    workers = WorkerPool()
    widget = TrainTab(workers, lambda: ws)
    qtbot.addWidget(widget)
    widget.set_config(TrainConfig(epochs=2, qat_epochs=1, hidden=(8, 4, 8)))
    yield widget
    workers.shutdown()


def test_training_from_the_tab_plots_epochs_and_shows_the_comparison(qtbot, tab):
    sent = []
    tab.send_to_quantization.connect(sent.append)
    with qtbot.waitSignal(tab.finished, timeout=60000):
        tab.start()
    qtbot.waitUntil(lambda: tab.worker is None, timeout=5000)
    assert len(tab.curves[("float", "train")].getData()[0]) == 2
    assert len(tab.curves[("qat", "val")].getData()[0]) == 1
    assert "PTQ int8" in tab.results.toPlainText()
    assert tab.send_button.isEnabled()
    tab.send_button.click()
    assert sent and sent[0]["model"].name == "trained_dense_ae.onnx"
    assert "relu0" in sent[0]["ranges"]
    # The form's hyper-parameters were stored in the workspace's [train] table.
    stored = load_train_config(Workspace.open(tab._workspace().path).raw)
    assert stored.epochs == 2 and stored.qat_epochs == 1


def test_cancel_stops_training_and_writes_no_model(qtbot, tab):
    tab.epochs.setValue(500)
    tab.start()
    qtbot.waitUntil(
        lambda: tab._points[("float", "train")] != [] or tab.status.text() != "", timeout=20000
    )
    tab.cancel()
    qtbot.waitUntil(lambda: tab.worker is None, timeout=30000)
    assert "cancelled" in tab.status.text()
    models = tab._workspace().path / "models"
    assert not models.exists() or list(models.iterdir()) == []


def test_bad_hidden_widths_are_reported_without_starting(tab):
    tab.hidden.setText("8, x")
    assert tab.start() is None
    assert "whole numbers" in (tab.last_error or "")


def test_without_the_extra_the_tab_explains_how_to_enable_training(qtbot, monkeypatch):
    import gui.train_tab as train_tab

    monkeypatch.setattr(train_tab, "torch_available", lambda: False)
    widget = TrainTab(WorkerPool(), lambda: None)
    qtbot.addWidget(widget)
    assert "fieldbench[train]" in widget.missing.text()
