"""Start the desktop app: QApplication, the main window, the first workspace, the event loop."""

from __future__ import annotations

import gc
import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from PySide6.QtWidgets import QApplication

from core.errors import FieldbenchError
from gui.main_window import LAST_WORKSPACE_KEY, MainWindow
from gui.settings import APPLICATION, ORGANIZATION

log = logging.getLogger("fieldbench.gui")


def install_excepthook(window: MainWindow) -> None:
    """Uncaught exceptions: traceback to the log console, one line in a message box."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        if isinstance(exc, FieldbenchError):
            message = str(exc).splitlines()[0] if str(exc) else kind.__name__
            log.warning("%s", message)
        else:
            text = "".join(traceback.format_exception(kind, exc, tb)).rstrip()
            log.error("uncaught exception:\n%s", text)
            message = f"unexpected error: {kind.__name__}: {exc}".splitlines()[0]
        window.show_error("Fieldbench", message)

    sys.excepthook = hook


def open_initial_workspace(window: MainWindow, workspace: Path | None, sample: bool) -> None:
    """The command line's workspace, else the sample if asked, else the last one used."""
    if workspace is not None:
        window.open_workspace(workspace)
    elif sample:
        window.open_sample()
    else:
        last = window.settings.value(LAST_WORKSPACE_KEY)
        if last and Path(str(last)).is_dir():
            window.open_workspace(str(last))


def run(workspace: Path | None = None, sample: bool = False) -> int:
    """Run the app until the window closes; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Fieldbench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    logging.getLogger("fieldbench").setLevel(logging.INFO)
    # Python's cyclic GC would otherwise run in whichever thread allocates — a worker — and
    # destroy collected Qt widgets there, which deadlocks against the GUI thread. Collect on a
    # GUI-thread timer instead.
    collector = GarbageCollector(interval=1.0)
    window = MainWindow()
    install_excepthook(window)
    window.show()
    open_initial_workspace(window, workspace, sample)
    code = int(app.exec())
    # Delete the window while Qt is still up: left to interpreter teardown, pyqtgraph items
    # can be destroyed after the QApplication and crash the process on exit.
    sys.excepthook = sys.__excepthook__
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del window
    collector.timer.stop()
    gc.enable()
    return code
