"""Import and export: CSV (Edge Impulse timestamp-first, and plain), WAV, Edge Impulse
data-acquisition JSON and CBOR (HS256), NanoEdge one-signal-per-line CSV.

Payloads are int16 counts; files in physical units are converted with ``fixedPointScale``
(counts = round(value × scale)), and values that do not fit int16 at that scale are refused
rather than clipped. Every import of a file runs in one catalog transaction: a malformed file
raises ``InputFileError`` naming the file and the problem, and leaves neither rows nor payloads.
Exports never carry wall-clock time: Edge Impulse files have no ``iat`` and no ``device_name``;
CSV timestamps count milliseconds from the first sample.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import struct
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
import numpy.typing as npt

from core.atomic import atomic_open, atomic_write_text
from core.dataset.store import Dataset, DatasetError
from core.errors import InputFileError
from core.recording import load_recording

FORMATS = ("csv", "ei-csv", "wav", "ei-json", "ei-cbor", "nanoedge")
DEFAULT_SCALE = 8000.0
ZERO_SIGNATURE = "0" * 64
_HEX64 = re.compile(rb"[0-9a-fA-F]{64}")


def guess_format(path: Path, fmt: str | None = None) -> str:
    """The format named, or the one a file name implies (``.csv`` → ``csv``)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputFileError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return fmt
    by_suffix = {".csv": "csv", ".wav": "wav", ".json": "ei-json", ".cbor": "ei-cbor"}
    suffix = path.suffix.lower()
    if suffix not in by_suffix:
        raise InputFileError(
            f"{path}: cannot tell the format from {suffix or 'no suffix'}; "
            f"name one of {', '.join(FORMATS)}"
        )
    return by_suffix[suffix]


def workspace_scale(root: Path) -> float:
    """``features.fixedPointScale`` of the workspace (8000 when it has none)."""
    try:
        raw = tomllib.loads((root / "fieldbench.toml").read_text(encoding="utf-8"))
        value = raw.get("features", {}).get("fixedPointScale", DEFAULT_SCALE)
        return float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_SCALE
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return DEFAULT_SCALE


# -- import ---------------------------------------------------------------------------------


def import_file(
    ds: Dataset,
    path: str | Path,
    *,
    fmt: str | None = None,
    label: str | None = None,
    tags: Mapping[str, str] | None = None,
    session: int | None = None,
    sample_rate: float | None = None,
    channel_names: Sequence[str] | None = None,
    units: str | None = None,
    fixed_point_scale: float | None = None,
    hmac_key: bytes | None = None,
    channels: int = 1,
    device_id: str | None = None,
) -> list[int]:
    """Import one file as one recording (NanoEdge: one per line); returns the new ids.

    ``sample_rate`` is needed for files that carry none (plain CSV, NanoEdge); ``channels`` is
    the axis count of a NanoEdge file. ``hmac_key`` checks an Edge Impulse HS256 signature.
    """
    p = Path(path)
    kind = guess_format(p, fmt)
    scale = fixed_point_scale or workspace_scale(ds.root)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read ({exc.strerror})") from None
    if not raw:
        raise InputFileError(f"{p}: file is empty")
    signals: list[tuple[npt.NDArray[np.int16], float, tuple[str, ...], str]] = []
    if kind in ("csv", "ei-csv", "wav"):
        signals.append(_read_table(p, kind, sample_rate, scale, units))
    elif kind in ("ei-json", "ei-cbor"):
        signals.append(_read_ei(p, raw, kind, scale, hmac_key))
    else:
        signals += _read_nanoedge(p, raw, channels, sample_rate, scale, units)
    src = f"import:{kind}"
    ids: list[int] = []
    with ds.transaction():
        sess = session or ds.new_session()
        for counts, rate, names, unit in signals:
            ids.append(
                ds.add_recording(
                    counts,
                    label=label,
                    tags=tags or {},
                    sample_rate=rate,
                    channel_names=tuple(channel_names) if channel_names else names,
                    units=units or unit,
                    fixed_point_scale=scale,
                    session=sess,
                    device_id=device_id,
                    source=src,
                )
            )
    return ids


def _to_counts(values: npt.NDArray[np.float64], scale: float, name: str) -> npt.NDArray[np.int16]:
    if not np.all(np.isfinite(values)):
        row = int(np.argwhere(~np.isfinite(values))[0][0])
        raise InputFileError(f"{name}: sample {row} is NaN or infinite")
    counts = np.rint(values * scale)
    worst = float(np.abs(counts).max()) if counts.size else 0.0
    if worst > 32767:
        raise InputFileError(
            f"{name}: value {worst / scale:g} does not fit int16 at fixedPointScale {scale:g}; "
            f"import with a smaller scale (≤ {32767 / (worst / scale):.4g})"
        )
    return counts.astype(np.int16)


def _snap_rate(rate: float) -> float:
    """Rates measured from rounded timestamps: snap to the integer they came from."""
    near = round(rate)
    return float(near) if near and abs(rate - near) < 1e-5 * rate else rate


