"""Read recordings (WAV, CSV, NPY) into float64 arrays with clear, one-line errors.

A ``Recording`` holds samples in physical units (WAV PCM: integer counts; float WAV: full scale
= 1.0) shaped ``(T, channels)``. Nothing here writes; bad files raise ``InputFileError`` naming
the file and the problem.
"""

from __future__ import annotations

import csv
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.errors import InputFileError

SUPPORTED = (".wav", ".csv", ".npy")


@dataclass(frozen=True)
class Recording:
    data: npt.NDArray[np.float64]  # (T, C)
    sample_rate: float | None
    source: str
    units: str = "counts"
    channel_names: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float | None:
        return None if not self.sample_rate else self.data.shape[0] / self.sample_rate


def load_recording(path: str | Path, sample_rate: float | None = None) -> Recording:
    """Load a WAV, CSV or NPY recording; ``sample_rate`` fills in when the file has none."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputFileError(
            f"{p}: unsupported file type {suffix or '(none)'}; use WAV, CSV or NPY"
        )
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise InputFileError(f"{p}: is a folder, not a recording") from None
    except PermissionError:
        raise InputFileError(f"{p}: permission denied") from None
    if not raw:
        raise InputFileError(f"{p}: file is empty")
    if suffix == ".wav":
        rec = _read_wav(raw, str(p))
    elif suffix == ".csv":
        rec = _read_csv(raw, str(p), sample_rate)
    else:
        rec = _read_npy(raw, str(p), sample_rate)
    if rec.data.shape[0] == 0:
        raise InputFileError(f"{p}: holds no samples")
    bad = ~np.isfinite(rec.data)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputFileError(f"{p}: sample {row} of channel {col} is NaN or infinite")
    return rec


def check_sample_rate(rec: Recording, expected: float) -> None:
    """Refuse a recording whose rate differs from the feature config's by more than 1 %."""
    if rec.sample_rate is None:
        return
    if abs(rec.sample_rate - expected) > 0.01 * expected:
        raise InputFileError(
            f"{rec.source}: sample rate {rec.sample_rate:g} Hz does not match "
            f"features.sampleRate {expected:g} Hz; resample the file or change the config"
        )


