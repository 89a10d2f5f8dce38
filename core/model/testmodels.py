"""Small float ONNX models built with the ONNX helper API, for tests and benchmarks.

Each builder returns a checked ``onnx.ModelProto`` (opset 17) with seeded random weights whose
per-channel magnitudes spread by e^U(-1, 1), so per-channel quantization matters. ``batch`` is the
leading input dimension: ``1`` (what the device runs; what ``core.model.onnx_io`` accepts) or a
symbolic name such as ``"N"`` so onnxruntime can take thousands of inputs in one call.

``quantize_qdq`` runs ``onnxruntime.quantization.quantize_static`` with the project's settings
(QDQ, s8 per-channel weights, s8 activations, MinMax) on an in-memory model; ``test_inputs`` draws
inputs that are 80 % in-distribution and 20 % with twice the spread, to exercise saturation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F32 = npt.NDArray[np.float32]


class _Builder:
    """Accumulates nodes and initializers; names are unique by construction."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, stem: str, value: npt.NDArray[np.generic]) -> str:
        n = self.name(stem)
        self.inits.append(numpy_helper.from_array(value, n))
        return n

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = self.name(op.lower() + "_out")
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(op), **attrs))
        return out

    def weights(self, shape: tuple[int, ...], fan_in: int) -> F32:
        spread = np.exp(self.rng.uniform(-1, 1, size=(shape[0],) + (1,) * (len(shape) - 1)))
        w = self.rng.normal(0, 1 / np.sqrt(fan_in), size=shape) * spread
        return w.astype(np.float32)

    def bias(self, n: int) -> F32:
        return self.rng.normal(0, 0.1, size=n).astype(np.float32)

    def gemm(self, x: str, n_in: int, n_out: int, relu: bool = False) -> str:
        w = self.const("W", self.weights((n_out, n_in), n_in))
        b = self.const("B", self.bias(n_out))
        y = self.node("Gemm", [x, w, b], transB=1)
        return self.node("Relu", [y]) if relu else y

    def conv(
        self,
        x: str,
        c_in: int,
        c_out: int,
        k: int,
        *,
        stride: int = 1,
        pad: int = 0,
        group: int = 1,
        relu: bool = True,
    ) -> str:
        w = self.const("W", self.weights((c_out, c_in // group, 1, k), c_in // group * k))
        b = self.const("B", self.bias(c_out))
        y = self.node(
            "Conv",
            [x, w, b],
            kernel_shape=[1, k],
            strides=[1, stride],
            pads=[0, pad, 0, pad],
            group=group,
        )
        return self.node("Relu", [y]) if relu else y

    def model(
        self, name: str, x_shape: list[int | str], y: str, y_shape: list[int | str]
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, y_shape)],
            self.inits,
        )
        # Rename the last node's output to "output".
        for node in graph.node:
            for i, o in enumerate(node.output):
                if o == y:
                    node.output[i] = "output"
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def mlp(batch: int | str = 1, seed: int = 0) -> onnx.ModelProto:
    """X[.,64] → Gemm(32) → Relu → Gemm(16) → Relu → Gemm(4)."""
    b = _Builder(seed)
    h = b.gemm("input", 64, 32, relu=True)
    h = b.gemm(h, 32, 16, relu=True)
    y = b.gemm(h, 16, 4)
    return b.model("mlp", [batch, 64], y, [batch, 4])


def autoencoder(batch: int | str = 1, seed: int = 1) -> onnx.ModelProto:
    """Dense autoencoder X[.,32] → 16 → 8 → 16 (Relu) → MatMul 32 (no bias: QLinearMatMul)."""
    b = _Builder(seed)
    h = b.gemm("input", 32, 16, relu=True)
    h = b.gemm(h, 16, 8, relu=True)
    h = b.gemm(h, 8, 16, relu=True)
    w = b.const("W", b.weights((32, 16), 16).T.copy())  # MatMul weight is [K, N]
    y = b.node("MatMul", [h, w])
    return b.model("autoencoder", [batch, 32], y, [batch, 32])


def conv1d(batch: int | str = 1, seed: int = 2) -> onnx.ModelProto:
    """X[.,8,1,64] → Conv(16, 1×5, pad 2) → Conv(16, 1×3, stride 2) → Flatten → Gemm(4).

    Both convolutions are followed by Relu.
    """
    b = _Builder(seed)
    h = b.conv("input", 8, 16, 5, pad=2)
    h = b.conv(h, 16, 16, 3, stride=2)
    f = b.node("Flatten", [h], axis=1)
    y = b.gemm(f, 16 * 31, 4)
    return b.model("conv1d", [batch, 8, 1, 64], y, [batch, 4])


def dscnn1d(batch: int | str = 1, seed: int = 3, softmax: bool = False) -> onnx.ModelProto:
    """Conv(16, 1×5) → depthwise Conv(1×3, group 16) → Conv(32, 1×1) → GAP → Flatten → Gemm(4)."""
    b = _Builder(seed)
    h = b.conv("input", 8, 16, 5)
    h = b.conv(h, 16, 16, 3, pad=1, group=16)
    h = b.conv(h, 16, 32, 1)
    g = b.node("GlobalAveragePool", [h])
    f = b.node("Flatten", [g], axis=1)
    y = b.gemm(f, 32, 4)
    if softmax:
        y = b.node("Softmax", [y], axis=-1)
    return b.model("dscnn1d", [batch, 8, 1, 64], y, [batch, 4])


def addpool(batch: int | str = 1, seed: int = 4) -> onnx.ModelProto:
    """Residual Add, MaxPool, AveragePool (padded) and Sigmoid before a Gemm head.

    X[.,8,1,32] → Conv(8, 1×3, pad 1) → Relu → Add(X) → MaxPool(1×2) → Conv(8, 1×3) → Relu →
    AveragePool(1×3, stride 2, pad 1) → Sigmoid → Reshape[., 56] → Gemm(3).
    """
    b = _Builder(seed)
    h = b.conv("input", 8, 8, 3, pad=1)
    h = b.node("Add", [h, "input"])
    h = b.node("MaxPool", [h], kernel_shape=[1, 2], strides=[1, 2])
    h = b.conv(h, 8, 8, 3)
    h = b.node("AveragePool", [h], kernel_shape=[1, 3], strides=[1, 2], pads=[0, 1, 0, 1])
    h = b.node("Sigmoid", [h])
    shape = b.const("shape", np.array([-1, 56], dtype=np.int64))
    f = b.node("Reshape", [h, shape])
    y = b.gemm(f, 56, 3)
    return b.model("addpool", [batch, 8, 1, 32], y, [batch, 3])


BUILDERS: dict[str, Callable[..., onnx.ModelProto]] = {
    "mlp": mlp,
    "autoencoder": autoencoder,
    "conv1d": conv1d,
    "dscnn1d": dscnn1d,
    "addpool": addpool,
}


def input_shape(model: onnx.ModelProto) -> tuple[int, ...]:
    """Input shape of one sample (leading batch dimension dropped)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return tuple(int(d.dim_value) for d in dims[1:])


def test_inputs(model: onnx.ModelProto, n: int, seed: int = 10) -> F32:
    """``n`` inputs of shape ``[n, ...]``: 80 % N(0, 1), 20 % N(0, 2²)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, size=(n, *input_shape(model))).astype(np.float32)
    wide = rng.random(n) < 0.2
    x[wide] *= 2
    return x


