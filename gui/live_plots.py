"""Live plots of the feature stream: waveform, band spectrogram, latest frame fixed vs float.

pyqtgraph style: every buffer is preallocated when the recipe is set; ``append_*`` only copy
into those buffers, and ``render()`` (called from the GUI-thread timer tick) hands them to the
items with ``setData``/``setImage``. Nothing here allocates per sample.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from core.dsp import PreprocessingConfig

HISTORY_S = 5.0
LEVEL_UPDATE_S = 1.0
CHANNEL_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
)
FIXED_BRUSH = pg.mkBrush(31, 119, 180, 170)
REFERENCE_PEN = pg.mkPen("#d62728", width=2)
# Legends live in the titles: a legend box inside a live plot always covers some data.
FEATURE_KEY = (
    '<span style="color:#1f77b4">&#9632;</span> fixed point vs '
    '<span style="color:#d62728">&#9679;&#8212;</span> float64'
)


def _key(name: str, colour: str) -> str:
    return f'<span style="color:{colour}">&#9644;</span> {name}'


def apply_plot_theme() -> None:
    """Dark-on-light plots that sit well in a default desktop theme."""
    pg.setConfigOptions(background="w", foreground="#333333", antialias=False)


class LivePlots(QWidget):
    """Three plots over one recipe; call ``configure`` whenever the recipe or source changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        apply_plot_theme()
        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.ci.setContentsMargins(6, 6, 6, 6)
        self.canvas.ci.setSpacing(10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

        self.wave_plot = self.canvas.addPlot(row=0, col=0, colspan=2, title="Input signal")
        self.wave_plot.setLabel("bottom", "time", units="s")
        self.wave_plot.setLabel("left", "amplitude", units="counts")
        self.wave_plot.setClipToView(True)
        self.wave_plot.setDownsampling(auto=True, mode="peak")
        self.wave_plot.showGrid(x=True, y=True, alpha=0.2)
        self.wave_plot.setMouseEnabled(x=False, y=True)
        self.wave_plot.getAxis("left").enableAutoSIPrefix(False)

        self.spec_plot = self.canvas.addPlot(row=1, col=0, title="Band features, channel 0")
        self.spec_plot.setLabel("bottom", "time", units="s")
        self.spec_plot.setLabel("left", "band")
        self.spec_plot.setMouseEnabled(x=False, y=False)
        self.spec_image = pg.ImageItem()
        self.spec_image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.spec_plot.addItem(self.spec_image)
        self.spec_bar = pg.ColorBarItem(
            colorMap=pg.colormap.get("viridis"), interactive=False, width=12
        )
        self.spec_bar.setImageItem(self.spec_image, insert_in=self.spec_plot)

        self.feat_plot = self.canvas.addPlot(row=1, col=1, title=FEATURE_KEY)
        self.feat_plot.setLabel("bottom", "feature index")
        self.feat_plot.setLabel("left", "value", units="int16")
        self.feat_plot.getAxis("left").enableAutoSIPrefix(False)
        self.feat_plot.showGrid(y=True, alpha=0.2)
        self.fixed_bars = pg.BarGraphItem(
            x=[0],
            height=[0],
            width=0.8,
            brush=FIXED_BRUSH,
            pen=pg.mkPen(None),
            name="fixed point (int16)",
        )
        self.reference_curve = pg.PlotDataItem(
            pen=REFERENCE_PEN,
            symbol="o",
            symbolSize=4,
            symbolBrush="#d62728",
            symbolPen=None,
            name="float64 reference",
        )
        self.feat_plot.addItem(self.fixed_bars)
        self.feat_plot.addItem(self.reference_curve)
        for plot in (self.wave_plot, self.spec_plot, self.feat_plot):
            plot.enableAutoRange(False)
            for name in ("left", "bottom"):
                # Axis text is the costliest thing to paint; cache it until the range changes.
                plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.canvas.ci.layout.setRowStretchFactor(0, 2)
        self.canvas.ci.layout.setRowStretchFactor(1, 3)
        self.canvas.ci.layout.setColumnStretchFactor(0, 3)
        self.canvas.ci.layout.setColumnStretchFactor(1, 2)

        self.wave_curves: list[pg.PlotDataItem] = []
        self.wave_data = np.zeros((1, 1), dtype=np.float32)
        self.wave_time = np.zeros(1, dtype=np.float32)
        self.spec_data = np.zeros((1, 1), dtype=np.float32)
        self.spec_filled = 0
        self.fixed_frame: npt.NDArray[np.float64] | None = None
        self.reference_frame: npt.NDArray[np.float64] | None = None
        self.snr_db: float | None = None
        self.levels = (0.0, 1.0)
        self._level_time = 0.0
        self._wave_dirty = self._spec_dirty = self._feat_dirty = False
        self.renders = 0

    # ---- setup ------------------------------------------------------------------------------
    def configure(
        self,
        config: PreprocessingConfig,
        sample_rate: float,
        channels: int,
        channel_names: tuple[str, ...] = (),
    ) -> None:
        """Preallocate every buffer for this recipe and clear the plots."""
        n = max(2, round(HISTORY_S * sample_rate))
        self.wave_data = np.zeros((n, channels), dtype=np.float32)
        self.wave_time = ((np.arange(n, dtype=np.float64) - (n - 1)) / sample_rate).astype(
            np.float32
        )
        for curve in self.wave_curves:
            self.wave_plot.removeItem(curve)
        self.wave_curves = []
        keys: list[str] = []
        for c in range(channels):
            name = channel_names[c] if c < len(channel_names) else f"ch{c}"
            curve = self.wave_plot.plot(pen=pg.mkPen(CHANNEL_COLOURS[c % 8], width=1), name=name)
            curve.setSkipFiniteCheck(True)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.wave_curves.append(curve)
            keys.append(_key(name, CHANNEL_COLOURS[c % 8]))
        self.wave_plot.setTitle("Input signal &nbsp; " + " &nbsp;".join(keys))
        self.wave_plot.setXRange(float(self.wave_time[0]), 0.0, padding=0)

        bands = config.n_bands
        cols = max(2, math.ceil(HISTORY_S * sample_rate / config.hop))
        self.spec_data = np.zeros((cols, max(bands, 1)), dtype=np.float32)
        self.spec_filled = 0
        span = cols * config.hop / sample_rate
        self.spec_image.setImage(self.spec_data, autoLevels=False, levels=(0.0, 1.0))
        self.spec_image.setRect(QRectF(-span, 0.0, span, float(max(bands, 1))))
        self.spec_plot.setXRange(-span, 0.0, padding=0)
        self.spec_plot.setYRange(0.0, float(max(bands, 1)), padding=0)
        unit = "Q8 log2" if config.compression == "log2" else "energy"
        self.spec_plot.setTitle(
            f"{config.bands.scale} bands, ch0 ({unit})"
            if bands
            else "Band features: none in this recipe"
        )
        self._n_bands = bands
        self.levels = (0.0, 1.0)
        self._level_time = 0.0
        self.fixed_frame = self.reference_frame = None
        self.snr_db = None
        self.fixed_bars.setOpts(x=[0], height=[0])
        self.reference_curve.setData([], [])
        self._wave_dirty = self._spec_dirty = True
        self._feat_dirty = True
        self.render()

    # ---- data in (cheap copies into preallocated buffers) ------------------------------------
    def append_samples(self, block: npt.NDArray[np.int16]) -> None:
        n = block.shape[0]
        if n == 0:
            return
        buf = self.wave_data
        if n >= buf.shape[0]:
            buf[:] = block[-buf.shape[0] :]
        else:
            buf[:-n] = buf[n:]
            buf[-n:] = block
        self._wave_dirty = True

    def append_frames(self, frames: npt.NDArray[np.int16]) -> None:
        k = frames.shape[0]
        if k == 0 or self._n_bands == 0:
            return
        bands = frames[:, : self._n_bands]  # channel 0 comes first in a frame
        buf = self.spec_data
        if k >= buf.shape[0]:
            buf[:] = bands[-buf.shape[0] :]
        else:
            buf[:-k] = buf[k:]
            buf[-k:] = bands
        self.spec_filled = min(buf.shape[0], self.spec_filled + k)
        self._spec_dirty = True

    def set_comparison(
        self,
        fixed: npt.NDArray[np.int16],
        reference: npt.NDArray[np.float64],
        snr_db: float | None,
    ) -> None:
        self.fixed_frame = fixed.astype(np.float64)
        self.reference_frame = reference
        self.snr_db = snr_db
        self._feat_dirty = True

    # ---- drawing (GUI thread, once per tick) -------------------------------------------------
    def render(self) -> None:
        if self._wave_dirty:
            for c, curve in enumerate(self.wave_curves):
                curve.setData(self.wave_time, self.wave_data[:, c])
            _follow_range(self.wave_plot, float(self.wave_data.min()), float(self.wave_data.max()))
            self._wave_dirty = False
        if self._spec_dirty:
            self._update_levels()
            self.spec_image.setImage(self.spec_data, autoLevels=False, levels=self.levels)
            self._spec_dirty = False
        if self._feat_dirty and self.fixed_frame is not None and self.reference_frame is not None:
            x = np.arange(self.fixed_frame.size, dtype=np.float64)
            self.fixed_bars.setOpts(x=x, height=self.fixed_frame, width=0.8)
            self.reference_curve.setData(x, self.reference_frame)
            lo = min(0.0, float(self.fixed_frame.min()), float(self.reference_frame.min()))
            hi = max(float(self.fixed_frame.max()), float(self.reference_frame.max()))
            _follow_range(self.feat_plot, lo, hi)
            self.feat_plot.setXRange(-1.0, float(x.size), padding=0)
            snr = "—" if self.snr_db is None else f"{self.snr_db:.1f} dB"
            self.feat_plot.setTitle(f"{FEATURE_KEY} · SNR <b>{snr}</b>")
            self._feat_dirty = False
        self.renders += 1

    def _update_levels(self) -> None:
        """Colour levels from the filled history, at most once per second (never per frame)."""
        now = time.monotonic()
        if self.spec_filled == 0 or now - self._level_time < LEVEL_UPDATE_S:
            return
        self._level_time = now
        filled = self.spec_data[-self.spec_filled :]
        lo, hi = np.percentile(filled, (2.0, 99.5))
        if hi <= lo:
            hi = lo + 1.0
        self.levels = (float(lo), float(hi))
        self.spec_bar.setLevels(self.levels)


def _follow_range(plot: pg.PlotItem, lo: float, hi: float) -> None:
    """Set the y range only when the data leaves it or fills less than half of it.

    Per-frame autorange would repaint the axis every frame and make the plot jitter.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return
    if hi - lo < 1.0:
        lo, hi = lo - 0.5, hi + 0.5
    (y0, y1) = plot.getViewBox().viewRange()[1]
    span = y1 - y0
    if lo < y0 or hi > y1 or (hi - lo) < 0.5 * span:
        margin = 0.1 * (hi - lo)
        plot.setYRange(lo - margin, hi + margin, padding=0)
