"""The worker: results, one-line failures, throttled progress, cancel and shutdown."""

import logging
import time
from collections.abc import Callable

import numpy as np
import pytest

from core.dsp import extract_features
from core.errors import Cancelled, InputFileError
from core.signals import SignalGenerator
from gui.bench import audio_recipe
from gui.live_stream import quantize_counts
from gui.worker import Worker, WorkerPool

pytestmark = pytest.mark.gui

Progress = Callable[[float], None]
Cancel = Callable[[], bool]


def test_worker_returns_the_result_of_extract_features_with_progress(qtbot) -> None:
    samples = quantize_counts(SignalGenerator("chirp", 16000.0).next(16000 * 10))
    config = audio_recipe()
    pool = WorkerPool()
    worker = Worker(extract_features, samples, config, label="extract")
    results, progress = [], []
    worker.signals.finished.connect(results.append)
    worker.signals.progress.connect(progress.append)
    with qtbot.waitSignal(worker.signals.done, timeout=20000):
        pool.start(worker)
    assert np.array_equal(results[0], extract_features(samples, config))
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_cancel_stops_extract_features_and_reports_cancelled(qtbot) -> None:
    samples = quantize_counts(SignalGenerator("noise", 16000.0, noise=3000.0).next(16000 * 60))
    pool = WorkerPool()
    worker = Worker(extract_features, samples, audio_recipe(), label="extract")
    finished, cancelled = [], []
    worker.signals.finished.connect(finished.append)
    worker.signals.cancelled.connect(lambda: cancelled.append(True))
    worker.signals.progress.connect(lambda _: worker.cancel())
    with qtbot.waitSignal(worker.signals.done, timeout=20000):
        pool.start(worker)
    assert cancelled == [True]
    assert finished == []


def test_a_fieldbench_error_arrives_as_its_one_line_message(qtbot) -> None:
    def bad_file(progress: Progress, cancel: Cancel) -> None:
        raise InputFileError("x.wav: not a WAV file (no RIFF/WAVE header)")

    worker = Worker(bad_file)
    with qtbot.waitSignal(worker.signals.failed, timeout=5000) as blocker:
        WorkerPool().start(worker)
    assert blocker.args == ["x.wav: not a WAV file (no RIFF/WAVE header)"]


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_log(
    qtbot, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(progress: Progress, cancel: Cancel) -> None:
        raise ZeroDivisionError("division by zero")

    worker = Worker(broken)
    with (
        caplog.at_level(logging.ERROR, logger="fieldbench"),
        qtbot.waitSignal(worker.signals.failed, timeout=5000) as blocker,
    ):
        WorkerPool().start(worker)
    assert blocker.args == ["unexpected error: ZeroDivisionError: division by zero"]
    assert "Traceback" in caplog.text


def test_progress_is_throttled_to_twenty_signals_per_second(qtbot) -> None:
    def chatty(progress: Progress, cancel: Cancel) -> None:
        end = time.monotonic() + 0.3
        i = 0
        while time.monotonic() < end:
            i += 1
            progress(min(0.99, i / 1e6))
        progress(1.0)

    worker = Worker(chatty)
    received: list[float] = []
    worker.signals.progress.connect(received.append)
    with qtbot.waitSignal(worker.signals.done, timeout=5000):
        WorkerPool().start(worker)
    qtbot.wait(20)
    assert 2 <= len(received) <= 9
    assert received[-1] == 1.0


def test_shutdown_cancels_and_awaits_running_workers(qtbot) -> None:
    def forever(progress: Progress, cancel: Cancel) -> None:
        while not cancel():
            time.sleep(0.002)
        raise Cancelled("stopped")

    pool = WorkerPool()
    workers = [pool.start(Worker(forever)) for _ in range(2)]
    time.sleep(0.05)
    assert pool.shutdown(timeout_ms=3000)
    assert all(w.is_cancelled for w in workers)
