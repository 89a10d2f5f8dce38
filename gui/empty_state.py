"""The panel shown when no workspace is open: what Fieldbench is, and three ways in."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """A centred card with "New workspace", "Open workspace" and "Open sample" buttons."""

    new_requested = Signal()
    open_requested = Signal()
    sample_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = QFrame()
        card.setObjectName("emptyCard")
        card.setFrameShape(QFrame.Shape.StyledPanel)
        card.setMaximumWidth(560)
        title = QLabel("No workspace open")
        title.setObjectName("emptyTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        blurb = QLabel(
            "A workspace is a folder with a fieldbench.toml recipe and its recordings. "
            "Create one, open an existing one, or explore the sample: a 3-axis accelerometer "
            "on a ceiling fan."
        )
        blurb.setWordWrap(True)
        blurb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.new_button = QPushButton("New workspace…")
        self.open_button = QPushButton("Open workspace…")
        self.sample_button = QPushButton("Open sample")
        self.sample_button.setDefault(True)
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.sample_button.clicked.connect(self.sample_requested)
        buttons = QHBoxLayout()
        buttons.setSpacing(12)
        for button in (self.new_button, self.open_button, self.sample_button):
            button.setMinimumHeight(34)
            button.setMinimumWidth(140)
            buttons.addWidget(button)

        inner = QVBoxLayout(card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(14)
        inner.addWidget(title, 0, Qt.AlignmentFlag.AlignCenter)
        inner.addWidget(blurb)
        inner.addSpacing(6)
        inner.addLayout(buttons)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
