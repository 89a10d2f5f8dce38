"""The Capture tab's dataset views: recordings (filterable by tag), coverage heatmap, splits.

Each view reads a core ``Dataset`` on the GUI thread (catalog queries take milliseconds even
over 100 000 recordings) and is refreshed by the tab after every capture.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.dataset import Dataset, RecordingInfo
from core.dataset.coverage import UNTAGGED, CoverageMatrix, coverage_matrix
from core.dataset.splits import PARTS, Split, list_splits, load_split, make_split
from core.errors import FieldbenchError
from gui.capture_tags import ANY, TagForm

MAX_ROWS = 5000
GAP_COLOUR = QColor("#f4c7c3")
GAP_TEXT = QColor("#8b0000")
OFF_TARGET = QColor("#eeeeee")
FULL_COLOUR = QColor("#57bb8a")
EMPTY_COLOUR = QColor("#ffffff")
STATE_COLOURS = {"interrupted": QColor("#b36b00"), "recording": QColor("#1f5fbf")}
Index = QModelIndex | QPersistentModelIndex


class RecordingsModel(QAbstractTableModel):
    """Catalog rows: id, label, one column per tag, session, state, length, rate, quality."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RecordingInfo] = []
        self.tag_names: tuple[str, ...] = ()

    def headers(self) -> list[str]:
        tags = [t.capitalize() for t in self.tag_names]
        return ["#", "Label", *tags, "Session", "State", "Length", "Rate", "Quality"]

    def set_rows(self, rows: list[RecordingInfo], tag_names: tuple[str, ...]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.tag_names = tag_names
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers())

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers()[section]
        return None

    def cell(self, r: RecordingInfo, col: int) -> str:
        n = len(self.tag_names)
        if col == 0:
            return str(r.id)
        if col == 1:
            if r.label:
                return r.label
            return ", ".join(sorted({s.label for s in r.segments})) or "—"
        if 2 <= col < 2 + n:
            return r.tags.get(self.tag_names[col - 2], "—")
        rest = col - 2 - n
        return [
            str(r.session),
            r.state,
            f"{r.duration_s:.1f} s",
            f"{r.sample_rate:g} Hz",
            r.quality.summary(),
        ][rest]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(r, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == 3 + len(self.tag_names):
            colour = STATE_COLOURS.get(r.state)
            return QBrush(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"recording {r.id}: {r.channels} ch ({', '.join(r.channel_names)}), {r.units}"
            return tip + (f"\n{r.note}" if r.note else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, len(self.headers()) - 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RecordingsView(QWidget):
    """A tag filter over the recordings table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.filter = TagForm(blank=ANY)
        self.filter.layout_.setHorizontalSpacing(6)
        self.clear_button = QPushButton("Clear filter")
        self.count_label = QLabel()
        self.model = RecordingsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.filter_box = QWidget()
        fl = QVBoxLayout(self.filter_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(QLabel("<b>Filter</b>"))
        fl.addWidget(self.filter)
        fl.addWidget(self.clear_button)
        fl.addStretch(1)
        filter_scroll = QScrollArea()  # keeps the window's minimum height small
        filter_scroll.setWidget(self.filter_box)
        filter_scroll.setWidgetResizable(True)
        filter_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        filter_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        filter_scroll.setFixedWidth(240)
        right = QVBoxLayout()
        right.addWidget(self.table, 1)
        right.addWidget(self.count_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(filter_scroll)
        layout.addLayout(right, 1)
        self.filter.changed.connect(self.refresh)
        self.clear_button.clicked.connect(self.filter.clear)

    def set_dataset(self, dataset: Dataset | None) -> None:
        self.dataset = dataset
        if dataset is not None:
            self.filter.blockSignals(True)
            self.filter.set_config(dataset.config)
            self.filter.blockSignals(False)
        self.refresh()

    def set_filter(self, label: str | None, tags: dict[str, str]) -> None:
        self.filter.blockSignals(True)
        self.filter.clear()
        self.filter.set_values(label, tags)
        self.filter.blockSignals(False)
        self.refresh()

    def select_recording(self, recording_id: int) -> bool:
        """Select and scroll to a recording when the filter shows it."""
        for row, info in enumerate(self.model.rows):
            if info.id == recording_id:
                self.table.selectRow(row)
                self.table.scrollTo(self.model.index(row, 0))
                return True
        return False

    def refresh(self) -> None:
        if self.dataset is None:
            self.model.set_rows([], ())
            self.count_label.setText("")
            return
        label, tags = self.filter.label(), self.filter.tags()
        try:
            ids = self.dataset.filter_ids(label, tags)
            rows = self.dataset.recordings(label, tags, limit=MAX_ROWS)
        except FieldbenchError as exc:
            self.count_label.setText(str(exc))
            return
        self.model.set_rows(rows, self.dataset.config.tag_names)
        self.table.resizeColumnsToContents()
        total = self.dataset.count()
        shown = f"showing the first {MAX_ROWS:,} of " if ids.size > MAX_ROWS else ""
        if total == 0:
            text = "No recordings yet: choose a source, set the tags and press Start (Ctrl+R)."
        elif ids.size == 0:
            text = f"No recording matches the filter (of {total:,}); Clear filter shows them all."
        else:
            text = f"{shown}{ids.size:,} of {total:,} recordings"
        self.count_label.setText(text)


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


class CoverageView(QWidget):
    """The coverage matrix as a coloured table: one row per tag combination, one column per
    label; green as a cell fills toward the target, red with ``!`` where it falls short."""

    cell_activated = Signal(object, object)  # (label or None, tags dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix: CoverageMatrix | None = None
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.legend = QLabel(
            '<span style="background:#57bb8a">&nbsp;&nbsp;&nbsp;&nbsp;</span> meets the target '
            '&nbsp; <span style="background:#f4c7c3">&nbsp;!&nbsp;</span> gap (below target) '
            '&nbsp; <span style="background:#eeeeee">&nbsp;&nbsp;&nbsp;&nbsp;</span> no target '
            "(noise profiles, untagged) &nbsp; · double-click a cell to list its recordings"
        )
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.legend)
        self.table.cellDoubleClicked.connect(self._on_double_click)

    def refresh(self, dataset: Dataset | None) -> None:
        self.table.clear()
        if dataset is None:
            self.matrix = None
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.summary.setText("")
            return
        m = coverage_matrix(dataset)
        self.matrix = m
        t = m.target
        self.table.setRowCount(len(m.rows))
        self.table.setColumnCount(len(m.labels))
        self.table.setHorizontalHeaderLabels(list(m.labels))
        self.table.setVerticalHeaderLabels([" · ".join(r) for r in m.rows])
        bold = QFont()
        bold.setBold(True)
        for i, row in enumerate(m.rows):
            for j, label in enumerate(m.labels):
                n, sec = int(m.recordings[i, j]), float(m.seconds[i, j])
                gap, target = bool(m.gap[i, j]), bool(m.in_target[i, j])
                text = f"{n} · {sec:.1f} s" if n else "0"
                item = QTableWidgetItem(("! " if gap else "") + text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if gap:
                    item.setBackground(GAP_COLOUR)
                    item.setForeground(GAP_TEXT)
                    item.setFont(bold)
                elif not target:
                    item.setBackground(OFF_TARGET if n == 0 else _mix(OFF_TARGET, FULL_COLOUR, 0.4))
                else:
                    fill = min(
                        n / t.min_recordings if t.min_recordings else 1.0,
                        sec / t.min_seconds if t.min_seconds else 1.0,
                    )
                    item.setBackground(_mix(EMPTY_COLOUR, FULL_COLOUR, 0.35 + 0.65 * fill))
                where = ", ".join(f"{a}={v}" for a, v in zip(m.axes, row, strict=True))
                tip = f"{label} at {where}: {n} recording(s), {sec:.1f} s"
                if gap:
                    tip += f"\ngap: the target is {t.min_recordings} recording(s) and "
                    tip += f"{t.min_seconds:g} s per cell — capture more here"
                item.setToolTip(tip)
                self.table.setItem(i, j, item)
        cells = int(m.in_target.sum())
        self.summary.setText(
            f"<b>{len(m.gaps)} gap(s)</b> in {cells} target cells "
            f"({m.filled_fraction:.0%} filled) · rows: {' × '.join(m.axes)} · target per cell: "
            f"{t.min_recordings} recording(s) and {t.min_seconds:g} s "
            "(<i>[dataset.coverage]</i> in fieldbench.toml)"
        )

    def _on_double_click(self, row: int, col: int) -> None:
        if self.matrix is None:
            return
        m = self.matrix
        tags = {a: v for a, v in zip(m.axes, m.rows[row], strict=True) if v != UNTAGGED}
        label = m.labels[col]
        self.cell_activated.emit(None if label.startswith("(") else label, tags)


class SplitView(QWidget):
    """Train / validation / test: counts per part per stratum, the seed, and "Re-split"."""

    split_made = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.split: Split | None = None
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed and catalog give the same split")
        self.seed.setMaximumWidth(110)
        self.train = self._share(70)
        self.val = self._share(15)
        self.test = self._share(15)
        self.mirror = QCheckBox("Validation mirrors the deployment mix")
        self.mirror.setToolTip("Re-choose validation sessions to match [dataset.deployment]")
        self.split_button = QPushButton("Re-split")
        self.split_button.setToolTip("Split again with this seed and these shares, and save it")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        controls = QHBoxLayout()
        for text, w in (
            ("Seed", self.seed),
            ("Train %", self.train),
            ("Val %", self.val),
            ("Test %", self.test),
        ):
            controls.addWidget(QLabel(text))
            controls.addWidget(w)
        controls.addStretch(1)
        second = QHBoxLayout()
        second.addWidget(self.mirror)
        second.addStretch(1)
        second.addWidget(self.split_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(second)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.split_button.clicked.connect(self.resplit)

    @staticmethod
    def _share(value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(0, 100)
        box.setValue(value)
        return box

    def set_dataset(self, dataset: Dataset | None) -> None:
        self.dataset = dataset
        self.split = None
        if dataset is not None:
            self.mirror.setEnabled(bool(dataset.config.deployment))
            names = list_splits(dataset)
            if names:
                wanted = f"seed{self.seed.value()}"
                name = wanted if wanted in names else names[0]
                self.split = load_split(dataset, name)
                self.seed.setValue(int(self.split.params.get("seed", 0)))
        self.show_split()

    def resplit(self) -> Split | None:
        if self.dataset is None:
            return None
        fractions = (self.train.value(), self.val.value(), self.test.value())
        try:
            self.split = make_split(
                self.dataset,
                fractions=[float(f) for f in fractions],
                seed=self.seed.value(),
                mirror_deployment=self.mirror.isChecked() and self.mirror.isEnabled(),
                name=f"seed{self.seed.value()}",
            )
        except FieldbenchError as exc:
            self.split = None
            self.show_split(str(exc))
            return None
        self.show_split()
        self.split_made.emit(self.split)
        return self.split

    def show_split(self, error: str = "") -> None:
        self.table.clear()
        self.table.setRowCount(0)
        ds, split = self.dataset, self.split
        if ds is None or split is None:
            self.table.setColumnCount(0)
            self.summary.setText(
                error
                or "No split yet. Recordings of one capture session always stay in one part. "
                "Press Re-split to make one."
            )
            self.summary.setStyleSheet("color: #b00020;" if error else "")
            return
        self.summary.setStyleSheet("")
        axes = tuple(split.params.get("stratify") or ds.config.coverage.axes)
        counts: dict[tuple[str, ...], dict[str, list[float]]] = {}
        part_of = {int(r): part for part, ids in split.parts.items() for r in ids}
        for info in ds.recordings():
            part = part_of.get(info.id)
            if part is None:
                continue
            key = (info.label or "—", *(info.tags.get(a, "—") for a in axes))
            cell = counts.setdefault(key, {p: [0, 0.0] for p in PARTS})
            cell[part][0] += 1
            cell[part][1] += info.duration_s
        heads = ["Label", *[a.capitalize() for a in axes], "Train", "Validation", "Test"]
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        keys = sorted(counts)
        self.table.setRowCount(len(keys) + 1)
        totals = {p: [0, 0.0] for p in PARTS}
        for i, key in enumerate(keys):
            for j, v in enumerate(key):
                self.table.setItem(i, j, QTableWidgetItem(v))
            for k, part in enumerate(PARTS):
                n, sec = counts[key][part]
                totals[part][0] += n
                totals[part][1] += sec
                item = QTableWidgetItem(f"{int(n)} · {sec:.1f} s" if n else "—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, len(key) + k, item)
        last = len(keys)
        bold = QFont()
        bold.setBold(True)
        total_item = QTableWidgetItem("Total")
        total_item.setFont(bold)
        self.table.setItem(last, 0, total_item)
        for k, part in enumerate(PARTS):
            n, sec = totals[part]
            item = QTableWidgetItem(f"{int(n)} · {sec:.1f} s")
            item.setFont(bold)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(last, len(axes) + 1 + k, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for c in range(len(heads)):
            stretch = c > len(axes)  # the three part columns share the width
            mode = QHeaderView.ResizeMode.Stretch if stretch else QHeaderView.ResizeMode.Interactive
            header.setSectionResizeMode(c, mode)
        whole = sum(t[1] for t in totals.values()) or 1.0
        shares = " / ".join(f"{part} {totals[part][1] / whole:.0%}" for part in PARTS)
        mix = (
            f" · validation vs deployment mix: distance {split.mix_distance:.3f}"
            if split.mix_distance is not None
            else ""
        )
        self.summary.setText(
            f"Split <b>{split.name}</b> (seed {split.params.get('seed')}), grouped by capture "
            f"session, stratified by label × {' × '.join(axes)}: {shares} of the seconds{mix}"
        )

    def counts(self) -> dict[str, int]:
        """Recordings per part (for tests and the status line)."""
        if self.split is None:
            return {}
        return {p: int(self.split.parts[p].size) for p in PARTS}
