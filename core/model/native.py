"""The C++ INT8 runtime of the firmware host build, loaded through its C ABI (ctypes).

``runtime_capi.h`` (``fb_rt_*``) in ``libedge_runtime_capi.so``: the same sources the device
compiles. Used by the parity tests (C++ == numpy executor == onnxruntime), the benchmarks and
the bundle gate. A blob is validated by the C++ parser; a rejection raises ``NativeRuntimeError``
whose ``status`` is the ``FB_MODEL_ERR_*`` code and whose ``code`` its name.
"""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.dsp.native import NativeUnavailable, load_library
from core.errors import FieldbenchError

__all__ = [
    "ABI_VERSION",
    "STATUS_NAMES",
    "NativeRuntime",
    "NativeRuntimeError",
    "NativeUnavailable",
    "RuntimeInfo",
    "validate_blob",
]

ABI_VERSION = 1

#: FB_MODEL_* status codes (model_format.h) → names.
STATUS_NAMES = {
    0: "OK",
    100: "NULL",
    101: "TRUNCATED",
    102: "BAD_MAGIC",
    103: "BAD_VERSION",
    104: "BAD_HEADER",
    105: "BAD_CRC",
    106: "BAD_OFFSET",
    107: "BAD_TENSOR",
    108: "BAD_SHAPE",
    109: "BAD_OP",
    110: "BAD_LAYER",
    111: "BAD_PARAMS",
    112: "ARENA_OVERLAP",
    113: "ARENA_BOUNDS",
    114: "POOL_TOO_SMALL",
    115: "BAD_POSTPROCESS",
    116: "LIMITS",
    120: "NOT_READY",
    121: "WINDOW_LEN",
    122: "NOT_VERIFIED",
    123: "VERIFY_FAILED",
    124: "NO_VERIFIER",
    125: "BAD_ARG",
}


class NativeRuntimeError(FieldbenchError):
    """The C++ runtime refused a blob or a call."""

    def __init__(self, call: str, status: int) -> None:
        self.status = status
        self.code = STATUS_NAMES.get(status, f"status {status}")
        super().__init__(f"{call}: the C++ INT8 runtime returned {self.code}")


class _Info(C.Structure):
    _fields_ = [
        ("abi_version", C.c_uint32),
        ("n_tensors", C.c_uint16),
        ("n_layers", C.c_uint16),
        ("input_tensor", C.c_uint16),
        ("output_tensor", C.c_uint16),
        ("arena_bytes", C.c_uint32),
        ("scratch_bytes", C.c_uint32),
        ("input_len", C.c_uint32),
        ("output_len", C.c_uint32),
        ("macs", C.c_uint32),
        ("dump_bytes", C.c_uint32),
        ("postprocess", C.c_uint8),
        ("reserved", C.c_uint8 * 3),
        ("input_scale", C.c_float),
        ("default_threshold", C.c_float),
    ]


@dataclass(frozen=True)
class RuntimeInfo:
    """``fb_rt_info`` of a validated blob."""

    n_tensors: int
    n_layers: int
    input_tensor: int
    output_tensor: int
    arena_bytes: int
    scratch_bytes: int
    input_len: int
    output_len: int
    macs: int
    dump_bytes: int
    postprocess: int
    input_scale: float
    default_threshold: float
    pool_bytes: int


_DECLARED: set[int] = set()


def _lib() -> C.CDLL:
    lib = load_library()
    if id(lib) not in _DECLARED:
        u8p, i16p, i8p = C.POINTER(C.c_uint8), C.POINTER(C.c_int16), C.POINTER(C.c_int8)
        f32p, szp, h = C.POINTER(C.c_float), C.POINTER(C.c_size_t), C.c_void_p
        sig: dict[str, list[object]] = {
            "fb_rt_abi_version": [],
            "fb_rt_validate": [u8p, C.c_size_t, C.POINTER(_Info)],
            "fb_rt_pool_bytes": [u8p, C.c_size_t, szp],
            "fb_rt_init": [u8p, C.c_size_t, C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)],
            "fb_rt_allow_unsigned": [h],
            "fb_rt_verify": [h],
            "fb_rt_set_threshold": [h, C.c_float],
            "fb_rt_set_calibration_offset": [h, C.c_int16],
            "fb_rt_run": [h, i16p, C.c_size_t, i8p, f32p],
            "fb_rt_run_batch": [h, i16p, C.c_size_t, C.c_size_t, i8p, f32p, i8p],
            "fb_rt_run_dump": [h, i16p, C.c_size_t, i8p, C.c_size_t, i8p],
        }
        for name, args in sig.items():
            fn = getattr(lib, name, None)
            if fn is None:
                raise NativeUnavailable(
                    f"the C++ host build is out of date ({name} missing); rebuild it with "
                    "`make test` or `make run`"
                )
            fn.argtypes = args
            fn.restype = C.c_int32
        if lib.fb_rt_abi_version() != ABI_VERSION:
            raise NativeUnavailable("the C++ runtime ABI version differs; rebuild the host build")
        _DECLARED.add(id(lib))
    return lib


def _check(call: str, status: int) -> None:
    if status != 0:
        raise NativeRuntimeError(call, status)


def _u8(buf: npt.NDArray[np.uint8]) -> object:
    return buf.ctypes.data_as(C.POINTER(C.c_uint8))


