"""Replay of a file: a WAV/CSV/NPY recording (via core.recording) or a raw link byte log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.capture.errors import CaptureError, StreamEnded
from core.capture.link_source import LinkSource
from core.capture.source import Cancel, CaptureSource, StreamInfo
from core.capture.streams import FileStream
from core.dataset.quality import CaptureQuality
from core.recording import load_recording, to_counts

LINK_LOG_SUFFIXES = (".fblog", ".bin", ".raw", ".log")
BLOCK = 1024


class RecordingReplay(CaptureSource):
    """Delivers a recording file in blocks; ``realtime`` paces them at the sample rate."""

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate: float | None = None,
        fixed_point_scale: float = 8000.0,
        units: str | None = None,
        realtime: bool = False,
        block: int = BLOCK,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self._rate = sample_rate
        self._scale = fixed_point_scale
        self._units = units
        self._realtime = realtime
        self._block = block
        self._clock = clock
        self._sleep = sleep
        self._data: npt.NDArray[np.int16] | None = None
        self._pos = 0
        self._t0 = 0.0

    def open(self, cancel: Cancel | None = None) -> StreamInfo:
        rec = load_recording(self.path, sample_rate=self._rate)
        if rec.sample_rate is None:
            raise CaptureError(f"{self.path}: the file carries no sample rate; give it with --rate")
        scale = {"counts": 1.0, "full scale": 32767.0}.get(rec.units, self._scale)
        self._data = to_counts(rec, self._scale)
        names = rec.channel_names or tuple(f"ch{i}" for i in range(rec.channels))
        units = self._units or ("counts" if rec.units in ("counts", "full scale") else "units")
        self.info = StreamInfo(
            sample_rate=rec.sample_rate,
            channel_names=tuple(names),
            units=units,
            fixed_point_scale=scale,
            source="replay",
            description=f"replay of {self.path.name}: {rec.channels} ch at {rec.sample_rate:g} Hz",
        )
        self._t0 = self._clock()
        return self.info

    def read(self) -> npt.NDArray[np.int16]:
        assert self._data is not None and self.info is not None
        n = self._data.shape[0]
        if self._pos >= n:
            raise StreamEnded(str(self.path))
        stop = min(n, self._pos + self._block)
        if self._realtime:
            due = int((self._clock() - self._t0) * self.info.sample_rate)
            if due < stop:
                self._sleep(min(0.05, (stop - due) / self.info.sample_rate))
                due = int((self._clock() - self._t0) * self.info.sample_rate)
            stop = min(stop, max(due, self._pos))
        out = self._data[self._pos : stop]
        self._pos = stop
        return out

    def quality(self) -> CaptureQuality:
        return CaptureQuality(
            frames_received=0, declared_rate_hz=self.info.sample_rate if self.info else None
        )

    @property
    def frames(self) -> int:
        return self._pos


def replay_source(
    path: str | Path,
    *,
    sample_rate: float | None = None,
    fixed_point_scale: float = 8000.0,
    realtime: bool = False,
) -> CaptureSource:
    """The right replay source for ``path``: a link log (.fblog/.bin/.raw/.log) or a recording."""
    p = Path(path)
    if p.suffix.lower() in LINK_LOG_SUFFIXES:
        return LinkSource(FileStream(p), source_name="replay", live=False, handshake_s=1e9)
    return RecordingReplay(
        p, sample_rate=sample_rate, fixed_point_scale=fixed_point_scale, realtime=realtime
    )
