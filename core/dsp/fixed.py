"""The numpy implementation of docs/dsp.md, vectorised over many segments.

Every function here follows the spec's integer arithmetic step by step; the C++ extractor in
firmware/components/edge_runtime follows the same text and the parity tests compare the two
bit for bit. Work happens in chunks of segments so the intermediate arrays stay in cache.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from core.dsp.config import PreprocessingConfig
from core.dsp.plan import LOG2_TABLE, FeaturePlan, compile_plan
from core.errors import Cancelled, InputFileError

I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

CHUNK_ROWS = 256  # segments × channels per chunk: keeps arrays of N=512 int32 in L2


def quantize(raw: npt.ArrayLike, config: PreprocessingConfig, source: str = "input") -> I16:
    """``sat16(rint(raw × fixedPointScale))`` (spec §2); NaN or infinite values are refused."""
    x = np.asarray(raw, dtype=np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        where = int(np.flatnonzero(bad.reshape(-1))[0])
        row = where // x.shape[-1] if x.ndim > 1 else where
        raise InputFileError(
            f"{source}: sample {row} is NaN or infinite; clean the recording first"
        )
    q = np.rint(x * config.fixedPointScale)
    return np.clip(q, -32768, 32767).astype(np.int16)


def frame_count(n_samples: int, config: PreprocessingConfig) -> int:
    """How many frames a recording of ``n_samples`` per channel yields (spec §3)."""
    length = config.segment_length
    return 0 if n_samples < length else (n_samples - length) // config.hop + 1


def segments_view(samples: I16, config: PreprocessingConfig) -> I16:
    """A zero-copy ``(frames, channels, L)`` view of the segments of a ``(T, C)`` recording."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] != config.channels:
        raise InputFileError(
            f"recording has {x.shape[1]} channel(s) but the feature config expects "
            f"{config.channels}; set features.channels = {x.shape[1]}"
        )
    n = frame_count(x.shape[0], config)
    if n == 0:
        return np.zeros((0, config.channels, config.segment_length), dtype=np.int16)
    win = sliding_window_view(x, config.segment_length, axis=0)  # (T-L+1, C, L)
    return win[:: config.hop][:n]