def validate_blob(blob: bytes) -> RuntimeInfo:
    """Validate ``blob`` with the C++ parser; raises ``NativeRuntimeError`` on rejection."""
    lib = _lib()
    buf = np.frombuffer(blob, dtype=np.uint8).copy()
    info = _Info()
    _check("fb_rt_validate", lib.fb_rt_validate(_u8(buf), buf.size, C.byref(info)))
    size = C.c_size_t()
    _check("fb_rt_pool_bytes", lib.fb_rt_pool_bytes(_u8(buf), buf.size, C.byref(size)))
    return RuntimeInfo(
        n_tensors=info.n_tensors,
        n_layers=info.n_layers,
        input_tensor=info.input_tensor,
        output_tensor=info.output_tensor,
        arena_bytes=info.arena_bytes,
        scratch_bytes=info.scratch_bytes,
        input_len=info.input_len,
        output_len=info.output_len,
        macs=info.macs,
        dump_bytes=info.dump_bytes,
        postprocess=info.postprocess,
        input_scale=float(info.input_scale),
        default_threshold=float(info.default_threshold),
        pool_bytes=size.value,
    )


class NativeRuntime:
    """One C++ runtime instance over a blob copy and a pool owned by this object.

    ``unsigned=True`` (default) opts in to the CRC-only integrity verifier, as host tools do; with
    ``unsigned=False`` every run is refused until a real verifier is installed (device policy).
    """

    def __init__(self, blob: bytes, *, unsigned: bool = True, pool_slack: int = 0) -> None:
        self.lib = _lib()
        self.info = validate_blob(blob)
        self._blob = np.frombuffer(blob, dtype=np.uint8).copy()
        self.pool_bytes = self.info.pool_bytes
        self._pool = np.zeros(self.pool_bytes + pool_slack, dtype=np.uint8)
        handle = C.c_void_p()
        _check(
            "fb_rt_init",
            self.lib.fb_rt_init(
                _u8(self._blob),
                self._blob.size,
                self._pool.ctypes.data,
                self._pool.size,
                C.byref(handle),
            ),
        )
        self._h = handle
        if unsigned:
            _check("fb_rt_allow_unsigned", self.lib.fb_rt_allow_unsigned(handle))
            _check("fb_rt_verify", self.lib.fb_rt_verify(handle))

    def set_threshold(self, threshold: float) -> None:
        _check("fb_rt_set_threshold", self.lib.fb_rt_set_threshold(self._h, float(threshold)))

    def set_calibration_offset(self, offset: int) -> None:
        if not -32768 <= int(offset) <= 32767:
            raise ValueError("the calibration offset is an int16")
        _check(
            "fb_rt_set_calibration_offset",
            self.lib.fb_rt_set_calibration_offset(self._h, int(offset)),
        )

    def _windows(self, features: npt.ArrayLike) -> npt.NDArray[np.int16]:
        f = np.asarray(features)
        if f.dtype != np.int16:
            raise ValueError(f"features must be int16, got {f.dtype}")
        f = np.ascontiguousarray(f.reshape(f.shape[0], -1))
        if f.shape[1] != self.info.input_len:
            raise ValueError(f"a window has {self.info.input_len} features, got {f.shape[1]}")
        return f

    def run(
        self, features: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """(decisions [B], scores [B], raw int8 outputs [B, output_len]) for a batch."""
        f = self._windows(features)
        n = f.shape[0]
        dec = np.empty(n, dtype=np.int8)
        score = np.empty(n, dtype=np.float32)
        out = np.empty((n, self.info.output_len), dtype=np.int8)
        _check(
            "fb_rt_run_batch",
            self.lib.fb_rt_run_batch(
                self._h,
                f.ctypes.data_as(C.POINTER(C.c_int16)),
                n,
                self.info.input_len,
                dec.ctypes.data_as(C.POINTER(C.c_int8)),
                score.ctypes.data_as(C.POINTER(C.c_float)),
                out.ctypes.data_as(C.POINTER(C.c_int8)),
            ),
        )
        return dec, score, out

    def run_dump(self, window: npt.ArrayLike) -> tuple[int, list[npt.NDArray[np.int8]]]:
        """One window: (decision, every tensor's int8 values in tensor-id order, flat)."""
        f = self._windows(np.asarray(window).reshape(1, -1))
        dump = np.zeros(self.info.dump_bytes, dtype=np.int8)
        dec = C.c_int8()
        _check(
            "fb_rt_run_dump",
            self.lib.fb_rt_run_dump(
                self._h,
                f.ctypes.data_as(C.POINTER(C.c_int16)),
                self.info.input_len,
                dump.ctypes.data_as(C.POINTER(C.c_int8)),
                dump.size,
                C.byref(dec),
            ),
        )
        sizes = _tensor_sizes(bytes(self._blob), self.info.n_tensors)
        bounds = np.cumsum([0, *sizes])
        return int(dec.value), [dump[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]


def _tensor_sizes(blob: bytes, n_tensors: int) -> list[int]:
    """size_bytes of every tensor record (offset 24 of each 32-byte record after the header)."""
    return [
        int.from_bytes(blob[64 + 32 * i + 24 : 64 + 32 * i + 28], "little")
        for i in range(n_tensors)
    ]
