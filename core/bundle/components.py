"""The device components of a bundle: thresholds (FBTH), calibration + front-end plan (FBCA) and
self-test vectors (FBSV), exactly as the node's health check reads them.

Layouts (little-endian; ``firmware/components/node/include/node/health_check.h`` is the source
of truth, docs/bundle-format.md "Device components"):

* ``thresholds``: ``FBTH``, u16 version 1, u16 size 16, f32 threshold (finite), u32 flags 0.
* ``calibration``: ``FBCA``, u16 version 1, u16 header 48, i16 default calibration offset, u16 0,
  the ``fb_fe_plan`` fields, then its tables (twiddle, window, band start/len, band weights).
* ``selftest``: ``FBSV``, u16 version 1, u16 header 16, u16 count, u8 kind (0 feature windows,
  1 raw interleaved recordings), u8 0, u32 values per vector; per vector i8 expected decision,
  3 zero bytes, f32 expected score, int16 values.

Expectations come from the bit-exact Python reference: ``core.dsp`` fixed-point features (the
batch path, which emits exactly the frames the device's streaming front end emits) and the
``core.model.executor`` INT8 executor on the blob's integer model, with the calibration's default
offset and the thresholds' threshold. ``check_components`` replays a bundle's vectors the way
the device's health check does (minus liveness) and names the failure with the device's names.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import extract_segments, segments_view
from core.dsp.plan import STATS_BITS, FeaturePlan, compile_plan
from core.errors import Cancelled, FieldbenchError

THRESHOLDS_MAGIC = b"FBTH"
CALIBRATION_MAGIC = b"FBCA"
SELFTEST_MAGIC = b"FBSV"
THRESHOLDS_SIZE = 16
CALIBRATION_HEADER = 48
SELFTEST_HEADER = 16
RECORD_HEADER = 8
MAX_VECTORS = 1024
KIND_FEATURES = 0
KIND_RECORDINGS = 1

I16 = npt.NDArray[np.int16]

__all__ = [
    "Calibration",
    "ComponentError",
    "HealthResult",
    "SelfTest",
    "SelfTestVector",
    "Thresholds",
    "calibration_from_source",
    "check_components",
    "make_selftest",
    "recording_frames",
    "reference_decisions",
    "selftest_recordings",
    "thresholds_from_json",
]


class ComponentError(FieldbenchError):
    """A device component is malformed or cannot be produced."""


def _f32_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


# ------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """The RECON_MSE decision threshold (float32; ignored by ARGMAX models)."""

    threshold: float

    def to_bytes(self) -> bytes:
        t = np.float32(self.threshold)
        if not math.isfinite(float(t)):
            raise ComponentError(f"threshold {self.threshold!r} is not a finite float32")
        return THRESHOLDS_MAGIC + struct.pack("<HHfI", 1, THRESHOLDS_SIZE, t, 0)

    @classmethod
    def from_bytes(cls, data: bytes) -> Thresholds:
        if len(data) != THRESHOLDS_SIZE or data[:4] != THRESHOLDS_MAGIC:
            raise ComponentError("thresholds: not an FBTH component of 16 bytes")
        version, size, t, flags = struct.unpack("<HHfI", data[4:16])
        if version != 1 or size != THRESHOLDS_SIZE or flags != 0 or not math.isfinite(t):
            raise ComponentError(
                "thresholds: unsupported version, size, flags or a non-finite value"
            )
        return cls(float(np.float32(t)))


def thresholds_from_json(path: str | Path, profile: str | None = None) -> Thresholds:
    """The default threshold of ``profile`` in a ``thresh-vN.json`` (core.train.thresholds).

    Band thresholds are not carried (FBTH holds one value); with no ``profile`` the file must
    hold exactly one profile.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ComponentError(f"{p}: not a readable threshold component ({exc})") from None
    if not isinstance(data, dict) or data.get("component") != "thresholds":
        raise ComponentError(f"{p}: not a Fieldbench threshold component (thresh-vN.json)")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict) or not profiles:
        raise ComponentError(f"{p}: holds no profile thresholds; calibrate them in Train first")
    if profile is None:
        if len(profiles) != 1:
            raise ComponentError(f"{p}: holds {', '.join(profiles)}; name the profile")
        entry = next(iter(profiles.values()))
    elif profile in profiles:
        entry = profiles[profile]
    else:
        raise ComponentError(
            f"{p}: has no threshold for profile {profile!r} (it has {', '.join(profiles)}); "
            "calibrate thresholds for this profile in Train"
        )
    t = entry.get("threshold") if isinstance(entry, dict) else None
    if not isinstance(t, (int, float)) or not math.isfinite(float(t)):
        raise ComponentError(f"{p}: the threshold of profile {profile!r} is not a number")
    return Thresholds(float(np.float32(t)))


