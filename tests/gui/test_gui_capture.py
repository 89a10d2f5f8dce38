"""The Capture tab: sources, enforced tags, live view, counters, recordings, coverage, splits."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from core.capture import PortInfo, simulated_source
from core.dataset.splits import list_splits
from gui.capture_sources import PORT, SIMULATED, TEXT, SourcePicker, SourceSpec
from gui.capture_tab import CaptureTab
from gui.main_window import MainWindow

pytestmark = pytest.mark.gui


def open_capture(window: MainWindow) -> CaptureTab:
    assert window.open_sample()
    window.tabs.setCurrentWidget(window.capture_tab)
    return window.capture_tab


def wait_done(qtbot, tab: CaptureTab, timeout: int = 15000) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not tab.capturing, timeout=timeout)


def fast_simulated(spec: SourceSpec):  # type: ignore[no-untyped-def]
    """The simulated device without real-time pacing (tests need not wait for the clock)."""
    assert spec.kind == SIMULATED
    return simulated_source(spec.rate or 1600.0, realtime=False)


def test_the_tag_form_offers_exactly_the_workspace_vocabulary(window: MainWindow) -> None:
    tab = open_capture(window)
    form = tab.tag_form
    assert list(form.combos) == ["temperature", "orientation", "noise", "age", "speed"]
    speeds = [form.combos["speed"].itemText(i) for i in range(form.combos["speed"].count())]
    assert speeds == ["— not set —", "off", "low", "medium", "high"]
    labels = [form.label_combo.itemText(i) for i in range(form.label_combo.count())]
    assert labels == ["— not set —", "normal", "imbalance", "background"]
    assert not form.label_combo.isEditable()  # declared labels: nothing else can be typed


def test_the_sample_dataset_fills_the_table_and_the_coverage_gaps_are_marked(
    window: MainWindow,
) -> None:
    tab = open_capture(window)
    assert tab.recordings.model.rowCount() == 30
    assert tab.recordings.count_label.text() == "30 of 30 recordings"
    m = tab.coverage.matrix
    assert m is not None and len(m.gaps) == 6
    table = tab.coverage.table
    row = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())].index(
        "hot · inverted"
    )
    col = list(m.labels).index("normal")
    gap = table.item(row, col)
    assert gap.text() == "! 0" and "gap" in gap.toolTip()
    assert gap.background().color().name() == "#f4c7c3"
    assert "6 gap(s)" in tab.coverage.summary.text()


def test_a_simulated_capture_records_a_tagged_recording_and_updates_every_view(
    qtbot, window: MainWindow
) -> None:
    tab = open_capture(window)
    tab.source_factory = fast_simulated
    tab.tag_form.set_values("imbalance", {"temperature": "hot", "orientation": "inverted"})
    tab.limit.setValue(2.0)
    assert tab.start_capture() is not None
    wait_done(qtbot, tab)
    result = tab.result
    assert result is not None and result.recording_id is not None
    assert result.samples == 3200 and not result.interrupted
    info = tab.dataset.get(result.recording_id)  # type: ignore[union-attr]
    assert info.label == "imbalance"
    assert info.tags == {"orientation": "inverted", "temperature": "hot"}
    assert info.quality.frames_received >= 50 and info.quality.frames_lost == 0
    # live view and counters saw the stream
    assert tab.waveform.has_data() and len(tab.waveform.curves) == 3
    assert tab.quality.text("samples") == "3,200"
    assert tab.quality.text("lost") == "0"
    # the table shows and selects the new recording; the coverage cell filled
    assert tab.recordings.model.rowCount() == 31
    selected = tab.recordings.table.selectionModel().selectedRows()
    assert [tab.recordings.model.rows[i.row()].id for i in selected] == [result.recording_id]
    assert tab.coverage.matrix is not None
    assert tab.coverage.matrix.cell(("hot", "inverted"), "imbalance")[0] == 1
    assert "recording 31 (complete)" in tab.status.text()
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()


def test_ctrl_r_starts_and_esc_stops_a_capture_keeping_the_recording(
    qtbot, window: MainWindow
) -> None:
    tab = open_capture(window)
    tab.tag_form.set_values("normal", {"temperature": "ambient"})
    qtbot.keyClick(window.tabs.tabBar(), Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert tab.capturing
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    assert not tab.tag_form.isEnabled()  # tags cannot change under a running capture
    qtbot.waitUntil(lambda: tab.waveform.has_data(), timeout=5000)
    qtbot.keyClick(window.tabs.tabBar(), Qt.Key.Key_Escape)
    wait_done(qtbot, tab)
    result = tab.result
    assert result is not None and result.recording_id is not None
    assert result.stopped_by_user and not result.interrupted
    assert tab.dataset.get(result.recording_id).state == "complete"  # type: ignore[union-attr]


def test_ctrl_r_on_the_features_tab_still_restarts_its_stream(qtbot, window: MainWindow) -> None:
    assert window.open_sample()
    fired: list[bool] = []
    window.features_tab.restart_action.triggered.connect(lambda: fired.append(True))
    qtbot.keyClick(window.tabs.tabBar(), Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert fired and not window.capture_tab.capturing


def test_captures_can_share_a_session_so_splits_keep_them_together(
    qtbot, window: MainWindow
) -> None:
    tab = open_capture(window)
    tab.source_factory = fast_simulated
    tab.limit.setValue(0.5)
    assert not tab.same_session.isEnabled()
    tab.start_capture()
    wait_done(qtbot, tab)
    first = tab.result.session  # type: ignore[union-attr]
    assert tab.same_session.isEnabled() and f"#{first}" in tab.same_session.text()
    tab.same_session.setChecked(True)
    tab.start_capture()
    wait_done(qtbot, tab)
    assert tab.result.session == first  # type: ignore[union-attr]
    tab.same_session.setChecked(False)
    tab.start_capture()
    wait_done(qtbot, tab)
    assert tab.result.session == first + 1  # type: ignore[union-attr]


@pytest.fixture
def pty_board() -> Iterator[tuple[str, int]]:
    """A pseudo-terminal: the slave is the "serial port", the test writes the board's side."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    yield name, master
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def feed_lines(master: int, stop: threading.Event, rate: float = 200.0) -> None:
    """Print "x,y" readings at ``rate`` lines per second; every 100th line is garbage."""
    i = 0
    t0 = time.monotonic()
    while not stop.is_set():
        line = "oops,not,a,number\n" if i % 100 == 99 else f"{i % 100},{-(i % 50)}\n"
        try:
            os.write(master, line.encode())
        except OSError:
            return
        i += 1
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def test_text_lines_from_a_serial_port_are_detected_counted_and_recorded(
    qtbot, window: MainWindow, pty_board: tuple[str, int]
) -> None:
    port, master = pty_board
    tab = open_capture(window)
    tab.picker.combo.setEditText(port)  # typed by hand, as for a port the list lacks
    tab.picker.mode.setCurrentIndex(tab.picker.mode.findData(TEXT))
    spec = tab.picker.spec()
    assert (spec.kind, spec.target, spec.mode) == (PORT, port, TEXT)
    tab.tag_form.set_values("normal", {"noise": "quiet"})
    tab.limit.setValue(2.5)  # the ~1.5 s of detection backlog opens the recording
    stop = threading.Event()
    writer = threading.Thread(target=feed_lines, args=(master, stop), daemon=True)
    writer.start()
    try:
        tab.start_capture()
        wait_done(qtbot, tab, timeout=20000)
    finally:
        stop.set()
        writer.join()
    result = tab.result
    assert result is not None and result.recording_id is not None, tab.status.text()
    assert result.info.channels == 2 and result.info.source == "text"
    assert result.info.sample_rate == pytest.approx(200.0, rel=0.02)
    assert result.samples == round(2.5 * result.info.sample_rate)
    assert result.quality.bad_lines >= 1
    bad = tab.quality.values["bad"]
    assert bad.text() == str(result.quality.bad_lines) and "b00020" in bad.styleSheet()


