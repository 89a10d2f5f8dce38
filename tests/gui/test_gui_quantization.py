"""The Quantization tab: quantize + validate in the worker, report views, fixes, saved reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.quantization_jobs import GENERATED, WORKSPACE, sample_models
from gui.quantization_tab import QuantizationTab
from gui.quantization_views import FLAG_BACKGROUND

pytestmark = pytest.mark.gui


def open_tab(window: MainWindow) -> QuantizationTab:
    assert window.open_sample()
    window.tabs.setCurrentWidget(window.quantization_tab)
    return window.quantization_tab


def select_model(tab: QuantizationTab, name: str) -> None:
    i = next(
        i for i in range(tab.model_combo.count()) if tab.model_combo.itemText(i).startswith(name)
    )
    tab.model_combo.setCurrentIndex(i)


def wait_idle(qtbot, tab: QuantizationTab) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: tab.job is None, timeout=60000)


def test_before_a_run_the_tab_lists_the_sample_models_and_explains_what_to_do(
    window: MainWindow,
) -> None:
    tab = open_tab(window)
    names = [tab.model_combo.itemText(i) for i in range(tab.model_combo.count())]
    assert any(n.startswith("fan_autoencoder") for n in names)
    assert any(n.startswith("fan_conv1d_classifier") for n in names)
    assert tab.stack.currentWidget() is tab.empty
    assert "Quantize" in tab.empty.text()
    choice = tab.data_choice()
    assert choice is not None and choice.kind == GENERATED
    assert not tab.fix_button.isEnabled() and not tab.fix_all_button.isEnabled()


def test_quantizing_the_sample_autoencoder_shows_and_saves_the_report(
    qtbot, window: MainWindow
) -> None:
    tab = open_tab(window)
    select_model(tab, "fan_autoencoder")
    assert tab.run() is not None
    assert tab.cancel_button.isEnabled() and not tab.run_button.isEnabled()
    wait_idle(qtbot, tab)
    assert tab.report is not None and tab.report_path is not None, tab.status.text()
    saved = json.loads(tab.report_path.read_text())
    assert saved["model"]["name"] == "fan_autoencoder" and saved["task"] == "anomaly"
    assert tab.report_path.parent.name == "fan_autoencoder"
    assert (tab.report_path.parent / "fan_autoencoder.int8.onnx").is_file()
    assert tab.stack.currentWidget() is tab.views
    # summary: overall + one row per stratum, AUC float vs INT8
    table = tab.summary.table
    assert table.rowCount() == 1 + len(saved["strata"])
    assert table.item(0, 0).text() == "overall"
    assert table.horizontalHeaderItem(2).text() == "Float auc"
    assert table.item(0, 2).text() == f"{saved['overall']['float']['auc']:.4f}"
    # the seed's default budget holds for the sample anomaly model
    assert tab.summary.budgets.verdict("ram") == "✔ within budget"
    assert tab.summary.budgets.verdict("latency") == "✔ within budget"
    assert "of 12,288 B" in tab.summary.budgets.labels["ram"][0].text()
    # one layer row per quantized activation; histograms drawn
    assert tab.layers.table.rowCount() == len(saved["layers"])
    assert tab.histograms.weight_name == saved["weights"][0]["name"]
    assert tab.histograms.activation_name is not None
    assert tab.confusion.float_table.rowCount() == 2
    assert "report saved to" in tab.status.text()


def test_a_flagged_layer_is_highlighted_and_its_fix_applies_in_one_step(
    qtbot, window: MainWindow
) -> None:
    tab = open_tab(window)
    select_model(tab, "fan_autoencoder")
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("percentile"))
    tab.percentile.setValue(99.0)  # clips ~1 % of every activation: past the 0.1 % threshold
    tab.run()
    wait_idle(qtbot, tab)
    report = tab.report
    assert report is not None and report["flags"], tab.status.text()
    flagged = report["flags"][0]["tensor"]
    row = [layer["tensor"] for layer in report["layers"]].index(flagged)
    assert tab.layers.table.item(row, 0).background().color() == FLAG_BACKGROUND
    assert "widen" in tab.layers.table.item(row, 7).text()
    assert tab.layers.selected_tensor() == flagged  # the first flag is pre-selected
    assert "Proposed fix" in tab.layers.fix_label.text()
    assert tab.fix_button.isEnabled()
    assert tab.apply_selected_fix() is not None
    wait_idle(qtbot, tab)
    fixed = tab.report
    assert fixed is not None and fixed is not report
    assert flagged in fixed["quantization"]["overrides"]
    assert flagged not in {f["tensor"] for f in fixed["flags"]}
    layer = next(x for x in fixed["layers"] if x["tensor"] == flagged)
    assert (
        layer["saturation"]
        < next(x for x in report["layers"] if x["tensor"] == flagged)["saturation"]
    )
    saved = json.loads(tab.report_path.read_text())  # type: ignore[union-attr]
    assert flagged in saved["quantization"]["overrides"]


def test_cancelling_leaves_the_previous_report_in_place(qtbot, window: MainWindow) -> None:
    tab = open_tab(window)
    select_model(tab, "fan_conv1d_classifier")
    worker = tab.run()
    assert worker is not None
    tab.cancel_button.click()
    wait_idle(qtbot, tab)
    assert "cancelled" in tab.status.text()
    assert tab.report is None and tab.stack.currentWidget() is tab.empty


def test_a_saved_report_is_shown_again_when_the_workspace_is_reopened(
    qtbot, window: MainWindow, make_window
) -> None:
    tab = open_tab(window)
    select_model(tab, "fan_conv1d_classifier")
    tab.run()
    wait_idle(qtbot, tab)
    assert tab.report is not None
    second = make_window()
    tab2 = open_tab(second)
    select_model(tab2, "fan_conv1d_classifier")
    assert tab2.report is not None and tab2.report["model"]["name"] == "fan_conv1d_classifier"
    assert tab2.stack.currentWidget() is tab2.views
    assert "run again to apply fixes" in tab2.status.text()
    assert not tab2.fix_all_button.isEnabled()


def test_ctrl_enter_runs_and_a_broken_model_file_gives_a_clear_error(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    tab = open_tab(window)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    tab.add_model(broken)
    choice = tab.data_choice()
    assert choice is not None and choice.kind == WORKSPACE  # no generated set for it
    qtbot.keyClick(window.tabs.tabBar(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert tab.job is not None
    wait_idle(qtbot, tab)
    assert "broken.onnx" in tab.status.text() and "b00020" in tab.status.styleSheet()
    assert tab.report is None


def test_a_model_from_a_file_validates_on_the_workspace_recordings(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    tab = open_tab(window)
    source = Path(sample_models()["fan_autoencoder"]["path"])
    copy = tmp_path / "my_autoencoder.onnx"
    shutil.copyfile(source, copy)
    tab.add_model(copy)
    texts = [tab.data_combo.itemText(i) for i in range(tab.data_combo.count())]
    assert "Workspace dataset: every recording" in texts
    tab.run()
    wait_idle(qtbot, tab)
    report = tab.report
    assert report is not None, tab.status.text()
    assert report["model"]["name"] == "my_autoencoder" and report["task"] == "anomaly"
    strata = {k for s in report["strata"] for k in s["tags"]}
    assert {"temperature", "orientation"} <= strata  # the workspace's own tags
