"""Per-layer evidence for the validation report: ranges, saturation, SQNR, weight histograms.

* Activation tensors are the inputs of the QDQ model's ``QuantizeLinear`` nodes; each maps to a
  float-model tensor of the same name (``<t>_QuantizeLinear_Input`` → ``<t>``).
* Saturation (reference §4.3): a float activation value clips when it lies more than ``s/2``
  beyond the representable range ``[(qmin − zp)·s, (qmax − zp)·s]``. Counted per stratum.
* SQNR comes from ``onnxruntime.quantization.qdq_loss_debug``; the report uses ``xmodel_err``
  (float model vs QDQ model) because ``qdq_err`` is meaningless where a ReLU was folded into the
  quantizer (reference §4.2).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

QMIN, QMAX = -128, 127
QUANT_INPUT_SUFFIX = "_QuantizeLinear_Input"


@dataclass(frozen=True)
class QuantParam:
    """One quantized activation tensor of the QDQ model."""

    tensor: str  # float-model name
    qdq_input: str  # name of the QuantizeLinear input in the QDQ model
    scale: float
    zero_point: int
    producer: str  # op type producing it in the QDQ model ("input" for the graph input)

    @property
    def quant_range(self) -> tuple[float, float]:
        s = np.float32(self.scale)
        return float((QMIN - self.zero_point) * s), float((QMAX - self.zero_point) * s)

    @property
    def relu_folded(self) -> bool:
        return self.zero_point == QMIN


@dataclass
class LayerStats:
    tensor: str
    producer: str
    scale: float
    zero_point: int
    quant_range: tuple[float, float]
    float_range: tuple[float, float]
    calibrated_range: tuple[float, float] | None
    saturation: float  # share of values clipped, all rows
    saturation_low: float
    saturation_high: float
    saturation_strata: list[dict[str, Any]] = field(default_factory=list)
    sqnr_db: float | None = None
    percentiles: tuple[float, float] = (0.0, 0.0)  # 0.01 % and 99.99 % of the float values
    histogram: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "producer": self.producer,
            "scale": self.scale,
            "zero_point": self.zero_point,
            "quant_range": list(self.quant_range),
            "float_range": list(self.float_range),
            "calibrated_range": None
            if self.calibrated_range is None
            else list(self.calibrated_range),
            "saturation": self.saturation,
            "saturation_low": self.saturation_low,
            "saturation_high": self.saturation_high,
            "saturation_strata": self.saturation_strata,
            "sqnr_db": _finite(self.sqnr_db),
            "percentiles": list(self.percentiles),
            "histogram": self.histogram,
        }


@dataclass
class WeightStats:
    name: str
    layer: str
    channels: int
    sqnr_db: float | None
    absmax: float
    scale_min: float
    scale_max: float
    histogram: dict[str, list[float]]
    int8_histogram: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "channels": self.channels,
            "sqnr_db": _finite(self.sqnr_db),
            "absmax": self.absmax,
            "scale_min": self.scale_min,
            "scale_max": self.scale_max,
            "histogram": self.histogram,
            "int8_histogram": self.int8_histogram,
        }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def quant_params(qdq: onnx.ModelProto) -> list[QuantParam]:
    """Every activation ``QuantizeLinear`` of a QDQ model, in graph order."""
    inits = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    producers = {o: n.op_type for n in qdq.graph.node for o in n.output}
    graph_inputs = {i.name for i in qdq.graph.input}
    params: list[QuantParam] = []
    for node in qdq.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits:
            continue
        src = node.input[0]
        name = src[: -len(QUANT_INPUT_SUFFIX)] if src.endswith(QUANT_INPUT_SUFFIX) else src
        scale = float(np.asarray(inits[node.input[1]], dtype=np.float32).reshape(-1)[0])
        zp = int(np.asarray(inits[node.input[2]]).reshape(-1)[0]) if len(node.input) > 2 else 0
        producer = "input" if src in graph_inputs else producers.get(src, "?")
        params.append(QuantParam(name, src, scale, zp, producer))
    return params


def saturation_counts(
    values: npt.NDArray[np.float32], param: QuantParam
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Per-row counts of values clipped low and high, and the values per row."""
    lo, hi = param.quant_range
    half = 0.5 * param.scale
    flat = values.reshape(values.shape[0], -1)
    low = np.count_nonzero(flat < lo - half, axis=1).astype(np.int64)
    high = np.count_nonzero(flat > hi + half, axis=1).astype(np.int64)
    return low, high, int(flat.shape[1])


def histogram(values: npt.NDArray[Any], bins: int = 32) -> dict[str, list[float]]:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]}