def quantize_qdq(
    model: onnx.ModelProto,
    calibration: F32,
    *,
    per_channel: bool = True,
    extra_options: dict[str, object] | None = None,
) -> onnx.ModelProto:
    """QDQ s8s8 quantization with ``quantize_static`` (MinMax); calibration rows one at a time."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.rows = iter(calibration)

        def get_next(self) -> dict[str, F32] | None:
            row = next(self.rows, None)
            return None if row is None else {"input": row[None]}

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            extra_options=extra_options,
        )
        return onnx.load(str(dst))


def ort_session(
    model: onnx.ModelProto, *, expose: bool = False, int8_allowed: bool = True
) -> object:
    """A golden onnxruntime session: ORT_ENABLE_EXTENDED, one intra-op thread.

    ``expose`` adds every activation ``*_QuantizeLinear_Output`` as a graph output (per-layer
    comparison). On x86 that blocks the fusion of int8 Conv unless ``int8_allowed`` sets
    ``session.qdqisint8allowed=1`` (reference §5.2), which keeps every kernel fused and s8s8.
    """
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    if expose:
        for name in activation_outputs(model):
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.INT8, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if int8_allowed:
        so.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def activation_outputs(model: onnx.ModelProto) -> list[str]:
    """Names of the int8 activation tensors (QuantizeLinear outputs that are not weights)."""
    inits = {t.name for t in model.graph.initializer}
    return [
        n.output[0]
        for n in model.graph.node
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits
    ]


def ort_run(session: object, x: F32) -> dict[str, npt.NDArray[np.generic]]:
    """All outputs of ``session`` for input ``x``, by name."""
    outs = session.run(None, {"input": x})  # type: ignore[attr-defined]
    names = [o.name for o in session.get_outputs()]  # type: ignore[attr-defined]
    return dict(zip(names, outs, strict=True))
