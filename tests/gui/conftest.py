"""GUI tests run offscreen with per-test user folders and settings."""

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from core.atomic import atomic_save_npy
from core.signals import SignalGenerator
from core.workspace import Workspace
from gui.bench import audio_recipe
from gui.main_window import MainWindow


@pytest.fixture
def wait_done(qtbot):  # type: ignore[no-untyped-def]
    """``wait_done(worker)``: wait until the worker ran and its queued signals were delivered.

    ``qtbot.waitSignal(worker.signals.done)`` races with a fast worker: a queued signal emitted
    before the waiter connects is never delivered to it.
    """

    def wait(worker, timeout: int = 20000) -> None:  # type: ignore[no-untyped-def]
        assert worker is not None
        qtbot.waitUntil(worker.completed.is_set, timeout=timeout)
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()

    return wait


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def collect_garbage_in_the_gui_thread(qapp: QApplication) -> Iterator[None]:
    """As the app does (gui/app.py): no automatic GC while a test runs, a collection after it.

    Automatic GC runs in whichever thread allocates; when that is a worker thread (training,
    capture) and the garbage holds a widget from an earlier test, Qt destroys it off the GUI
    thread and deadlocks.
    """
    gc.disable()
    try:
        yield
    finally:
        QCoreApplication.sendPostedEvents()
        gc.collect()
        gc.enable()


@pytest.fixture(autouse=True)
def isolated_user_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication
) -> Iterator[None]:
    """Sample workspace, QSettings and home all live under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    QCoreApplication.setOrganizationName("fieldbench-tests")
    QCoreApplication.setApplicationName("fieldbench-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    yield


@pytest.fixture
def make_window(qtbot):  # type: ignore[no-untyped-def]
    """Factory of shown main windows that pytest-qt closes after the test."""

    def make() -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        return window

    return make


@pytest.fixture
def window(make_window) -> MainWindow:  # type: ignore[no-untyped-def]
    return make_window()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audio_workspace(tmp_path: Path) -> Workspace:
    """A 16 kHz mono workspace with one long recording (60 s of a chirp in counts)."""
    ws = Workspace.create(tmp_path / "audio", "audio", audio_recipe())
    x = SignalGenerator("chirp", 16000.0, 1, amplitude=8000.0).next(16000 * 60)
    atomic_save_npy(ws.recordings_dir / "long_chirp.npy", np.rint(x).astype(np.int16))
    return ws
