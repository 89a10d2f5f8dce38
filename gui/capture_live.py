"""Live view of a running capture: the waveform and the capture-quality counters.

pyqtgraph style: ``configure`` preallocates the plot buffer once the stream is described;
``update`` (GUI-thread timer) copies the newest samples of the session's ``LiveRing`` into it
and calls ``setData``. The capture worker only ever writes into the ring.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from core.capture import CaptureStatus, LiveRing, StreamInfo
from gui.live_plots import CHANNEL_COLOURS, apply_plot_theme

HISTORY_S = 5.0
BAD_STYLE = "color: #b00020; font-weight: bold;"
OK_STYLE = ""


def _key(name: str, colour: str) -> str:
    return f'<span style="color:{colour}">&#9644;</span> {name}'


class LiveWaveform(QWidget):
    """The last ``HISTORY_S`` seconds of every channel, in physical units."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        apply_plot_theme()
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)
        item = self.plot.getPlotItem()
        item.setTitle("Live signal — press Start (Ctrl+R) to record")
        item.setLabel("bottom", "time", units="s")
        item.setLabel("left", "value")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.setMouseEnabled(x=False, y=True)
        item.getAxis("left").enableAutoSIPrefix(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.curves: list[pg.PlotDataItem] = []
        self.buffer = np.zeros((1, 1), dtype=np.float32)
        self.time = np.zeros(1, dtype=np.float32)
        self.scale = 1.0
        self.seen = 0  # ring total at the last update
        self.updates = 0

    def configure(self, info: StreamInfo) -> None:
        """Preallocate for ``info``'s rate and channels; clears the plot."""
        n = max(2, round(HISTORY_S * info.sample_rate))
        self.buffer = np.full((n, info.channels), np.nan, dtype=np.float32)
        self.time = ((np.arange(n) - (n - 1)) / info.sample_rate).astype(np.float32)
        self.scale = float(info.fixed_point_scale) or 1.0
        item = self.plot.getPlotItem()
        for curve in self.curves:
            item.removeItem(curve)
        self.curves = []
        keys = []
        for c, name in enumerate(info.channel_names):
            colour = CHANNEL_COLOURS[c % len(CHANNEL_COLOURS)]
            curve = item.plot(pen=pg.mkPen(colour, width=1))
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.curves.append(curve)
            keys.append(_key(name, colour))
        item.setTitle(f"Live signal, {info.sample_rate:g} Hz &nbsp; " + " &nbsp;".join(keys))
        item.setLabel("left", "value", units=info.units)
        item.setXRange(float(self.time[0]), 0.0, padding=0)
        self.seen = 0

    def update(self, ring: LiveRing | None) -> bool:  # type: ignore[override]
        """Copy what arrived since the last call into the buffer and redraw; True if new."""
        if ring is None or ring.total == self.seen or not self.curves:
            return False
        held, first = ring.snapshot()
        new = ring.total if held.shape[0] == 0 else first + held.shape[0]
        fresh = min(new - self.seen, held.shape[0], self.buffer.shape[0])
        self.seen = new
        if fresh <= 0:
            return False
        block = held[-fresh:].astype(np.float32) / self.scale
        buf = self.buffer
        buf[:-fresh] = buf[fresh:]
        buf[-fresh:] = block
        valid = np.isfinite(buf[:, 0])
        for c, curve in enumerate(self.curves):
            curve.setData(self.time[valid], buf[valid, c])
        self.updates += 1
        return True

    def has_data(self) -> bool:
        return bool(self.curves) and bool(np.isfinite(self.buffer).any())


class QualityPanel(QGroupBox):
    """Capture-quality counters: every frame received, lost or rejected, rate and jitter."""

    FIELDS = (
        ("samples", "Samples"),
        ("seconds", "Recorded"),
        ("frames", "Frames / lines"),
        ("lost", "Lost frames"),
        ("crc", "CRC errors"),
        ("bad", "Bad lines"),
        ("rate", "Rate measured"),
        ("declared", "Rate declared"),
        ("jitter", "Jitter"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Capture quality", parent)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(12)
        self.values: dict[str, QLabel] = {}
        for i, (key, text) in enumerate(self.FIELDS):
            name = QLabel(text)
            value = QLabel("—")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setMinimumWidth(64)
            row, col = i, 0  # one column: the panel stands beside the waveform
            grid.addWidget(name, row, col * 2)
            grid.addWidget(value, row, col * 2 + 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(len(self.FIELDS), 1)
        self.setMinimumWidth(230)
        self.reset()

    def reset(self) -> None:
        for value in self.values.values():
            value.setText("—")
            value.setStyleSheet(OK_STYLE)

    def show_status(self, status: CaptureStatus, sample_rate: float | None) -> None:
        q = status.quality
        seconds = status.samples / sample_rate if sample_rate else 0.0
        self._set("samples", f"{status.samples:,}")
        self._set("seconds", f"{seconds:.1f} s")
        self._set("frames", f"{q.frames_received:,}")
        self._set("lost", f"{q.frames_lost:,}", q.frames_lost > 0)
        self._set("crc", f"{q.crc_errors:,}", q.crc_errors > 0)
        self._set("bad", f"{q.bad_lines:,}", q.bad_lines > 0)
        off = q.rate_error is not None and abs(q.rate_error) > 0.02
        rate = "—" if q.measured_rate_hz is None else f"{q.measured_rate_hz:.4g} Hz"
        self._set("rate", rate, off)
        self._set("declared", "—" if not q.declared_rate_hz else f"{q.declared_rate_hz:g} Hz")
        self._set("jitter", "—" if q.jitter_ms is None else f"{q.jitter_ms:.3g} ms")

    def _set(self, key: str, text: str, bad: bool = False) -> None:
        label = self.values[key]
        label.setText(text)
        label.setStyleSheet(BAD_STYLE if bad else OK_STYLE)

    def text(self, key: str) -> str:
        return self.values[key].text()
