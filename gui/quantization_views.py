"""Views of a quantization report (the JSON dict ``ValidationReport.to_dict`` and
``load_report`` give): verdict and budgets, float vs INT8 per stratum, confusion matrices, the
per-layer table with flagged rows, and weight / activation histograms.

They read only the dict, so a report saved earlier shows exactly like a fresh one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.model.budget import DEFAULT_MAX_LATENCY_MS, DEFAULT_PEAK_RAM_BUDGET_BYTES
from gui.live_plots import apply_plot_theme

PASS_COLOUR = "#1e7d32"
FAIL_COLOUR = "#b00020"
FLAG_BACKGROUND = QColor("#fde2e1")
WORSE = QColor("#b00020")
MAX_REASONS = 4


def metric_key(report: dict[str, Any]) -> str:
    return "auc" if report.get("task") == "anomaly" else "accuracy"


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _item(text: str, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(22)
    table.setAlternatingRowColors(True)
    return table


class BudgetPanel(QGroupBox):
    """Pool bytes vs the RAM budget and latency vs the limit, each pass or fail."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Device budgets (ESP32-S3)", parent)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(14)
        self.labels: dict[str, tuple[QLabel, QLabel]] = {}
        for row, (key, name) in enumerate(
            (("ram", "RAM pool"), ("latency", "Latency"), ("flash", "Flash"), ("macs", "MACs"))
        ):
            value, verdict = QLabel("—"), QLabel("")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(QLabel(name), row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(verdict, row, 2)
            self.labels[key] = (value, verdict)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(4, 1)

    def show_budgets(self, budgets: dict[str, Any]) -> None:
        for value, verdict in self.labels.values():
            value.setText("—")
            verdict.setText("")
        if not budgets:
            self.labels["ram"][0].setText("not computed")
            return
        if "error" in budgets:
            self.labels["ram"][0].setText(f"cannot compute: {budgets['error']}")
            return
        pool = int(budgets.get("pool_bytes", 0))
        ram_ok = pool <= DEFAULT_PEAK_RAM_BUDGET_BYTES
        parts = [f"arena {budgets.get('arena_bytes', 0):,}"]
        if budgets.get("fe_pool_bytes") is not None:
            parts.append(f"features {budgets['fe_pool_bytes']:,}")
        self.labels["ram"][0].setText(f"{pool:,} B of {DEFAULT_PEAK_RAM_BUDGET_BYTES:,} B")
        self.labels["ram"][0].setToolTip("pool = " + " + ".join(parts) + " bytes")
        self._verdict("ram", ram_ok)
        latency = float(budgets.get("latency_ms", 0.0))
        self.labels["latency"][0].setText(
            f"{latency:.2f} ms of {DEFAULT_MAX_LATENCY_MS:g} ms "
            f"(est. {budgets.get('cycles_per_mac', '?'):g} cycles/MAC)"
        )
        self.labels["latency"][0].setToolTip(str(budgets.get("latency_source", "")))
        self._verdict("latency", latency <= DEFAULT_MAX_LATENCY_MS)
        self.labels["flash"][0].setText(f"{int(budgets.get('flash_bytes', 0)):,} B (model blob)")
        self.labels["macs"][0].setText(
            f"{int(budgets.get('macs', 0)):,} per inference, {budgets.get('layers', '?')} layers"
        )

    def _verdict(self, key: str, ok: bool) -> None:
        label = self.labels[key][1]
        label.setText("✔ within budget" if ok else "✘ over budget")
        label.setStyleSheet(f"color: {PASS_COLOUR if ok else FAIL_COLOUR}; font-weight: bold;")

    def verdict(self, key: str) -> str:
        return self.labels[key][1].text()


class SummaryView(QWidget):
    """Verdict, budgets, and float vs INT8 overall and per stratum."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.budgets = BudgetPanel()
        self.table = _table(["Stratum", "n", "Float", "INT8", "Δ", "Extra"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        top = QHBoxLayout()
        top.addWidget(self.verdict, 3)
        top.addWidget(self.budgets, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def show_report(self, report: dict[str, Any]) -> None:
        key = metric_key(report)
        name = report["model"]["name"]
        if report.get("passed"):
            text = (
                f'<span style="color:{PASS_COLOUR}; font-size:15pt"><b>✔ PASSED</b></span> '
                f"&nbsp; {name}: INT8 keeps the {key} overall and in every stratum"
            )
        else:
            all_reasons = report.get("reasons", [])
            reasons = "".join(f"<li>{r}</li>" for r in all_reasons[:MAX_REASONS])
            if len(all_reasons) > MAX_REASONS:
                more = len(all_reasons) - MAX_REASONS
                reasons += f"<li>… and {more} more (red rows in the table below)</li>"
            text = (
                f'<span style="color:{FAIL_COLOUR}; font-size:15pt"><b>✘ FAILED</b></span> '
                f"&nbsp; {name}<ul>{reasons}</ul>"
            )
        flags = report.get("flags", [])
        if flags:
            text += f"<br>{len(flags)} layer(s) flagged — see <b>Layers</b> for proposed fixes."
        method = report.get("quantization", {}).get("method")
        if method:
            text += f"<br><small>calibration: {method}"
            overrides = report["quantization"].get("overrides") or {}
            if overrides:
                text += f", {len(overrides)} range override(s)"
            text += "</small>"
        self.verdict.setText(text)
        self.budgets.show_budgets(report.get("budgets") or {})

        crit = report.get("criteria", {})
        limit_all = float(crit.get("max_accuracy_drop", 0.01))
        limit_stratum = float(crit.get("max_stratum_drop", 0.03))
        min_rows = int(crit.get("min_stratum_rows", 20))
        rows: list[tuple[str, Any, float | None]] = [("overall", report["overall"], limit_all)]
        for s in report.get("strata", []):
            tags = ", ".join(f"{k} = {v}" for k, v in s["tags"].items())
            rows.append((tags, s, limit_stratum if s["n"] >= min_rows else None))
        self.table.setHorizontalHeaderLabels(
            ["Stratum", "n", f"Float {key}", f"INT8 {key}", "Δ (float − INT8)", "Extra"]
        )
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, (name_, entry, limit) in enumerate(rows):
            f, q = entry["float"].get(key), entry["int8"].get(key)
            drop = None if f is None or q is None else float(f) - float(q)
            extra = ""
            if "agreement" in entry["int8"]:
                extra = f"agreement {entry['int8']['agreement']:.2%}"
            elif "score_error" in entry["int8"]:
                e = entry["int8"]["score_error"]
                extra = f"score error mean {e['mean_abs']:.3g}, max {e['max_abs']:.3g}"
            cells = [
                _item(name_),
                _item(str(entry["n"]), True),
                _item(fmt(f), True),
                _item(fmt(q), True),
                _item("n/a" if drop is None else f"{drop:+.4f}", True),
                _item(extra),
            ]
            bad = drop is not None and limit is not None and drop > limit
            for j, cell in enumerate(cells):
                if i == 0:
                    cell.setFont(bold)
                if bad:
                    cell.setBackground(FLAG_BACKGROUND)
                    if j == 4:
                        cell.setForeground(WORSE)
                        cell.setToolTip(f"drops more than the limit {limit}")
                self.table.setItem(i, j, cell)


class ConfusionView(QWidget):
    """Float and INT8 confusion matrices side by side (rows: truth, columns: prediction)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.float_table = _table([])
        self.int8_table = _table([])
        self.note = QLabel()
        self.note.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("<b>Float</b>"), 0, 0)
        grid.addWidget(QLabel("<b>INT8</b>"), 0, 1)
        grid.addWidget(self.float_table, 1, 0)
        grid.addWidget(self.int8_table, 1, 1)
        grid.addWidget(self.note, 2, 0, 1, 2)

    def show_report(self, report: dict[str, Any]) -> None:
        names = list(report.get("class_names") or [])
        overall = report["overall"]
        for table, side in ((self.float_table, "float"), (self.int8_table, "int8")):
            matrix = overall[side].get("confusion")
            table.clear()
            if not matrix:
                table.setRowCount(0)
                table.setColumnCount(0)
                continue
            m = np.asarray(matrix, dtype=np.int64)
            k = m.shape[0]
            labels = [names[i] if i < len(names) else f"class {i}" for i in range(k)]
            table.setRowCount(k)
            table.setColumnCount(k)
            table.setHorizontalHeaderLabels([f"→ {n}" for n in labels])
            table.setVerticalHeaderLabels(labels)
            table.verticalHeader().show()
            table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            row_sums = np.maximum(m.sum(axis=1), 1)
            for i in range(k):
                for j in range(k):
                    share = m[i, j] / row_sums[i]
                    cell = _item(f"{m[i, j]:,}  ({share:.0%})")
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    base = QColor("#57bb8a") if i == j else QColor("#e67c73")
                    alpha = int(40 + 200 * share) if m[i, j] else 0
                    base.setAlpha(alpha)
                    cell.setBackground(QBrush(base))
                    table.setItem(i, j, cell)
        if report.get("task") == "anomaly":
            thr = report.get("threshold")
            self.note.setText(
                "Anomaly decision: reconstruction error above the threshold "
                f"{fmt(thr, 4)} (the {report['criteria'].get('threshold_quantile', 0.99):.0%} "
                "quantile of normal float scores) counts as an anomaly."
            )
        else:
            self.note.setText("Rows: true class; columns: predicted class; share of the row.")


