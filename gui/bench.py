"""Frame-time measurement of the Features tab, for ``benchmarks/`` to call.

The tab is driven like the app drives it: one timer-slot call per 1/30 s on a real-time
schedule, each followed by a forced render (``widget.grab()``), against the signal generator
streaming a 16 kHz audio recipe (window 512, hop 256, 40 mel bands) from a temporary
workspace. Figures, not assertions: tests never check wall-clock time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from core.dsp import PreprocessingConfig
from core.dsp.recipes import AUDIO_RECIPE
from core.workspace import Workspace

FPS = 30


def audio_recipe(sample_rate: float = 16000.0, channels: int = 1) -> PreprocessingConfig:
    """The keyword-spotting style recipe the benchmark streams."""
    return AUDIO_RECIPE.replace(sampleRate=float(sample_rate), channels=channels)


def measure_features_tab(
    seconds: float, sample_rate: float = 16000.0, channels: int = 1
) -> dict[str, float]:
    """Stream the generator through the Features tab for ``seconds`` at 30 fps.

    Returns ``frames`` (ticks measured), ``median_ms``/``p95_ms``/``max_ms`` (tick plus forced
    render), ``tick_median_ms``/``tick_p95_ms`` (the timer slot alone), ``cpu_share`` (process
    CPU time over wall time, 1.0 = one core busy), ``feature_frames`` and ``snr_db``.
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from gui.features_tab import FeaturesTab
    from gui.worker import WorkerPool

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="fieldbench-bench-") as tmp:
        workspace = Workspace.create(
            Path(tmp) / "bench", "frame-time benchmark", audio_recipe(sample_rate, channels)
        )
        pool = WorkerPool()
        tab = FeaturesTab(pool)
        tab.resize(1280, 760)
        tab.show()
        tab.set_workspace(workspace, play=False)  # no recordings: the generator is selected
        tab.sources.kind.setCurrentText("chirp")
        tab.load_source()
        tab.pacer.restart()
        app.processEvents()

        ticks = max(1, round(seconds * FPS))
        totals = np.empty(ticks)
        tab.clear_frame_times()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        deadline = wall0
        for i in range(ticks):
            deadline += 1.0 / FPS
            start = time.perf_counter()
            tab.tick()
            tab.grab()
            app.processEvents()
            totals[i] = time.perf_counter() - start
            pause = deadline - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        slot = tab.frame_times()
        stream = tab.stream
        result = {
            "frames": float(ticks),
            "median_ms": float(np.median(totals) * 1e3),
            "p95_ms": float(np.percentile(totals, 95) * 1e3),
            "max_ms": float(totals.max() * 1e3),
            "tick_median_ms": float(np.median(slot) * 1e3),
            "tick_p95_ms": float(np.percentile(slot, 95) * 1e3),
            "cpu_share": cpu / wall if wall > 0 else float("nan"),
            "feature_frames": float(stream.frames_out if stream else 0),
            "snr_db": float(stream.snr_db or float("nan")) if stream else float("nan"),
            "sample_rate": float(sample_rate),
            "channels": float(channels),
        }
        tab.stop()
        tab.deleteLater()
        pool.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return result
