"""The Features tab: a live view of the fixed-point front-end, its recipe, and batch export.

Each GUI-thread timer tick takes the samples due since the last tick (real time, from a
monotonic clock), pushes them through a ``LiveFeatureStream`` and redraws the plots. The work
per tick is bounded: at most ``MAX_TICK_SECONDS`` of samples, one float reference segment.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.atomic import atomic_save_npy
from core.errors import FieldbenchError
from core.recording import SUPPORTED
from core.signals import SignalGenerator
from core.workspace import Workspace
from gui.config_form import ConfigForm
from gui.jobs import FeatureResult, recording_features
from gui.live_plots import LivePlots
from gui.live_stream import (
    GeneratorSource,
    LiveFeatureStream,
    RealTimePacer,
    RecordingSource,
    SampleSource,
)
from gui.source_panel import SourcePanel
from gui.worker import Worker, WorkerPool

log = logging.getLogger("fieldbench.gui.features")

FPS = 30
FRAME_TIME_HISTORY = 2000
ERROR_STYLE = "color: #b00020;"
INFO_STYLE = "color: palette(window-text);"


class FeaturesTab(QWidget):
    """Live feature view, recipe editor and "compute for recording" over one workspace."""

    config_applied = Signal(object)  # PreprocessingConfig, after it was saved

    def __init__(self, workers: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.workspace: Workspace | None = None
        self.source: SampleSource | None = None
        self.stream: LiveFeatureStream | None = None
        self.clock: Callable[[], float] = time.monotonic  # injectable for tests and benchmarks
        self.pacer = RealTimePacer(1.0, lambda: self.clock())
        self.result: FeatureResult | None = None
        self.job: Worker | None = None
        self._frame_times: deque[float] = deque(maxlen=FRAME_TIME_HISTORY)

        self.sources = SourcePanel()
        self.plots = LivePlots()
        self.form = ConfigForm()
        self.compute_button = QPushButton("Compute features…")
        self.compute_button.setToolTip("Extract every frame of the selected recording (Ctrl+E)")
        self.save_button = QPushButton("Save as .npy…")
        self.save_button.setEnabled(False)
        self.status = QLabel()
        self.status.setObjectName("featuresStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.addWidget(self.sources, 1)
        top.addWidget(self.compute_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plots)
        splitter.addWidget(self.form)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 330])
        splitter.setChildrenCollapsible(False)
        self.form.setMinimumWidth(300)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(1000 / FPS))
        self.timer.timeout.connect(self.tick)

        self.play_action = QAction("Play / pause", self)
        self.play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.play_action.triggered.connect(self.toggle_play)
        self.restart_action = QAction("Restart stream", self)
        self.restart_action.setShortcut(QKeySequence("Ctrl+R"))
        self.restart_action.triggered.connect(self.restart_stream)
        self.compute_action = QAction("Compute features for recording…", self)
        self.compute_action.setShortcut(QKeySequence("Ctrl+E"))
        self.compute_action.triggered.connect(self.compute_features)
        self.save_action = QAction("Save features as .npy…", self)
        self.save_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_action.triggered.connect(self.save_features)
        self.save_action.setEnabled(False)

        self.sources.source_changed.connect(self.load_source)
        self.sources.open_file_requested.connect(self.open_file)
        self.sources.play_toggled.connect(self.set_playing)
        self.sources.loop_check.toggled.connect(self._on_loop_toggled)
        self.form.apply_requested.connect(self.apply_config)
        self.compute_button.clicked.connect(self.compute_features)
        self.save_button.clicked.connect(self.save_features)

    def actions_for_menu(self) -> list[QAction]:
        return [self.play_action, self.restart_action, self.compute_action, self.save_action]

    # ---- workspace and source ---------------------------------------------------------------
    def set_workspace(self, workspace: Workspace, play: bool = True) -> None:
        """Show ``workspace``: its recipe in the form, its recordings in the source list."""
        self.stop()
        self.workspace = workspace
        self.result = None
        self._set_result_enabled(False)
        self.form.set_config(workspace.features)
        self.sources.set_recordings(workspace.recordings())
        if self.load_source() and play:
            self.set_playing(True)

    def load_source(self) -> bool:
        """(Re)build the source and stream for the current selection; False on a bad file."""
        if self.workspace is None:
            return False
        cfg = self.workspace.features
        was_playing = self.timer.isActive()
        self.set_playing(False)
        self.source = None
        self.stream = None
        path = self.sources.selected_path()
        try:
            if path is None:
                params = self.sources.generator_params()
                generator = SignalGenerator(
                    sample_rate=cfg.sampleRate, channels=cfg.channels, **params
                )
                self.source = GeneratorSource(generator)
                names: tuple[str, ...] = ()
            else:
                loop = self.sources.loop_check.isChecked()
                self.source = RecordingSource.load(path, cfg, loop=loop)
                names = ()
            self.stream = LiveFeatureStream(cfg)
        except FieldbenchError as exc:
            self.show_error(str(exc))
            self.plots.configure(cfg, cfg.sampleRate, cfg.channels)
            self._sync_actions()
            return False
        self.pacer = RealTimePacer(self.source.sample_rate, lambda: self.clock())
        self.plots.configure(cfg, self.source.sample_rate, self.source.channels, names)
        self.show_info(
            f"{self.source.label}: {cfg.channels} ch at {cfg.sampleRate:g} Hz, "
            f"{cfg.frame_length} features per frame"
        )
        self._sync_actions()
        if was_playing:
            self.set_playing(True)
        return True

    def open_file(self) -> None:
        patterns = " ".join(f"*{s}" for s in SUPPORTED)
        start = str(self.workspace.path) if self.workspace else ""
        name, _ = QFileDialog.getOpenFileName(
            self, "Open recording", start, f"Recordings ({patterns});;All files (*)"
        )
        if not name:
            self.sources.select_previous()
            return
        self.sources.add_file(Path(name))

    # ---- playback ---------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_playing(self, playing: bool) -> None:
        if playing and self.source is None:
            playing = False
        if playing and self.source is not None and self.source.exhausted:
            self.source.rewind()
        if playing and not self.timer.isActive():
            self.pacer.restart()
            self.timer.start()
        elif not playing:
            self.timer.stop()
        self.sources.set_playing(playing)

    def toggle_play(self) -> None:
        self.set_playing(not self.playing)

    def stop(self) -> None:
        """Stop the stream (the tab keeps its state; used on close and before a new workspace)."""
        self.set_playing(False)

    def restart_stream(self) -> None:
        """Rewind the source and clear the stream and plots."""
        if self.workspace is not None:
            self.load_source()

    def _on_loop_toggled(self, loop: bool) -> None:
        if isinstance(self.source, RecordingSource):
            self.source.loop = loop

    def tick(self) -> None:
        """One timer tick: read the samples due, extract, compare, draw. GUI thread only."""
        if self.source is None or self.stream is None:
            return
        start = time.perf_counter()
        try:
            n = self.pacer.due()
            if n:
                self._process(self.source.read(n))
            self.plots.render()
        except FieldbenchError as exc:
            self.set_playing(False)
            self.show_error(str(exc))
        except Exception as exc:
            self.set_playing(False)
            log.error("live stream failed:\n%s", traceback.format_exc().rstrip())
            self.show_error(f"unexpected error: {type(exc).__name__}: {exc}")
        self._frame_times.append(time.perf_counter() - start)
        if self.source is not None and self.source.exhausted:
            self.set_playing(False)
            self.show_info(f"{self.source.label}: end of recording (press Space to play again)")
        else:
            self._show_position()

    def _process(self, block: npt.NDArray[np.int16]) -> None:
        assert self.stream is not None
        update = self.stream.push(block)
        self.plots.append_samples(update.block)
        if update.frames.shape[0]:
            self.plots.append_frames(update.frames)
            assert update.reference is not None
            self.plots.set_comparison(update.frames[-1], update.reference, update.snr_db)

    def _show_position(self) -> None:
        frames = self.stream.frames_out if self.stream else 0
        if isinstance(self.source, RecordingSource):
            t = self.source.position / self.source.sample_rate
            text = f"{t:5.1f} / {self.source.duration_s:.1f} s · {frames} frames"
        else:
            text = f"live · {frames} frames"
        self.sources.position_label.setText(text)

    def frame_times(self) -> npt.NDArray[np.float64]:
        """Durations (seconds) of the most recent ticks, oldest first (instrumentation hook)."""
        return np.fromiter(self._frame_times, dtype=np.float64)

    def clear_frame_times(self) -> None:
        self._frame_times.clear()

    # ---- config -----------------------------------------------------------------------------
    def apply_config(self, config: object) -> None:
        """Save a validated recipe to the workspace and restart the stream with it."""
        if self.workspace is None:
            return
        try:
            self.workspace.set_features(config)  # type: ignore[arg-type]
        except FieldbenchError as exc:
            self.show_error(str(exc))
            return
        log.info("%s: saved the feature recipe", self.workspace.config_path)
        self.form.set_config(self.workspace.features)
        self.result = None
        self._set_result_enabled(False)
        was_playing = self.playing
        if self.load_source() and was_playing:
            self.set_playing(True)
        self.config_applied.emit(self.workspace.features)

    # ---- batch extraction -------------------------------------------------------------------
    def compute_features(self) -> Worker | None:
        """Extract every frame of the selected recording in a worker (progress + cancel)."""
        path = self.sources.selected_path()
        if self.workspace is None or path is None:
            self.show_error("select a recording first (the generator has no end)")
            return None
        if self.job is not None:
            return self.job
        self.result = None
        self._set_result_enabled(False)
        worker = Worker(
            recording_features, path, self.workspace.features, label=f"features of {path.name}"
        )
        worker.signals.finished.connect(self._on_job_finished)
        worker.signals.failed.connect(self._on_job_failed)
        worker.signals.cancelled.connect(self._on_job_cancelled)
        worker.signals.done.connect(self._on_job_done)
        self.job = worker
        self.compute_button.setEnabled(False)
        self.compute_action.setEnabled(False)
        self.show_info(f"computing features of {path.name}…")
        return self.workers.start(worker)

    def _on_job_finished(self, result: FeatureResult) -> None:
        self.result = result
        self._set_result_enabled(True)
        rows, cols = result.frames.shape
        self.show_info(
            f"{result.source.name}: {rows} frames × {cols} features (int16); "
            "Save as .npy… to keep them"
        )
        log.info("%s: %d frames × %d features", result.source.name, rows, cols)

    def _on_job_failed(self, message: str) -> None:
        self.show_error(message)

    def _on_job_cancelled(self) -> None:
        self.show_info("feature extraction cancelled; nothing was computed")

    def _on_job_done(self) -> None:
        self.job = None
        self._sync_actions()

    def save_features(self) -> None:
        if self.result is None:
            return
        start = self.result.source.with_suffix(".features.npy").name
        folder = self.workspace.path if self.workspace else Path.home()
        name, _ = QFileDialog.getSaveFileName(
            self, "Save features", str(folder / start), "NumPy array (*.npy)"
        )
        if name:
            self.save_features_to(Path(name))

    def save_features_to(self, path: Path) -> bool:
        """Write the computed frames atomically; a message (not a traceback) on failure."""
        if self.result is None:
            return False
        if path.suffix != ".npy":
            path = path.with_name(path.name + ".npy")
        try:
            atomic_save_npy(path, self.result.frames)
        except OSError as exc:
            self.show_error(f"{path}: cannot write ({exc.strerror or exc})")
            return False
        self.show_info(f"saved {path}")
        log.info("saved %s", path)
        return True

    # ---- messages ---------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """A one-line error in the tab's status line (and the log)."""
        line = message.splitlines()[0] if message else "error"
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(line)
        log.warning("%s", line)

    def show_info(self, message: str) -> None:
        self.status.setStyleSheet(INFO_STYLE)
        self.status.setText(message)

    def _set_result_enabled(self, enabled: bool) -> None:
        self.save_button.setEnabled(enabled)
        self.save_action.setEnabled(enabled)

    def _sync_actions(self) -> None:
        recording = self.sources.selected_path() is not None and self.workspace is not None
        idle = self.job is None
        self.compute_button.setEnabled(recording and idle)
        self.compute_action.setEnabled(recording and idle)
        self.play_action.setEnabled(self.source is not None)
