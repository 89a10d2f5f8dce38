"""The Quantization tab: float ONNX → INT8 with onnxruntime, validated overall, per stratum and
per layer, with flagged layers fixed and re-validated in one step.

Pick a model (the samples in resources/models or any ONNX file), its validation data (the sample
models' generated held-out set, a saved split of the workspace's dataset, or an evaluation .npz),
the calibration method and the flag thresholds, then "Quantize & validate" (Ctrl+Enter). The
job runs in the one ``Worker`` (progress in the tab and the status bar, Cancel or Esc stops it);
the report is saved under ``reports/quantization/<model>/`` and shown: verdict and budgets,
per-stratum table, per-layer table with flagged rows, confusion matrices, histograms.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.dataset import Dataset
from core.dataset.splits import list_splits
from core.errors import FieldbenchError
from core.model.report import JobResult, load_report, report_dir
from core.workspace import Workspace
from gui.quantization_jobs import (
    FILE,
    GENERATED,
    WORKSPACE,
    DataChoice,
    QuantOutcome,
    QuantRequest,
    run_fix,
    run_quantization,
    sample_models,
)
from gui.quantization_views import ConfusionView, HistogramView, LayerTable, SummaryView
from gui.worker import Worker, WorkerPool

log = logging.getLogger("fieldbench.gui.quantization")

ERROR_STYLE = "color: #b00020;"
METHODS = (
    ("MinMax", "minmax"),
    ("Percentile", "percentile"),
    ("Entropy", "entropy"),
)
PICK_FILE = "pick-file"


class QuantizationTab(QWidget):
    """Quantize and validate models of one workspace; reports persist in the workspace."""

    def __init__(self, workers: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.workspace: Workspace | None = None
        self.job: Worker | None = None
        self.results: dict[Path, JobResult] = {}  # model → last result (what fixes apply to)
        self.report: dict[str, Any] | None = None
        self.report_path: Path | None = None

        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(18)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.open_button = QPushButton("Open ONNX…")
        self.data_combo = QComboBox()
        self.data_combo.setMinimumContentsLength(18)
        self.data_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.data_combo.setToolTip(
            "Validation windows, with their tags for the per-stratum figures"
        )
        self.method_combo = QComboBox()
        for text, value in METHODS:
            self.method_combo.addItem(text, value)
        self.method_combo.setToolTip(
            "Calibration: MinMax keeps every value seen; Percentile trims the tails; Entropy "
            "minimises the information lost (slowest)"
        )
        self.calib_size = QSpinBox()
        self.calib_size.setRange(16, 100000)
        self.calib_size.setValue(512)
        self.calib_size.setToolTip("Calibration windows, drawn stratified across the tags")
        self.percentile = QDoubleSpinBox()
        self.percentile.setRange(90.0, 100.0)
        self.percentile.setDecimals(3)
        self.percentile.setValue(99.999)
        self.percentile.setSuffix(" %")
        self.saturation = QDoubleSpinBox()
        self.saturation.setRange(0.0, 100.0)
        self.saturation.setDecimals(2)
        self.saturation.setValue(0.1)
        self.saturation.setSuffix(" %")
        self.saturation.setToolTip("Flag a layer when more than this share of values clip")
        self.sqnr = QDoubleSpinBox()
        self.sqnr.setRange(0.0, 100.0)
        self.sqnr.setDecimals(1)
        self.sqnr.setValue(20.0)
        self.sqnr.setSuffix(" dB")
        self.sqnr.setToolTip("Flag a layer whose signal-to-quantization-noise ratio is below this")
        self.run_button = QPushButton("Quantize && validate")
        self.run_button.setToolTip(
            "Quantize with onnxruntime and validate float vs INT8 (Ctrl+Enter)"
        )
        self.run_button.setDefault(True)
        self.run_button.setMinimumHeight(30)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)

        setup = QGroupBox("Model and data")
        grid = QGridLayout(setup)
        grid.addWidget(QLabel("Model"), 0, 0)
        grid.addWidget(self.model_combo, 0, 1, 1, 3)
        grid.addWidget(self.open_button, 0, 4)
        grid.addWidget(QLabel("Validation data"), 1, 0)
        grid.addWidget(self.data_combo, 1, 1, 1, 4)
        grid.setColumnStretch(1, 1)
        options = QGroupBox("Quantization")
        og = QGridLayout(options)
        og.addWidget(QLabel("Calibration"), 0, 0)
        og.addWidget(self.method_combo, 0, 1)
        og.addWidget(QLabel("windows"), 0, 2)
        og.addWidget(self.calib_size, 0, 3)
        og.addWidget(QLabel("percentile"), 1, 2)
        og.addWidget(self.percentile, 1, 3)
        og.addWidget(QLabel("Flag saturation >"), 2, 0)
        og.addWidget(self.saturation, 2, 1)
        og.addWidget(QLabel("SQNR <"), 2, 2)
        og.addWidget(self.sqnr, 2, 3)
        run_box = QVBoxLayout()
        run_box.addWidget(self.run_button)
        run_box.addWidget(self.cancel_button)
        run_box.addWidget(self.progress)
        top = QHBoxLayout()
        top.addWidget(setup, 3)
        top.addWidget(options, 2)
        top.addLayout(run_box)

        self.summary = SummaryView()
        self.layers = LayerTable()
        self.fix_button = QPushButton("Apply fix and re-validate")
        self.fix_button.setToolTip("Apply the selected layer's proposed fix, quantize again")
        self.fix_all_button = QPushButton("Apply all proposed fixes")
        fix_row = QHBoxLayout()
        fix_row.addStretch(1)
        fix_row.addWidget(self.fix_button)
        fix_row.addWidget(self.fix_all_button)
        layers_page = QWidget()
        lp = QVBoxLayout(layers_page)
        lp.setContentsMargins(4, 4, 4, 4)
        lp.addWidget(self.layers, 1)
        lp.addLayout(fix_row)
        self.confusion = ConfusionView()
        self.histograms = HistogramView()
        self.views = QTabWidget()
        summary_scroll = QScrollArea()  # a short window scrolls instead of growing
        summary_scroll.setWidget(self.summary)
        summary_scroll.setWidgetResizable(True)
        summary_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.views.addTab(summary_scroll, "Summary")
        self.views.addTab(layers_page, "Layers")
        self.views.addTab(self.confusion, "Confusion")
        self.views.addTab(self.histograms, "Histograms")
        self.empty = QLabel(
            "<h3>No report yet</h3>Choose a model and its validation data, then press "
            "<b>Quantize &amp; validate</b> (Ctrl+Enter).<br>The report — float vs INT8 overall "
            "and per stratum, per-layer ranges, saturation and SQNR, budgets — is saved under "
            "<i>reports/quantization/&lt;model&gt;/</i> in the workspace."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.views)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.status)

        self.run_action = QAction("Quantize and validate", self)
        self.run_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.run_action.triggered.connect(self.run)
        self.addAction(self.run_action)

        self.open_button.clicked.connect(self.open_model_dialog)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.data_combo.activated.connect(self._on_data_activated)
        self.method_combo.currentIndexChanged.connect(self._sync)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.fix_button.clicked.connect(self.apply_selected_fix)
        self.fix_all_button.clicked.connect(self.apply_all_fixes)
        self.layers.selection_changed.connect(self._on_layer_selected)
        self._fill_models()
        self._sync()

    def actions_for_menu(self) -> list[QAction]:
        return [self.run_action]

    # ---- workspace, model, data -------------------------------------------------------------
    def set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.results = {}
        self._on_model_changed()

    def _fill_models(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for name, entry in sample_models().items():
            task = entry.get("task", "?")
            self.model_combo.addItem(f"{name}  ({task}, sample)", str(entry["path"]))
        self.model_combo.blockSignals(False)

    def model_path(self) -> Path | None:
        data = self.model_combo.currentData()
        return Path(data) if data else None

    def add_model(self, path: Path) -> None:
        i = self.model_combo.findData(str(path))
        if i < 0:
            self.model_combo.addItem(path.name, str(path))
            i = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(i)

    def open_model_dialog(self) -> None:
        start = str(self.workspace.path) if self.workspace else ""
        name, _ = QFileDialog.getOpenFileName(
            self, "Open a float ONNX model", start, "ONNX (*.onnx)"
        )
        if name:
            self.add_model(Path(name))

    def _on_model_changed(self, *_: object) -> None:
        self._fill_data()
        self.show_saved_report()
        self._sync()

    def _fill_data(self) -> None:
        path = self.model_path()
        previous = self.data_combo.currentData()
        self.data_combo.clear()
        is_sample = path is not None and any(
            Path(e["path"]) == path for e in sample_models().values()
        )
        if is_sample:
            self.data_combo.addItem("Generated held-out set (sample model)", DataChoice(GENERATED))
        for split in self._splits():
            for part, text in (("val", "validation"), ("test", "test")):
                self.data_combo.addItem(
                    f"Workspace dataset: split {split}, {text} part",
                    DataChoice(WORKSPACE, split=split, part=part),
                )
        if self.workspace is not None:
            self.data_combo.addItem(
                "Workspace dataset: every recording", DataChoice(WORKSPACE, split=None)
            )
        self.data_combo.addItem("Evaluation file (.npz)…", PICK_FILE)
        same = [
            i for i in range(self.data_combo.count()) if self.data_combo.itemData(i) == previous
        ]
        self.data_combo.setCurrentIndex(same[0] if same and previous != PICK_FILE else 0)

    def _splits(self) -> list[str]:
        if self.workspace is None:
            return []
        try:
            with Dataset.open(self.workspace.path) as ds:
                return list_splits(ds)
        except FieldbenchError:
            return []

    def _on_data_activated(self, index: int) -> None:
        if self.data_combo.itemData(index) != PICK_FILE:
            return
        name, _ = QFileDialog.getOpenFileName(
            self, "Evaluation set", "", "Evaluation set (*.npz);;All files (*)"
        )
        if name:
            self.add_data_file(Path(name))
        else:
            self.data_combo.setCurrentIndex(0)

    def add_data_file(self, path: Path) -> None:
        choice = DataChoice(FILE, path=path)
        self.data_combo.insertItem(self.data_combo.count() - 1, f"File: {path.name}", choice)
        self.data_combo.setCurrentIndex(self.data_combo.count() - 2)

    def data_choice(self) -> DataChoice | None:
        data = self.data_combo.currentData()
        return data if isinstance(data, DataChoice) else None

    def show_saved_report(self) -> bool:
        """Show the report saved earlier for the current model, if there is one."""
        path = self.model_path()
        if self.workspace is None or path is None:
            self._show(None, None)
            return False
        if path in self.results:
            result = self.results[path]
            saved = report_dir(self.workspace.path, path.stem) / "report.json"
            self._show(result.report.to_dict(), saved)
            return True
        saved = report_dir(self.workspace.path, path.stem) / "report.json"
        if not saved.is_file():
            self._show(None, None)
            self.show_info(f"{path.name}: no report yet")
            return False
        try:
            report = load_report(saved)
        except FieldbenchError as exc:
            self._show(None, None)
            self.show_error(str(exc))
            return False
        self._show(report, saved)
        self.show_info(f"saved report {saved} — run again to apply fixes")
        return True

    # ---- jobs -------------------------------------------------------------------------------
    def request(self) -> QuantRequest | None:
        path, data = self.model_path(), self.data_choice()
        if self.workspace is None:
            self.show_error("open a workspace first: reports are saved in it")
            return None
        if path is None:
            self.show_error("choose a model (resources/models samples or Open ONNX…)")
            return None
        if data is None:
            self.show_error("choose the validation data")
            return None
        return QuantRequest(
            model_path=path,
            data=data,
            workspace_root=self.workspace.path,
            method=str(self.method_combo.currentData()),
            calibration_size=self.calib_size.value(),
            percentile=self.percentile.value(),
            saturation_threshold=self.saturation.value() / 100.0,
            sqnr_threshold_db=self.sqnr.value(),
        )

    def run(self) -> Worker | None:
        """Quantize and validate the current model in a worker."""
        if self.job is not None:
            return self.job
        req = self.request()
        if req is None:
            return None
        self.show_info(
            f"quantizing {req.model_path.name} ({req.method}) and validating on "
            f"{req.data.describe()}…"
        )
        worker = Worker(run_quantization, req, label=f"quantize {req.model_path.stem}")
        return self._start(worker)

    def apply_selected_fix(self) -> Worker | None:
        tensor = self.layers.selected_tensor()
        index = None if tensor is None else self.layers.flag_index(tensor)
        if index is None:
            self.show_error("select a flagged (red) layer first")
            return None
        return self._fix([index], f"fix {tensor}")

    def apply_all_fixes(self) -> Worker | None:
        return self._fix(None, "fix every flagged layer")

    def _fix(self, which: list[int] | None, what: str) -> Worker | None:
        path = self.model_path()
        result = self.results.get(path) if path is not None else None
        if self.job is not None or result is None or self.workspace is None:
            return None
        if not result.report.flags:
            self.show_error("no layer is flagged; there is nothing to fix")
            return None
        self.show_info(f"{what}: quantizing again with the proposed fix and re-validating…")
        worker = Worker(run_fix, result, which, self.workspace.path, label=what)
        return self._start(worker)

    def _start(self, worker: Worker) -> Worker:
        worker.signals.progress.connect(lambda f: self.progress.setValue(int(f * 1000)))
        worker.signals.finished.connect(self._on_finished)
        worker.signals.failed.connect(self.show_error)
        worker.signals.cancelled.connect(
            lambda: self.show_info("cancelled; the previous report is unchanged")
        )
        worker.signals.done.connect(self._on_done)
        self.job = worker
        self.progress.setValue(0)
        self._sync()
        return self.workers.start(worker)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_finished(self, outcome: QuantOutcome) -> None:
        result = outcome.result
        self.results[result.job.model_path] = result
        report = outcome.report
        self._show(report, outcome.report_path)
        verdict = "passed" if report["passed"] else "FAILED"
        flags = len(report["flags"])
        self.show_info(
            f"{report['model']['name']}: {verdict}, {flags} flagged layer(s); report saved to "
            f"{outcome.report_path}"
        )
        log.info("quantization report %s (%s)", outcome.report_path, verdict)

    def _on_done(self) -> None:
        self.job = None
        self._sync()

    def _show(self, report: dict[str, Any] | None, path: Path | None) -> None:
        self.report = report
        self.report_path = path
        if report is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentWidget(self.views)
        self.summary.show_report(report)
        self.layers.show_report(report)
        self.confusion.show_report(report)
        self.histograms.show_report(report)
        if report.get("flags"):
            self.layers.select_tensor(report["flags"][0]["tensor"])
        self._sync()

    def _on_layer_selected(self) -> None:
        tensor = self.layers.selected_tensor()
        if tensor is not None and self.report is not None:
            self.histograms.select_activation(tensor)
        self._sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._sync()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._sync()

    def _sync(self) -> None:
        idle = self.job is None
        ready = self.workspace is not None and self.model_path() is not None
        self.run_button.setEnabled(idle and ready)
        self.run_action.setEnabled(idle and ready and self.isVisible())
        self.cancel_button.setEnabled(not idle)
        self.progress.setVisible(not idle)
        self.percentile.setEnabled(self.method_combo.currentData() == "percentile")
        for w in (self.model_combo, self.open_button, self.data_combo, self.method_combo):
            w.setEnabled(idle)
        path = self.model_path()
        live = path is not None and path in self.results
        flags = bool(self.report and self.report.get("flags"))
        tensor = self.layers.selected_tensor()
        selected_flag = tensor is not None and self.layers.flag_index(tensor) is not None
        self.fix_button.setEnabled(idle and live and flags and selected_flag)
        self.fix_all_button.setEnabled(idle and live and flags)
        tip = "" if live else " (run Quantize & validate first: fixes apply to a fresh run)"
        self.fix_all_button.setToolTip("Apply every flag's proposed fix, quantize again" + tip)

    # ---- messages ---------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        line = message.splitlines()[0] if message else "error"
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(line)
        log.warning("%s", line)

    def show_info(self, message: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(message)
