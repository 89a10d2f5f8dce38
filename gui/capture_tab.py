"""The Capture tab: record tagged recordings into the workspace's dataset and see what is covered.

Left: the source (simulated device, serial port, URL or file), the recording's label and tags
from the workspace's enforced vocabulary, Start (Ctrl+R) / Stop (Esc), and the live
capture-quality counters. Right: the live waveform, then the recordings (filterable by tag),
the coverage matrix with its gaps, and the train/validation/test split.

The capture itself is ``core.capture.CaptureSession.run`` in the one ``Worker``; the worker
thread writes samples into the session's ``LiveRing`` and the dataset, and a GUI-thread
``QTimer`` reads the ring and the counters. No widget is touched from the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.capture import CaptureResult, CaptureSession
from core.capture.source import CaptureSource
from core.dataset import Dataset
from core.errors import FieldbenchError
from core.workspace import Workspace
from gui.capture_dataset import CoverageView, RecordingsView, SplitView
from gui.capture_live import LiveWaveform, QualityPanel
from gui.capture_sources import DeferredSource, SourcePicker, SourceSpec, open_source
from gui.capture_tags import TagForm
from gui.worker import Worker, WorkerPool

log = logging.getLogger("fieldbench.gui.capture")

FPS = 30
ERROR_STYLE = "color: #b00020;"
INFO_STYLE = ""


def run_capture(
    session: CaptureSession,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> CaptureResult:
    """Worker body: ``session.run`` with the worker's fraction-style progress."""

    def step(done: int, total: int) -> None:
        if progress is not None and total:
            progress(done / total)

    return session.run(progress=step, cancel=cancel)


