"""The main window: workspace menus, the empty state or the tabs, log dock, status bar."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from core.errors import FieldbenchError
from core.sample import ensure_sample_workspace
from core.workspace import Workspace
from gui.bundles_tab import BundlesTab
from gui.capture_tab import CaptureTab
from gui.devices_tab import DevicesTab
from gui.empty_state import EmptyState
from gui.features_tab import FeaturesTab
from gui.log_console import LogConsole
from gui.quantization_tab import QuantizationTab
from gui.settings import add_recent_workspace, prune_missing, recent_workspaces
from gui.train_tab import TrainTab
from gui.worker import WorkerPool

log = logging.getLogger("fieldbench.gui")

LAST_WORKSPACE_KEY = "workspaces/last"


class MainWindow(QMainWindow):
    """Fieldbench's one window; ``settings`` defaults to the application's QSettings."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self.workspace: Workspace | None = None
        self.last_error: str | None = None
        self._message_box: QMessageBox | None = None
        self.setWindowTitle("Fieldbench")
        self.resize(1280, 800)

        self.workers = WorkerPool(self)
        self.log_console = LogConsole(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_console)
        self.resizeDocks([self.log_console], [130], Qt.Orientation.Vertical)

        self.empty_state = EmptyState()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.features_tab = FeaturesTab(self.workers)
        self.tabs.addTab(self.features_tab, "Features")
        self.capture_tab = CaptureTab(self.workers, self.settings)
        self.tabs.addTab(self.capture_tab, "Capture")
        self.quantization_tab = QuantizationTab(self.workers)
        self.tabs.addTab(self.quantization_tab, "Quantization")
        self.train_tab = TrainTab.add_to(self)
        self.train_tab.send_to_quantization.connect(self._quantize_trained_model)
        self.bundles_tab = BundlesTab.add_to(self)
        self.devices_tab = DevicesTab.add_to(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

        self._build_status_bar()
        self._build_menus()
        self.empty_state.new_requested.connect(self.new_workspace)
        self.empty_state.open_requested.connect(self.open_workspace_dialog)
        self.empty_state.sample_requested.connect(self.open_sample)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.workers.busy.connect(self._on_worker_busy)
        self.workers.progress.connect(self._on_worker_progress)
        self.workers.idle.connect(self._on_worker_idle)
        self._show_workspace_state()
        self.restore_layout()

    # ---- construction -----------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.workspace_label = QLabel()
        self.workspace_label.setObjectName("workspaceLabel")
        self.job_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(200)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.cancel_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_button.clicked.connect(self.workers.cancel_current)
        bar.addWidget(self.workspace_label, 1)
        for widget in (self.job_label, self.progress_bar, self.cancel_button):
            bar.addPermanentWidget(widget)
            widget.hide()

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.new_action = menu.addAction("&New workspace…", self.new_workspace)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.open_action = menu.addAction("&Open workspace…", self.open_workspace_dialog)
        self.open_action.setShortcut(QKeySequence("Ctrl+O"))
        self.sample_action = menu.addAction("Open &sample workspace", self.open_sample)
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        self.quit_action = menu.addAction("&Quit", self.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))

        self.stream_menu = self.menuBar().addMenu("&Stream")
        for action in self.features_tab.actions_for_menu():
            self.stream_menu.addAction(action)

        view = self.menuBar().addMenu("&View")
        self.log_action: QAction = self.log_console.toggleViewAction()
        self.log_action.setText("&Log console")
        self.log_action.setShortcut(QKeySequence("Ctrl+L"))
        view.addAction(self.log_action)
        self.rebuild_recent_menu()

    # ---- workspaces -------------------------------------------------------------------------
    def open_workspace(self, path: str | Path) -> bool:
        """Open the workspace at ``path``; a message box (one line) when it cannot be opened."""
        try:
            workspace = Workspace.open(path)
        except FieldbenchError as exc:
            self.show_error("Cannot open workspace", str(exc))
            return False
        self.set_workspace(workspace)
        return True

    def open_sample(self) -> bool:
        try:
            workspace = ensure_sample_workspace()
        except (FieldbenchError, OSError) as exc:
            self.show_error("Cannot open the sample workspace", str(exc))
            return False
        self.set_workspace(workspace)
        return True

    def open_workspace_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open workspace folder")
        if folder:
            self.open_workspace(folder)

    def new_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new workspace")
        if not folder:
            return
        name, ok = QInputDialog.getText(self, "New workspace", "Name:", text=Path(folder).name)
        if ok and name.strip():
            self.create_workspace(Path(folder), name.strip())

    def create_workspace(self, folder: Path, name: str) -> bool:
        try:
            workspace = Workspace.create(folder, name)
        except FieldbenchError as exc:
            self.show_error("Cannot create workspace", str(exc))
            return False
        log.info("%s: created workspace %r", folder, name)
        self.set_workspace(workspace)
        return True

    def set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        log.info("%s: opened workspace %r", workspace.path, workspace.name)
        add_recent_workspace(self.settings, workspace.path)
        self.settings.setValue(LAST_WORKSPACE_KEY, str(workspace.path.resolve()))
        self.features_tab.set_workspace(workspace)
        self.capture_tab.set_workspace(workspace)
        self.quantization_tab.set_workspace(workspace)
        self.bundles_tab.set_workspace(workspace)
        self._show_workspace_state()
        self.rebuild_recent_menu()

    def _show_workspace_state(self) -> None:
        ws = self.workspace
        self.stack.setCurrentWidget(self.tabs if ws else self.empty_state)
        self.stream_menu.setEnabled(ws is not None)
        if ws is None:
            self.setWindowTitle("Fieldbench")
            self.workspace_label.setText("No workspace open")
        else:
            self.setWindowTitle(f"{ws.name} — Fieldbench")
            self.workspace_label.setText(f"{ws.name}  ·  {ws.path}")

    def rebuild_recent_menu(self) -> None:
        """List recent workspaces; drop (and say so) those whose folder is gone."""
        dropped = prune_missing(self.settings)
        if dropped:
            message = (
                f"removed {len(dropped)} missing workspace(s) from the recent list: "
                + ", ".join(dropped)
            )
            log.info("%s", message)
            self.statusBar().showMessage(message, 8000)
        self.recent_menu.clear()
        paths = recent_workspaces(self.settings)
        for i, path in enumerate(paths):
            action = self.recent_menu.addAction(f"&{i + 1}  {path}")
            action.setData(path)
            action.triggered.connect(self._open_recent)
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _open_recent(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.open_workspace(str(action.data()))

    def recent_paths(self) -> list[str]:
        return recent_workspaces(self.settings)

    # ---- messages ---------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """A window-modal, non-blocking message box with a one-line message (and a log line)."""
        line = message.splitlines()[0] if message else "error"
        self.last_error = line
        log.warning("%s", line)
        if self._message_box is not None:
            self._message_box.close()
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, line, QMessageBox.StandardButton.Ok, self
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        self._message_box = box

    def _quantize_trained_model(self, paths: dict[str, Path]) -> None:
        """The Train tab hands its deployed float model and held-out set to Quantization."""
        self.quantization_tab.add_model(Path(paths["model"]))
        if paths.get("validation"):
            self.quantization_tab.add_data_file(Path(paths["validation"]))
        self.tabs.setCurrentWidget(self.quantization_tab)

    def _on_tab_changed(self, _index: int) -> None:
        # The Features stream's window-wide keys (Space, Ctrl+R) belong to that tab only:
        # elsewhere Space must reach the focused widget and Ctrl+R starts a capture (a key two
        # enabled actions share is ambiguous to Qt, which then runs neither).
        current = self.tabs.currentWidget() is self.features_tab
        for action in (self.features_tab.play_action, self.features_tab.restart_action):
            key = action.property("tabShortcut")
            if key is None:
                key = action.shortcut().toString()
                action.setProperty("tabShortcut", key)
            action.setShortcut(QKeySequence(str(key) if current else ""))

    # ---- workers ----------------------------------------------------------------------------
    def _on_worker_busy(self, label: str) -> None:
        self.job_label.setText(label)
        self.progress_bar.setValue(0)
        for widget in (self.job_label, self.progress_bar, self.cancel_button):
            widget.show()

    def _on_worker_progress(self, fraction: float) -> None:
        self.progress_bar.setValue(int(fraction * 1000))

    def _on_worker_idle(self) -> None:
        for widget in (self.job_label, self.progress_bar, self.cancel_button):
            widget.hide()

    # ---- layout persistence -----------------------------------------------------------------
    def restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)  # type: ignore[arg-type]
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)  # type: ignore[arg-type]
        tab = self.settings.value("window/tab", 0, type=int)
        if 0 <= int(tab) < self.tabs.count():  # type: ignore[call-overload]
            self.tabs.setCurrentIndex(int(tab))  # type: ignore[call-overload]

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.features_tab.stop()
        self.capture_tab.shutdown()
        if not self.workers.shutdown():
            log.warning("a background job did not stop in time")
        self.save_layout()
        self.log_console.detach()
        super().closeEvent(event)
