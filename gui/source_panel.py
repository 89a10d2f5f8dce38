"""The stream source chooser: a workspace recording, any file, or the signal generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.signals import KINDS

GENERATOR = "generator"
OPEN_FILE = "open-file"


class SourcePanel(QWidget):
    """One row of controls; emits ``source_changed`` when the selection or generator changes."""

    source_changed = Signal()
    open_file_requested = Signal()
    play_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(18)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setToolTip("What the live view plays: a recording (real time) or the generator")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play / pause the stream (Space)")
        self.play_button.toggled.connect(self._on_play_toggled)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setChecked(True)
        self.loop_check.setToolTip("Start the recording again when it ends")

        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.frequency = self._spin(0.1, 1e5, 1, " Hz", 440.0)
        self.amplitude = self._spin(0.0, 32767.0, 0, " counts", 8000.0)
        self.noise = self._spin(0.0, 32767.0, 0, " counts", 100.0)
        self.generator_box = QWidget()
        gen = QHBoxLayout(self.generator_box)
        gen.setContentsMargins(0, 0, 0, 0)
        for label, widget in (
            ("kind", self.kind),
            ("f", self.frequency),
            ("amplitude", self.amplitude),
            ("noise", self.noise),
        ):
            gen.addWidget(QLabel(label))
            gen.addWidget(widget)

        self.position_label = QLabel()
        self.position_label.setMinimumWidth(140)
        self.position_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

        gen.insertWidget(0, QLabel("Generator"))
        gen.addStretch(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Source"))
        row.addWidget(self.combo)
        row.addWidget(self.play_button)
        row.addWidget(self.loop_check)
        row.addWidget(self.position_label)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.generator_box)

        self.combo.currentIndexChanged.connect(self._on_selection)
        self.kind.currentIndexChanged.connect(self._emit_generator_change)
        for spin in (self.frequency, self.amplitude, self.noise):
            spin.valueChanged.connect(self._emit_generator_change)
        self._set_play_icon(False)
        self._previous_index = -1
        self._sync_visibility()

    @staticmethod
    def _spin(lo: float, hi: float, decimals: int, suffix: str, value: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setDecimals(decimals)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setKeyboardTracking(False)  # restart the generator when the edit is done
        return box

    # ---- contents ---------------------------------------------------------------------------
    def set_recordings(self, paths: list[Path]) -> None:
        """List the workspace's recordings, the generator and "Open file…"; select the first."""
        self.combo.blockSignals(True)
        self.combo.clear()
        for p in paths:
            self.combo.addItem(p.name, str(p))
        self.combo.addItem("Signal generator", GENERATOR)
        self.combo.addItem("Open file…", OPEN_FILE)
        self.combo.setCurrentIndex(0)
        self._previous_index = 0
        self.combo.blockSignals(False)
        self._sync_visibility()

    def add_file(self, path: Path) -> None:
        """Add an outside file just above "Signal generator" and select it."""
        index = self.combo.findData(str(path))
        if index < 0:
            index = self.combo.findData(GENERATOR)
            self.combo.insertItem(index, path.name, str(path))
            self.combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(index)

    def select_generator(self) -> None:
        self.combo.setCurrentIndex(self.combo.findData(GENERATOR))

    def select_previous(self) -> None:
        """Go back to the previous selection (after "Open file…" was cancelled)."""
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(self._previous_index, 0))
        self.combo.blockSignals(False)
        self._sync_visibility()

    def recording_names(self) -> list[str]:
        return [
            self.combo.itemText(i)
            for i in range(self.combo.count())
            if self.combo.itemData(i) not in (GENERATOR, OPEN_FILE)
        ]

    # ---- state ------------------------------------------------------------------------------
    def is_generator(self) -> bool:
        return bool(self.combo.currentData() == GENERATOR)

    def selected_path(self) -> Path | None:
        data = self.combo.currentData()
        return None if data in (GENERATOR, OPEN_FILE, None) else Path(data)

    def generator_params(self) -> dict[str, Any]:
        return {
            "kind": self.kind.currentText(),
            "frequency": self.frequency.value(),
            "amplitude": self.amplitude.value(),
            "noise": self.noise.value(),
        }

    def set_playing(self, playing: bool) -> None:
        """Reflect the stream state without emitting ``play_toggled``."""
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        self._set_play_icon(playing)

    # ---- slots ------------------------------------------------------------------------------
    def _on_selection(self, index: int) -> None:
        if self.combo.itemData(index) == OPEN_FILE:
            self.open_file_requested.emit()
            return
        self._previous_index = index
        self._sync_visibility()
        self.source_changed.emit()

    def _emit_generator_change(self) -> None:
        if self.is_generator():
            self.source_changed.emit()

    def _on_play_toggled(self, playing: bool) -> None:
        self._set_play_icon(playing)
        self.play_toggled.emit(playing)

    def _set_play_icon(self, playing: bool) -> None:
        pixmap = QStyle.StandardPixmap
        icon = pixmap.SP_MediaPause if playing else pixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _sync_visibility(self) -> None:
        generator = self.is_generator()
        self.generator_box.setVisible(generator)
        self.loop_check.setVisible(not generator)
