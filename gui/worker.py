"""The one worker abstraction: run a core function off the GUI thread, with progress and cancel.

Modelled on superqt's ``_qthreading``: a ``QRunnable`` runs the function, its signals live on a
separate ``QObject`` created in the GUI thread, so every emission from the worker thread is
queued to the GUI thread. The worker thread never touches a widget.

The function is called as ``fn(*args, progress=..., cancel=..., **kwargs)`` with the core's
callback protocol: ``progress(fraction)`` and ``cancel() -> bool``.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import Cancelled, FieldbenchError

log = logging.getLogger("fieldbench.gui.worker")

PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals per second


class WorkerSignals(QObject):
    """Signals of one ``Worker``; lives in the GUI thread."""

    progress = Signal(float)
    finished = Signal(object)  # the function's return value
    failed = Signal(str)  # one-line message for the user
    cancelled = Signal()
    done = Signal()  # always last, whatever the outcome


class Worker(QRunnable):
    """Runs ``fn`` in a thread pool; ``cancel()`` asks it to stop at its next check."""

    def __init__(self, fn: Callable[..., Any], *args: Any, label: str = "", **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the object; the pool must not delete it
        self.signals = WorkerSignals()
        self.label = label or getattr(fn, "__name__", "work")
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._cancel = threading.Event()
        #: Set (from the worker thread) after ``done`` was emitted: a waiter that connects to
        #: ``done`` too late would miss it, this flag it cannot miss (see ``wait_done``).
        self.completed = threading.Event()
        self._last_progress = 0.0

    # ---- called from the GUI thread ---------------------------------------------------------
    def cancel(self) -> None:
        """Ask the function to stop; it raises ``Cancelled`` at its next ``cancel()`` check."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    # ---- called from the worker thread ------------------------------------------------------
    def _progress(self, fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.signals.progress.emit(float(min(max(fraction, 0.0), 1.0)))

    def run(self) -> None:
        """QRunnable entry point (worker thread): only signals leave this method."""
        try:
            if self._cancel.is_set():
                raise Cancelled(f"{self.label}: cancelled")
            result = self._fn(
                *self._args, progress=self._progress, cancel=self._cancel.is_set, **self._kwargs
            )
        except Cancelled:
            log.info("%s: cancelled", self.label)
            self.signals.cancelled.emit()
        except FieldbenchError as exc:
            log.warning("%s: %s", self.label, exc)
            self.signals.failed.emit(str(exc))
        except Exception as exc:
            log.error("%s failed:\n%s", self.label, traceback.format_exc().rstrip())
            self.signals.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(result)
        finally:
            self.signals.done.emit()
            self.completed.set()


class WorkerPool(QObject):
    """Starts workers, keeps them alive until done, and cancels/awaits them all on close.

    ``busy``/``progress``/``idle`` describe the most recently started worker (the "current"
    one the status bar shows and its Cancel button stops).
    """

    busy = Signal(str)
    progress = Signal(float)
    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._active: list[Worker] = []

    @property
    def active(self) -> list[Worker]:
        return list(self._active)

    @property
    def current(self) -> Worker | None:
        return self._active[-1] if self._active else None

    def start(self, worker: Worker) -> Worker:
        self._active.append(worker)
        worker.signals.progress.connect(self._on_progress)
        worker.signals.done.connect(self._on_done)
        self.busy.emit(worker.label)
        self._pool.start(worker)
        return worker

    def cancel_current(self) -> None:
        if self.current is not None:
            self.current.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every worker and wait for the pool; True when all stopped in time."""
        for worker in self._active:
            worker.cancel()
        return bool(self._pool.waitForDone(timeout_ms))

    def _on_progress(self, fraction: float) -> None:
        if self.sender() is (self.current.signals if self.current else None):
            self.progress.emit(fraction)

    def _on_done(self) -> None:
        sender = self.sender()
        self._active = [w for w in self._active if w.signals is not sender]
        if self.current is None:
            self.idle.emit()
        else:
            self.busy.emit(self.current.label)