LAYER_HEADERS = [
    "Tensor",
    "Op",
    "Range seen (float)",
    "Quantized range",
    "Saturation",
    "Worst stratum",
    "SQNR",
    "Flag → proposed fix",
]


class LayerTable(QWidget):
    """One row per quantized activation; flagged rows highlighted with their proposed fix."""

    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict[str, Any] | None = None
        self.table = _table(LAYER_HEADERS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.fix_label = QLabel("Select a flagged (red) row to see its proposed fix.")
        self.fix_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.fix_label)
        self.table.itemSelectionChanged.connect(self._on_selection)

    def flag_index(self, tensor: str) -> int | None:
        """Index of ``tensor``'s flag in the report's flag list, or None."""
        flags = (self.report or {}).get("flags", [])
        for i, f in enumerate(flags):
            if f["tensor"] == tensor:
                return i
        return None

    def show_report(self, report: dict[str, Any]) -> None:
        self.report = report
        layers = report.get("layers", [])
        flagged = {f["tensor"]: f for f in report.get("flags", [])}
        self.table.clearContents()
        self.table.setRowCount(len(layers))
        for i, layer in enumerate(layers):
            lo, hi = layer["float_range"]
            qlo, qhi = layer["quant_range"]
            worst = max(layer.get("saturation_strata", []), key=lambda s: s["rate"], default=None)
            worst_text = "—"
            if worst and worst["rate"] > 0:
                tags = ", ".join(f"{k}={v}" for k, v in worst["tags"].items())
                worst_text = f"{worst['rate']:.2%} at {tags}"
            sq = layer.get("sqnr_db")
            flag = flagged.get(layer["tensor"])
            cells = [
                _item(layer["tensor"]),
                _item(layer.get("producer", "")),
                _item(f"{lo:.4g} … {hi:.4g}"),
                _item(f"{qlo:.4g} … {qhi:.4g}"),
                _item(f"{layer['saturation']:.3%}", True),
                _item(worst_text),
                _item("n/a" if sq is None else f"{sq:.1f} dB", True),
                _item("" if flag is None else f"⚑ {flag['kind']} → {flag['fix']['description']}"),
            ]
            for j, cell in enumerate(cells):
                if flag is not None:
                    cell.setBackground(FLAG_BACKGROUND)
                    fix = flag["fix"]["description"]
                    cell.setToolTip(f"{flag['message']}\nproposed fix: {fix}")
                    if j in (4, 6, 7):
                        cell.setForeground(WORSE)
                self.table.setItem(i, j, cell)
        n = len(flagged)
        self.fix_label.setText(
            f"{n} flagged layer(s): select a red row to see its proposed fix."
            if n
            else "No layer is past the saturation or SQNR threshold."
        )
        self.selection_changed.emit()

    def selected_tensor(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.report is None:
            return None
        return str(self.report["layers"][rows[0].row()]["tensor"])

    def select_tensor(self, tensor: str) -> bool:
        for i, layer in enumerate((self.report or {}).get("layers", [])):
            if layer["tensor"] == tensor:
                self.table.selectRow(i)
                return True
        return False

    def _on_selection(self) -> None:
        tensor = self.selected_tensor()
        index = None if tensor is None else self.flag_index(tensor)
        if index is not None and self.report is not None:
            f = self.report["flags"][index]
            self.fix_label.setText(
                f"<b>{f['message']}</b><br>Proposed fix: {f['fix']['description']}"
            )
        elif tensor is not None:
            self.fix_label.setText(f"{tensor}: not flagged.")
        self.selection_changed.emit()


class HistogramView(QWidget):
    """Weight distribution (float vs INT8-dequantized) and an activation's value histogram."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        apply_plot_theme()
        self.weight_combo = QComboBox()
        self.weight_combo.setToolTip("Weight tensor whose distribution is plotted")
        self.activation_combo = QComboBox()
        self.activation_combo.setToolTip("Activation tensor whose values are plotted")
        self.canvas = pg.GraphicsLayoutWidget()
        self.weight_plot = self.canvas.addPlot(row=0, col=0, title="Weights")
        self.code_plot = self.canvas.addPlot(row=0, col=1, title="INT8 codes")
        self.act_plot = self.canvas.addPlot(row=1, col=0, colspan=2, title="Activations")
        for plot, x in (
            (self.weight_plot, "float weight value"),
            (self.code_plot, "int8 code (per-channel scale)"),
            (self.act_plot, "activation value"),
        ):
            plot.setLabel("bottom", x)
            plot.setLabel("left", "count")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").enableAutoSIPrefix(False)
        pickers = QHBoxLayout()
        pickers.addWidget(QLabel("Weights"))
        pickers.addWidget(self.weight_combo, 1)
        pickers.addSpacing(20)
        pickers.addWidget(QLabel("Activation"))
        pickers.addWidget(self.activation_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(pickers)
        layout.addWidget(self.canvas, 1)
        self.report: dict[str, Any] | None = None
        self.weight_name: str | None = None
        self.activation_name: str | None = None
        self.weight_combo.currentIndexChanged.connect(self._on_weight)
        self.activation_combo.currentIndexChanged.connect(self._on_activation)

    def show_report(self, report: dict[str, Any], tensor: str | None = None) -> None:
        self.report = report
        for combo in (self.weight_combo, self.activation_combo):
            combo.blockSignals(True)
            combo.clear()
        for w in report.get("weights", []):
            self.weight_combo.addItem(f"{w['name']} ({w.get('layer', '')})", w["name"])
        for layer in report.get("layers", []):
            self.activation_combo.addItem(layer["tensor"], layer["tensor"])
        for combo in (self.weight_combo, self.activation_combo):
            combo.blockSignals(False)
        self._on_weight()
        self.select_activation(tensor or self._first_flagged())

    def select_activation(self, tensor: str | None) -> None:
        i = self.activation_combo.findData(tensor)
        if i >= 0 and i != self.activation_combo.currentIndex():
            self.activation_combo.setCurrentIndex(i)
        else:
            self._on_activation()

    def _on_weight(self) -> None:
        name = self.weight_combo.currentData()
        weights = (self.report or {}).get("weights", [])
        self.show_weights(next((dict(w) for w in weights if w["name"] == name), None))

    def _on_activation(self) -> None:
        self.show_activation(self.activation_combo.currentData())

    def _first_flagged(self) -> str | None:
        report = self.report or {}
        if report.get("flags"):
            return str(report["flags"][0]["tensor"])
        layers = report.get("layers", [])
        return str(layers[-1]["tensor"]) if layers else None

    def show_weights(self, w: dict[str, Any] | None) -> None:
        self.weight_plot.clear()
        if w is None:
            self.code_plot.clear()
            self.weight_plot.setTitle("Weights: none in this model")
            self.weight_name = None
            return
        self.weight_name = str(w["name"])
        h, q = w["histogram"], w.get("int8_histogram")
        self.code_plot.clear()
        self.weight_plot.addItem(_bars(h, "#1f77b4", 200))
        if q:
            self.code_plot.addItem(_bars(q, "#d62728", 180))
            self.code_plot.setXRange(-128, 128, padding=0.02)
        sq = w.get("sqnr_db")
        self.weight_plot.setTitle(
            f"{w['name']} ({w.get('channels', '?')} ch), |w| ≤ {w.get('absmax', 0):.3g}"
        )
        self.code_plot.setTitle(
            f"INT8 codes · SQNR {'n/a' if sq is None else f'{sq:.1f} dB'} · scales "
            f"{w.get('scale_min', 0):.2g} … {w.get('scale_max', 0):.2g}"
        )

    def show_activation(self, tensor: str | None) -> None:
        self.act_plot.clear()
        layer = next(
            (x for x in (self.report or {}).get("layers", []) if x["tensor"] == tensor), None
        )
        self.activation_name = None if layer is None else str(layer["tensor"])
        if layer is None or not layer.get("histogram"):
            self.act_plot.setTitle("Activations: select a layer")
            return
        self.act_plot.addItem(_bars(layer["histogram"], "#2ca02c", 180))
        qlo, qhi = layer["quant_range"]
        for x in (qlo, qhi):
            pen = pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine)
            self.act_plot.addItem(pg.InfiniteLine(x, angle=90, pen=pen))
        self.act_plot.setTitle(
            f"{layer['tensor']} · values seen, "
            '<span style="color:#d62728">- -</span> INT8 range '
            f"[{qlo:.3g}, {qhi:.3g}] · {layer['saturation']:.2%} clipped"
        )


def _bars(hist: dict[str, list[float]], colour: str, alpha: int) -> pg.BarGraphItem:
    edges = np.asarray(hist["edges"], dtype=np.float64)
    counts = np.asarray(hist["counts"], dtype=np.float64)
    brush = QColor(colour)
    brush.setAlpha(alpha)
    return pg.BarGraphItem(
        x0=edges[:-1], x1=edges[1:], height=counts, brush=brush, pen=pg.mkPen(None)
    )
