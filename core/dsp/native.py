"""The C++ extractor of the firmware host build, loaded through its C ABI (ctypes).

Used by the parity tests, the benchmarks and the self-test: the numpy path and the device
code are compared on the same plans. ``NativeUnavailable`` says how to build the library.
"""

from __future__ import annotations

import ctypes as C
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import segments_view
from core.dsp.plan import FeaturePlan, compile_plan
from core.errors import FieldbenchError
from core.paths import native_library_candidates

ABI_VERSION = 1
STATUS = {
    0: "ok",
    1: "null argument",
    2: "invalid plan",
    3: "pool too small",
    4: "output buffer too small",
    5: "ABI version mismatch",
}


class NativeUnavailable(FieldbenchError):
    """The C++ host build is missing."""


class NativeError(FieldbenchError):
    """The C++ extractor returned an error status."""

    def __init__(self, call: str, status: int) -> None:
        super().__init__(f"{call}: {STATUS.get(status, f'status {status}')}")
        self.status = status


class _Plan(C.Structure):
    _fields_ = [
        ("abi_version", C.c_uint32),
        ("channels", C.c_uint16),
        ("window_size", C.c_uint16),
        ("hop_length", C.c_uint16),
        ("fft_size", C.c_uint16),
        ("warmup", C.c_uint16),
        ("buffer_size", C.c_uint16),
        ("dc_removal", C.c_uint8),
        ("filter_enabled", C.c_uint8),
        ("compression", C.c_uint8),
        ("stats_mask", C.c_uint8),
        ("biquad_q14", C.c_int16 * 5),
        ("n_bands", C.c_uint16),
        ("n_band_weights", C.c_uint32),
        ("window_q15", C.POINTER(C.c_int16)),
        ("twiddle", C.POINTER(C.c_int32)),
        ("band_start", C.POINTER(C.c_uint16)),
        ("band_len", C.POINTER(C.c_uint16)),
        ("band_weights", C.POINTER(C.c_uint16)),
    ]


@cache
def load_library(path: str | None = None) -> C.CDLL:
    """Load ``libedge_runtime_capi.so`` (``FIELDBENCH_NATIVE_LIB`` overrides the location)."""
    candidates = [Path(path)] if path else native_library_candidates()
    for candidate in candidates:
        if candidate.is_file():
            lib = C.CDLL(str(candidate))
            _declare(lib)
            return lib
    raise NativeUnavailable(
        "the C++ host build is missing (looked for "
        + ", ".join(str(c) for c in candidates)
        + "); run `make test` or `make run` once to build it"
    )


def _declare(lib: C.CDLL) -> None:
    i16p, szp = C.POINTER(C.c_int16), C.POINTER(C.c_size_t)
    lib.fb_fe_pool_bytes.argtypes = [C.POINTER(_Plan), szp]
    lib.fb_fe_init.argtypes = [C.POINTER(_Plan), C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)]
    lib.fb_fe_frame_len.argtypes = [C.c_void_p, szp]
    lib.fb_fe_segment_len.argtypes = [C.c_void_p, szp]
    lib.fb_fe_push.argtypes = [C.c_void_p, i16p, C.c_size_t, i16p, C.c_size_t, szp]
    lib.fb_fe_extract_batch.argtypes = [C.c_void_p, i16p, C.c_size_t, i16p]
    lib.fb_fe_reset.argtypes = [C.c_void_p]
    lib.fb_fe_reset.restype = None
    lib.fb_fe_log2_q8.argtypes = [C.c_uint64]
    lib.fb_quantize_sample.argtypes = [C.c_double, C.c_double]
    lib.fb_quantize_sample.restype = C.c_int16
    for name in (
        "fb_fe_pool_bytes",
        "fb_fe_init",
        "fb_fe_frame_len",
        "fb_fe_segment_len",
        "fb_fe_push",
        "fb_fe_extract_batch",
        "fb_fe_log2_q8",
    ):
        getattr(lib, name).restype = C.c_int32


