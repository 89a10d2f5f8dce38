"""The Features tab: live stream, plots, recipe editing, bad files, batch extraction."""

import tomllib
from pathlib import Path

import numpy as np
import pytest

from core.dsp import extract_features
from core.recording import load_recording, to_counts
from core.workspace import Workspace
from gui.features_tab import FeaturesTab
from gui.main_window import MainWindow

pytestmark = pytest.mark.gui


def drive(tab: FeaturesTab, clock, seconds: float, fps: int = 30) -> None:  # type: ignore[no-untyped-def]
    """Call the timer slot as the timer would, advancing the fake clock between ticks."""
    for _ in range(round(seconds * fps)):
        clock.advance(1.0 / fps)
        tab.tick()


def open_sample(window: MainWindow, clock) -> FeaturesTab:  # type: ignore[no-untyped-def]
    tab = window.features_tab
    tab.clock = clock
    assert window.open_sample()
    tab.timer.stop()  # the test drives the timer slot itself
    return tab


def test_the_generator_stream_fills_all_three_plots(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.sources.select_generator()
    tab.sources.kind.setCurrentText("fan")
    tab.sources.frequency.setValue(30.0)
    assert tab.source is not None and tab.source.label.startswith("generator: fan")
    drive(tab, clock, 1.0)
    plots = tab.plots
    assert tab.stream is not None and tab.stream.frames_out >= 10  # 1 s at 1600 Hz, hop 128
    _, y = plots.wave_curves[0].getData()
    assert y is not None and np.count_nonzero(y) > 1000
    assert len(plots.wave_curves) == 3
    assert plots.spec_filled >= 10
    assert np.count_nonzero(plots.spec_data[-plots.spec_filled :]) > 0
    assert plots.fixed_frame is not None and plots.fixed_frame.size == 57
    assert plots.reference_frame is not None
    assert plots.snr_db is not None and plots.snr_db > 20.0
    assert "SNR <b>" in plots.feat_plot.titleLabel.text and " dB" in plots.feat_plot.titleLabel.text
    assert tab.frame_times().size == 30


def test_a_recording_plays_back_in_real_time(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.set_playing(True)
    tab.timer.stop()
    drive(tab, clock, 1.0)
    assert abs(tab.source.position - 1600) <= 1  # type: ignore[union-attr]
    assert "1.0 / 20.0 s" in tab.sources.position_label.text()


def test_space_pauses_and_resumes_the_stream(qtbot, window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.set_playing(True)
    tab.play_action.trigger()
    assert not tab.playing and tab.sources.play_button.text() == "Play"
    tab.play_action.trigger()
    assert tab.playing and tab.sources.play_button.text() == "Pause"
    assert tab.play_action.shortcut().toString() == "Space"


def test_without_loop_the_recording_stops_at_its_end(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.sources.loop_check.setChecked(False)
    tab.set_playing(True)
    for _ in range(100):  # 0.25 s per tick at most
        clock.advance(0.25)
        tab.tick()
    assert not tab.playing
    assert "end of recording" in tab.status.text()


def test_an_invalid_edit_names_the_key_and_disables_apply(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    form = tab.form
    form.fields["fftSize"].setValue(500)
    assert form.error_text.startswith("features.fftSize = 500: must be a power of two")
    assert form.error_label.isVisible()
    assert not form.apply_button.isEnabled()
    form.fields["fftSize"].setValue(512)
    assert form.error_text == ""
    assert form.apply_button.isEnabled()


def test_a_cross_field_error_is_shown_verbatim(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.form.fields["hopLength"].setValue(300)
    assert "features.hopLength = 300: must be between 1 and windowSize (256)" in (
        tab.form.error_text
    )
    assert not tab.form.apply_button.isEnabled()


def test_applying_a_valid_edit_writes_fieldbench_toml_and_restarts_the_stream(
    window: MainWindow, clock
) -> None:
    tab = open_sample(window, clock)
    assert not tab.form.apply_button.isEnabled()  # nothing changed yet
    tab.form.fields["hopLength"].setValue(64)
    tab.form.stat_boxes["crest"].setChecked(False)
    tab.form.apply_button.click()
    ws = window.workspace
    assert ws is not None
    saved = tomllib.loads(ws.config_path.read_text())["features"]
    assert saved["hopLength"] == 64
    assert saved["stats"] == ["rms", "peak"]
    assert Workspace.open(ws.path).features.hopLength == 64
    assert tab.stream is not None and tab.stream.config.hop == 64
    assert not tab.form.apply_button.isEnabled()
    drive(tab, clock, 0.5)
    assert tab.plots.fixed_frame is not None and tab.plots.fixed_frame.size == 3 * 18


def test_a_corrupt_recording_shows_one_line_and_no_traceback(
    window: MainWindow, clock, tmp_path: Path
) -> None:
    recordings = tmp_path / "data" / "fieldbench" / "sample-workspace" / "recordings"
    recordings.mkdir(parents=True)
    (recordings / "broken.wav").write_bytes(b"this is not audio at all" * 10)
    tab = open_sample(window, clock)  # broken.wav sorts first and is selected
    assert tab.sources.selected_path() == recordings / "broken.wav"
    assert tab.status.text().endswith("broken.wav: not a WAV file (no RIFF/WAVE header)")
    assert "\n" not in tab.status.text()
    assert not tab.playing and tab.source is None
    drive(tab, clock, 0.2)  # ticking a stopped stream is harmless
    assert "Traceback" not in window.log_console.text()
    tab.sources.combo.setCurrentIndex(1)  # a good recording recovers
    assert tab.source is not None and "fan_high_imbalance.npy" in tab.status.text()


def test_a_recording_with_the_wrong_channel_count_is_refused(
    window: MainWindow, clock, tmp_path: Path
) -> None:
    tab = open_sample(window, clock)
    mono = tmp_path / "mono.npy"
    np.save(mono, np.zeros(4000, dtype=np.int16))
    tab.sources.add_file(mono)
    assert "mono.npy: has 1 channel(s) but features.channels is 3" in tab.status.text()
    assert tab.source is None and not tab.playing


def test_compute_features_runs_in_a_worker_and_saves_an_npy(
    wait_done, window: MainWindow, clock, tmp_path: Path
) -> None:
    tab = open_sample(window, clock)
    progress: list[float] = []
    window.workers.progress.connect(progress.append)
    worker = tab.compute_features()
    assert worker is not None
    assert window.cancel_button.isVisible() and window.progress_bar.isVisible()
    wait_done(worker)
    assert tab.result is not None and tab.save_button.isEnabled()
    path = tab.sources.selected_path()
    ws = window.workspace
    assert path is not None and ws is not None
    expected = extract_features(to_counts(load_recording(path, 1600.0), 8000.0), ws.features)
    assert np.array_equal(tab.result.frames, expected)
    assert progress and progress[-1] == 1.0
    assert not window.cancel_button.isVisible()
    out = tmp_path / "features.npy"
    assert tab.save_features_to(out)
    assert np.array_equal(np.load(out), expected)


def test_cancelling_the_extraction_leaves_nothing_behind(
    wait_done, window: MainWindow, audio_workspace: Workspace
) -> None:
    window.set_workspace(audio_workspace)
    tab = window.features_tab
    tab.stop()
    window.workers.progress.connect(lambda _: window.cancel_button.click())
    worker = tab.compute_features()
    assert worker is not None
    wait_done(worker)
    assert worker.is_cancelled
    assert tab.result is None and not tab.save_button.isEnabled()
    assert "cancelled" in tab.status.text()
    assert not tab.save_features_to(audio_workspace.path / "out.npy")
    assert sorted(p.name for p in audio_workspace.path.rglob("*.npy")) == ["long_chirp.npy"]
    assert not list(audio_workspace.path.rglob("*.tmp"))


def test_closing_the_window_stops_the_stream(window: MainWindow, clock) -> None:
    tab = open_sample(window, clock)
    tab.set_playing(True)
    window.close()
    assert not tab.playing