def _read_table(
    p: Path, kind: str, sample_rate: float | None, scale: float, units: str | None
) -> tuple[npt.NDArray[np.int16], float, tuple[str, ...], str]:
    rec = load_recording(p, sample_rate=sample_rate)
    rate = rec.sample_rate
    if rate is None:
        raise InputFileError(
            f"{p}: the file carries no sample rate; give it (--rate) or add a timestamp column"
        )
    if kind == "ei-csv" and sample_rate is None and not rec.channel_names:
        raise InputFileError(f"{p}: an Edge Impulse CSV starts with a 'timestamp' header column")
    names = rec.channel_names or tuple(f"ch{i}" for i in range(rec.channels))
    if rec.units == "counts":  # PCM WAV: already int16 counts
        counts = np.clip(rec.data, -32768, 32767).astype(np.int16)
    elif rec.units == "full scale":
        counts = _to_counts(rec.data, 32767.0, str(p))
    else:
        counts = _to_counts(rec.data, scale, str(p))
    return counts, _snap_rate(float(rate)), tuple(names), units or "units"


def _read_ei(
    p: Path, raw: bytes, kind: str, scale: float, key: bytes | None
) -> tuple[npt.NDArray[np.int16], float, tuple[str, ...], str]:
    try:
        doc = json.loads(raw.decode("utf-8")) if kind == "ei-json" else cbor2.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{p}: not valid JSON ({exc})") from None
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise InputFileError(f"{p}: not valid CBOR ({exc})") from None
    if not isinstance(doc, dict) or not {"protected", "signature", "payload"} <= set(doc):
        raise InputFileError(
            f"{p}: not an Edge Impulse acquisition file (needs protected, signature, payload)"
        )
    prot, sig, payload = doc["protected"], doc["signature"], doc["payload"]
    if not isinstance(prot, dict) or prot.get("ver") != "v1":
        raise InputFileError(f"{p}: protected.ver must be 'v1'")
    alg = prot.get("alg")
    if alg not in ("HS256", "none"):
        raise InputFileError(f"{p}: protected.alg {alg!r} is not supported (HS256 or none)")
    if key is not None:
        if alg != "HS256":
            raise InputFileError(f"{p}: not signed (alg 'none') but a key was given to check it")
        if not isinstance(sig, str) or not _HEX64.fullmatch(sig.encode()):
            raise InputFileError(f"{p}: signature is not a 64-character hex HMAC")
        if not hmac.compare_digest(_signature(raw, sig, key), sig.lower()):
            raise InputFileError(f"{p}: HS256 signature does not match; wrong key or altered file")
    if not isinstance(payload, dict):
        raise InputFileError(f"{p}: payload must be a map")
    interval = payload.get("interval_ms")
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
        raise InputFileError(f"{p}: payload.interval_ms must be a positive number")
    sensors = payload.get("sensors")
    if not isinstance(sensors, list) or not sensors:
        raise InputFileError(f"{p}: payload.sensors must list at least one sensor")
    if not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in sensors):
        raise InputFileError(f"{p}: every sensor needs a name")
    values = payload.get("values")
    if not isinstance(values, list) or not values:
        raise InputFileError(f"{p}: payload.values holds no samples")
    if any(isinstance(v, str) for v in values):
        raise InputFileError(f"{p}: binary attachments (Ref-Binary-*) are not supported yet")
    width = len(sensors)
    rows = [v if isinstance(v, list) else [v] for v in values]
    for i, r in enumerate(rows):
        if len(r) != width:
            raise InputFileError(f"{p}: values[{i}] has {len(r)} values, expected {width}")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in r):
            raise InputFileError(f"{p}: values[{i}] holds a value that is not a number")
    data = np.asarray(rows, dtype=np.float64)
    units = {str(s.get("units", "")) for s in sensors}
    unit = units.pop() if len(units) == 1 else "mixed"
    names = tuple(str(s["name"]) for s in sensors)
    return _to_counts(data, scale, str(p)), _snap_rate(1000.0 / interval), names, unit or "units"


def _signature(raw: bytes, sig: str, key: bytes) -> str:
    """HMAC-SHA256 of the file with its signature replaced by 64 zeros (same length)."""
    blanked = raw.replace(sig.encode("ascii"), ZERO_SIGNATURE.encode("ascii"), 1)
    return hmac.new(key, blanked, hashlib.sha256).hexdigest()


