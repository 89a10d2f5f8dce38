"""A dock that shows the ``fieldbench`` log: a ``logging`` handler feeding a QPlainTextEdit.

Records can come from any thread; the handler only emits a signal, which Qt queues to the GUI
thread where the text is appended.
"""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QWidget

LOGGER_NAME = "fieldbench"
MAX_LINES = 5000


class _Emitter(QObject):
    line = Signal(str)


class QtLogHandler(logging.Handler):
    """A ``logging.Handler`` whose records arrive as the ``line`` signal of ``emitter``."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.emitter = _Emitter()
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        # RuntimeError: the console was destroyed while another thread still logged.
        with contextlib.suppress(RuntimeError):
            self.emitter.line.emit(self.format(record))


class LogConsole(QDockWidget):
    """The log console dock; attaches its handler on construction, detaches on ``detach()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logConsole")
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setWidget(self.view)
        areas = Qt.DockWidgetArea
        self.setAllowedAreas(areas.BottomDockWidgetArea | areas.RightDockWidgetArea)
        self.handler = QtLogHandler()
        self.handler.emitter.line.connect(self.append)
        self._logger = logging.getLogger(LOGGER_NAME)
        if self._logger.level == logging.NOTSET:
            self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self.handler)

    def append(self, line: str) -> None:
        self.view.appendPlainText(line)

    def text(self) -> str:
        return self.view.toPlainText()

    def detach(self) -> None:
        """Remove the handler from the logger (call before the window goes away)."""
        self._logger.removeHandler(self.handler)
