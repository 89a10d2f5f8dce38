"""Numpy INT8 executor: onnxruntime's CPU integer arithmetic, bit for bit, on a batch at once.

The arithmetic (reference/onnxruntime-int8-arithmetic.md §6 and the MLAS sources):

* accumulate ``Σ (q_x − zp_x) · w + bias`` exactly — here in float64 BLAS products, exact for
  integer sums below 2^53 — then check the int32 range, as the device's int32 accumulator needs;
* requantize ``f = float32(acc) · M`` (one float32 multiply), clamp to
  ``[qmin − zp, qmax − zp]``, round half to even, add ``zp``;
* QuantizeLinear ``sat(RNE(x / s) + zp)`` with a true float32 division;
* QLinearAdd as MLAS's AVX2 kernel: ``RNE(fma(a, r_a, fma(b, r_b, fixed)))`` saturated, with
  ``r_a = s_a / s_c``, ``r_b = s_b / s_c`` and ``fixed = zp_c − fma(r_a, zp_a, r_b · zp_b)`` —
  computed exactly here (see ``fma32``), tabulated over all 65,536 input pairs;
* QLinearAveragePool in float32: ``s_x · (q − zp)``, summed in window order, divided by the
  count, then ``RNE(y / s_y + zp_y)``;
* QLinearGlobalAveragePool: ``Σ q − zp · N`` requantized with ``s_x / (s_y · N)``;
* QLinearSigmoid: a 256-entry table taken from onnxruntime itself (``core.model.extract``).

``run`` takes int16 feature windows (the device's input); ``run_float`` takes the float input
onnxruntime sees. Both return every int8 tensor when asked (``keep_all``), keyed by tensor name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from core.errors import FieldbenchError
from core.model.ir import QMAX, QMIN, IntModel, Layer, Op, Postprocess, Tensor

I8 = npt.NDArray[np.int8]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
AnyArr = npt.NDArray[Any]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
CHUNK = 2048  # inputs per numpy pass (bounds the im2col memory)


class AccumulatorOverflow(FieldbenchError):
    """A layer's int32 accumulator would overflow: the model cannot run on the int8 path."""


@dataclass
class Result:
    """One batch: int8 output, decision, score (ARGMAX: dequantized max), optional tensors."""

    output: I8
    decision: npt.NDArray[np.int32]
    score: F32 | None
    tensors: dict[str, I8]


# --------------------------------------------------------------------------- arithmetic


def requantize(acc: I64, multiplier: F32, zero_point: int, where: str = "") -> I8:
    """MlasRequantizeOutput: float32 multiply, clamp, round half to even, add the zero point."""
    if acc.size and (int(acc.min()) < INT32_MIN or int(acc.max()) > INT32_MAX):
        raise AccumulatorOverflow(
            f"{where}: an accumulator leaves the int32 range; lower the weight or input "
            "ranges (calibration) of this layer"
        )
    f = acc.astype(np.float32) * multiplier.astype(np.float32)
    f = np.clip(f, np.float32(QMIN - zero_point), np.float32(QMAX - zero_point))
    return np.asarray((np.rint(f) + np.float32(zero_point)).astype(np.int8), dtype=np.int8)


def quantize_linear(x: F32, scale: float, zero_point: int) -> I8:
    """MlasQuantizeLinear: ``x / s`` (true division), clamp, RNE, ``+ zp``."""
    f = x.astype(np.float32) / np.float32(scale)
    f = np.clip(f, np.float32(QMIN - zero_point), np.float32(QMAX - zero_point))
    return np.asarray((np.rint(f) + np.float32(zero_point)).astype(np.int8), dtype=np.int8)


def fma32(x: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike) -> F32:
    """``float32(x · y + z)`` with one rounding (IEEE fused multiply-add) for float32 inputs.

    ``x · y`` is exact in float64 (two 24-bit significands). The float64 sum is exact or off by
    ``err`` (TwoSum); it then rounds to float32 correctly unless it sits exactly on a float32
    rounding midpoint with a non-zero ``err``, where it is nudged one float64 ulp towards the
    exact value first.
    """
    p = np.asarray(x, np.float32).astype(np.float64) * np.asarray(y, np.float32).astype(np.float64)
    z64 = np.asarray(z, np.float32).astype(np.float64)
    s = p + z64
    bb = s - p
    err = (p - (s - bb)) + (z64 - bb)
    r = s.astype(np.float32)
    inexact = err != 0
    if np.any(inexact):
        r64 = r.astype(np.float64)
        other = np.where(
            s > r64, np.nextafter(r, np.float32(np.inf)), np.nextafter(r, np.float32(-np.inf))
        ).astype(np.float64)
        midpoint = inexact & (s != r64) & (s == (r64 + other) / 2)
        if np.any(midpoint):
            nudged = np.nextafter(s, np.where(err > 0, np.inf, -np.inf))
            r = np.where(midpoint, nudged.astype(np.float32), r)
    return np.asarray(r, np.float32)


def qlinear_add_params(
    scale_a: float, zp_a: int, scale_b: float, zp_b: int, scale_c: float, zp_c: int
) -> F32:
    """``[r_a, r_b, fixed]`` as MLAS's AVX2 QLinearAdd computes them (float32)."""
    ra = np.float32(scale_a) / np.float32(scale_c)
    rb = np.float32(scale_b) / np.float32(scale_c)
    inner = fma32(ra, np.float32(zp_a), rb * np.float32(zp_b))
    fixed = np.float32(zp_c) - inner
    return np.array([ra, rb, fixed], dtype=np.float32)


def qlinear_add_table(params: F32) -> I8:
    """The int8 result for every ``(a, b)`` pair: ``table[a + 128, b + 128]``."""
    ra, rb, fixed = (np.float32(v) for v in params)
    q = np.arange(QMIN, QMAX + 1, dtype=np.float32)
    t = fma32(q[None, :], rb, fixed)  # b on the column axis
    c = fma32(q[:, None], ra, np.broadcast_to(t, (256, 256)))
    return np.clip(np.rint(c), QMIN, QMAX).astype(np.int8)


# --------------------------------------------------------------------------- kernels


def _windows(x: AnyArr, layer: Layer, pad_value: float) -> AnyArr:
    """``[B, C, OH, OW, kH, kW]`` view of the padded input."""
    assert layer.window is not None
    win = layer.window
    t, left, b, r = win.pads
    if any(win.pads):
        x = np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=pad_value)
    dh, dw = win.dilations
    kh = (win.kernel[0] - 1) * dh + 1
    kw = (win.kernel[1] - 1) * dw + 1
    v = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, :: win.strides[0], :: win.strides[1], ::dh, ::dw]