class CaptureTab(QWidget):
    """Capture into ``workspace``'s dataset; ``source_factory`` is swappable for tests."""

    def __init__(
        self,
        workers: WorkerPool,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workers = workers
        self.settings = settings if settings is not None else QSettings()
        self.workspace: Workspace | None = None
        self.dataset: Dataset | None = None
        self.session: CaptureSession | None = None
        self.job: Worker | None = None
        self.result: CaptureResult | None = None
        self.last_session: int | None = None
        self.source_factory: Callable[[SourceSpec], CaptureSource] = open_source

        self.picker = SourcePicker(self.settings)
        self.tag_form = TagForm()
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.0, 24 * 3600.0)
        self.limit.setDecimals(1)
        self.limit.setSuffix(" s")
        self.limit.setSpecialValueText("until stopped")
        self.limit.setValue(0.0)
        self.limit.setToolTip("Stop by itself after this much signal (counted in samples)")
        self.same_session = QCheckBox("Same session as the last capture")
        self.same_session.setToolTip(
            "Recordings of one sitting share a session ordinal; splits never separate them"
        )
        self.same_session.setEnabled(False)
        self.start_button = QPushButton("Start  (Ctrl+R)")
        self.start_button.setObjectName("captureStart")
        self.stop_button = QPushButton("Stop  (Esc)")
        self.stop_button.setEnabled(False)
        for b in (self.start_button, self.stop_button):
            b.setMinimumHeight(32)
        self.quality = QualityPanel()
        self.status = QLabel()
        self.status.setObjectName("captureStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        source_box = QGroupBox("Source")
        QVBoxLayout(source_box).addWidget(self.picker)
        tags_box = QGroupBox("Next recording")
        tags_layout = QVBoxLayout(tags_box)
        tags_layout.addWidget(self.tag_form)
        limit_form = QFormLayout()
        limit_form.setContentsMargins(0, 0, 0, 0)
        limit_form.addRow("Stop after", self.limit)
        tags_layout.addLayout(limit_form)
        tags_layout.addWidget(self.same_session)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        tags_layout.addLayout(buttons)

        left_inner = QWidget()
        left_layout = QVBoxLayout(left_inner)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(source_box)
        left_layout.addWidget(tags_box)
        left_layout.addWidget(self.status)
        left_layout.addStretch(1)
        left = QScrollArea()
        left.setWidgetResizable(True)
        left.setWidget(left_inner)
        left.setFrameShape(QScrollArea.Shape.NoFrame)
        left.setMinimumWidth(max(380, left_inner.minimumSizeHint().width() + 24))
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.waveform = LiveWaveform()
        self.recordings = RecordingsView()
        self.coverage = CoverageView()
        self.splits = SplitView()
        self.views = QTabWidget()
        self.views.addTab(self.recordings, "Recordings")
        self.views.addTab(self.coverage, "Coverage")
        self.views.addTab(self.splits, "Split")
        live = QWidget()
        live_layout = QHBoxLayout(live)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.waveform, 1)
        quality_scroll = QScrollArea()  # a short window scrolls the counters, not the layout
        quality_scroll.setWidget(self.quality)
        quality_scroll.setWidgetResizable(True)
        quality_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        quality_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        quality_scroll.setFixedWidth(
            max(self.quality.minimumSizeHint().width(), self.quality.minimumWidth()) + 16
        )
        quality_scroll.setMinimumHeight(120)
        live_layout.addWidget(quality_scroll)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(live)
        right.addWidget(self.views)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setChildrenCollapsible(False)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([left.minimumWidth(), 900])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(splitter)

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / FPS))
        self.timer.timeout.connect(self.tick)

        # Window-wide shortcuts, enabled only while the tab is shown: Ctrl+R also restarts the
        # stream on the Features tab and a shortcut two enabled actions share runs neither.
        self.start_action = QAction("Start capture", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+R"))
        self.start_action.triggered.connect(self.start_capture)
        self.stop_action = QAction("Stop capture", self)
        self.stop_action.triggered.connect(self.stop_capture)  # Esc: the status bar's Cancel
        self.refresh_action = QAction("Refresh serial ports", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(self.picker.refresh)
        for action in (self.start_action, self.refresh_action):
            self.addAction(action)

        self.start_button.clicked.connect(self.start_capture)
        self.stop_button.clicked.connect(self.stop_capture)
        self.coverage.cell_activated.connect(self._show_cell)
        self.splits.split_made.connect(self._on_split)
        self._sync()

    def actions_for_menu(self) -> list[QAction]:
        return [self.start_action, self.stop_action, self.refresh_action]

    # ---- workspace --------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace) -> None:
        """Open ``workspace``'s dataset (closing the previous one) and show it."""
        self.shutdown()
        self.workspace = workspace
        try:
            self.dataset = Dataset.open(workspace.path)
        except FieldbenchError as exc:
            self.dataset = None
            self.show_error(str(exc))
        else:
            if self.dataset.recovered:
                self.show_info(
                    f"recovered {len(self.dataset.recovered)} recording(s) whose capture stopped "
                    "before finishing; they are kept, marked interrupted"
                )
            else:
                self.show_info("")
        self.last_session = None
        self.same_session.setChecked(False)
        self.tag_form.set_config(self.dataset.config if self.dataset else workspace.dataset)
        self.recordings.set_dataset(self.dataset)
        self.splits.set_dataset(self.dataset)
        self.refresh_views()
        self._sync()

    def refresh_views(self) -> None:
        self.recordings.refresh()
        try:
            self.coverage.refresh(self.dataset)
        except FieldbenchError as exc:
            self.show_error(str(exc))
        self.splits.show_split()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop a running capture (the recording is kept), wait for it, close the dataset."""
        if self.session is not None:
            self.session.stop()
        deadline = time.monotonic() + timeout_s
        while self.job is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        self.timer.stop()
        if self.dataset is not None and self.job is None:
            self.dataset.close()
        self.dataset = None

    # ---- capture ----------------------------------------------------------------------------
    @property
    def capturing(self) -> bool:
        return self.job is not None

    def start_capture(self) -> Worker | None:
        """Start recording from the chosen source with the form's label and tags."""
        if self.capturing:
            return self.job
        if self.dataset is None or self.workspace is None:
            self.show_error("open a workspace first (File ▸ Open workspace…)")
            return None
        problem = self.picker.validate()
        if problem:
            self.show_error(problem)
            return None
        label, tags = self.tag_form.label(), self.tag_form.tags()
        try:
            self.dataset.config.validate_label(label)
            self.dataset.config.validate_tags(tags)
        except FieldbenchError as exc:
            self.show_error(str(exc))
            return None
        spec = self.picker.spec(default_scale=float(self.workspace.features.fixedPointScale))
        self.picker.remember()
        factory = self.source_factory
        source = DeferredSource(lambda: factory(spec))
        continuing = self.same_session.isChecked() and self.last_session is not None
        self.session = CaptureSession(
            self.dataset,
            source,
            label=label,
            tags=tags,
            session=self.last_session if continuing else None,
            seconds=self.limit.value() or None,
        )
        worker = Worker(run_capture, self.session, label=f"capture from {spec.describe()}")
        worker.signals.finished.connect(self._on_finished)
        worker.signals.failed.connect(self._on_failed)
        worker.signals.cancelled.connect(self._on_cancelled)
        worker.signals.done.connect(self._on_done)
        self.job = worker
        self.result = None
        self.quality.reset()
        self._configured = False
        what = ", ".join([label or "unlabelled", *(f"{k}={v}" for k, v in tags.items())])
        self.show_info(f"connecting to {spec.describe()}… ({what})")
        self.timer.start()
        self._sync()
        return self.workers.start(worker)

    def stop_capture(self) -> None:
        """Finish the running capture; what was recorded is kept as a complete recording."""
        if self.session is not None and self.capturing:
            self.session.stop()
            self.show_info("stopping…")

    def tick(self) -> None:
        """GUI-thread timer: copy new samples into the plot, update the counters."""
        session = self.session
        if session is None:
            return
        info = session.source.info
        if info is not None and not self._configured and session.live is not None:
            self.waveform.configure(info)
            self._configured = True
            self.show_info(f"recording: {info.description or info.source}")
        if self._configured:
            self.waveform.update(session.live)
            self.quality.show_status(session.status(), info.sample_rate if info else None)

    def _on_finished(self, result: CaptureResult) -> None:
        self.tick()
        self.result = result
        self.last_session = result.session or self.last_session
        if result.recording_id is None:
            self.show_error(f"nothing recorded: {result.note or 'no samples arrived'}")
        elif result.interrupted:
            self.show_error(
                f"recording {result.recording_id} kept, marked interrupted: {result.note}. "
                "Check the cable and start again"
            )
        else:
            self.show_info(result.summary())
        log.info("capture: %s", result.summary())
        self.refresh_views()
        if result.recording_id is not None:
            self.recordings.select_recording(result.recording_id)

    def _on_failed(self, message: str) -> None:
        self.show_error(message)
        self.refresh_views()

    def _on_cancelled(self) -> None:
        self.show_info("capture cancelled before it started; nothing was recorded")

    def _on_done(self) -> None:
        self.timer.stop()
        self.job = None
        self._sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._sync()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._sync()

    def _sync(self) -> None:
        running = self.capturing
        ready = self.dataset is not None
        shown = self.isVisible()
        self.start_button.setEnabled(ready and not running)
        self.start_action.setEnabled(ready and not running and shown)
        self.refresh_action.setEnabled(shown and not running)
        self.stop_button.setEnabled(running)
        self.stop_action.setEnabled(running)
        self.picker.set_enabled(not running)
        self.tag_form.setEnabled(not running)
        self.limit.setEnabled(not running)
        self.same_session.setEnabled(not running and self.last_session is not None)
        if self.last_session is not None:
            self.same_session.setText(f"Same session as the last capture (#{self.last_session})")

    # ---- views ------------------------------------------------------------------------------
    def _show_cell(self, label: Any, tags: dict[str, str]) -> None:
        self.recordings.set_filter(label, tags)
        self.views.setCurrentWidget(self.recordings)

    def _on_split(self, split: Any) -> None:
        counts = self.splits.counts()
        self.show_info(
            f"split {split.name}: "
            + ", ".join(f"{n} {part}" for part, n in counts.items())
            + " recordings (saved in the catalog)"
        )

    # ---- messages ---------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        line = message.splitlines()[0] if message else "error"
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(line)
        log.warning("%s", line)

    def show_info(self, message: str) -> None:
        self.status.setStyleSheet(INFO_STYLE)
        self.status.setText(message)
