"""PySide6 6.12.0 decrements None's refcount in void-returning wrappers and crashes pyqtgraph
live plots on CPython 3.11 (reference/performance-anchors.md §1). This fails on such a build."""

from __future__ import annotations

import sys

import PySide6
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QPainterPath, QPolygonF


def _none_refcount_delta(call: object, times: int = 200) -> int:
    before = sys.getrefcount(None)
    for _ in range(times):
        call()  # type: ignore[operator]
    return sys.getrefcount(None) - before


def test_installed_pyside6_is_in_the_pinned_range() -> None:
    major, minor = (int(p) for p in PySide6.__version__.split(".")[:2])
    assert (major, minor) == (6, 11)


@pytest.mark.parametrize("make", ["polygon_resize", "path_clear"])
def test_void_wrappers_leave_none_refcount_alone(make: str) -> None:
    poly = QPolygonF([QPointF(0, 0), QPointF(1, 1)])
    path = QPainterPath()
    path.lineTo(1, 1)
    call = (lambda: poly.resize(2)) if make == "polygon_resize" else path.clear
    # A few calls may legitimately create cached objects; a bug leaks one per call.
    assert abs(_none_refcount_delta(call)) < 10


def test_pyqtgraph_long_live_plot_survives(qapp) -> None:
    """Many frames of a large curve exercise the chunked arrayToQPath path that crashed."""
    import numpy as np
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    widget.resize(400, 300)
    curve = widget.plot()
    x = np.arange(20_000, dtype=np.float64)
    before = sys.getrefcount(None)
    for i in range(30):
        curve.setData(x, np.sin(x / 100.0 + i).astype(np.float32))
        widget.grab()
    assert sys.getrefcount(None) - before > -1000
