"""Compile a ``PreprocessingConfig`` into the integer tables both implementations use.

Tables are computed once on the host in float64 and rounded as docs/dsp.md specifies; the
device and the numpy path only ever see these integers, so they cannot disagree on a cosine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.errors import ConfigError

LOG2_TABLE = np.rint(65536.0 * np.log2(1.0 + np.arange(33) / 32.0)).astype(np.int64)
STATS_BITS = {"rms": 1, "peak": 2, "crest": 4}


@dataclass(frozen=True)
class FeaturePlan:
    """The integer form of a config (docs/dsp.md §6)."""

    config: PreprocessingConfig
    window_q15: npt.NDArray[np.int16] | None  # None = rectangular
    twiddle: npt.NDArray[np.int32]  # (N/2 + 1, 2): re, im; 1.0 = 32768
    band_start: npt.NDArray[np.uint16]
    band_len: npt.NDArray[np.uint16]
    band_weights: npt.NDArray[np.uint16]  # concatenated
    biquad_q14: npt.NDArray[np.int16]  # b0 b1 b2 a1 a2

    @property
    def stats_mask(self) -> int:
        return sum(STATS_BITS[s] for s in self.config.stats)

    @cached_property
    def band_matrix(self) -> npt.NDArray[np.float64]:
        """Dense ``(n_bins, n_bands)`` weight matrix (Q15 integers as float64)."""
        n_bins = self.config.fft_size // 2 + 1
        m = np.zeros((n_bins, len(self.band_start)), dtype=np.float64)
        offset = 0
        for b, (s, n) in enumerate(zip(self.band_start, self.band_len, strict=True)):
            m[s : s + n, b] = self.band_weights[offset : offset + n]
            offset += int(n)
        return m


def compile_plan(config: PreprocessingConfig) -> FeaturePlan:
    """Build every table the recipe needs (raises ``ConfigError`` on an unusable band layout)."""
    window = hann_window_q15(config.windowSize) if config.window == "hann" else None
    if config.n_bands:
        twiddle = twiddle_table(config.fft_size)
        weights = band_weights_float(config)
        starts, lens, flat = _trim_bands(weights, config)
    else:
        twiddle = np.zeros((0, 2), dtype=np.int32)
        starts = lens = flat = np.zeros(0, dtype=np.uint16)
    return FeaturePlan(
        config=config,
        window_q15=window,
        twiddle=twiddle,
        band_start=starts,
        band_len=lens,
        band_weights=flat,
        biquad_q14=biquad_q14(config),
    )


def hann_window_q15(size: int) -> npt.NDArray[np.int16]:
    """Periodic Hann window in Q15, clamped to 32767 (spec §4.4)."""
    n = np.arange(size, dtype=np.float64)
    w = np.rint(32768.0 * (0.5 - 0.5 * np.cos(2.0 * np.pi * n / size)))
    return np.minimum(w, 32767).astype(np.int16)


def twiddle_table(n: int) -> npt.NDArray[np.int32]:
    """``W_N^q`` for q = 0 … N/2 with 1.0 = 32768 (spec §4.6)."""
    q = np.arange(n // 2 + 1, dtype=np.float64)
    re = np.rint(32768.0 * np.cos(2.0 * np.pi * q / n))
    im = np.rint(-32768.0 * np.sin(2.0 * np.pi * q / n))
    return np.stack([re, im], axis=1).astype(np.int32)


def biquad_coefficients(config: PreprocessingConfig) -> npt.NDArray[np.float64]:
    """RBJ cookbook coefficients ``b0 b1 b2 a1 a2`` normalised by ``a0`` (float64)."""
    f = config.filter
    if f.type == "none":
        return np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    w0 = 2.0 * math.pi * f.cutoffHz / config.sampleRate
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * f.q)
    if f.type == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
    elif f.type == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    else:  # bandpass, constant 0 dB peak gain
        b = [alpha, 0.0, -alpha]
    a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    return np.array([b[0] / a0, b[1] / a0, b[2] / a0, a1 / a0, a2 / a0])


def biquad_q14(config: PreprocessingConfig) -> npt.NDArray[np.int16]:
    coeffs = biquad_coefficients(config)
    q = np.rint(coeffs * 16384.0)
    names = ("b0", "b1", "b2", "a1", "a2")
    for name, value, fl in zip(names, q, coeffs, strict=True):
        if not -32768 <= value <= 32767:
            raise ConfigError(
                f"filter: coefficient {name} = {fl:.4f} is outside [-2, 2) and cannot be held "
                "in Q14; lower filter.q or move filter.cutoffHz away from the band edges"
            )
    return q.astype(np.int16)


def hz_to_mel(f: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney mel scale (librosa ``htk=False``)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f * 3.0 / 200.0
    log = 15.0 + 27.0 * np.log(np.maximum(f, 1e-12) / 1000.0) / np.log(6.4)
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    m = np.asarray(m, dtype=np.float64)
    lin = m * 200.0 / 3.0
    log = 1000.0 * np.exp(np.log(6.4) * (m - 15.0) / 27.0)
    return np.where(m >= 15.0, log, lin)


def band_weights_float(config: PreprocessingConfig) -> npt.NDArray[np.float64]:
    """Float weights ``(n_bins, n_bands)`` in [0, 1] before Q15 rounding."""
    n = config.fft_size
    freqs = np.arange(n // 2 + 1) * config.sampleRate / n
    count, lo, hi = config.bands.count, config.bands.fMin, config.f_max
    w = np.zeros((freqs.size, count))
    if config.bands.scale == "mel":
        pts = mel_to_hz(np.linspace(hz_to_mel(lo), hz_to_mel(hi), count + 2))
        for b in range(count):
            left, centre, right = pts[b], pts[b + 1], pts[b + 2]
            up = (freqs - left) / (centre - left)
            down = (right - freqs) / (right - centre)
            w[:, b] = np.maximum(0.0, np.minimum(up, down))
    else:
        edges = np.linspace(lo, hi, count + 1)
        for b in range(count):
            inside = (freqs >= edges[b]) & (freqs < edges[b + 1])
            if b == count - 1:
                inside |= freqs == hi
            w[inside, b] = 1.0
    return w


def _trim_bands(
    weights: npt.NDArray[np.float64], config: PreprocessingConfig
) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    q = np.rint(weights * 32768.0).astype(np.int64)
    starts, lens, flat = [], [], []
    for b in range(q.shape[1]):
        nz = np.flatnonzero(q[:, b])
        if nz.size == 0:
            raise ConfigError(
                f"bands.count = {config.bands.count} leaves band {b} without FFT bins: lower "
                "bands.count, raise fftSize or raise bands.fMin"
            )
        s, e = int(nz[0]), int(nz[-1]) + 1
        starts.append(s)
        lens.append(e - s)
        flat.extend(q[s:e, b].tolist())
    return (
        np.array(starts, dtype=np.uint16),
        np.array(lens, dtype=np.uint16),
        np.array(flat, dtype=np.uint16),
    )
