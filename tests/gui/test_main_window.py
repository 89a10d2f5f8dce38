"""The main window: empty state, opening workspaces, recent list, layout, errors, log."""

import logging
import shutil
import sys
import threading
from pathlib import Path

import pytest

from core.workspace import CONFIG_NAME, Workspace
from gui.app import install_excepthook, open_initial_workspace
from gui.main_window import MainWindow
from gui.settings import MAX_RECENT

pytestmark = pytest.mark.gui

SAMPLE_RECORDINGS = ["fan_high_imbalance.npy", "fan_low_normal.csv", "fan_medium_normal.wav"]


def test_without_a_workspace_the_window_shows_the_empty_state(window: MainWindow) -> None:
    assert window.stack.currentWidget() is window.empty_state
    assert window.empty_state.isVisible()
    assert not window.stream_menu.isEnabled()
    assert window.workspace_label.text() == "No workspace open"


def test_the_empty_state_sample_button_opens_the_sample_workspace(window: MainWindow) -> None:
    window.empty_state.sample_button.click()
    assert window.workspace is not None
    assert window.stack.currentWidget() is window.tabs


def test_opening_the_sample_shows_the_features_tab_and_its_recordings(
    window: MainWindow, tmp_path: Path
) -> None:
    assert window.open_sample()
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs[:2] == ["Features", "Capture"]
    assert window.features_tab.isVisible()
    assert window.features_tab.sources.recording_names() == SAMPLE_RECORDINGS
    assert window.workspace is not None
    assert window.workspace.path.is_relative_to(tmp_path / "data")
    assert "Sample: ceiling-fan vibration" in window.workspace_label.text()
    assert window.features_tab.playing


def test_a_folder_without_a_workspace_gives_a_one_line_message(
    window: MainWindow, tmp_path: Path
) -> None:
    assert not window.open_workspace(tmp_path)
    assert window.last_error is not None
    assert "this folder is not a workspace" in window.last_error
    assert window._message_box is not None and window._message_box.isVisible()
    assert window._message_box.text() == window.last_error
    assert window.stack.currentWidget() is window.empty_state


def test_a_bad_key_in_fieldbench_toml_is_named_with_its_allowed_values(
    window: MainWindow, tmp_path: Path
) -> None:
    ws = Workspace.create(tmp_path / "ws", "bad")
    text = ws.config_path.read_text().replace('window = "hann"', 'window = "triangle"')
    ws.config_path.write_text(text)
    assert not window.open_workspace(ws.path)
    assert window.last_error is not None
    assert "features.window = 'triangle'" in window.last_error
    assert "'hann', 'rectangular'" in window.last_error
    assert "\n" not in window.last_error


def test_a_new_workspace_is_created_with_its_fieldbench_toml(
    window: MainWindow, tmp_path: Path
) -> None:
    assert window.create_workspace(tmp_path / "bench", "Bench rig")
    assert (tmp_path / "bench" / CONFIG_NAME).is_file()
    assert window.windowTitle().startswith("Bench rig")


def test_recent_workspaces_persist_most_recent_first(make_window, tmp_path: Path) -> None:
    first = make_window()
    first.create_workspace(tmp_path / "a", "A")
    first.create_workspace(tmp_path / "b", "B")
    first.close()
    second = make_window()
    expected = [str((tmp_path / "b").resolve()), str((tmp_path / "a").resolve())]
    assert second.recent_paths() == expected
    second.rebuild_recent_menu()
    assert [a.data() for a in second.recent_menu.actions()] == expected


def test_the_recent_list_keeps_eight_entries(window: MainWindow, tmp_path: Path) -> None:
    for i in range(MAX_RECENT + 2):
        window.create_workspace(tmp_path / f"ws{i}", f"W{i}")
    assert len(window.recent_paths()) == MAX_RECENT
    assert window.recent_paths()[0] == str((tmp_path / f"ws{MAX_RECENT + 1}").resolve())


def test_missing_recent_workspaces_are_pruned_with_a_message(make_window, tmp_path: Path) -> None:
    first = make_window()
    first.create_workspace(tmp_path / "keep", "Keep")
    first.create_workspace(tmp_path / "gone", "Gone")
    first.close()
    shutil.rmtree(tmp_path / "gone")
    second = make_window()
    second.rebuild_recent_menu()
    assert second.recent_paths() == [str((tmp_path / "keep").resolve())]
    assert "removed 1 missing workspace(s) from the recent list" in second.log_console.text()


def test_the_last_workspace_reopens_on_start(make_window, tmp_path: Path) -> None:
    first = make_window()
    first.create_workspace(tmp_path / "last", "Last")
    first.close()
    second = make_window()
    open_initial_workspace(second, None, sample=False)
    assert second.workspace is not None and second.workspace.name == "Last"


def test_window_geometry_and_dock_state_are_restored(make_window) -> None:
    first = make_window()
    # The offscreen screen is 800 px wide, so the height is what the test varies.
    first.resize(first.minimumSizeHint().width(), 520)
    first.log_console.hide()
    first.close()
    second = MainWindow()
    try:
        assert second.height() == 520
        assert second.log_console.isHidden()
    finally:
        second.close()
        second.deleteLater()


def test_an_uncaught_exception_is_logged_and_shown_as_one_line(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook(window)
    try:
        raise KeyError("sensor")
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert window.last_error == "unexpected error: KeyError: 'sensor'"
    assert "Traceback (most recent call last)" in window.log_console.text()


def test_the_log_console_shows_records_from_other_threads(qtbot, window: MainWindow) -> None:
    thread = threading.Thread(
        target=lambda: logging.getLogger("fieldbench.test").warning("from a worker thread")
    )
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "from a worker thread" in window.log_console.text(), timeout=2000)


def test_the_view_menu_toggles_the_log_console(window: MainWindow) -> None:
    assert window.log_console.isVisible()
    window.log_action.trigger()
    assert not window.log_console.isVisible()


def test_a_trained_model_sent_from_train_opens_in_quantization(window: MainWindow) -> None:
    from core.paths import resources_dir

    assert window.open_sample()
    model = resources_dir() / "models" / "fan_autoencoder.onnx"
    window.train_tab.send_to_quantization.emit({"model": model, "validation": None})
    assert window.tabs.currentWidget() is window.quantization_tab
    assert window.quantization_tab.model_path() == model