# ------------------------------------------------------------------------------ calibration

_PLAN = struct.Struct("<6H4B5hHIHH")  # bytes 12..47 of the FBCA header


@dataclass(frozen=True)
class Calibration:
    """The default calibration offset and the front end's integer plan (``fb_fe_plan``)."""

    default_offset: int
    channels: int
    window_size: int
    hop_length: int
    fft_size: int
    warmup: int
    buffer_size: int
    dc_removal: int
    filter_enabled: int
    compression: int
    stats_mask: int
    biquad_q14: tuple[int, ...]
    twiddle: npt.NDArray[np.int32]  # (fft_size/2 + 1, 2), empty without bands
    window_q15: npt.NDArray[np.int16] | None
    band_start: npt.NDArray[np.uint16]
    band_len: npt.NDArray[np.uint16]
    band_weights: npt.NDArray[np.uint16]

    @classmethod
    def from_plan(
        cls, plan: FeaturePlan | PreprocessingConfig, default_offset: int = 0
    ) -> Calibration:
        if isinstance(plan, PreprocessingConfig):
            plan = compile_plan(plan)
        if not -32768 <= int(default_offset) <= 32767:
            raise ComponentError(f"calibration offset {default_offset} is outside int16")
        cfg = plan.config
        return cls(
            default_offset=int(default_offset),
            channels=cfg.channels,
            window_size=cfg.windowSize,
            hop_length=cfg.hop,
            fft_size=cfg.fft_size if cfg.n_bands else 0,
            warmup=cfg.warmup,
            buffer_size=cfg.buffer_size,
            dc_removal=int(cfg.dcRemoval),
            filter_enabled=int(cfg.filter.type != "none"),
            compression=1 if cfg.compression == "log2" else 0,
            stats_mask=plan.stats_mask,
            biquad_q14=tuple(int(v) for v in plan.biquad_q14),
            twiddle=np.asarray(plan.twiddle, dtype=np.int32).reshape(-1, 2),
            window_q15=None if plan.window_q15 is None else np.asarray(plan.window_q15, np.int16),
            band_start=np.asarray(plan.band_start, dtype=np.uint16),
            band_len=np.asarray(plan.band_len, dtype=np.uint16),
            band_weights=np.asarray(plan.band_weights, dtype=np.uint16),
        )

    @property
    def n_bands(self) -> int:
        return int(self.band_start.size)

    def to_bytes(self) -> bytes:
        head = CALIBRATION_MAGIC + struct.pack(
            "<HHhH", 1, CALIBRATION_HEADER, self.default_offset, 0
        )
        head += _PLAN.pack(
            self.channels,
            self.window_size,
            self.hop_length,
            self.fft_size,
            self.warmup,
            self.buffer_size,
            self.dc_removal,
            self.filter_enabled,
            self.compression,
            self.stats_mask,
            *self.biquad_q14,
            self.n_bands,
            int(self.band_weights.size),
            1 if self.window_q15 is not None else 0,
            0,
        )
        parts = [head]
        if self.n_bands:
            parts.append(self.twiddle.astype("<i4").tobytes())
        if self.window_q15 is not None:
            parts.append(self.window_q15.astype("<i2").tobytes())
        parts += [
            self.band_start.astype("<u2").tobytes(),
            self.band_len.astype("<u2").tobytes(),
            self.band_weights.astype("<u2").tobytes(),
        ]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Calibration:
        """Parses with the device's checks (LoadCalibration): sizes must add up exactly."""
        if len(data) < CALIBRATION_HEADER or data[:4] != CALIBRATION_MAGIC:
            raise ComponentError("calibration: not an FBCA component")
        version, header, offset, pad = struct.unpack("<HHhH", data[4:12])
        f = _PLAN.unpack(data[12:CALIBRATION_HEADER])
        ch, win, hop, fft, warm, buf, dc, filt, comp, stats = f[:10]
        biquad, n_bands, n_weights, flags, pad2 = f[10:15], f[15], f[16], f[17], f[18]
        if version != 1 or header != CALIBRATION_HEADER or pad or pad2 or flags & ~1:
            raise ComponentError("calibration: unsupported version, header size or flags")
        has_window = bool(flags & 1)
        tw = (fft // 2 + 1) * 2 * 4 if n_bands else 0
        wn = win * 2 if has_window else 0
        if CALIBRATION_HEADER + tw + wn + 4 * n_bands + 2 * n_weights != len(data):
            raise ComponentError("calibration: the plan's tables do not add up to its size")
        at = CALIBRATION_HEADER

        def take(nbytes: int, dtype: str) -> npt.NDArray[Any]:
            nonlocal at
            out = np.frombuffer(
                data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=at
            ).copy()
            at += nbytes
            return out

        twiddle = take(tw, "<i4").astype(np.int32).reshape(-1, 2)
        window = take(wn, "<i2").astype(np.int16) if has_window else None
        starts = take(2 * n_bands, "<u2").astype(np.uint16)
        lens = take(2 * n_bands, "<u2").astype(np.uint16)
        weights = take(2 * n_weights, "<u2").astype(np.uint16)
        return cls(
            offset,
            ch,
            win,
            hop,
            fft,
            warm,
            buf,
            dc,
            filt,
            comp,
            stats,
            tuple(biquad),
            twiddle,
            window,
            starts,
            lens,
            weights,
        )

    def matches(self, plan: FeaturePlan | PreprocessingConfig) -> bool:
        """True when this component encodes exactly ``plan`` (any default offset)."""
        mine = Calibration.from_plan(plan, self.default_offset)
        return mine.to_bytes() == self.to_bytes()

    def feature_plan(self) -> FeaturePlan:
        """A ``FeaturePlan`` running this component's tables in the numpy reference.

        The integer pipeline needs no sample rate, cutoff or band edges (they only made the
        tables), so the config is a stand-in carrying the structural fields.
        """
        stats = tuple(s for s, bit in STATS_BITS.items() if self.stats_mask & bit)
        cfg = PreprocessingConfig(
            sampleRate=1.0e6,
            windowSize=self.window_size,
            hopLength=self.hop_length,
            channels=self.channels,
            bufferSize=self.buffer_size,
            dcRemoval=bool(self.dc_removal),
            window="hann" if self.window_q15 is not None else "rectangular",
            fftSize=self.fft_size if self.n_bands else None,
            filter=_stand_in_filter(self),
            bands=_stand_in_bands(self),
            compression="log2" if self.compression else "none",
            stats=stats,
        )
        return FeaturePlan(
            config=cfg,
            window_q15=self.window_q15,
            twiddle=self.twiddle,
            band_start=self.band_start,
            band_len=self.band_len,
            band_weights=self.band_weights,
            biquad_q14=np.asarray(self.biquad_q14, dtype=np.int16),
        )


def _stand_in_filter(c: Calibration) -> Any:
    from core.dsp.config import FilterConfig

    if not c.filter_enabled:
        return FilterConfig()
    return FilterConfig("highpass", 1000.0, 0.7071, c.warmup)


def _stand_in_bands(c: Calibration) -> Any:
    from core.dsp.config import BandsConfig

    if not c.n_bands:
        return BandsConfig("none", 0)
    return BandsConfig("linear", c.n_bands, 0.0, 5.0e5)


def calibration_from_source(path: str | Path) -> Calibration:
    """FBCA from a TOML (a workspace's ``fieldbench.toml`` or a calibration file) holding a
    ``[features]`` table and, optionally, ``[calibration] defaultOffset = N`` (default 0)."""
    import tomllib

    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ComponentError(f"{p}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ComponentError(f"{p}: not valid TOML ({exc})") from None
    if "features" not in raw:
        raise ComponentError(f"{p}: has no [features] table to build the calibration from")
    config = PreprocessingConfig.from_mapping(raw["features"])
    calib = raw.get("calibration", {})
    offset = calib.get("defaultOffset", 0) if isinstance(calib, dict) else 0
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ComponentError(f"{p}: calibration.defaultOffset must be an integer")
    return Calibration.from_plan(config, offset)


# -------------------------------------------------------------------------------- self-test


@dataclass(frozen=True)
class SelfTestVector:
    decision: int
    score: float  # compared bit for bit as float32
    values: I16

    @property
    def score_bits(self) -> int:
        return _f32_bits(self.score)


@dataclass(frozen=True)
class SelfTest:
    kind: int
    vectors: tuple[SelfTestVector, ...]

    def to_bytes(self) -> bytes:
        if not 1 <= len(self.vectors) <= MAX_VECTORS:
            raise ComponentError(
                f"a self-test holds 1..{MAX_VECTORS} vectors, not {len(self.vectors)}"
            )
        n = int(self.vectors[0].values.size)
        if n == 0 or any(v.values.size != n for v in self.vectors):
            raise ComponentError("self-test vectors must all hold the same, non-zero count")
        out = [
            SELFTEST_MAGIC
            + struct.pack("<HHHBBI", 1, SELFTEST_HEADER, len(self.vectors), self.kind, 0, n)
        ]
        for v in self.vectors:
            out.append(struct.pack("<bxxxI", int(v.decision), v.score_bits))
            out.append(np.asarray(v.values, dtype="<i2").reshape(-1).tobytes())
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> SelfTest:
        if len(data) < SELFTEST_HEADER or data[:4] != SELFTEST_MAGIC:
            raise ComponentError("selftest: not an FBSV component")
        version, header, count, kind, pad, n = struct.unpack("<HHHBBI", data[4:16])
        if (
            version != 1
            or header != SELFTEST_HEADER
            or pad
            or not 1 <= count <= MAX_VECTORS
            or kind > 1
            or n == 0
            or SELFTEST_HEADER + count * (RECORD_HEADER + 2 * n) != len(data)
        ):
            raise ComponentError("selftest: bad header, or the vectors do not add up to its size")
        vectors = []
        at = SELFTEST_HEADER
        for _ in range(count):
            d, bits = struct.unpack("<bxxxI", data[at : at + RECORD_HEADER])
            at += RECORD_HEADER
            values = np.frombuffer(data, dtype="<i2", count=n, offset=at).astype(np.int16)
            at += 2 * n
            score = float(np.array([bits], dtype=np.uint32).view(np.float32)[0])
            vectors.append(SelfTestVector(d, score, values))
        return cls(kind, tuple(vectors))


def recording_frames(plan: FeaturePlan, input_len: int) -> int:
    """Sample frames of a kind-1 vector: exactly one model window of feature frames."""
    cfg = plan.config
    if input_len % cfg.frame_length:
        raise ComponentError(
            f"the model's input ({input_len} values) is not a whole number of feature frames "
            f"({cfg.frame_length} values each); the features and the model do not belong together"
        )
    k = input_len // cfg.frame_length
    return cfg.segment_length + (k - 1) * cfg.hop


def _windows(plan: FeaturePlan, input_len: int, kind: int, values: Sequence[I16]) -> I16:
    """The model input windows of the vectors (kind 1: features of each recording)."""
    if kind == KIND_FEATURES:
        return np.stack([np.asarray(v, dtype=np.int16).reshape(input_len) for v in values])
    ch = plan.config.channels
    rows = []
    for v in values:
        x = np.asarray(v, dtype=np.int16).reshape(-1, ch)
        frames = extract_segments(segments_view(x, plan.config), plan)
        if frames.size != input_len:
            raise ComponentError(
                f"a self-test recording of {x.shape[0]} sample frames gives {frames.shape[0]} "
                f"feature frames, not one model window ({input_len} values)"
            )
        rows.append(frames.reshape(-1))
    return np.stack(rows)


def reference_decisions(
    model: Any, plan: FeaturePlan, values: Sequence[I16], kind: int, threshold: float, offset: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Decisions and float32 scores of the bit-exact reference for each vector."""
    from core.model.executor import run

    windows = _windows(plan, _input_len(model), kind, values)
    res = run(model, windows, offset=offset, threshold=float(np.float32(threshold)))
    if res.score is None:
        raise ComponentError("the model gives no score; the self-test cannot check it")
    return res.decision.astype(np.int32), np.asarray(res.score, dtype=np.float32)


def _input_len(model: Any) -> int:
    return int(np.prod(model.input_shape[1:]))


def make_selftest(
    model_blob: bytes,
    calibration: Calibration,
    thresholds: Thresholds,
    values: Sequence[I16],
    kind: int = KIND_RECORDINGS,
) -> SelfTest:
    """FBSV for ``values`` (interleaved recordings or feature windows) with the expectations of
    the reference under the calibration's default offset and the threshold."""
    from core.model.blob import read_blob

    model, _ = read_blob(model_blob)
    plan = calibration.feature_plan()
    dec, score = reference_decisions(
        model, plan, values, kind, thresholds.threshold, calibration.default_offset
    )
    vecs = tuple(
        SelfTestVector(int(d), float(s), np.asarray(v, dtype=np.int16).reshape(-1))
        for d, s, v in zip(dec, score, values, strict=True)
    )
    return SelfTest(kind, vecs)


def selftest_recordings(
    calibration: Calibration,
    input_len: int,
    samples: Sequence[I16],
    per_recording: int = 2,
    limit: int = 16,
) -> list[I16]:
    """Kind-1 vectors cut from ``(T, channels)`` int16 recordings: ``per_recording`` evenly
    spaced excerpts of exactly one model window each, at most ``limit`` in all."""
    plan = calibration.feature_plan()
    n = recording_frames(plan, input_len)
    out: list[I16] = []
    for rec in samples:
        x = np.asarray(rec, dtype=np.int16).reshape(-1, calibration.channels)
        if x.shape[0] < n:
            continue
        starts = np.linspace(0, x.shape[0] - n, num=per_recording).astype(int)
        for s in dict.fromkeys(int(v) for v in starts):
            out.append(np.ascontiguousarray(x[s : s + n]).reshape(-1))
            if len(out) >= limit:
                return out
    if not out:
        raise ComponentError(
            f"no recording is long enough for a self-test vector ({n} samples per channel)"
        )
    return out


# ----------------------------------------------------------------------------- the check

#: The device's HealthFailure names (node::HealthFailureName).
FAILURES = ("none", "thresholds", "calibration", "model", "selftest_format", "selftest_mismatch")


@dataclass(frozen=True)
class HealthResult:
    failure: str  # one of FAILURES
    vectors: int = 0
    passed: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure == "none"


def check_components(
    model_blob: bytes,
    thresholds: bytes,
    calibration: bytes,
    selftest: bytes,
    cancel: Callable[[], bool] | None = None,
) -> HealthResult:
    """The device health check's load + self-test in the Python reference (no liveness)."""
    from core.model.blob import read_blob

    try:
        th = Thresholds.from_bytes(thresholds)
    except ComponentError as exc:
        return HealthResult("thresholds", detail=str(exc))
    try:
        cal = Calibration.from_bytes(calibration)
        plan = cal.feature_plan()
    except (ComponentError, FieldbenchError) as exc:
        return HealthResult("calibration", detail=str(exc))
    try:
        model, _ = read_blob(model_blob)
    except (FieldbenchError, ValueError) as exc:
        return HealthResult("model", detail=str(exc))
    try:
        st = SelfTest.from_bytes(selftest)
    except ComponentError as exc:
        return HealthResult("selftest_format", detail=str(exc))
    input_len = _input_len(model)
    n = st.vectors[0].values.size
    if (st.kind == KIND_FEATURES and n != input_len) or (
        st.kind == KIND_RECORDINGS and n % cal.channels
    ):
        return HealthResult("selftest_format", len(st.vectors), detail="vectors do not fit")
    if cancel is not None and cancel():
        raise Cancelled("component check cancelled")
    try:
        dec, score = reference_decisions(
            model, plan, [v.values for v in st.vectors], st.kind, th.threshold, cal.default_offset
        )
    except ComponentError as exc:
        return HealthResult("selftest_format", len(st.vectors), detail=str(exc))
    for i, v in enumerate(st.vectors):
        if int(dec[i]) != v.decision or _f32_bits(float(score[i])) != v.score_bits:
            return HealthResult(
                "selftest_mismatch",
                len(st.vectors),
                i,
                f"vector {i}: expected decision {v.decision} score {v.score!r}, "
                f"the reference gives {int(dec[i])} score {float(score[i])!r}",
            )
    return HealthResult("none", len(st.vectors), len(st.vectors))


def describe(data: Mapping[str, bytes]) -> dict[str, Any]:
    """A JSON-able summary of the components present in ``data`` (for inspect views)."""
    out: dict[str, Any] = {}
    if "thresholds" in data:
        try:
            out["thresholds"] = {"threshold": Thresholds.from_bytes(data["thresholds"]).threshold}
        except ComponentError as exc:
            out["thresholds"] = {"error": str(exc)}
    if "calibration" in data:
        try:
            c = Calibration.from_bytes(data["calibration"])
            out["calibration"] = {
                "default_offset": c.default_offset,
                "channels": c.channels,
                "window_size": c.window_size,
                "hop_length": c.hop_length,
                "n_bands": c.n_bands,
                "stats_mask": c.stats_mask,
            }
        except ComponentError as exc:
            out["calibration"] = {"error": str(exc)}
    if "selftest" in data:
        try:
            s = SelfTest.from_bytes(data["selftest"])
            out["selftest"] = {
                "kind": "recordings" if s.kind else "feature windows",
                "vectors": len(s.vectors),
                "decisions": [v.decision for v in s.vectors],
            }
        except ComponentError as exc:
            out["selftest"] = {"error": str(exc)}
    return out


# ------------------------------------------------------------------- from workspace artefacts


def _recordings_file(path: Path, channels: int) -> list[I16]:
    """int16 ``(T, channels)`` recordings from a ``.npy`` (one) or ``.npz`` (one per array)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ComponentError(f"{path}: not readable numpy recordings ({exc})") from None
    arrays = [loaded] if isinstance(loaded, np.ndarray) else [loaded[k] for k in loaded.files]
    out = []
    for a in arrays:
        if a.dtype != np.int16 or a.ndim not in (1, 2) or a.size % channels:
            raise ComponentError(
                f"{path}: self-test recordings must be int16 arrays of (samples, {channels}) "
                "quantized samples (core.dsp.quantize)"
            )
        out.append(a.reshape(-1, channels))
    return out


def generated_recordings(config: PreprocessingConfig, frames: int, seed: int = 0) -> list[I16]:
    """Sample-fan recordings (core.model.samples.simulate: normal, imbalance, loose, knocked)
    quantized with ``config``; only for 3-axis front ends."""
    from core.dsp.fixed import quantize
    from core.model.samples import simulate

    if config.channels != 3:
        raise ComponentError(
            f"the sample generator makes 3-axis recordings, the features have {config.channels} "
            "channel(s); give recordings (.npy/.npz) for the self-test instead"
        )
    rng = np.random.default_rng(seed)
    seconds = 2 * frames / config.sampleRate
    cases = (("normal", "low"), ("normal", "high"), ("imbalance", "medium"), ("loose", "high"))
    recs = [quantize(simulate({"speed": s}, lab, seconds, rng), config) for lab, s in cases]
    recs.append(quantize(6.0 * simulate({"speed": "medium"}, "normal", seconds, rng), config))
    return recs


def _is_text(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def device_components(paths: Sequence[Path], profile: str | None = None) -> list[bytes]:
    """The six bundle components from files, converting the device components given as
    workspace artefacts (see ``core.bundle.build.read_components``)."""
    from core.model.blob import read_blob

    fw, model_p, th_p, cal_p, drift, st_p = (Path(p) for p in paths)
    model = model_p.read_bytes()
    # Binary files under a .json/.toml name (already built components) are taken as they are.
    th = None
    if th_p.suffix == ".json" and _is_text(th_p):
        th = thresholds_from_json(th_p, profile).to_bytes()
    config: PreprocessingConfig | None = None
    if cal_p.suffix == ".toml" and _is_text(cal_p):
        cal_obj = calibration_from_source(cal_p)
        import tomllib

        config = PreprocessingConfig.from_mapping(
            tomllib.loads(cal_p.read_text("utf-8"))["features"]
        )
        cal = cal_obj.to_bytes()
    else:
        cal = cal_p.read_bytes()
    th = th if th is not None else th_p.read_bytes()
    generate = st_p.name == "generate" and not st_p.exists()
    if generate or st_p.suffix in (".npy", ".npz"):
        try:
            cal_obj = Calibration.from_bytes(cal)
            th_obj = Thresholds.from_bytes(th)
        except ComponentError as exc:
            raise ComponentError(f"self-test vectors need valid components: {exc}") from None
        try:
            int_model, _ = read_blob(model)
        except (FieldbenchError, ValueError) as exc:
            raise ComponentError(f"{model_p}: not a runtime model blob ({exc})") from None
        input_len = _input_len(int_model)
        n = recording_frames(cal_obj.feature_plan(), input_len)
        if generate:
            if config is None:
                raise ComponentError(
                    'selftest = "generate" needs calibration = a .toml with [features] (the '
                    "generator needs the sample rate and fixed-point scale)"
                )
            recs = generated_recordings(config, n)
        else:
            recs = _recordings_file(st_p, cal_obj.channels)
        values = selftest_recordings(cal_obj, input_len, recs, per_recording=2, limit=16)
        st = make_selftest(model, cal_obj, th_obj, values).to_bytes()
    else:
        st = st_p.read_bytes()
    return [fw.read_bytes(), model, th, cal, drift.read_bytes(), st]
