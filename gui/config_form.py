"""The ``[features]`` editor: one field per key of docs/dsp.md §1, validated on every edit.

The form never validates by itself: each edit builds a ``PreprocessingConfig`` (and compiles its
plan, which checks the band layout) and shows the core's one-line ``ConfigError`` verbatim.
Optional keys use the spin box's minimum as "auto" (the spec's default).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.dsp import PreprocessingConfig, compile_plan
from core.dsp.config import BAND_SCALES, COMPRESSIONS, FILTER_TYPES, STATS, WINDOWS
from core.errors import ConfigError

AUTO = "auto"
Field = QSpinBox | QDoubleSpinBox | QComboBox | QCheckBox


def _int(lo: int, hi: int, auto: bool = False, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSuffix(suffix)
    if auto:
        box.setSpecialValueText(AUTO)
    return box


def _float(hi: float, decimals: int, auto: bool = False, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, hi)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
    if auto:
        box.setSpecialValueText(AUTO)
    return box


def _combo(values: tuple[str, ...]) -> QComboBox:
    box = QComboBox()
    box.addItems(list(values))
    return box


class ConfigForm(QWidget):
    """Edits a ``PreprocessingConfig``; emits ``apply_requested`` with a valid config."""

    apply_requested = Signal(object)  # PreprocessingConfig
    validity_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields: dict[str, Field] = {
            "sampleRate": _float(1e7, 1, suffix=" Hz"),
            "channels": _int(0, 64),
            "fixedPointScale": _float(1e9, 4),
            "inputRange": _float(1e9, 4, auto=True),
            "dcRemoval": QCheckBox("remove DC per segment"),
            "windowSize": _int(0, 1 << 20, suffix=" samples"),
            "hopLength": _int(0, 1 << 20, auto=True, suffix=" samples"),
            "bufferSize": _int(0, 1 << 20, auto=True, suffix=" samples"),
            "window": _combo(WINDOWS),
            "fftSize": _int(0, 1 << 20, auto=True),
            "filter.type": _combo(FILTER_TYPES),
            "filter.cutoffHz": _float(1e7, 2, suffix=" Hz"),
            "filter.q": _float(1e3, 4),
            "filter.warmup": _int(-1, 1 << 20, auto=True, suffix=" samples"),
            "bands.scale": _combo(BAND_SCALES),
            "bands.count": _int(0, 1024),
            "bands.fMin": _float(1e7, 2, suffix=" Hz"),
            "bands.fMax": _float(1e7, 2, auto=True, suffix=" Hz"),
            "compression": _combo(COMPRESSIONS),
        }
        self.stat_boxes = {s: QCheckBox(s) for s in STATS}
        groups = {
            "Input": ("sampleRate", "channels", "fixedPointScale", "inputRange", "dcRemoval"),
            "Framing": ("windowSize", "hopLength", "bufferSize", "window", "fftSize"),
            "Filter": ("filter.type", "filter.cutoffHz", "filter.q", "filter.warmup"),
            "Bands": ("bands.scale", "bands.count", "bands.fMin", "bands.fMax", "compression"),
        }
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 4, 0)
        for title, keys in groups.items():
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for key in keys:
                form.addRow(key.split(".")[-1], self.fields[key])
            if title == "Bands":
                row = QHBoxLayout()
                for check in self.stat_boxes.values():
                    row.addWidget(check)
                row.addStretch(1)
                form.addRow("stats", row)
            body_layout.addWidget(box)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)

        self.error_label = QLabel()
        self.error_label.setObjectName("configError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020; font-weight: 600;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Save the recipe to fieldbench.toml and restart the stream")
        self.revert_button = QPushButton("Revert")
        self.apply_button.clicked.connect(self._apply)
        self.revert_button.clicked.connect(self.revert)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

        self._baseline: PreprocessingConfig | None = None
        self._valid: PreprocessingConfig | None = None
        for field in self.fields.values():
            self._connect(field)
        for check in self.stat_boxes.values():
            check.toggled.connect(self.validate)
        self.setEnabled(False)

    def _connect(self, field: Field) -> None:
        if isinstance(field, QSpinBox | QDoubleSpinBox):
            field.valueChanged.connect(self.validate)
        elif isinstance(field, QComboBox):
            field.currentIndexChanged.connect(self.validate)
        else:
            field.toggled.connect(self.validate)

    # ---- model <-> widgets ------------------------------------------------------------------
    def set_config(self, config: PreprocessingConfig) -> None:
        """Show ``config`` as the saved state (Apply disabled until something changes)."""
        self._baseline = config
        flat = _flatten(config.to_mapping())
        for key, field in self.fields.items():
            field.blockSignals(True)
            value = flat.get(key)
            if isinstance(field, QCheckBox):
                field.setChecked(bool(value))
            elif isinstance(field, QComboBox):
                field.setCurrentText(str(value) if value is not None else field.itemText(0))
            else:
                field.setValue(field.minimum() if value is None else value)  # type: ignore[arg-type]
            field.blockSignals(False)
        for stat, check in self.stat_boxes.items():
            check.blockSignals(True)
            check.setChecked(stat in config.stats)
            check.blockSignals(False)
        self.setEnabled(True)
        self.validate()

    def mapping(self) -> dict[str, Any]:
        """The ``[features]`` table the widgets describe (auto fields left out)."""
        out: dict[str, Any] = {"filter": {}, "bands": {}}
        for key, field in self.fields.items():
            if isinstance(field, QCheckBox):
                value: Any = field.isChecked()
            elif isinstance(field, QComboBox):
                value = field.currentText()
            else:
                if field.specialValueText() and field.value() == field.minimum():
                    continue
                value = field.value()
            head, _, tail = key.partition(".")
            if tail:
                out[head][tail] = value
            else:
                out[key] = value
        out["stats"] = [s for s, check in self.stat_boxes.items() if check.isChecked()]
        return out

    # ---- validation -------------------------------------------------------------------------
    @property
    def valid_config(self) -> PreprocessingConfig | None:
        return self._valid

    @property
    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def validate(self) -> PreprocessingConfig | None:
        """Build the config from the widgets; show the core's message when it is invalid."""
        self._sync_enabled()
        try:
            config = PreprocessingConfig.from_mapping(self.mapping())
            compile_plan(config)
        except ConfigError as exc:
            message = str(exc)
            if not message.startswith("features."):
                message = f"features.{message}"
            self.error_label.setText(message)
            self.error_label.show()
            self._valid = None
        else:
            self.error_label.clear()
            self.error_label.hide()
            self._valid = config
        dirty = self._valid is not None and self._valid != self._baseline
        self.apply_button.setEnabled(dirty)
        self.revert_button.setEnabled(self._valid != self._baseline)
        self.validity_changed.emit(self._valid is not None)
        return self._valid

    def _sync_enabled(self) -> None:
        filter_on = self.fields["filter.type"].currentText() != "none"  # type: ignore[union-attr]
        for key in ("filter.cutoffHz", "filter.q", "filter.warmup"):
            self.fields[key].setEnabled(filter_on)
        bands_on = self.fields["bands.scale"].currentText() != "none"  # type: ignore[union-attr]
        for key in ("bands.count", "bands.fMin", "bands.fMax", "fftSize", "window"):
            self.fields[key].setEnabled(bands_on)

    def revert(self) -> None:
        if self._baseline is not None:
            self.set_config(self._baseline)

    def _apply(self) -> None:
        config = self.validate()
        if config is not None:
            self.apply_requested.emit(config)


def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
