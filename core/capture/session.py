"""Run a capture source into the dataset: bounded memory, live view, limits, accounting.

``CaptureSession.run`` is a plain blocking call with ``progress`` and ``cancel`` callbacks (the
GUI runs it in its worker). Samples stream to ``Dataset.start_recording`` in the writer's
chunks; the live ring keeps only the last few seconds for plots. When the link breaks the
recording so far is kept, marked interrupted; a user stop keeps it complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from core.capture.errors import LinkLost, StreamEnded
from core.capture.source import Cancel, CaptureSource, StreamInfo
from core.dataset.quality import CaptureQuality
from core.dataset.store import Dataset, RecordingWriter

Progress = Callable[[int, int], None]
OnSamples = Callable[[npt.NDArray[np.int16]], None]


class LiveRing:
    """The most recent ``capacity`` samples, for plots. Thread-safe: a worker pushes, the GUI
    thread takes snapshots from a timer."""

    def __init__(self, capacity: int, channels: int) -> None:
        self.capacity = max(1, capacity)
        self._buf = np.zeros((self.capacity, channels), dtype=np.int16)
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """Samples pushed since the start (the index after the newest sample)."""
        return self._total

    def push(self, block: npt.NDArray[np.int16]) -> None:
        n = block.shape[0]
        if n == 0:
            return
        with self._lock:
            if n >= self.capacity:
                self._buf[:] = block[-self.capacity :]
            else:
                start = self._total % self.capacity
                first = min(n, self.capacity - start)
                self._buf[start : start + first] = block[:first]
                self._buf[: n - first] = block[first:]
            self._total += n

    def snapshot(self) -> tuple[npt.NDArray[np.int16], int]:
        """(the held samples oldest first, index of the first of them)."""
        with self._lock:
            held = min(self._total, self.capacity)
            start = self._total % self.capacity
            if held < self.capacity:
                out = self._buf[:held].copy()
            else:
                out = np.concatenate([self._buf[start:], self._buf[:start]])
            return out, self._total - held


@dataclass(frozen=True)
class CaptureStatus:
    """A consistent view of a running capture for live counters."""

    samples: int
    seconds: float
    quality: CaptureQuality
    counters: dict[str, int]
    running: bool


@dataclass(frozen=True)
class CaptureResult:
    recording_id: int | None  # None: nothing arrived, nothing kept
    samples: int
    seconds: float
    quality: CaptureQuality
    counters: dict[str, int]
    info: StreamInfo
    interrupted: bool
    stopped_by_user: bool
    note: str = ""
    session: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        state = "interrupted" if self.interrupted else "complete"
        rid = f"recording {self.recording_id}" if self.recording_id else "nothing recorded"
        text = (
            f"{rid} ({state}): {self.samples} samples, {self.seconds:.2f} s, "
            f"{self.quality.summary()}"
        )
        return text + (f" — {self.note}" if self.note else "")


class CaptureSession:
    """One capture from ``source`` into ``dataset``.

    Parameters
    ----------
    seconds, max_frames, max_samples:
        Stop after this much signal (counted in samples, not wall time), frames or lines.
        Without a limit the capture runs until ``cancel()`` returns True or ``stop()``.
    on_samples:
        Called with each block as it arrives (in the capturing thread).
    live_seconds:
        How much recent signal ``live`` (a ``LiveRing``) keeps for plots.
    """

    def __init__(
        self,
        dataset: Dataset,
        source: CaptureSource,
        *,
        label: str | None = None,
        tags: Mapping[str, str] | None = None,
        session: int | None = None,
        seconds: float | None = None,
        max_frames: int | None = None,
        max_samples: int | None = None,
        on_samples: OnSamples | None = None,
        live_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dataset = dataset
        self.source = source
        self.label = label
        self.tags = dict(tags or {})
        self.session = session
        self.seconds = seconds
        self.max_frames = max_frames
        self.max_samples = max_samples
        self.on_samples = on_samples
        self.live_seconds = live_seconds
        self.live: LiveRing | None = None
        self._clock = clock
        self._stop = threading.Event()
        self._samples = 0
        self._t0: float | None = None
        self._running = False

    def stop(self) -> None:
        """Ask a running capture to finish (thread-safe); the recording is kept complete."""
        self._stop.set()

    def status(self) -> CaptureStatus:
        elapsed = 0.0 if self._t0 is None else self._clock() - self._t0
        return CaptureStatus(
            self._samples, elapsed, self.source.quality(), self.source.counters(), self._running
        )

    def run(self, progress: Progress | None = None, cancel: Cancel | None = None) -> CaptureResult:
        """Open the source, record until a limit, the end of the source, a stop or a broken link.

        Raises ``CaptureError`` (nothing written) when the source cannot start and
        ``DatasetError``/``TagError`` when the label or tags are not allowed.
        """

        def stopping() -> bool:
            return self._stop.is_set() or bool(cancel is not None and cancel())

        self.dataset.config.validate_label(self.label)
        self.dataset.config.validate_tags(self.tags)
        self._running = True
        try:
            info = self.source.open(cancel=stopping)
            if self.session is None:
                self.session = self.dataset.new_session()
            writer = self.dataset.start_recording(
                label=self.label,
                tags=self.tags,
                sample_rate=info.sample_rate,
                channel_names=list(info.channel_names),
                units=info.units,
                fixed_point_scale=info.fixed_point_scale,
                session=self.session,
                device_id=info.device_id,
                source=info.source,
            )
            return self._record(writer, info, progress, stopping)
        finally:
            self._running = False
            self.source.close()

    def _limit(self, info: StreamInfo) -> int | None:
        limits = []
        if self.seconds is not None:
            limits.append(max(1, round(self.seconds * info.sample_rate)))
        if self.max_samples is not None:
            limits.append(self.max_samples)
        return min(limits) if limits else None

    def _record(
        self,
        writer: RecordingWriter,
        info: StreamInfo,
        progress: Progress | None,
        stopping: Callable[[], bool],
    ) -> CaptureResult:
        limit = self._limit(info)
        ring_len = max(1, int(self.live_seconds * info.sample_rate))
        self.live = LiveRing(ring_len, info.channels)
        self._t0 = self._clock()
        interrupted = by_user = False
        note = ""
        with writer:  # an exception (a bug, Ctrl-C) keeps the samples, marked interrupted
            while True:
                if stopping():
                    by_user = True
                    note = "stopped by the user"
                    break
                try:
                    block = self.source.read()
                except StreamEnded:
                    break
                except LinkLost as exc:
                    interrupted = True
                    note = str(exc)
                    break
                if limit is not None and self._samples + block.shape[0] >= limit:
                    block = block[: limit - self._samples]
                if block.shape[0]:
                    writer.append(block)
                    self.live.push(block)
                    self._samples += block.shape[0]
                    if self.on_samples is not None:
                        self.on_samples(block)
                writer.quality = self.source.quality()  # what a crash exit would record
                if progress is not None:
                    progress(self._samples, limit or 0)
                if limit is not None and self._samples >= limit:
                    break
                if self.max_frames is not None and self.source.frames >= self.max_frames:
                    break
            quality = self.source.quality()
            writer.quality = quality
            counters = self.source.counters()
            seconds = self._samples / info.sample_rate
            if self._samples == 0:
                writer.abort()
                return CaptureResult(
                    None, 0, 0.0, quality, counters, info, interrupted, by_user,
                    note or "no samples arrived", self.session or 0,
                )  # fmt: skip
            rid = writer.finish(quality, interrupted=interrupted, note=note[:200])
            return CaptureResult(
                rid, self._samples, seconds, quality, counters, info, interrupted, by_user, note,
                self.session or 0,
            )  # fmt: skip