def _conv(x: I8, layer: Layer, t_in: Tensor, t_out: Tensor) -> I8:
    assert layer.weights is not None and layer.bias is not None and layer.multiplier is not None
    xs = x.astype(np.float64) - t_in.zero_point  # zero padding happens in the (q − zp) domain
    win: AnyArr = _windows(xs, layer, 0.0)
    w: AnyArr = layer.weights.astype(np.float64)
    c_out, c_in_g = w.shape[0], w.shape[1]
    g = layer.group
    if c_in_g == 1:  # depthwise (with a channel multiplier m = c_out / g)
        wg = w.reshape(g, c_out // g, *w.shape[2:])
        acc = np.einsum("bgyxij,gmij->bgmyx", win, wg, optimize=True)
        acc = acc.reshape(acc.shape[0], c_out, *acc.shape[3:])
    else:
        parts = []
        co_g = c_out // g
        for k in range(g):
            xg = win[:, k * c_in_g : (k + 1) * c_in_g]
            wk = w[k * co_g : (k + 1) * co_g]
            parts.append(np.tensordot(xg, wk, axes=([1, 4, 5], [1, 2, 3])))
        acc = np.concatenate(parts, axis=3).transpose(0, 3, 1, 2)
    acc_i = np.rint(acc).astype(np.int64) + layer.bias.astype(np.int64)[None, :, None, None]
    m = layer.multiplier[None, :, None, None]
    return requantize(acc_i, m, t_out.zero_point, layer.name)


def _gemm(x: I8, layer: Layer, t_in: Tensor, t_out: Tensor) -> I8:
    assert layer.weights is not None and layer.multiplier is not None
    xs = x.reshape(x.shape[0], -1).astype(np.float64) - t_in.zero_point
    acc = np.rint(xs @ layer.weights.astype(np.float64).T).astype(np.int64)
    if layer.bias is not None:
        acc += layer.bias.astype(np.int64)
    return requantize(acc, layer.multiplier[None, :], t_out.zero_point, layer.name)


def _avgpool(x: I8, layer: Layer, t_in: Tensor, t_out: Tensor) -> I8:
    assert layer.window is not None
    win = layer.window
    xf = np.float32(t_in.scale) * (x.astype(np.int32) - t_in.zero_point).astype(np.float32)
    views: AnyArr = _windows(
        xf, layer, 0.0
    )  # padded positions add +0.0: the float sum is unchanged
    total: AnyArr = np.zeros(views.shape[:4], dtype=np.float32)
    for i in range(win.kernel[0]):
        for j in range(win.kernel[1]):
            total = total + views[..., i, j]  # float32, window order (row-major), as MLAS
    if layer.count_include_pad:
        count = np.full(views.shape[2:4], win.kernel[0] * win.kernel[1], dtype=np.float32)
    else:
        ones = np.ones((1, 1, t_in.shape[2], t_in.shape[3]), dtype=np.float32)
        count = _windows(ones, layer, 0.0).sum(axis=(-2, -1))[0, 0].astype(np.float32)
    y = total / count
    q = np.rint(y / np.float32(t_out.scale) + np.float32(t_out.zero_point))
    return np.asarray(np.clip(q, QMIN, QMAX), dtype=np.int8)


def _gap(x: I8, layer: Layer, t_in: Tensor, t_out: Tensor) -> I8:
    assert layer.multiplier is not None
    n = x.shape[2] * x.shape[3]
    acc = x.astype(np.int64).sum(axis=(2, 3), keepdims=True) - t_in.zero_point * n
    return requantize(acc, layer.multiplier, t_out.zero_point, layer.name)


def _run_layer(layer: Layer, values: dict[int, I8], model: IntModel, batch: int) -> I8:
    t_out = model.tensors[layer.output]
    t_in = model.tensors[layer.inputs[0]]
    x = values[layer.inputs[0]]
    if layer.op is Op.CONV:
        return _conv(x, layer, t_in, t_out)
    if layer.op is Op.GEMM:
        return _gemm(x, layer, t_in, t_out)
    if layer.op is Op.ADD:
        assert layer.add is not None
        table = _add_table(layer)
        y = values[layer.inputs[1]]
        return table[x.astype(np.intp) + 128, y.astype(np.intp) + 128]
    if layer.op is Op.MAXPOOL:
        return np.asarray(_windows(x, layer, QMIN).max(axis=(-2, -1)), dtype=np.int8)
    if layer.op is Op.AVGPOOL:
        return _avgpool(x, layer, t_in, t_out)
    if layer.op is Op.GLOBAL_AVGPOOL:
        return _gap(x, layer, t_in, t_out)
    if layer.op is Op.LOOKUP:
        assert layer.lut is not None
        return layer.lut[x.astype(np.intp) + 128]
    if layer.op is Op.RESHAPE:
        return x.reshape((batch, *t_out.shape[1:]))
    raise ValueError(f"layer {layer.name}: op {layer.op!r} cannot run here")


_ADD_TABLES: dict[bytes, I8] = {}


def _add_table(layer: Layer) -> I8:
    assert layer.add is not None
    key = layer.add.astype(np.float32).tobytes()
    if key not in _ADD_TABLES:
        _ADD_TABLES[key] = qlinear_add_table(layer.add)
    return _ADD_TABLES[key]


# --------------------------------------------------------------------------- model


def features_to_float(model: IntModel, features: npt.ArrayLike, offset: int = 0) -> F32:
    """``float32(clamp16(f + offset)) · input_scale`` with the batch on axis 0."""
    f = np.asarray(features)
    if f.dtype != np.int16:
        raise ValueError(f"features must be int16, got {f.dtype}")
    if offset:
        f = np.clip(f.astype(np.int32) + int(offset), -32768, 32767).astype(np.int16)
    return f.astype(np.float32) * np.float32(model.input_scale)


def run_float(
    model: IntModel,
    x: npt.ArrayLike,
    *,
    keep_all: bool = False,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Result:
    """Run a batch of float inputs ``[B, *input_shape[1:]]`` (what onnxruntime is fed)."""
    xf = np.asarray(x, dtype=np.float32)
    shape = model.input_shape[1:]
    batch = xf.shape[0]
    xf = xf.reshape(batch, *shape)
    outs: list[Result] = []
    for start in range(0, batch, CHUNK):
        if cancel is not None and cancel():
            from core.errors import Cancelled

            raise Cancelled("INT8 run cancelled")
        outs.append(_run_chunk(model, xf[start : start + CHUNK], keep_all, threshold))
        if progress is not None:
            progress(min(start + CHUNK, batch), batch)
    if len(outs) == 1:
        return outs[0]
    tensors = {k: np.concatenate([o.tensors[k] for o in outs]) for k in outs[0].tensors}
    score = None
    if outs[0].score is not None:
        score = np.concatenate([o.score for o in outs if o.score is not None])
    return Result(
        np.concatenate([o.output for o in outs]),
        np.concatenate([o.decision for o in outs]),
        score,
        tensors,
    )


def run(
    model: IntModel,
    features: npt.ArrayLike,
    *,
    offset: int = 0,
    keep_all: bool = False,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Result:
    """Run a batch of int16 feature windows (``[B, n]`` or ``[B, *input_shape[1:]]``)."""
    f = np.asarray(features)
    x = features_to_float(model, f.reshape(f.shape[0], -1), offset)
    return run_float(
        model, x, keep_all=keep_all, threshold=threshold, progress=progress, cancel=cancel
    )


def _run_chunk(model: IntModel, x: F32, keep_all: bool, threshold: float | None) -> Result:
    batch = x.shape[0]
    q_in = model.tensors[model.input]
    values: dict[int, I8] = {model.input: quantize_linear(x, q_in.scale, q_in.zero_point)}
    for layer in model.layers:
        values[layer.output] = _run_layer(layer, values, model, batch)
    out = values[model.output]
    score, decision = postprocess(model, values, threshold)
    tensors = {model.tensors[i].name: v for i, v in values.items()} if keep_all else {}
    return Result(out, decision, score, tensors)


def recon_mse(model: IntModel, q_in: I8, q_out: I8) -> F32:
    """float32 mean of squared dequantized differences, summed sequentially in element order."""
    t_in = model.tensors[model.input]
    t_out = model.tensors[model.output]
    a = q_out.reshape(q_out.shape[0], -1)
    b = q_in.reshape(q_in.shape[0], -1)
    if a.shape != b.shape:
        raise ValueError("RECON_MSE needs an output with as many elements as the input")
    da = (a.astype(np.int32) - t_out.zero_point).astype(np.float32) * np.float32(t_out.scale)
    db = (b.astype(np.int32) - t_in.zero_point).astype(np.float32) * np.float32(t_in.scale)
    d = da - db
    sq = d * d
    acc = np.zeros(a.shape[0], dtype=np.float32)
    for i in range(a.shape[1]):
        acc = acc + sq[:, i]
    return np.asarray(acc / np.float32(a.shape[1]), dtype=np.float32)


def postprocess(
    model: IntModel, values: dict[int, I8], threshold: float | None = None
) -> tuple[F32 | None, npt.NDArray[np.int32]]:
    """(score, decision) per input, exactly as the device computes them."""
    out = values[model.output]
    if model.postprocess is Postprocess.ARGMAX:
        flat = out.reshape(out.shape[0], -1)
        best = np.argmax(flat, axis=1)  # the first max wins ties
        t = model.tensors[model.output]
        q_max = flat[np.arange(flat.shape[0]), best].astype(np.int32) - t.zero_point
        return q_max.astype(np.float32) * np.float32(t.scale), best.astype(np.int32)
    score = recon_mse(model, values[model.input], out)
    thr = np.float32(model.threshold if threshold is None else threshold)
    return score, (score > thr).astype(np.int32)