def test_an_unplugged_cable_keeps_the_partial_recording_marked_interrupted(
    qtbot, window: MainWindow, pty_board: tuple[str, int]
) -> None:
    port, master = pty_board
    tab = open_capture(window)
    tab.picker.combo.setEditText(port)
    tab.picker.mode.setCurrentIndex(tab.picker.mode.findData(TEXT))
    tab.picker.rate.setValue(100.0)  # given: no detection wait
    stop = threading.Event()
    writer = threading.Thread(target=feed_lines, args=(master, stop, 100.0), daemon=True)
    writer.start()
    tab.start_capture()
    qtbot.waitUntil(lambda: tab.session is not None and tab.session.status().samples > 50)
    stop.set()
    writer.join()
    os.close(master)  # the board goes away: reads on the port fail
    wait_done(qtbot, tab)
    result = tab.result
    assert result is not None and result.interrupted and result.recording_id is not None
    info = tab.dataset.get(result.recording_id)  # type: ignore[union-attr]
    assert info.state == "interrupted" and info.samples == result.samples > 50
    assert tab.dataset.load(result.recording_id).shape == (result.samples, 2)  # type: ignore[union-attr]
    assert "interrupted" in tab.status.text() and "b00020" in tab.status.styleSheet()


def test_a_port_that_cannot_be_opened_says_so_and_records_nothing(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    tab = open_capture(window)
    before = tab.dataset.count()  # type: ignore[union-attr]
    tab.picker.combo.setEditText(str(tmp_path / "ttyNOPE"))
    tab.start_capture()
    wait_done(qtbot, tab)
    assert "cannot open" in tab.status.text()
    assert tab.dataset.count() == before  # type: ignore[union-attr]
    assert tab.start_button.isEnabled()


def test_replaying_a_file_records_all_of_it(qtbot, window: MainWindow) -> None:
    tab = open_capture(window)
    wav = window.workspace.recordings_dir / "fan_medium_normal.wav"  # type: ignore[union-attr]
    tab.picker.add_file(wav)
    assert tab.picker.spec().kind == "replay"
    assert not tab.picker.mode.isEnabled()  # protocol and baud are for ports only
    tab.source_factory = lambda spec: __import__("gui.capture_sources").capture_sources.open_source(
        spec, realtime=False
    )
    tab.start_capture()
    wait_done(qtbot, tab)
    result = tab.result
    assert result is not None and result.recording_id is not None
    assert result.info.source == "replay" and result.samples == 20 * 1600


def test_the_recordings_filter_and_a_coverage_double_click_narrow_the_table(
    window: MainWindow,
) -> None:
    tab = open_capture(window)
    view = tab.recordings
    view.filter.set_values(None, {"temperature": "cold"})
    view.refresh()
    temps = {r.tags["temperature"] for r in view.model.rows}
    assert temps == {"cold"} and view.model.rowCount() == 5
    assert view.count_label.text() == "5 of 30 recordings"
    view.clear_button.click()
    assert view.model.rowCount() == 30
    # double-clicking a coverage cell lists its recordings
    m = tab.coverage.matrix
    assert m is not None
    row, col = m.rows.index(("ambient", "horizontal")), m.labels.index("imbalance")
    tab.coverage.table.cellDoubleClicked.emit(row, col)
    assert tab.views.currentWidget() is view
    assert view.model.rowCount() == 3
    assert {(r.label, r.tags["orientation"]) for r in view.model.rows} == {
        ("imbalance", "horizontal")
    }


def test_resplitting_with_a_seed_is_reproducible_and_saved(window: MainWindow) -> None:
    tab = open_capture(window)
    view = tab.splits
    saved = list_splits(tab.dataset)  # type: ignore[arg-type]
    if saved:  # the sample workspace may carry the sample models' split: it is shown
        assert view.split is not None and view.split.name in saved
    view.seed.setValue(3)
    first = view.resplit()
    assert first is not None and "seed3" in list_splits(tab.dataset)  # type: ignore[arg-type]
    counts = view.counts()
    assert sum(counts.values()) == 27  # 30 minus the 3 background-noise recordings
    again = view.resplit()
    assert again is not None
    for part in ("train", "val", "test"):
        assert np.array_equal(first.parts[part], again.parts[part])
    total = view.table.item(view.table.rowCount() - 1, 0)
    assert total.text() == "Total"
    assert "seed 3" in view.summary.text()


def test_the_port_picker_shows_vid_pid_and_remembers_the_last_port(qtbot) -> None:  # type: ignore[no-untyped-def]
    ports = [
        PortInfo("/dev/ttyACM0", "USB JTAG/serial debug unit", 0x303A, 0x1001),
        PortInfo("/dev/ttyUSB0", "CP2102N USB to UART Bridge", 0x10C4, 0xEA60),
    ]
    picker = SourcePicker(QSettings(), ports=lambda: ports)
    qtbot.addWidget(picker)
    texts = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert texts[1] == "/dev/ttyACM0  303A:1001  USB JTAG/serial debug unit"
    assert "10C4:EA60" in texts[2]
    assert picker.select_key("port:/dev/ttyUSB0")
    picker.baud.setCurrentText("921600")
    picker.remember()
    again = SourcePicker(QSettings(), ports=lambda: ports)
    qtbot.addWidget(again)
    assert again.spec().target == "/dev/ttyUSB0" and again.spec().baud == 921600
    # unplugged since: the name stays, with a hint
    missing = SourcePicker(QSettings(), ports=lambda: ports[:1])
    qtbot.addWidget(missing)
    assert missing.spec().target == "/dev/ttyUSB0"
    assert "not among the listed ports" in missing.hint.text()


def test_space_on_the_capture_tab_reaches_the_focused_widget_not_the_features_stream(
    qtbot, window: MainWindow
) -> None:
    tab = open_capture(window)
    playing = window.features_tab.playing
    tab.views.setCurrentWidget(tab.splits)
    box = tab.splits.mirror
    assert box.isEnabled()  # the sample workspace declares a deployment mix
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)
    assert box.isChecked()
    assert window.features_tab.playing == playing
    window.tabs.setCurrentWidget(window.features_tab)
    assert window.features_tab.play_action.shortcut().toString() == "Space"
