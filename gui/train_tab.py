"""The Train tab: pick a family and hyper-parameters, train with live loss curves, cancel,
read the float / PTQ / QAT comparison and hand the model to the Quantization tab.

Without the ``fieldbench[train]`` extra (PyTorch) the tab only explains how to enable it.
Training runs in the shared ``WorkerPool``; epochs arrive from the worker thread through a
locked queue that a GUI-thread ``QTimer`` drains into the plot (no widget is touched off the
GUI thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import FieldbenchError
from core.train.backend import torch_available
from core.train.config import FAMILIES, TrainConfig, load_train_config
from core.train.errors import INSTALL_HINT
from core.workspace import Workspace
from gui.worker import Worker, WorkerPool

CURVES = {
    ("float", "train"): ("float train", (80, 140, 220), False),
    ("float", "val"): ("float val", (80, 140, 220), True),
    ("qat", "train"): ("QAT train", (220, 120, 40), False),
    ("qat", "val"): ("QAT val", (220, 120, 40), True),
}


class TrainTab(QWidget):
    """``send_to_quantization`` carries ``{"model", "int8", "ranges", "validation"}`` paths."""

    send_to_quantization = Signal(object)
    finished = Signal(object)  # the TrainResult

    def __init__(
        self,
        workers: WorkerPool,
        workspace: Callable[[], Workspace | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workers = workers
        self._workspace = workspace
        self.worker: Worker | None = None
        self.result: Any = None
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._points: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in CURVES}
        layout = QVBoxLayout(self)
        self.available = torch_available()
        if not self.available:
            self.missing = QLabel(
                "<b>Training is not enabled.</b><br>" + INSTALL_HINT + "<br>Until then, bring "
                "your own float ONNX model to the Quantization tab."
            )
            self.missing.setWordWrap(True)
            layout.addWidget(self.missing)
            layout.addStretch(1)
            return
        self._build(layout)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._drain)

    @classmethod
    def add_to(cls, window: Any) -> TrainTab:
        """Create the tab for ``window`` (a MainWindow) and add it to its tabs."""
        tab = cls(window.workers, lambda: window.workspace)
        window.tabs.addTab(tab, "Train")
        return tab

    # ---- construction ----------------------------------------------------------------------
    def _build(self, layout: QVBoxLayout) -> None:
        top = QHBoxLayout()
        form = QFormLayout()
        self.family = QComboBox()
        for key, text in FAMILIES.items():
            self.family.addItem(key, key)
            self.family.setItemData(self.family.count() - 1, text, 3)  # tooltip role
        self.name = QLineEdit()
        self.name.setPlaceholderText("trained_<family>")
        self.hidden = QLineEdit("24, 8, 24")
        self.channels = _spin(1, 256, 12)
        self.frames = _spin(3, 64, 8)
        self.epochs = _spin(1, 10000, 40)
        self.qat_epochs = _spin(0, 10000, 10)
        self.lr = _dspin(1e-5, 0.5, 3e-3, 5)
        self.qat_lr = _dspin(1e-6, 0.5, 5e-4, 6)
        self.seed = _spin(0, 2**31 - 1, 0)
        self.far = _dspin(0.0, 0.4, 0.0, 4)
        self.far.setSpecialValueText("profile default")
        for label, w in (
            ("Family", self.family),
            ("Name", self.name),
            ("Hidden widths (autoencoder)", self.hidden),
            ("Channels (CNN)", self.channels),
            ("Frames per window (CNN)", self.frames),
            ("Epochs", self.epochs),
            ("QAT epochs", self.qat_epochs),
            ("Learning rate", self.lr),
            ("QAT learning rate", self.qat_lr),
            ("Seed", self.seed),
            ("Target false-alarm rate", self.far),
        ):
            form.addRow(label, w)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Train")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.send_button = QPushButton("Send to Quantization tab")
        self.send_button.setEnabled(False)
        for b in (self.start_button, self.cancel_button, self.send_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        # The form scrolls, so the tab never forces the window taller than the user wants.
        holder = QWidget()
        holder.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setMinimumHeight(120)
        scroll.setMaximumWidth(holder.sizeHint().width() + 30)
        top.addWidget(scroll)
        self.plot = pg.PlotWidget(title="loss per epoch")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.setLogMode(False, True)
        self.plot.addLegend()
        self.curves = {}
        for key, (label, color, dashed) in CURVES.items():
            style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=2, style=style)
            self.curves[key] = self.plot.plot([], [], pen=pen, name=label)
        top.addWidget(self.plot, 1)
        layout.addLayout(top, 2)
        self.status = QLabel("")
        layout.addWidget(self.status)
        self.results = QPlainTextEdit()
        self.results.setReadOnly(True)
        self.results.setMinimumHeight(60)
        self.results.setPlaceholderText("The float / PTQ / QAT comparison appears here.")
        layout.addWidget(self.results, 1)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.send_button.clicked.connect(self._send)

    # ---- config <-> form -------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.available and self.worker is None:
            self.load_config()

    def load_config(self) -> None:
        ws = self._workspace()
        if ws is None:
            return
        try:
            cfg = load_train_config(ws.raw)
        except FieldbenchError as exc:
            self.status.setText(str(exc))
            return
        self.set_config(cfg)

    def set_config(self, cfg: TrainConfig) -> None:
        self.family.setCurrentIndex(max(0, self.family.findData(cfg.family)))
        self.name.setText(cfg.name)
        self.hidden.setText(", ".join(str(h) for h in cfg.hidden))
        self.channels.setValue(cfg.channels)
        self.frames.setValue(cfg.frames)
        self.epochs.setValue(cfg.epochs)
        self.qat_epochs.setValue(cfg.qat_epochs)
        self.lr.setValue(cfg.learning_rate)
        self.qat_lr.setValue(cfg.qat_learning_rate)
        self.seed.setValue(cfg.seed)
        self.far.setValue(cfg.target_false_alarm or 0.0)

    def config(self) -> TrainConfig:
        """The form as a ``TrainConfig`` (other keys from the workspace's [train] table)."""
        ws = self._workspace()
        base = load_train_config(ws.raw) if ws is not None else TrainConfig()
        try:
            hidden = tuple(int(h) for h in self.hidden.text().replace(" ", "").split(",") if h)
        except ValueError:
            raise FieldbenchError(
                f"hidden widths {self.hidden.text()!r}: give whole numbers separated by commas"
            ) from None
        return base.replace(
            family=self.family.currentData(),
            name=self.name.text().strip(),
            hidden=hidden,
            channels=self.channels.value(),
            frames=self.frames.value(),
            epochs=self.epochs.value(),
            qat_epochs=self.qat_epochs.value(),
            learning_rate=self.lr.value(),
            qat_learning_rate=self.qat_lr.value(),
            seed=self.seed.value(),
            target_false_alarm=self.far.value() or None,
        )

    # ---- running ---------------------------------------------------------------------------
    def start(self) -> Worker | None:
        ws = self._workspace()
        if ws is None:
            self._fail("open a workspace first")
            return None
        try:
            cfg = self.config()
        except FieldbenchError as exc:
            self._fail(str(exc))
            return None
        from core.train.pipeline import run_training

        ws.raw["train"] = cfg.to_mapping()  # hyper-parameters live in the workspace config
        ws.save()
        for key in self._points:
            self._points[key] = []
            self.curves[key].setData([], [])
        self.results.clear()
        self.last_error = None
        self.worker = Worker(
            run_training,
            ws.path,
            ws.features,
            cfg,
            on_epoch=self._queue_epoch,
            label=f"Training {cfg.model_name}",
        )
        self.worker.signals.finished.connect(self._on_finished)
        self.worker.signals.failed.connect(self._fail)
        self.worker.signals.cancelled.connect(lambda: self.status.setText("training cancelled"))
        self.worker.signals.done.connect(self._on_done)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.status.setText(f"training {cfg.model_name} …")
        self.timer.start()
        return self.workers.start(self.worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _queue_epoch(self, record: Any) -> None:  # worker thread
        with self._lock:
            self._pending.append(record)

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        for r in pending:
            # QAT epochs continue the float curve's x axis.
            x = r.epoch if r.phase == "float" else len(self._points[("float", "train")]) + r.epoch
            self._points[(r.phase, "train")].append((x, max(r.train_loss, 1e-12)))
            if r.val_loss == r.val_loss:  # not NaN
                self._points[(r.phase, "val")].append((x, max(r.val_loss, 1e-12)))
            self.status.setText(
                f"{r.phase} epoch {r.epoch}/{r.epochs}: train loss {r.train_loss:.4g}, "
                f"val loss {r.val_loss:.4g}"
            )
        for key, pts in self._points.items():
            if pts:
                xs, ys = zip(*pts, strict=True)
                self.curves[key].setData(list(xs), list(ys))

    def _on_finished(self, result: Any) -> None:
        self.result = result
        self._drain()
        lines = [
            f"model {result.model_name}: {result.model_dir}",
            f"report: {result.report_path}",
            f"thresholds: {result.thresholds_path}",
            "",
            *result.table_lines(),
            *[f"note: {n}" for n in result.notes],
        ]
        self.results.setPlainText("\n".join(lines))
        self.status.setText(f"trained {result.model_name}")
        self.send_button.setEnabled(True)
        self.finished.emit(result)

    def _on_done(self) -> None:
        self._drain()
        self.timer.stop()
        self.worker = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _fail(self, message: str) -> None:
        self.last_error = message
        if self.available:
            self.status.setText(f"error: {message}")

    def _send(self) -> None:
        if self.result is None:
            return
        r = self.result
        self.send_to_quantization.emit(
            {
                "model": r.deployed_float,
                "int8": r.deployed_int8,
                "ranges": r.qat_ranges,
                "validation": r.model_dir / "validation.npz",
                "test": r.model_dir / "test.npz",
                "thresholds": r.thresholds_path,
            }
        )


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def _dspin(lo: float, hi: float, value: float, decimals: int) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setDecimals(decimals)
    s.setRange(lo, hi)
    s.setSingleStep(10 ** -(decimals - 1))
    s.setValue(value)
    return s
