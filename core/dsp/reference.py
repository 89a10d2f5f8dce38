"""A float64 implementation of the same recipe, to show what fixed point costs.

It follows docs/dsp.md step by step with real numbers instead of integers (unrounded filter
coefficients, window and band weights; ``numpy.fft``), and reports values in the same units as
the fixed-point frame (Q8 log2 for bands, Q8 for the crest factor) so the two compare directly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import segments_view
from core.dsp.plan import band_weights_float, biquad_coefficients

F64 = npt.NDArray[np.float64]


def reference_features(samples: npt.NDArray[np.int16], config: PreprocessingConfig) -> F64:
    """Float64 features ``(frames, frame_length)`` of a ``(T, C)`` int16 recording."""
    seg = segments_view(samples, config).astype(np.float64)
    frames = seg.shape[0]
    x = seg.reshape(-1, config.segment_length)
    if config.dcRemoval:
        x = x - x.mean(axis=1, keepdims=True)
    if config.filter.type != "none":
        x = _biquad(x, biquad_coefficients(config))[:, config.warmup :]
    parts = []
    if config.n_bands:
        parts.append(_spectral(x, config))
    if config.stats:
        parts.append(_stats(x, config.stats))
    out = np.concatenate(parts, axis=1)
    return out.reshape(frames, config.frame_length)


def _biquad(u: F64, c: F64) -> F64:
    b0, b1, b2, a1, a2 = c
    ut = u.T
    vt = np.empty_like(ut)
    u1 = u2 = v1 = v2 = np.zeros(ut.shape[1])
    for n in range(ut.shape[0]):
        vn = b0 * ut[n] + b1 * u1 + b2 * u2 - a1 * v1 - a2 * v2
        vt[n] = vn
        u2, u1, v2, v1 = u1, ut[n], v1, vn
    return np.ascontiguousarray(vt.T)


def _stats(y: F64, stats: tuple[str, ...]) -> F64:
    rms = np.sqrt(np.mean(y * y, axis=1))
    peak = np.abs(y).max(axis=1)
    crest = np.where(rms > 0, 256.0 * peak / np.where(rms > 0, rms, 1.0), 0.0)
    values = {"rms": rms, "peak": peak, "crest": crest}
    return np.stack([values[s] for s in stats], axis=1)


def _spectral(y: F64, config: PreprocessingConfig) -> F64:
    n, w = config.fft_size, config.windowSize
    if config.window == "hann":
        y = y * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(w) / w))
    spectrum = np.fft.rfft(y, n=n, axis=1) / n
    energy = (spectrum.real**2 + spectrum.imag**2) @ band_weights_float(config)
    if config.compression == "none":
        return energy
    # The fixed-point path adds one LSB of its normalised energy before the log; the same
    # floor in real units keeps silence comparable: 2^-(15 + 2e), e from the window's peak.
    m = np.abs(y).max(axis=1)
    e = np.where(m >= 1, np.maximum(0, 14 - np.floor(np.log2(np.maximum(m, 1)))), 0)
    return 256.0 * np.log2(energy + 2.0 ** (-(15 + 2 * e))[:, None])


def feature_snr_db(fixed: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """SNR in dB of the fixed-point features against the float reference (all values)."""
    f = np.asarray(fixed, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((f - r) ** 2))
    signal = float(np.sum(r**2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def log_band_error_db(fixed: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """Mean absolute difference of Q8 log2 band values, expressed in dB."""
    diff = np.abs(np.asarray(fixed, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    return float(np.mean(diff)) / 256.0 * 10.0 * float(np.log10(2.0))
