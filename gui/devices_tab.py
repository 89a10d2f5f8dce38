"""The "Devices" tab: pick a port (a board or a twin), see what the device runs in both slots,
install a bundle over the link with progress and cancel, roll back with confirmation.

Every action opens the port, does its work in a ``Worker`` (core functions with progress and
cancel) and closes it again, so a hung or unplugged device never blocks the GUI and no port
stays held between actions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.device.client import DeviceClient
from core.device.commands import DeviceInfo, RollbackResult, identify, rollback, rollback_refusal
from core.device.ota import OtaReport, install_bundle, read_bundle
from gui.worker import Worker, WorkerPool

GREEN, RED, GREY = "#2e7d32", "#c62828", "#666666"
SLOT_COLUMNS = ("slot", "bundle", "firmware", "epoch", "state", "check", "calibration", "")


# ---- work run in the worker thread (no widgets here) ------------------------------------------
def run_identify(port: str, *, progress: Any = None, cancel: Any = None) -> DeviceInfo:
    with DeviceClient.open(port) as client:
        return identify(client, cancel)


def run_install(port: str, bundle: Path, *, progress: Any = None, cancel: Any = None) -> OtaReport:
    data = read_bundle(bundle)
    with DeviceClient.open(port) as client:
        return install_bundle(client, data, progress=progress, cancel=cancel)


def run_rollback(port: str, *, progress: Any = None, cancel: Any = None) -> RollbackResult:
    with DeviceClient.open(port) as client:
        return rollback(client, cancel=cancel)


def known_ports() -> list[tuple[str, str]]:
    """(label, port) for the picker: serial ports on this machine (USB first)."""
    from core.capture.ports import list_ports

    try:
        return [(p.label(), p.device) for p in list_ports()]
    except Exception:  # pyserial's enumeration can fail on odd systems: the field stays editable
        return []


class DevicesTab(QWidget):
    """Device info, both slots, OTA install and rollback for the device at a port."""

    def __init__(
        self,
        workers: WorkerPool,
        ports: Callable[[], list[tuple[str, str]]] = known_ports,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workers = workers
        self._ports = ports
        self.info: DeviceInfo | None = None
        self.last_report: OtaReport | None = None
        self.last_rollback: RollbackResult | None = None
        self._worker: Worker | None = None
        # Asked before a rollback; tests replace it.
        self.ask: Callable[[str, str], bool] = self._ask_user
        # The content scrolls rather than forcing a minimum height on the main window.
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        scroll.setWidget(content)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.addWidget(self._port_row())
        mid = QHBoxLayout()
        mid.addWidget(self._info_box(), 1)
        mid.addWidget(self._actions_box(), 1)
        layout.addLayout(mid)
        layout.addWidget(self._slots_box(), 1)
        self.status = QLabel("Pick a port (a board or a twin's socket://…) and press Connect.")
        self.status.setObjectName("devicesStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.refresh_ports()
        self._update_buttons()

    @classmethod
    def add_to(cls, window: Any) -> DevicesTab:
        tab = cls(window.workers)
        window.tabs.addTab(tab, "Devices")
        # `make run` / `fieldbench twin` publish a running twin: connect to it at start-up.
        QTimer.singleShot(0, tab.connect_running_twin)
        return tab

    def connect_running_twin(self) -> Worker | None:
        """Connect to the twin `fieldbench twin` published, if one runs; else do nothing."""
        from core.twin.runtime import running_twin

        twin = running_twin()
        if twin is None or self.info is not None:
            return None
        self.refresh_ports()
        self.set_port(twin.app_port)
        return self.connect_device()

    # ---- construction -----------------------------------------------------------------------
    def _port_row(self) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(QLabel("Port"))
        self.port = QComboBox()
        self.port.setEditable(True)
        self.port.setMinimumWidth(360)
        self.port.setToolTip(
            "A serial port (/dev/ttyACM0, COM3), a pty, or a twin's socket://127.0.0.1:PORT "
            "(`fieldbench twin` prints it)"
        )
        h.addWidget(self.port, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_ports)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setDefault(True)
        self.connect_button.clicked.connect(self.connect_device)
        h.addWidget(self.refresh_button)
        h.addWidget(self.connect_button)
        return row

    def _info_box(self) -> QGroupBox:
        box = QGroupBox("Device")
        form = QFormLayout(box)
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("chip", "Chip"),
            ("device_id", "Device id"),
            ("firmware", "Firmware"),
            ("bundle", "Bundle"),
            ("battery", "Battery"),
            ("epoch", "Anti-rollback epoch"),
            ("mode", "State"),
        ):
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            form.addRow(label, value)
        return box

    def _actions_box(self) -> QGroupBox:
        box = QGroupBox("Update and rollback")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        self.bundle_path = QLineEdit()
        self.bundle_path.setPlaceholderText("signed bundle file (.fbb)")
        self.bundle_path.textChanged.connect(self._update_buttons)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse_bundle)
        row.addWidget(self.bundle_path, 1)
        row.addWidget(browse)
        v.addLayout(row)
        row = QHBoxLayout()
        self.install_button = QPushButton("Install bundle")
        self.install_button.setToolTip(
            "Send the bundle to the inactive slot (resumes an interrupted transfer), let the "
            "device verify it, switch and run its health check"
        )
        self.install_button.clicked.connect(self.install)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.install_button)
        row.addWidget(self.cancel_button)
        v.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        v.addWidget(self.progress)
        self.rollback_button = QPushButton("Roll back to the other slot…")
        self.rollback_button.clicked.connect(self.start_rollback)
        v.addWidget(self.rollback_button)
        self.rollback_note = QLabel("")
        self.rollback_note.setWordWrap(True)
        self.rollback_note.setStyleSheet(f"color: {GREY}")
        v.addWidget(self.rollback_note)
        v.addStretch(1)
        return box

    def _slots_box(self) -> QGroupBox:
        box = QGroupBox("Bundle slots (app ota_k + data model_k)")
        v = QVBoxLayout(box)
        self.slots = QTableWidget(0, len(SLOT_COLUMNS))
        self.slots.setHorizontalHeaderLabels(list(SLOT_COLUMNS))
        self.slots.verticalHeader().setVisible(False)
        self.slots.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.slots.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.slots)
        return box

    # ---- actions ----------------------------------------------------------------------------
    def refresh_ports(self) -> None:
        current = self.port.currentText()
        self.port.clear()
        for label, device in self._ports():
            self.port.addItem(label, device)
        if current:
            self.port.setEditText(current)

    def port_name(self) -> str:
        text = self.port.currentText().strip()
        index = self.port.findText(text)
        data = self.port.itemData(index) if index >= 0 else None
        return str(data) if data else text.split("  ", 1)[0]

    def set_port(self, port: str) -> None:
        self.port.setEditText(port)

    def browse_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Bundle to install", "", "Fieldbench bundles (*.fbb);;All files (*)"
        )
        if path:
            self.bundle_path.setText(path)

    def connect_device(self) -> Worker | None:
        port = self.port_name()
        if not port:
            self._status("Pick or type a port first.", RED)
            return None
        self._status(f"Connecting to {port}…", GREY)
        worker = Worker(run_identify, port, label=f"identify {port}")
        worker.signals.finished.connect(self.show_info)
        return self._start(worker)

    def install(self) -> Worker | None:
        port, path = self.port_name(), Path(self.bundle_path.text().strip())
        if not port or not path.name:
            return None
        self._status(f"Installing {path.name} on {port}…", GREY)
        worker = Worker(run_install, port, path, label=f"OTA {path.name}")
        worker.signals.finished.connect(self._on_installed)
        return self._start(worker)

    def start_rollback(self) -> Worker | None:
        info = self.info
        if info is None:
            return None
        other = [s for s in info.slots if s.slot != info.running_slot]
        target = other[0].bundle_version if other and other[0].bundle_version else "(empty)"
        if not self.ask(
            "Roll back?",
            f"Roll {info.port} back from {info.bundle_version or '(unnamed)'} "
            f"(slot {info.running_slot}) to {target}?\n\nThe device verifies the previous "
            "bundle, reboots into it and runs its health check.",
        ):
            self._status("Rollback not done.", GREY)
            return None
        self._status(f"Rolling back {info.port}…", GREY)
        worker = Worker(run_rollback, info.port, label="rollback")
        worker.signals.finished.connect(self._on_rolled_back)
        return self._start(worker)

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    # ---- results (GUI thread) ---------------------------------------------------------------
    def show_info(self, info: DeviceInfo) -> None:
        self.info = info
        f = self.fields
        f["chip"].setText(info.chip)
        f["device_id"].setText(info.device_id)
        f["firmware"].setText(info.firmware_version or "–")
        f["bundle"].setText(info.bundle_version or "(none)")
        f["battery"].setText("–" if info.battery_percent is None else f"{info.battery_percent} %")
        f["epoch"].setText("–" if info.secure_version is None else str(info.secure_version))
        if info.safe_mode:
            mode = "safe mode: no bundle verifies"
        elif info.on_trial:
            mode = f"slot {info.running_slot} on trial (not confirmed)"
        else:
            mode = f"running slot {info.running_slot}, confirmed"
        if info.boot_outcome and info.boot_outcome != "RUNNING":
            mode += f"; last boot {info.boot_outcome}"
            if info.boot_reason:
                mode += f" ({info.boot_reason})"
        f["mode"].setText(mode)
        self.slots.setRowCount(len(info.slots))
        for row, s in enumerate(info.slots):
            marks = "running" if s.running else ("next boot" if s.next_boot else "")
            check = "verifies" if s.verifies else s.problem
            values = (
                str(s.slot),
                s.bundle_version or "(empty)",
                s.firmware_version or "–",
                str(s.epoch),
                s.state,
                check,
                str(s.calibration_offset),
                marks,
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == 5:
                    item.setForeground(
                        Qt.GlobalColor.darkGreen if s.verifies else Qt.GlobalColor.red
                    )
                self.slots.setItem(row, col, item)
        why = rollback_refusal(info)
        self.rollback_note.setText(
            "Rollback available." if why is None else f"Rollback not possible: {why}."
        )
        self._status(f"Connected to {info.port}: {info.chip} {info.device_id}.", GREEN)
        self._update_buttons()

    def _on_installed(self, report: OtaReport) -> None:
        self.last_report = report
        if report.after is not None:
            self.show_info(report.after)
        extra = f" (resumed at byte {report.resumed_from})" if report.resumed_from else ""
        self._status(report.message() + extra, GREEN if report.installed else RED)

    def _on_rolled_back(self, result: RollbackResult) -> None:
        self.last_rollback = result
        self.show_info(result.after)
        self._status(result.message(), GREEN if result.ok else RED)

    # ---- plumbing ---------------------------------------------------------------------------
    def _start(self, worker: Worker) -> Worker:
        self._worker = worker
        self.progress.setValue(0)
        worker.signals.progress.connect(lambda f: self.progress.setValue(int(f * 1000)))
        worker.signals.failed.connect(lambda msg: self._status(msg, RED))
        worker.signals.cancelled.connect(
            lambda: self._status("Cancelled; an interrupted install resumes next time.", GREY)
        )
        worker.signals.done.connect(self._on_done)
        self.workers.start(worker)
        self._update_buttons()
        return worker

    def _on_done(self) -> None:
        self._worker = None
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _update_buttons(self) -> None:
        idle = not self.busy
        self.connect_button.setEnabled(idle)
        self.install_button.setEnabled(idle and bool(self.bundle_path.text().strip()))
        self.cancel_button.setEnabled(not idle)
        self.rollback_button.setEnabled(
            idle and self.info is not None and rollback_refusal(self.info) is None
        )

    def _status(self, text: str, colour: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {colour}")

    def _ask_user(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes
