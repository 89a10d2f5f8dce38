"""Float ONNX → INT8 QDQ with ``onnxruntime.quantization.quantize_static``.

Settings are fixed where the device depends on them: QDQ format, per-channel symmetric int8
weights, asymmetric int8 activations, int32 biases, ReLU/Clip folded into the requant clamp. What
the user chooses: the calibration method (MinMax, Percentile, real Entropy), the calibration
rows (drawn stratified across tags) and ``TensorQuantOverrides`` ranges for single tensors.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.atomic import atomic_open
from core.errors import Cancelled, FieldbenchError
from core.model.calibration import (
    CalibrationMethod,
    EvalSet,
    entropy_ranges,
    make_reader,
    stratified_indices,
)
from core.model.onnx_io import FloatModel, file_sha256, load_model

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

DEFAULT_CALIBRATION_SIZE = 512
DEFAULT_PERCENTILE = 99.999


class QuantizeError(FieldbenchError):
    """Quantization failed or an option is invalid."""


@dataclass(frozen=True)
class RangeOverride:
    """A hand-set float range for one activation tensor (becomes a TensorQuantOverride)."""

    rmin: float
    rmax: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rmin) and math.isfinite(self.rmax)) or self.rmin >= self.rmax:
            raise QuantizeError(
                f"override range {self.rmin}:{self.rmax} is invalid; give rmin < rmax, both finite"
            )


@dataclass(frozen=True)
class QuantizeOptions:
    """What the user chooses; the rest is fixed for the device."""

    method: CalibrationMethod = CalibrationMethod.MINMAX
    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    percentile: float = DEFAULT_PERCENTILE
    overrides: Mapping[str, RangeOverride] = field(default_factory=dict)
    seed: int = 0
    entropy_bins: int = 2048

    def with_overrides(self, extra: Mapping[str, RangeOverride]) -> QuantizeOptions:
        merged = dict(self.overrides)
        merged.update(extra)
        return replace(self, overrides=merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "calibration_size": self.calibration_size,
            "percentile": self.percentile,
            "overrides": {k: [v.rmin, v.rmax] for k, v in sorted(self.overrides.items())},
            "seed": self.seed,
        }


@dataclass(frozen=True)
class QuantizeResult:
    float_model: FloatModel
    qdq_path: Path
    options: QuantizeOptions
    calibration_rows: npt.NDArray[np.int64]
    ranges: dict[str, tuple[float, float]]  # calibrated float range per activation tensor
    sha256_int8: str


def parse_override(text: str) -> tuple[str, RangeOverride]:
    """``TENSOR=rmin:rmax`` (as on the command line) → ``(tensor, RangeOverride)``."""
    name, sep, rng = text.rpartition("=")
    lo, colon, hi = rng.partition(":")
    try:
        if not sep or not colon or not name:
            raise ValueError
        return name, RangeOverride(float(lo), float(hi))
    except ValueError:
        raise QuantizeError(
            f"override {text!r}: write it as TENSOR=rmin:rmax, e.g. relu0=0:6"
        ) from None


def tensor_overrides(overrides: Mapping[str, RangeOverride]) -> dict[str, list[dict[str, Any]]]:
    """The ``TensorQuantOverrides`` dict; values must be 0-d numpy arrays (ref §2.10)."""
    return {
        name: [
            {
                "rmin": np.array(min(0.0, o.rmin), dtype=np.float32),
                "rmax": np.array(max(0.0, o.rmax), dtype=np.float32),
            }
        ]
        for name, o in sorted(overrides.items())
    }


def preprocess(model_path: str | Path, out_path: str | Path) -> Path:
    """``quant_pre_process`` without symbolic shape inference (no sympy needed)."""
    from onnxruntime.quantization import quant_pre_process

    quant_pre_process(str(model_path), str(out_path), skip_symbolic_shape=True)
    return Path(out_path)


def activation_tensors(model: FloatModel | Path) -> list[str]:
    """Names of the float model's tensors that activation overrides may name."""
    import onnx

    proto = model.proto if isinstance(model, FloatModel) else onnx.load(str(model))
    names = [proto.graph.input[0].name]
    for node in proto.graph.node:
        if node.op_type not in ("Constant",):
            names.extend(o for o in node.output if o)
    return names


def quantize_model(
    model: FloatModel | str | Path,
    data: EvalSet,
    out_path: str | Path,
    options: QuantizeOptions | None = None,
    calibration_rows: npt.ArrayLike | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> QuantizeResult:
    """Quantize ``model`` to a QDQ INT8 model at ``out_path`` (written atomically).

    Calibration rows are drawn from ``data`` stratified across its tags and labels (or taken
    from ``calibration_rows``). Raises ``QuantizeError`` for unknown override names.
    """
    from onnxruntime.quantization import CalibrationMethod as OrtMethod
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    opts = options or QuantizeOptions()
    fm = model if isinstance(model, FloatModel) else load_model(model)
    if data.features.shape[1:] != fm.sample_shape:
        raise QuantizeError(
            f"{fm.path.name}: takes windows of shape {list(fm.sample_shape)} but the data has "
            f"{list(data.features.shape[1:])}; use data made for this model"
        )
    known = set(activation_tensors(fm))
    unknown = sorted(set(opts.overrides) - known)
    if unknown:
        raise QuantizeError(
            f"override for unknown tensor(s) {', '.join(unknown)}; tensors of "
            f"{fm.path.name}: {', '.join(sorted(known))}"
        )
    rows = (
        np.asarray(calibration_rows, dtype=np.int64)
        if calibration_rows is not None
        else stratified_indices(data.tags, opts.calibration_size, opts.seed, labels=data.labels)
    )
    x = data.inputs(rows)
    report = _stage(progress)
    with tempfile.TemporaryDirectory(prefix="fieldbench-quant-") as tmp:
        work = Path(tmp)
        pre = preprocess(fm.path, work / "pre.onnx")
        report(0.1)
        cache = work / "ranges.json"
        if _cancelled(cancel):
            raise Cancelled("quantization cancelled")
        method = {
            CalibrationMethod.MINMAX: OrtMethod.MinMax,
            CalibrationMethod.PERCENTILE: OrtMethod.Percentile,
            CalibrationMethod.ENTROPY: OrtMethod.Entropy,
        }[opts.method]
        calib_progress = _sub(progress, 0.1, 0.8)
        if opts.method is CalibrationMethod.ENTROPY:
            with _quiet():
                entropy_ranges(
                    pre,
                    fm.input.name,
                    x,
                    cache,
                    work,
                    opts.entropy_bins,
                    128,
                    calib_progress,
                    cancel,
                )
        extra: dict[str, Any] = {
            "ActivationSymmetric": False,
            "WeightSymmetric": True,
            "QuantizeBias": True,
        }
        if opts.method is CalibrationMethod.PERCENTILE:
            extra["CalibPercentile"] = float(opts.percentile)
        if opts.overrides:
            extra["TensorQuantOverrides"] = tensor_overrides(opts.overrides)
        q_tmp = work / "q.onnx"
        reader = (
            None
            if opts.method is CalibrationMethod.ENTROPY
            else make_reader(fm.input.name, x, calib_progress, cancel)
        )
        try:
            with _quiet():
                quantize_static(
                    str(pre),
                    str(q_tmp),
                    reader,
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    reduce_range=False,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=method,
                    extra_options=extra,
                    calibration_cache_path=str(cache),
                )
        except Cancelled:
            raise
        except Exception as exc:
            raise QuantizeError(
                f"{fm.path.name}: onnxruntime could not quantize it ({exc})"
            ) from None
        report(0.9)
        ranges = _read_ranges(cache)
        out = Path(out_path)
        with atomic_open(out, "wb") as handle:
            handle.write(q_tmp.read_bytes())
    report(1.0)
    return QuantizeResult(fm, out, opts, rows, ranges, file_sha256(out))


def _read_ranges(cache: Path) -> dict[str, tuple[float, float]]:
    from onnxruntime.quantization import load_tensors_data

    ranges: dict[str, tuple[float, float]] = {}
    data = load_tensors_data(cache)
    for name, td in data.data.items():
        lo, hi = td.range_value
        ranges[name] = (float(np.asarray(lo).min()), float(np.asarray(hi).max()))
    return ranges


@contextlib.contextmanager
def _quiet() -> Any:
    """onnxruntime.quantization logs through the root logger and prints; keep the CLI clean."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _cancelled(cancel: CancelFn | None) -> bool:
    return cancel is not None and cancel()


def _stage(progress: ProgressFn | None) -> ProgressFn:
    return progress if progress is not None else (lambda _f: None)


def _sub(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda f: progress(lo + (hi - lo) * f)