def _ptr(a: npt.NDArray[np.generic] | None, ctype: type[C._SimpleCData]) -> object:  # type: ignore[type-arg]
    return None if a is None else a.ctypes.data_as(C.POINTER(ctype))


class NativeExtractor:
    """One C++ extractor instance over a pool owned by this object."""

    def __init__(self, plan: FeaturePlan, lib: C.CDLL | None = None, pool_slack: int = 0) -> None:
        self.lib = lib or load_library()
        self.plan = plan
        cfg = plan.config
        # Keep every table alive as long as the C plan points at it.
        self._window = None if plan.window_q15 is None else np.ascontiguousarray(plan.window_q15)
        self._twiddle = np.ascontiguousarray(plan.twiddle, dtype=np.int32).reshape(-1)
        self._starts = np.ascontiguousarray(plan.band_start, dtype=np.uint16)
        self._lens = np.ascontiguousarray(plan.band_len, dtype=np.uint16)
        self._weights = np.ascontiguousarray(plan.band_weights, dtype=np.uint16)
        c_plan = _Plan(
            abi_version=ABI_VERSION,
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
            n_bands=cfg.n_bands,
            n_band_weights=self._weights.size,
        )
        c_plan.biquad_q14[:] = [int(v) for v in plan.biquad_q14]
        c_plan.window_q15 = _ptr(self._window, C.c_int16)
        c_plan.twiddle = _ptr(self._twiddle, C.c_int32)
        c_plan.band_start = _ptr(self._starts, C.c_uint16)
        c_plan.band_len = _ptr(self._lens, C.c_uint16)
        c_plan.band_weights = _ptr(self._weights, C.c_uint16)
        self._c_plan = c_plan
        size = C.c_size_t()
        self._check("fb_fe_pool_bytes", self.lib.fb_fe_pool_bytes(C.byref(c_plan), C.byref(size)))
        self.pool_bytes = size.value
        self._pool = np.zeros(self.pool_bytes + pool_slack + 64, dtype=np.uint8)
        handle = C.c_void_p()
        self._check(
            "fb_fe_init",
            self.lib.fb_fe_init(
                C.byref(c_plan),
                self._pool.ctypes.data,
                self.pool_bytes + pool_slack,
                C.byref(handle),
            ),
        )
        self._handle = handle
        n = C.c_size_t()
        self._check("fb_fe_frame_len", self.lib.fb_fe_frame_len(handle, C.byref(n)))
        self.frame_len = n.value

    @staticmethod
    def _check(call: str, status: int) -> None:
        if status != 0:
            raise NativeError(call, status)

    def extract_segments(self, segments: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """``(frames, channels, L)`` segments → ``(frames, frame_len)`` via fb_fe_extract_batch."""
        inter = np.ascontiguousarray(np.asarray(segments, dtype=np.int16).transpose(0, 2, 1))
        out = np.empty((inter.shape[0], self.frame_len), dtype=np.int16)
        if inter.shape[0]:
            self._check(
                "fb_fe_extract_batch",
                self.lib.fb_fe_extract_batch(
                    self._handle, _ptr(inter, C.c_int16), inter.shape[0], _ptr(out, C.c_int16)
                ),
            )
        return out

    def extract_features(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        return self.extract_segments(segments_view(samples, self.plan.config))

    def push(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Stream ``(n, channels)`` samples through fb_fe_push; returns the frames completed."""
        x = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1, self.plan.config.channels)
        cap = x.shape[0] // self.plan.config.hop + 2
        out = np.empty((cap, self.frame_len), dtype=np.int16)
        produced = C.c_size_t()
        self._check(
            "fb_fe_push",
            self.lib.fb_fe_push(
                self._handle,
                _ptr(x, C.c_int16),
                x.shape[0],
                _ptr(out, C.c_int16),
                cap,
                C.byref(produced),
            ),
        )
        return out[: produced.value]

    def reset(self) -> None:
        self.lib.fb_fe_reset(self._handle)


def native_extractor(config: PreprocessingConfig | FeaturePlan) -> NativeExtractor:
    plan = config if isinstance(config, FeaturePlan) else compile_plan(config)
    return NativeExtractor(plan)