def extract_features(
    samples: I16,
    plan: FeaturePlan | PreprocessingConfig,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> I16:
    """Feature frames ``(frames, frame_length)`` int16 for a ``(T, C)`` int16 recording."""
    if isinstance(plan, PreprocessingConfig):
        plan = compile_plan(plan)
    return extract_segments(segments_view(samples, plan.config), plan, progress, cancel)


def extract_segments(
    segments: I16,
    plan: FeaturePlan,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> I16:
    """Features of ``(frames, channels, L)`` int16 segments → ``(frames, frame_length)``."""
    cfg = plan.config
    frames = segments.shape[0]
    per_ch = cfg.features_per_channel
    out = np.empty((frames, cfg.channels, per_ch), dtype=np.int16)
    step = max(1, CHUNK_ROWS // cfg.channels)
    for start in range(0, frames, step):
        if cancel is not None and cancel():
            raise Cancelled("feature extraction cancelled")
        chunk = segments[start : start + step]
        rows = chunk.reshape(-1, cfg.segment_length).astype(np.int32)
        out[start : start + step] = _rows(rows, plan).reshape(chunk.shape[0], cfg.channels, per_ch)
        if progress is not None:
            progress(min(1.0, (start + step) / frames))
    return out.reshape(frames, cfg.channels * per_ch)


def _rows(x: I32, plan: FeaturePlan) -> I16:
    """One segment per row (any channel): the per-channel pipeline of spec §4."""
    cfg = plan.config
    length = x.shape[1]
    if cfg.dcRemoval:
        total = x.sum(axis=1, dtype=np.int64)
        half = length // 2
        dc = np.where(total >= 0, (total + half) // length, -((-total + half) // length))
        x = np.clip(x - dc[:, None], -32768, 32767).astype(np.int32)
    y = _biquad(x, plan.biquad_q14)[:, cfg.warmup :] if cfg.filter.type != "none" else x
    parts: list[npt.NDArray[np.int64]] = []
    if cfg.n_bands:
        parts.append(_spectral(y, plan))
    if cfg.stats:
        parts.append(_stats(y, cfg.stats))
    return np.clip(np.concatenate(parts, axis=1), -32768, 32767).astype(np.int16)


def _biquad(u: I32, q14: I16) -> I32:
    """Direct form I, int64 accumulator, zero state per segment (spec §4.2)."""
    b0, b1, b2, a1, a2 = (int(c) for c in q14)
    ut = np.ascontiguousarray(u.T, dtype=np.int64)  # (L, rows): each step reads one row
    vt = np.empty_like(ut)
    zero = np.zeros(ut.shape[1], dtype=np.int64)
    u1 = u2 = v1 = v2 = zero
    for n in range(ut.shape[0]):
        un = ut[n]
        acc = b0 * un + b1 * u1 + b2 * u2 - a1 * v1 - a2 * v2
        vn = np.clip((acc + 8192) >> 14, -32768, 32767)
        vt[n] = vn
        u2, u1, v2, v1 = u1, un, v1, vn
    return np.ascontiguousarray(vt.T).astype(np.int32)


def isqrt(v: I64) -> I64:
    """Exact floor square root of non-negative int64 values below 2^52."""
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r -= (r * r > v).astype(np.int64)
    r += ((r + 1) * (r + 1) <= v).astype(np.int64)
    return r


def _stats(y: I32, stats: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """RMS, peak and crest factor (Q8) of the time-domain window (spec §4.3)."""
    y64 = y.astype(np.int64)
    r = isqrt(np.einsum("ij,ij->i", y64, y64) // y.shape[1])
    p = np.abs(y64).max(axis=1)
    crest = np.where(r > 0, (p << 8) // np.maximum(r, 1), 0)
    values = {"rms": np.minimum(r, 32767), "peak": np.minimum(p, 32767), "crest": crest}
    return np.stack([values[s] for s in stats], axis=1)


def _spectral(y: I32, plan: FeaturePlan) -> npt.NDArray[np.int64]:
    cfg = plan.config
    n = cfg.fft_size
    rows, width = y.shape
    z = np.zeros((rows, n), dtype=np.int32)
    if plan.window_q15 is not None:
        z[:, :width] = (y * plan.window_q15.astype(np.int32) + 16384) >> 15
    else:
        z[:, :width] = y
    # Block normalisation (§4.5): frexp gives m = mant·2^ex with mant in [0.5, 1).
    m = np.abs(z).max(axis=1)
    _, ex = np.frexp(m.astype(np.float64))
    e = np.where(m > 0, np.maximum(0, 15 - ex), 0).astype(np.int32)
    z <<= e[:, None]
    re, im = rfft_q15(z, plan.twiddle)
    power = re * re + im * im  # int64, ≤ 2^31
    energy = band_energies(power, plan)
    e64 = e.astype(np.int64)[:, None]
    if cfg.compression == "log2":
        return log2_q8(energy + 1) - 256 * (2 * e64 + 15)
    return energy >> (15 + 2 * e64)


_BITREV: dict[int, npt.NDArray[np.intp]] = {}


def _bit_reverse(m: int) -> npt.NDArray[np.intp]:
    if m not in _BITREV:
        bits = m.bit_length() - 1
        idx = np.arange(m)
        rev = np.zeros(m, dtype=np.intp)
        for b in range(bits):
            rev |= ((idx >> b) & 1) << (bits - 1 - b)
        _BITREV[m] = rev
    return _BITREV[m]


def rfft_q15(z: I32, twiddle: I32) -> tuple[I64, I64]:
    """Fixed-point real FFT of ``(rows, N)`` int16-range values (spec §4.6) → ``X ≈ DFT/N``."""
    rows, n = z.shape
    half = n // 2
    rev = _bit_reverse(half)
    re = np.ascontiguousarray(z[:, 0::2][:, rev])
    im = np.ascontiguousarray(z[:, 1::2][:, rev])
    tw_re, tw_im = twiddle[:, 0], twiddle[:, 1]
    h = 1
    while h < half:
        r4 = re.reshape(rows, half // (2 * h), 2, h)
        i4 = im.reshape(rows, half // (2 * h), 2, h)
        ar, ai, br, bi = r4[:, :, 0, :], i4[:, :, 0, :], r4[:, :, 1, :], i4[:, :, 1, :]
        if h == 1:  # W^0 = 1 exactly
            tr, ti = br, bi
        elif h == 2:  # W^0 = 1, W^(N/4) = -j exactly
            tr = np.stack([br[..., 0], bi[..., 1]], axis=-1)
            ti = np.stack([bi[..., 0], -br[..., 1]], axis=-1)
        else:
            q = np.arange(h) * (n // (2 * h))
            wr, wi = tw_re[q], tw_im[q]
            tr = br * wr
            tr -= bi * wi
            tr += 1 << 14
            tr >>= 15
            ti = br * wi
            ti += bi * wr
            ti += 1 << 14
            ti >>= 15
        nr = np.empty_like(r4)
        ni = np.empty_like(i4)
        np.add(ar, tr, out=nr[:, :, 0, :])
        np.subtract(ar, tr, out=nr[:, :, 1, :])
        np.add(ai, ti, out=ni[:, :, 0, :])
        np.subtract(ai, ti, out=ni[:, :, 1, :])
        nr >>= 1
        ni >>= 1
        np.clip(nr, -32768, 32767, out=nr)
        np.clip(ni, -32768, 32767, out=ni)
        re, im = nr.reshape(rows, half), ni.reshape(rows, half)
        h *= 2
    # Split step: N-point real spectrum from the N/2-point complex one.
    k = np.arange(half + 1)
    a_idx, b_idx = k % half, (half - k) % half
    zr, zi = re.astype(np.int64), im.astype(np.int64)
    sa_r, sa_i = zr[:, a_idx], zi[:, a_idx]
    sb_r, sb_i = zr[:, b_idx], -zi[:, b_idx]
    er, ei, dr, di = sa_r + sb_r, sa_i + sb_i, sa_r - sb_r, sa_i - sb_i
    wr, wi = tw_re.astype(np.int64), tw_im.astype(np.int64)
    tr = (dr * wr - di * wi + (1 << 14)) >> 15
    ti = (dr * wi + di * wr + (1 << 14)) >> 15
    xr = np.clip((er + ti) >> 2, -32768, 32767)
    xi = np.clip((ei - tr) >> 2, -32768, 32767)
    return xr, xi


def band_energies(power: I64, plan: FeaturePlan) -> I64:
    """``E_b = Σ w·Pw`` exactly (spec §4.7).

    The power is split into 16-bit halves so each float64 matrix product stays below 2^53 and
    BLAS computes the integer sums exactly, whatever order it adds them in.
    """
    matrix = plan.band_matrix
    hi = (power >> 16).astype(np.float64) @ matrix
    lo = (power & 0xFFFF).astype(np.float64) @ matrix
    return (hi.astype(np.int64) << 16) + lo.astype(np.int64)


def log2_q8(x: I64) -> I64:
    """``L(x)``: Q8 log2 of integers ≥ 1 by a 33-entry table and interpolation (spec §4.8)."""
    x = np.asarray(x, dtype=np.int64)
    _, ex = np.frexp(x.astype(np.float64))
    n = ex.astype(np.int64) - 1
    n -= ((x >> n) == 0).astype(np.int64)  # float rounding may overshoot a power of two
    m = (x >> np.maximum(n - 30, 0)) << np.maximum(30 - n, 0)
    f = m - (1 << 30)
    i = f >> 25
    r = f & ((1 << 25) - 1)
    t0 = LOG2_TABLE[i]
    v = t0 + (((LOG2_TABLE[i + 1] - t0) * r) >> 25)
    return np.asarray((n * 65536 + v + 128) >> 8, dtype=np.int64)
