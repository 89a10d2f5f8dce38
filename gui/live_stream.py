"""The live feature stream, without Qt: sample sources, real-time pacing, fixed vs float.

The Features tab owns one ``LiveFeatureStream`` and, on every timer tick, asks the
``RealTimePacer`` how many samples are due, reads them from the ``SampleSource`` and pushes them.
Keeping this module Qt-free (napari style) lets the benchmark and tests drive it directly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.dsp import (
    PreprocessingConfig,
    StreamingExtractor,
    compile_plan,
    reference_features,
)
from core.recording import load_for_features
from core.signals import SignalGenerator

I16 = npt.NDArray[np.int16]
F64 = npt.NDArray[np.float64]

MAX_TICK_SECONDS = 0.25  # a stalled GUI drops samples instead of catching up in one huge tick
SNR_DECAY = 0.9  # weight of the past in the running SNR (per compared frame)


class SampleSource(Protocol):
    """Anything that yields int16 ``(n, channels)`` blocks at ``sample_rate``."""

    label: str
    channels: int
    sample_rate: float

    def read(self, n: int) -> I16: ...

    def rewind(self) -> None: ...

    @property
    def exhausted(self) -> bool: ...


def quantize_counts(x: F64) -> I16:
    """Round float counts to int16 with saturation."""
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


class GeneratorSource:
    """The built-in signal generator as an endless source."""

    def __init__(self, generator: SignalGenerator) -> None:
        self.generator = generator
        self.channels = generator.channels
        self.sample_rate = float(generator.sample_rate)
        self.label = f"generator: {generator.kind} {generator.frequency:g} Hz"

    def read(self, n: int) -> I16:
        return quantize_counts(self.generator.next(n))

    def rewind(self) -> None:
        self.generator.reset()

    @property
    def exhausted(self) -> bool:
        return False


class RecordingSource:
    """A recording played back block by block, optionally looping."""

    def __init__(self, samples: I16, sample_rate: float, label: str, loop: bool = True) -> None:
        self.samples = samples
        self.sample_rate = float(sample_rate)
        self.channels = int(samples.shape[1])
        self.label = label
        self.loop = loop
        self.position = 0

    @classmethod
    def load(
        cls, path: str | Path, config: PreprocessingConfig, loop: bool = True
    ) -> RecordingSource:
        """Load a recording for the config; ``InputFileError`` (one line) when it does not fit."""
        p = Path(path)
        samples = load_for_features(p, config)
        return cls(samples, config.sampleRate, p.name, loop)

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def exhausted(self) -> bool:
        return not self.loop and self.position >= self.samples.shape[0]

    def rewind(self) -> None:
        self.position = 0

    def read(self, n: int) -> I16:
        total = self.samples.shape[0]
        if not self.loop:
            block = self.samples[self.position : self.position + n]
            self.position = min(total, self.position + n)
            return block
        idx = (self.position + np.arange(n)) % total
        self.position = int((self.position + n) % total)
        return self.samples[idx]


class RealTimePacer:
    """How many samples are due since the last call, from a monotonic clock.

    ``clock`` is injectable so tests and the benchmark can advance time deterministically.
    """

    def __init__(self, sample_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.sample_rate = sample_rate
        self.clock = clock
        self._last: float | None = None
        self._carry = 0.0

    def restart(self) -> None:
        """Start counting from now (after a pause, nothing is due for the paused time)."""
        self._last = self.clock()
        self._carry = 0.0

    def due(self) -> int:
        now = self.clock()
        if self._last is None:
            self._last = now
            return 0
        elapsed = min(max(now - self._last, 0.0), MAX_TICK_SECONDS)
        self._last = now
        exact = elapsed * self.sample_rate + self._carry
        n = int(exact)
        self._carry = exact - n
        return n


@dataclass(frozen=True)
class StreamUpdate:
    """What one push produced: the samples, their frames, and the fixed/float comparison."""

    block: I16  # (n, C)
    frames: I16  # (k, frame_length)
    reference: F64 | None  # float features of the last frame, or None when k == 0
    snr_db: float | None  # running SNR of fixed vs float, None before the first frame


class LiveFeatureStream:
    """Fixed-point streaming frames plus the float reference of each tick's latest frame.

    Only the last frame of a push is compared with the float reference, so the extra work per
    tick is one segment whatever the tick length.
    """

    def __init__(self, config: PreprocessingConfig) -> None:
        self.config = config
        self.extractor = StreamingExtractor(compile_plan(config))
        self._signal = 0.0
        self._noise = 0.0
        self.frames_out = 0

    def reset(self) -> None:
        self.extractor.reset()
        self._signal = self._noise = 0.0
        self.frames_out = 0

    @property
    def snr_db(self) -> float | None:
        if self._signal == 0.0 and self._noise == 0.0:
            return None
        if self._noise == 0.0:
            return math.inf
        return 10.0 * math.log10(self._signal / self._noise) if self._signal > 0 else -math.inf

    def push(self, block: I16) -> StreamUpdate:
        cfg = self.config
        x = np.asarray(block, dtype=np.int16).reshape(-1, cfg.channels)
        frames = self.extractor.push(x)
        reference = None
        segment = self.extractor.last_segment
        if frames.shape[0] and segment is not None:
            reference = reference_features(segment, cfg)[0]
            fixed = frames[-1].astype(np.float64)
            self._signal = SNR_DECAY * self._signal + float(np.sum(reference**2))
            self._noise = SNR_DECAY * self._noise + float(np.sum((fixed - reference) ** 2))
            self.frames_out += frames.shape[0]
        return StreamUpdate(x, frames, reference, self.snr_db if frames.shape[0] else None)