def _read_nanoedge(
    p: Path,
    raw: bytes,
    channels: int,
    sample_rate: float | None,
    scale: float,
    units: str | None,
) -> list[tuple[npt.NDArray[np.int16], float, tuple[str, ...], str]]:
    if sample_rate is None or sample_rate <= 0:
        raise InputFileError(f"{p}: NanoEdge files carry no sample rate; give it (--rate)")
    if channels < 1:
        raise InputFileError(f"{p}: channels must be ≥ 1")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{p}: not UTF-8 text") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    delimiter = ";" if lines and ";" in lines[0] else "\t" if lines and "\t" in lines[0] else ","
    out = []
    width: int | None = None
    names = tuple(f"ch{i}" for i in range(channels))
    for n, line in enumerate(lines, 1):
        cells = [c for c in re.split(rf"[{re.escape(delimiter)}\s]+", line) if c]
        try:
            values = np.array([float(c) for c in cells], dtype=np.float64)
        except ValueError:
            if n == 1:
                continue  # a header row
            raise InputFileError(f"{p}: line {n} holds a value that is not a number") from None
        if width is None:
            width = values.size
        if values.size != width:
            raise InputFileError(f"{p}: line {n} has {values.size} values, expected {width}")
        if values.size % channels:
            raise InputFileError(
                f"{p}: line {n} has {values.size} values, not a multiple of {channels} channels"
            )
        counts = _to_counts(values.reshape(-1, channels), scale, f"{p} line {n}")
        out.append((counts, float(sample_rate), names, units or "units"))
    if not out:
        raise InputFileError(f"{p}: holds no signal lines")
    return out


# -- export ---------------------------------------------------------------------------------


def export_recording(
    ds: Dataset,
    recording_id: int,
    path: str | Path,
    *,
    fmt: str | None = None,
    hmac_key: bytes | None = None,
    window: int = 128,
) -> Path:
    """Write one recording in ``fmt`` (default: from the suffix); returns the path written.

    ``window`` is the samples per line of a NanoEdge file (the tail that does not fill a line
    is left out). ``hmac_key`` signs Edge Impulse files with HS256 (unsigned: alg ``none``).
    """
    p = Path(path)
    kind = guess_format(p, fmt)
    info = ds.get(recording_id)
    counts = np.asarray(ds.load(recording_id))
    values = counts.astype(np.float64) / info.fixed_point_scale
    try:
        if kind in ("csv", "ei-csv"):
            atomic_write_text(p, _csv_text(values, info.channel_names, info.sample_rate, kind))
        elif kind == "wav":
            with atomic_open(p, "wb") as handle:
                handle.write(_wav_bytes(counts, info.sample_rate))
        elif kind in ("ei-json", "ei-cbor"):
            alg = "none" if hmac_key is None else "HS256"
            doc = _ei_document(values, info.channel_names, info.units, info.sample_rate, alg)
            data = json.dumps(doc).encode() if kind == "ei-json" else cbor2.dumps(doc)
            if hmac_key is not None:
                data = _sign(data, hmac_key)
            with atomic_open(p, "wb") as handle:
                handle.write(data)
        else:
            if window < 1:
                raise DatasetError("window must be ≥ 1 sample")
            atomic_write_text(p, _nanoedge_text(values, window))
    except OSError as exc:
        raise InputFileError(f"{p}: cannot write ({exc.strerror})") from None
    return p


def _fmt(x: float) -> str:
    return f"{x:.9g}"


def _csv_text(values: npt.NDArray[np.float64], names: Sequence[str], rate: float, kind: str) -> str:
    buf = io.StringIO()
    if kind == "ei-csv":
        buf.write(",".join(["timestamp", *names]) + "\n")
        for i, row in enumerate(values):
            buf.write(f"{i * 1000.0 / rate:.6f}," + ",".join(_fmt(v) for v in row) + "\n")
    else:
        buf.write(",".join(names) + "\n")
        for row in values:
            buf.write(",".join(_fmt(v) for v in row) + "\n")
    return buf.getvalue()


def _wav_bytes(counts: npt.NDArray[np.int16], rate: float) -> bytes:
    if abs(rate - round(rate)) > 1e-6 * rate:
        raise DatasetError(f"WAV needs an integer sample rate; this recording has {rate:g} Hz")
    ch = int(counts.shape[1])
    pcm = np.ascontiguousarray(counts, dtype="<i2").tobytes()
    r = round(rate)
    head = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = struct.pack("<IHHIIHH", 16, 1, ch, r, r * 2 * ch, 2 * ch, 16)
    return head + b"fmt " + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def _ei_document(
    values: npt.NDArray[np.float64], names: Sequence[str], units: str, rate: float, alg: str
) -> dict[str, Any]:
    return {
        "protected": {"ver": "v1", "alg": alg},
        "signature": ZERO_SIGNATURE,
        "payload": {
            "device_type": "FIELDBENCH",
            "interval_ms": 1000.0 / rate,
            "sensors": [{"name": n, "units": units} for n in names],
            "values": values.tolist(),
        },
    }


def _sign(data: bytes, key: bytes) -> bytes:
    """HMAC-SHA256 of the file serialised with a zero signature; the digest replaces it."""
    digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    return data.replace(ZERO_SIGNATURE.encode("ascii"), digest.encode("ascii"), 1)


def _nanoedge_text(values: npt.NDArray[np.float64], window: int) -> str:
    lines = []
    for start in range(0, values.shape[0] - window + 1, window):
        flat = values[start : start + window].reshape(-1)  # interleaved x1,y1,z1,x2,...
        lines.append(",".join(_fmt(v) for v in flat))
    if not lines:
        raise DatasetError(f"the recording is shorter than one NanoEdge line ({window} samples)")
    return "\n".join(lines) + "\n"
