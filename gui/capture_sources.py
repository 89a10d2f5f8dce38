"""The Capture tab's source picker: the simulated device, serial ports, pyserial URLs, files.

``SourcePicker`` is the widget; ``SourceSpec`` is the plain description it produces and
``open_source`` turns a spec into a core ``CaptureSource``. Opening a port happens inside the
capture worker (``DeferredSource``), so a port that hangs never freezes the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from core.capture import (
    CaptureSource,
    PortInfo,
    StreamInfo,
    TextSource,
    list_ports,
    replay_source,
    serial_source,
    simulated_source,
)
from core.capture.source import Cancel
from core.capture.streams import SerialStream
from core.dataset.quality import CaptureQuality

SIMULATED = "simulated"
PORT = "port"
REPLAY = "replay"
LINK = "link"
TEXT = "text"
BAUDS = ("9600", "19200", "38400", "57600", "115200", "230400", "460800", "921600", "2000000")
LAST_SOURCE_KEY = "capture/lastSource"
LAST_MODE_KEY = "capture/lastMode"
LAST_BAUD_KEY = "capture/lastBaud"


@dataclass(frozen=True)
class SourceSpec:
    """What to capture from; Qt-free so the worker can build the source from it."""

    kind: str  # SIMULATED | PORT | REPLAY
    target: str = ""  # port name / pyserial URL, or file path
    mode: str = LINK  # LINK | TEXT (ports only)
    baud: int = 115200
    rate: float | None = None  # Hz; None: from the device / detected / the file
    default_scale: float = 8000.0  # counts per unit for text values that are not counts

    @property
    def key(self) -> str:
        """What QSettings remembers: ``port:/dev/ttyACM0``, ``simulated:``, ``replay:<path>``."""
        return f"{self.kind}:{self.target}"

    def describe(self) -> str:
        if self.kind == SIMULATED:
            return "the simulated device"
        if self.kind == REPLAY:
            return Path(self.target).name
        return f"{self.target} ({'text lines' if self.mode == TEXT else 'link'}, {self.baud} baud)"


def open_source(spec: SourceSpec, realtime: bool = True) -> CaptureSource:
    """The core source for ``spec`` (may block briefly: opens a port)."""
    if spec.kind == SIMULATED:
        return simulated_source(spec.rate or 1600.0, realtime=realtime)
    if spec.kind == REPLAY:
        return replay_source(
            spec.target,
            sample_rate=spec.rate,
            fixed_point_scale=spec.default_scale,
            realtime=realtime,
        )
    if spec.mode == TEXT:
        return TextSource(
            SerialStream.open(spec.target, spec.baud),
            sample_rate=spec.rate,
            default_scale=spec.default_scale,
            baud=spec.baud,
        )
    return serial_source(spec.target, spec.baud)


class DeferredSource(CaptureSource):
    """A source built on ``open`` (in the capture worker) by ``factory``."""

    def __init__(self, factory: Callable[[], CaptureSource]) -> None:
        self._factory = factory
        self.inner: CaptureSource | None = None

    def open(self, cancel: Cancel | None = None) -> StreamInfo:
        self.inner = self._factory()
        self.info = self.inner.open(cancel)
        return self.info

    def read(self) -> npt.NDArray[np.int16]:
        assert self.inner is not None
        return self.inner.read()

    def quality(self) -> CaptureQuality:
        return self.inner.quality() if self.inner is not None else CaptureQuality()

    def counters(self) -> dict[str, int]:
        return self.inner.counters() if self.inner is not None else {}

    @property
    def frames(self) -> int:
        return self.inner.frames if self.inner is not None else 0

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


class SourcePicker(QWidget):
    """Source combo (simulated, ports, files), refresh, protocol, baud and rate."""

    changed = Signal()

    def __init__(
        self,
        settings: QSettings | None = None,
        ports: Callable[[], list[PortInfo]] = list_ports,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self._list_ports = ports
        self.ports: list[PortInfo] = []
        self._list_error = ""

        self.combo = QComboBox()
        self.combo.setEditable(True)  # a pyserial URL (socket://host:port) may be typed in
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(16)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setToolTip(
            "Where samples come from: the simulated device, a serial port (USB VID:PID and "
            "description shown), a file to replay, or type a pyserial URL such as "
            "socket://localhost:7000"
        )
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip("Look for serial ports again (F5)")
        self.file_button = QPushButton("File…")
        self.file_button.setToolTip("Replay a WAV/CSV/NPY recording or a raw .fblog link log")

        self.mode = QComboBox()
        self.mode.addItem("Fieldbench link", LINK)
        self.mode.addItem("Text lines", TEXT)
        self.mode.setToolTip(
            "Link: our firmware's framed protocol (docs/protocol.md). Text lines: one reading per "
            "line, comma/tab/space separated, as the Edge Impulse data forwarder expects"
        )
        self.baud = QComboBox()
        self.baud.setEditable(True)
        self.baud.addItems(list(BAUDS))
        self.baud.setCurrentText("115200")
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.0, 100000.0)
        self.rate.setDecimals(3)
        self.rate.setSuffix(" Hz")
        self.rate.setSpecialValueText("auto")
        self.rate.setValue(0.0)
        self.rate.setToolTip(
            "Sample rate. auto: the device says it (link) or it is measured over ≥ 1 s "
            "(text lines). Below 2 Hz measuring is unreliable: give the rate here"
        )
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setObjectName("sourceHint")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.file_button)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Source", row)
        form.addRow("Protocol", self.mode)
        form.addRow("Baud", self.baud)
        form.addRow("Rate", self.rate)
        form.addRow(self.hint)
        self.hint.hide()  # shown only when it has something to say

        self.refresh_button.clicked.connect(self.refresh)
        self.file_button.clicked.connect(self.choose_file)
        self.combo.currentIndexChanged.connect(self._on_changed)
        self.mode.currentIndexChanged.connect(self._on_changed)
        self.refresh()
        self._restore()

    # ---- list -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-list serial ports; keep the current choice when it is still there."""
        current = self.spec().key if self.combo.count() else ""
        files = [
            (self.combo.itemText(i), self.combo.itemData(i))
            for i in range(self.combo.count())
            if str(self.combo.itemData(i) or "").startswith(REPLAY + ":")
        ]
        self._list_error = ""
        try:
            self.ports = self._list_ports()
        except Exception as exc:  # pyserial's enumeration can fail on odd systems
            self.ports = []
            self._list_error = f"cannot list serial ports ({exc}); type the port name instead"
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("Simulated device (1600 Hz, 3 axes)", f"{SIMULATED}:")
        for port in self.ports:
            self.combo.addItem(port.label(), f"{PORT}:{port.device}")
        for text, data in files:
            self.combo.addItem(text, data)
        self.combo.blockSignals(False)
        if not self.select_key(current):
            self.combo.setCurrentIndex(0)
        self._on_changed()

    def select_key(self, key: str) -> bool:
        for i in range(self.combo.count()):
            if self.combo.itemData(i) == key:
                self.combo.setCurrentIndex(i)
                return True
        return False

    def add_file(self, path: Path) -> None:
        key = f"{REPLAY}:{path}"
        if not self.select_key(key):
            self.combo.addItem(f"Replay: {path.name}", key)
            self.combo.setCurrentIndex(self.combo.count() - 1)

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self,
            "Replay a file",
            "",
            "Recordings and link logs (*.wav *.csv *.npy *.fblog *.bin *.raw);;All files (*)",
        )
        if name:
            self.add_file(Path(name))

    # ---- state ------------------------------------------------------------------------------
    def spec(self, default_scale: float = 8000.0) -> SourceSpec:
        data = self.combo.currentData()
        text = self.combo.currentText().strip()
        if data is None or self.combo.itemText(self.combo.currentIndex()) != text:
            kind, target = PORT, text  # typed by hand: a port name or pyserial URL
        else:
            kind, _, target = str(data).partition(":")
        try:
            baud = int(self.baud.currentText())
        except ValueError:
            baud = 115200
        rate = self.rate.value() or None
        return SourceSpec(kind, target, str(self.mode.currentData()), baud, rate, default_scale)

    def validate(self) -> str | None:
        """A sentence saying what to fix, or None when the choice can be captured from."""
        spec = self.spec()
        if spec.kind == PORT and not spec.target:
            return "choose a source: the simulated device, a serial port or a file"
        if spec.kind == PORT and spec.baud <= 0:
            return f"baud {self.baud.currentText()!r}: give a positive number"
        if spec.kind == REPLAY and not Path(spec.target).is_file():
            return f"{spec.target}: the file is gone; choose it again with File…"
        return None

    def remember(self) -> None:
        spec = self.spec()
        self.settings.setValue(LAST_SOURCE_KEY, spec.key)
        self.settings.setValue(LAST_MODE_KEY, spec.mode)
        self.settings.setValue(LAST_BAUD_KEY, str(spec.baud))

    def _restore(self) -> None:
        mode = str(self.settings.value(LAST_MODE_KEY, LINK))
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode)))
        self.baud.setCurrentText(str(self.settings.value(LAST_BAUD_KEY, "115200")))
        last = str(self.settings.value(LAST_SOURCE_KEY, "") or "")
        if not last:
            return
        kind, _, target = last.partition(":")
        if kind == REPLAY and Path(target).is_file():
            self.add_file(Path(target))
        elif kind == PORT and not self.select_key(last):
            self.combo.setEditText(target)  # remembered port not plugged in: keep its name
            self._on_changed()
        else:
            self.select_key(last)

    def set_enabled(self, enabled: bool) -> None:
        for w in (self.combo, self.refresh_button, self.file_button, self.rate):
            w.setEnabled(enabled)
        self._on_changed(enabled=enabled)

    def _on_changed(self, *_: object, enabled: bool = True) -> None:
        edit = self.combo.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)  # show the start of a long port label
        spec = self.spec()
        is_port = spec.kind == PORT
        self.mode.setEnabled(enabled and is_port)
        self.baud.setEnabled(enabled and is_port)
        if spec.kind == PORT and spec.target and spec.target not in {p.device for p in self.ports}:
            self.hint.setText(
                f"{spec.target}: not among the listed ports; plug it in and press ↻ "
                "(a pyserial URL is opened as typed)"
            )
        elif spec.kind == PORT and spec.mode == TEXT:
            self.hint.setText("text lines: rate and channels are detected over ~1.5 s")
        else:
            self.hint.setText(self._list_error)
        self.hint.setVisible(bool(self.hint.text()))
        self.changed.emit()