def _read_wav(raw: bytes, name: str) -> Recording:
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise InputFileError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise InputFileError(f"{name}: truncated fmt chunk")
            fmt = struct.unpack_from("<HHIIHH", body)
            if fmt[0] == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in GUID
                fmt = (struct.unpack_from("<H", body, 24)[0], *fmt[1:])
        elif cid == b"data":
            data = body  # a truncated data chunk keeps the whole samples it has
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise InputFileError(f"{name}: WAV has no fmt chunk")
    if data is None:
        raise InputFileError(f"{name}: WAV has no data chunk")
    tag, channels, rate, _, _, bits = fmt
    if channels < 1 or rate < 1:
        raise InputFileError(f"{name}: WAV declares {channels} channels at {rate} Hz")
    width = bits // 8
    frame = width * channels
    if frame == 0:
        raise InputFileError(f"{name}: WAV declares {bits}-bit samples")
    usable = len(data) - len(data) % frame
    buf = data[:usable]
    if tag == 1 and bits == 16:
        x = np.frombuffer(buf, dtype="<i2").astype(np.float64)
    elif tag == 1 and bits == 8:
        x = np.frombuffer(buf, dtype=np.uint8).astype(np.float64) - 128.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) >> 8).astype(np.float64)
    elif tag == 1 and bits == 32:
        x = (np.frombuffer(buf, dtype="<i4") >> 16).astype(np.float64)
    elif tag == 3 and bits in (32, 64):
        x = np.frombuffer(buf, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
        return Recording(x.reshape(-1, channels), float(rate), name, units="full scale")
    else:
        raise InputFileError(
            f"{name}: WAV format {tag} with {bits}-bit samples is not supported; "
            "use 8/16/24/32-bit PCM or 32/64-bit float"
        )
    return Recording(x.reshape(-1, channels), float(rate), name)


def _read_csv(raw: bytes, name: str, sample_rate: float | None) -> Recording:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{name}: not UTF-8 text") from None
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    if not rows:
        raise InputFileError(f"{name}: CSV holds no rows")
    header: list[str] | None = None
    if not _is_number(rows[0][0]):
        header = [c.strip() for c in rows[0]]
        rows = rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputFileError(
                f"{name}: line {i + 1 + bool(header)} has {len(row)} columns, expected {width}"
            )
        try:
            values[i] = [float(c) for c in row]
        except ValueError:
            bad = next(c for c in row if not _is_number(c))
            raise InputFileError(
                f"{name}: line {i + 1 + bool(header)}: {bad.strip()!r} is not a number"
            ) from None
    rate = sample_rate
    names = tuple(header) if header else ()
    stamp_units = {"timestamp": 1e-3, "timestamp_ms": 1e-3, "time_ms": 1e-3, "time": 1.0, "t": 1.0}
    if header and header[0].lower() in stamp_units:
        stamps = values[:, 0]
        values = values[:, 1:]
        names = names[1:]
        if values.shape[1] == 0:
            raise InputFileError(f"{name}: CSV has a timestamp column but no signal columns")
        steps = np.diff(stamps)
        if steps.size and np.all(steps > 0):
            # Edge Impulse writes milliseconds under "timestamp"; "time" means seconds.
            rate = 1.0 / (float(np.median(steps)) * stamp_units[header[0].lower()])
        elif steps.size:
            raise InputFileError(
                f"{name}: timestamps do not increase (line {int(np.argmin(steps)) + 2})"
            )
    return Recording(values, rate, name, units="units", channel_names=names)


def _read_npy(raw: bytes, name: str, sample_rate: float | None) -> Recording:
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{name}: not a valid .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        raise InputFileError(f"{name}: .npy must hold a numeric array, found {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputFileError(
            f"{name}: .npy must be (samples,) or (samples, channels), got {arr.shape}"
        )
    units = "counts" if arr.dtype.kind in "iu" else "units"
    return Recording(arr.astype(np.float64), sample_rate, name, units=units)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def to_counts(rec: Recording, fixed_point_scale: float) -> npt.NDArray[np.int16]:
    """int16 samples for the front-end: PCM counts pass through, physical units are scaled.

    WAV PCM and integer NPY files are already counts; float WAV is full scale (±1 → ±32767);
    CSV and float NPY are physical units, multiplied by ``fixedPointScale`` (spec §2).
    """
    if rec.units == "counts":
        scale = 1.0
    elif rec.units == "full scale":
        scale = 32767.0
    else:
        scale = fixed_point_scale
    return np.clip(np.rint(rec.data * scale), -32768, 32767).astype(np.int16)


def load_for_features(
    path: str | Path, config: PreprocessingConfig, sample_rate: float | None = None
) -> npt.NDArray[np.int16]:
    """Load a recording as the int16 samples a feature config expects, or say why it does not fit.

    Checks the sample rate, the channel count and that at least one segment fits; the message
    names the file and the fix. ``sample_rate`` is the rate of a file that carries none
    (default: the config's).
    """
    p = Path(path)
    rec = load_recording(p, sample_rate=sample_rate or config.sampleRate)
    check_sample_rate(rec, config.sampleRate)
    if rec.channels != config.channels:
        raise InputFileError(
            f"{p.name}: has {rec.channels} channel(s) but features.channels is "
            f"{config.channels}; pick another recording or change the config"
        )
    samples = to_counts(rec, config.fixedPointScale)
    if samples.shape[0] < config.segment_length:
        raise InputFileError(
            f"{p.name}: {samples.shape[0]} samples is shorter than one segment "
            f"({config.segment_length} samples)"
        )
    return samples
