"""The tag form: label and one combo box per declared tag, from the workspace's tag schema.

Only the schema's values can be chosen (the vocabulary is enforced by construction); a tag may
be left "not set". The same widget, with "any" instead of "not set", is the recordings filter.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from core.dataset.schema import DatasetConfig

NOT_SET = "— not set —"
ANY = "any"


class TagForm(QWidget):
    """``label()`` and ``tags()`` of the next recording; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, blank: str = NOT_SET, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.blank = blank
        self.config = DatasetConfig()
        self.label_combo = QComboBox()
        self.combos: dict[str, QComboBox] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.set_config(self.config)

    def set_config(self, config: DatasetConfig) -> None:
        """Rebuild the combos for ``config``; keeps the choices that are still allowed."""
        old_label, old_tags = self.label(), self.tags()
        self.config = config
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.label_combo = QComboBox()
        self.label_combo.setToolTip("Class label of the recording")
        if self.blank == ANY:
            self.label_combo.addItem(ANY, None)
        labels = list(config.labels)
        if labels:
            labels.append(config.noise_label)
        else:
            # No declared labels: any label is allowed, so the user types it.
            self.label_combo.setEditable(True)
            edit = self.label_combo.lineEdit()
            if edit is not None:
                edit.setPlaceholderText("type a label (or leave empty)")
            labels = [config.noise_label]
        if self.blank != ANY and config.labels:
            self.label_combo.addItem(NOT_SET, None)
        for lab in labels:
            self.label_combo.addItem(lab, lab)
        self.label_combo.currentIndexChanged.connect(self.changed)
        self.label_combo.editTextChanged.connect(self.changed)
        self.layout_.addRow("Label", self.label_combo)
        self.combos = {}
        for spec in config.tags:
            combo = QComboBox()
            combo.addItem(self.blank, None)
            for value in spec.values:
                combo.addItem(value, value)
            combo.setToolTip(spec.description or spec.name)
            combo.currentIndexChanged.connect(self.changed)
            self.combos[spec.name] = combo
            name = QLabel(spec.name.capitalize())
            name.setToolTip(spec.description or spec.name)
            self.layout_.addRow(name, combo)
        self.set_values(old_label, old_tags)
        if old_label is None and self.label_combo.isEditable() and self.blank != ANY:
            self.label_combo.setEditText("")  # no label until one is typed or picked

    def label(self) -> str | None:
        if self.label_combo.isEditable():
            text = self.label_combo.currentText().strip()
            return None if not text or text == ANY else text
        data = self.label_combo.currentData()
        return None if data is None else str(data)

    def tags(self) -> dict[str, str]:
        return {k: str(c.currentData()) for k, c in self.combos.items() if c.currentData()}

    def set_values(self, label: str | None, tags: dict[str, str]) -> None:
        if label is not None:
            i = self.label_combo.findData(label)
            if i >= 0:
                self.label_combo.setCurrentIndex(i)
            elif self.label_combo.isEditable():
                self.label_combo.setEditText(label)
        for name, combo in self.combos.items():
            i = combo.findData(tags.get(name))
            combo.setCurrentIndex(i if i >= 0 else 0)

    def clear(self) -> None:
        self.label_combo.setCurrentIndex(0)
        if self.label_combo.isEditable():
            self.label_combo.setEditText("")
        for combo in self.combos.values():
            combo.setCurrentIndex(0)