def layer_stats(
    params: Sequence[QuantParam],
    float_acts: dict[str, npt.NDArray[np.float32]],
    strata: Sequence[tuple[dict[str, str], npt.NDArray[np.int64]]],
    calibrated: dict[str, tuple[float, float]],
    sqnr: dict[str, float],
    bins: int = 32,
) -> list[LayerStats]:
    """Ranges and saturation of every quantized activation over all rows and per stratum."""
    out: list[LayerStats] = []
    for p in params:
        vals = float_acts.get(p.tensor)
        if vals is None:
            continue
        low, high, per_row = saturation_counts(vals, p)
        total = max(1, per_row * vals.shape[0])
        strata_rates = []
        for tags, rows in strata:
            n = max(1, per_row * rows.size)
            strata_rates.append(
                {
                    "tags": tags,
                    "n": int(rows.size),
                    "rate": float((low[rows].sum() + high[rows].sum()) / n),
                }
            )
        flat = vals.reshape(-1)
        pct = np.percentile(flat, [0.01, 99.99]) if flat.size else np.zeros(2)
        out.append(
            LayerStats(
                tensor=p.tensor,
                producer=p.producer,
                scale=p.scale,
                zero_point=p.zero_point,
                quant_range=p.quant_range,
                float_range=(float(flat.min()), float(flat.max())),
                calibrated_range=calibrated.get(p.tensor),
                saturation=float((low.sum() + high.sum()) / total),
                saturation_low=float(low.sum() / total),
                saturation_high=float(high.sum() / total),
                saturation_strata=strata_rates,
                sqnr_db=sqnr.get(p.tensor),
                percentiles=(float(pct[0]), float(pct[1])),
                histogram=histogram(flat, bins),
            )
        )
    return out


def weight_stats(float_path: Path, qdq_path: Path, bins: int = 32) -> list[WeightStats]:
    """SQNR (``compute_weight_error``) and histograms of every quantized weight."""
    from onnxruntime.quantization.qdq_loss_debug import (
        compute_weight_error,
        create_weight_matching,
    )

    with contextlib.redirect_stdout(io.StringIO()):
        matching = create_weight_matching(str(float_path), str(qdq_path))
        errors = compute_weight_error(matching)
    qdq = onnx.load(str(qdq_path))
    inits = {t.name: t for t in qdq.graph.initializer}
    users: dict[str, str] = {}
    for node in qdq.graph.node:
        for i in node.input:
            users.setdefault(i, node.name or node.op_type)
    stats: list[WeightStats] = []
    for name, match in matching.items():
        q = inits.get(f"{name}_quantized")
        if q is None or q.data_type != onnx.TensorProto.INT8:
            continue  # int32 biases are not weights for the histogram
        f = np.asarray(match["float"], dtype=np.float32)
        qa = numpy_helper.to_array(q)
        scale_t = inits.get(f"{name}_scale")
        scales = numpy_helper.to_array(scale_t).reshape(-1) if scale_t is not None else np.ones(1)
        dq_out = f"{name}_DequantizeLinear_Output"
        layer = next(
            (n.name or n.op_type for n in qdq.graph.node if dq_out in n.input), users.get(name, "?")
        )
        int_counts, int_edges = np.histogram(qa.astype(np.int64), bins=32, range=(-128, 128))
        stats.append(
            WeightStats(
                name=name,
                layer=layer,
                channels=int(scales.size),
                sqnr_db=float(errors[name]),
                absmax=float(np.abs(f).max()),
                scale_min=float(scales.min()),
                scale_max=float(scales.max()),
                histogram=histogram(f, bins),
                int8_histogram={
                    "edges": [float(e) for e in int_edges],
                    "counts": [float(c) for c in int_counts],
                },
            )
        )
    return stats


def activation_sqnr(
    float_path: Path,
    qdq_path: Path,
    input_name: str,
    x: npt.NDArray[np.float32],
    work_dir: Path,
) -> dict[str, float]:
    """``xmodel_err`` (float vs QDQ model, dB) per activation tensor over the inputs ``x``."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    from core.model.calibration import make_reader

    aug_f = work_dir / "float_aug.onnx"
    aug_q = work_dir / "qdq_aug.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        modify_model_output_intermediate_tensors(str(float_path), str(aug_f))
        modify_model_output_intermediate_tensors(str(qdq_path), str(aug_q))
        float_acts = collect_activations(str(aug_f), make_reader(input_name, x))
        qdq_acts = collect_activations(str(aug_q), make_reader(input_name, x))
        matching = create_activation_matching(qdq_acts, float_acts)
        errors = compute_activation_error(matching)
    return {k: float(v["xmodel_err"]) for k, v in errors.items() if "xmodel_err" in v}


def float_activations(
    float_path: Path,
    input_name: str,
    x: npt.NDArray[np.float32],
    tensors: Sequence[str],
    work_dir: Path,
) -> dict[str, npt.NDArray[np.float32]]:
    """Every named tensor of the float model for every input row: ``{name: [n, ...]}``.

    The graph input itself is returned from ``x``. Runs one augmented session, one row a call.
    """
    from core.model.onnx_io import make_session, run_session

    model = onnx.load(str(float_path))
    have = {o.name for o in model.graph.output}
    inputs = {i.name for i in model.graph.input}
    wanted = [t for t in tensors if t not in inputs]
    for t in wanted:
        if t not in have:
            model.graph.output.append(onnx.ValueInfoProto(name=t))
    aug = work_dir / "float_outputs.onnx"
    onnx.save(model, str(aug))
    session = make_session(aug, "basic")
    result: dict[str, npt.NDArray[np.float32]] = {}
    if wanted:
        arrays = run_session(session, x, wanted)
        result.update(zip(wanted, arrays, strict=True))
    for t in tensors:
        if t in inputs:
            result[t] = x[:, 0]
    return result
