"""Streaming: push samples, receive a feature frame as each hop completes.

``RingBuffer`` is the seed's fixed-size circular buffer (``pushSample`` / ``extractWindow``);
``StreamingExtractor`` emits exactly the frames the batch path computes for the same samples
(docs/dsp.md §3), using bounded memory whatever the length of the stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import extract_segments, quantize
from core.dsp.plan import FeaturePlan, compile_plan

I16 = npt.NDArray[np.int16]


class RingBuffer:
    """Fixed-size circular buffer of int16 samples, ``capacity`` per channel."""

    def __init__(self, capacity: int, channels: int = 1) -> None:
        self._data = np.zeros((capacity, channels), dtype=np.int16)
        self._write = 0
        self._count = 0

    @property
    def capacity(self) -> int:
        return self._data.shape[0]

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    def push(self, samples: I16) -> None:
        """Append ``(n, channels)`` samples, overwriting the oldest."""
        x = np.asarray(samples, dtype=np.int16).reshape(-1, self._data.shape[1])
        cap = self.capacity
        if x.shape[0] >= cap:
            self._data[:] = x[-cap:]
            self._write = 0
        else:
            end = self._write + x.shape[0]
            if end <= cap:
                self._data[self._write : end] = x
            else:
                split = cap - self._write
                self._data[self._write :] = x[:split]
                self._data[: end - cap] = x[split:]
            self._write = end % cap
        self._count += x.shape[0]

    def latest(self, n: int) -> I16:
        """The latest ``n`` samples in order, ``(n, channels)`` (a copy)."""
        if n > len(self):
            raise ValueError(f"ring holds {len(self)} samples, {n} requested")
        idx = (self._write - n + np.arange(n)) % self.capacity
        return self._data[idx]

    def clear(self) -> None:
        self._write = 0
        self._count = 0


class StreamingExtractor:
    """Push samples as they arrive; get the frames completed by them."""

    def __init__(self, plan: FeaturePlan | PreprocessingConfig) -> None:
        self.plan = plan if isinstance(plan, FeaturePlan) else compile_plan(plan)
        cfg = self.plan.config
        self.config = cfg
        self.ring = RingBuffer(cfg.buffer_size, cfg.channels)
        self._seen = 0  # samples per channel pushed since reset
        #: ``(L, channels)`` samples of the most recent frame, for comparisons (None before one).
        self.last_segment: I16 | None = None

    def reset(self) -> None:
        self.ring.clear()
        self._seen = 0
        self.last_segment = None

    def push_sample(self, raw: npt.ArrayLike) -> I16 | None:
        """The seed's ``pushSample(raw)``: one multi-channel reading in physical units."""
        frames = self.push(quantize(np.asarray(raw, dtype=np.float64).reshape(1, -1), self.config))
        return frames[0] if len(frames) else None

    def extract_window(self) -> I16:
        """The seed's ``extractWindow()``: the latest ``windowSize`` samples, in order."""
        return self.ring.latest(self.config.windowSize)

    def push(self, samples: I16) -> I16:
        """Push ``(n, channels)`` int16 samples; returns ``(frames, frame_length)``."""
        cfg = self.config
        x = np.asarray(samples, dtype=np.int16).reshape(-1, cfg.channels)
        length, hop = cfg.segment_length, cfg.hop
        # Sample counts after which a frame is due (spec §3): n ≥ L and (n − L) mod H = 0.
        first, last = self._seen + 1, self._seen + x.shape[0]
        start = length if first <= length else length + -(-(first - length) // hop) * hop
        ends = np.arange(start, last + 1, hop)
        if ends.size:
            history = min(self._seen, length - 1, len(self.ring))
            joined = np.concatenate([self.ring.latest(history), x]) if history else x
            offset = self._seen - history  # sample count before joined[0]
            idx = (ends - offset - length)[:, None] + np.arange(length)
            segments = joined[idx].transpose(0, 2, 1)  # (frames, C, L)
            frames = extract_segments(np.ascontiguousarray(segments), self.plan)
            self.last_segment = joined[idx[-1]]
        else:
            frames = np.zeros((0, cfg.frame_length), dtype=np.int16)
        self.ring.push(x)
        self._seen += x.shape[0]
        return frames
