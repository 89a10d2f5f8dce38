"""Build the integer model (``core.model.ir``) from a QDQ model made by ``quantize_static``.

The QDQ graph holds float operators between DequantizeLinear (DQ) and QuantizeLinear (Q) nodes
(names as in reference/onnxruntime-int8-arithmetic.md §2.12). Each pattern becomes the kernel
onnxruntime fuses it into at ``ORT_ENABLE_EXTENDED``:

=====================================  ==========================================
DQ(x), DQ(W), DQ(b) → Conv → Q          ``Op.CONV`` (QLinearConv)
DQ(x), DQ(W), DQ(b) → Gemm → Q          ``Op.GEMM`` (QGemm; ``alpha`` folded into M)
DQ(x), DQ(W) → MatMul → Q               ``Op.GEMM`` without bias (QLinearMatMul)
DQ(a), DQ(b) → Add → Q                  ``Op.ADD`` (QLinearAdd, equal shapes)
DQ → MaxPool → Q (same scale/zp)        ``Op.MAXPOOL`` on int8
DQ → AveragePool → Q                    ``Op.AVGPOOL`` or ``Op.GLOBAL_AVGPOOL`` when the
                                        window covers the whole unpadded input
DQ → GlobalAveragePool → Q              ``Op.GLOBAL_AVGPOOL``
DQ → Sigmoid → Q                        ``Op.LOOKUP`` (table from onnxruntime's own kernel)
DQ → Reshape / Flatten → Q (same q.)    ``Op.RESHAPE``
DQ → Softmax → Q → DQ → output          dropped: the decision is the argmax of the logits
=====================================  ==========================================

A Relu or Clip between an operator and its Q is folded into the requantization clamp when the
Q's range already enforces it (as onnxruntime's Relu/Clip-Q fusion does); otherwise it is an
error. Every node that cannot be mapped is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from core.model.executor import qlinear_add_params
from core.model.ir import QMAX, QMIN, IntModel, Layer, Op, Postprocess, Tensor, Window
from core.model.onnx_io import ModelError, UnsupportedModelError

F32 = npt.NDArray[np.float32]
COMPUTE_OPS = {
    "Conv",
    "Gemm",
    "MatMul",
    "Add",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Sigmoid",
    "Reshape",
    "Flatten",
    "Softmax",
    "Relu",
    "Clip",
}
PASS_OPS = {"QuantizeLinear", "DequantizeLinear", "Constant", "Identity"}


class ExtractError(ModelError):
    """The QDQ model has a structure the integer path cannot represent."""


@dataclass(frozen=True)
class _Const:
    """A dequantized initializer: its integer values, scale(s), zero point(s) and axis."""

    q: npt.NDArray[np.generic]
    scale: F32
    zero_point: npt.NDArray[np.generic]
    axis: int


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _f32(v: object) -> float:
    return float(np.float32(np.asarray(v, dtype=np.float32).reshape(-1)[0]))


class _Extractor:
    def __init__(self, model: onnx.ModelProto, name: str) -> None:
        self.name = name
        self.graph = model.graph
        self.inits: dict[str, npt.NDArray[np.generic]] = {
            t.name: numpy_helper.to_array(t) for t in self.graph.initializer
        }
        self.alias: dict[str, str] = {}
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.inits[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])  # type: ignore[arg-type]
            elif node.op_type == "Identity":
                self.alias[node.output[0]] = node.input[0]
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for o in node.output:
                self.producer[o] = node
            for i in node.input:
                self.consumers.setdefault(self._real(i), []).append(node)
        self.tensors: list[Tensor] = []
        self.layers: list[Layer] = []
        self.ids: dict[str, int] = {}  # int8 tensor name (Q output) → tensor id
        self.problems: list[str] = []
        self.notes: list[str] = []

    # ------------------------------------------------------------------ graph helpers

    def _real(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def _label(self, node: onnx.NodeProto) -> str:
        idx = list(self.graph.node).index(node)
        return f"node {idx} {node.name or '(unnamed)'} ({node.op_type})"

    def _init(self, name: str) -> npt.NDArray[np.generic] | None:
        return self.inits.get(self._real(name))

    def _qparams(self, node: onnx.NodeProto) -> tuple[float, int]:
        scale = self._init(node.input[1])
        zp = self._init(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if scale is None or scale.size != 1:
            raise ExtractError(f"{self._label(node)}: activation scale must be one constant")
        if zp is not None and zp.dtype != np.int8:
            raise ExtractError(
                f"{self._label(node)}: activations must be int8 (got {zp.dtype}); quantize with "
                "activation_type=QuantType.QInt8"
            )
        return _f32(scale), int(zp.reshape(-1)[0]) if zp is not None else 0

    def _dq_source(self, name: str) -> onnx.NodeProto | None:
        node = self.producer.get(self._real(name))
        return node if node is not None and node.op_type == "DequantizeLinear" else None

    def _activation(self, name: str) -> int | None:
        """Tensor id behind ``DQ(q)`` where ``q`` is a Q output already mapped."""
        dq = self._dq_source(name)
        if dq is None:
            return None
        return self.ids.get(self._real(dq.input[0]))

    def _const(self, name: str) -> _Const | None:
        dq = self._dq_source(name)
        if dq is None:
            return None
        q = self._init(dq.input[0])
        scale = self._init(dq.input[1])
        if q is None or scale is None:
            return None
        zp = self._init(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
        if zp is None:
            zp = np.zeros(scale.shape, dtype=q.dtype)
        axis = int(_attrs(dq).get("axis", 1))  # type: ignore[call-overload]
        return _Const(q, np.asarray(scale, np.float32).reshape(-1), zp.reshape(-1), axis)

    def _output_q(self, node: onnx.NodeProto) -> onnx.NodeProto:
        """The Q node that quantizes ``node``'s output, folding Relu/Clip in between."""
        out = node.output[0]
        folded: list[onnx.NodeProto] = []
        while True:
            users = self.consumers.get(out, [])
            if len(users) != 1:
                raise ExtractError(
                    f"{self._label(node)}: its float output must feed exactly one "
                    "QuantizeLinear (quantize every layer; use QuantFormat.QDQ)"
                )
            user = users[0]
            if user.op_type in ("Relu", "Clip"):
                folded.append(user)
                out = user.output[0]
                continue
            if user.op_type != "QuantizeLinear":
                raise ExtractError(
                    f"{self._label(node)}: output goes to {user.op_type}, not QuantizeLinear"
                )
            break
        scale, zp = self._qparams(user)
        for act in folded:
            lo, hi = self._clip_bounds(act)
            if lo > (QMIN - zp) * scale or hi < (QMAX - zp) * scale:
                raise ExtractError(
                    f"{self._label(act)}: this activation clips inside the quantized range "
                    f"[{(QMIN - zp) * scale:g}, {(QMAX - zp) * scale:g}] and cannot be folded "
                    "into the requantization; let quantize_static remove it (default options)"
                )
        return user

    def _clip_bounds(self, node: onnx.NodeProto) -> tuple[float, float]:
        if node.op_type == "Relu":
            return 0.0, float("inf")
        a = _attrs(node)
        lo = float(a.get("min", -np.inf))  # type: ignore[arg-type]
        hi = float(a.get("max", np.inf))  # type: ignore[arg-type]
        if len(node.input) > 1 and node.input[1]:
            v = self._init(node.input[1])
            lo = float(v) if v is not None else lo
        if len(node.input) > 2 and node.input[2]:
            v = self._init(node.input[2])
            hi = float(v) if v is not None else hi
        return lo, hi

    def _new_tensor(self, q_node: onnx.NodeProto, shape: tuple[int, ...]) -> int:
        scale, zp = self._qparams(q_node)
        self.tensors.append(Tensor(q_node.output[0], shape, scale, zp))
        tid = len(self.tensors) - 1
        self.ids[q_node.output[0]] = tid
        return tid

    # ------------------------------------------------------------------ main walk

    def run(self, input_scale: float, postprocess: Postprocess, threshold: float) -> IntModel:
        graph = self.graph
        init_names = set(self.inits)
        inputs = [i for i in graph.input if i.name not in init_names]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ExtractError(f"{self.name}: the INT8 path takes one input and one output")
        x = inputs[0]
        shape = self._input_shape(x)
        users = self.consumers.get(x.name, [])
        if len(users) != 1 or users[0].op_type != "QuantizeLinear":
            raise ExtractError(
                f"{self.name}: the input {x.name!r} must feed exactly one QuantizeLinear"
            )
        q_in = self._new_tensor(users[0], shape)

        for node in graph.node:
            if node.op_type in PASS_OPS:
                continue
            if node.op_type not in COMPUTE_OPS or node.domain not in ("", "ai.onnx"):
                self.problems.append(f"{self._label(node)}: not supported on the INT8 path")
                continue
            if node.op_type in ("Relu", "Clip") and self._activation(node.input[0]) is None:
                continue  # folded into the producer's Q (checked there)
            try:
                self._node(node)
            except ExtractError as exc:
                self.problems.append(str(exc))
        if self.problems:
            raise UnsupportedModelError(self.name, self.problems)

        output = self._graph_output()
        return IntModel(
            name=self.name,
            tensors=tuple(self.tensors),
            layers=tuple(self.layers),
            input=q_in,
            output=output,
            input_scale=_f32(input_scale),
            postprocess=postprocess,
            threshold=float(np.float32(threshold)),
            notes=tuple(self.notes),
        )

    def _input_shape(self, x: onnx.ValueInfoProto) -> tuple[int, ...]:
        dims = list(x.type.tensor_type.shape.dim)
        shape: list[int] = []
        for i, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(int(d.dim_value))
            elif i == 0:
                shape.append(1)  # a symbolic batch runs one input at a time here
            else:
                raise ExtractError(
                    f"{self.name}: input dimension {i} of {x.name!r} is not fixed; export "
                    "the model with a static shape such as [1, features]"
                )
        if not shape or shape[0] != 1 or len(shape) > 4:
            raise ExtractError(f"{self.name}: input shape {shape} must be [1, ...] with ≤ 4 dims")
        return tuple(shape)

    def _graph_output(self) -> int:
        name = self._real(self.graph.output[0].name)
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            raise ExtractError(f"{self.name}: the output must come from a DequantizeLinear")
        tid = self.ids.get(self._real(node.input[0]))
        if tid is None:
            raise ExtractError(f"{self.name}: the output is not an int8 tensor of the model")
        return tid

    def _in(self, node: onnx.NodeProto, k: int = 0) -> int:
        tid = self._activation(node.input[k])
        if tid is None:
            raise ExtractError(
                f"{self._label(node)}: input {node.input[k]!r} is not a quantized activation "
                "(DequantizeLinear of an int8 QuantizeLinear output)"
            )
        return tid

    def _node(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        if op == "Conv":
            self._conv(node)
        elif op in ("Gemm", "MatMul"):
            self._gemm(node)
        elif op == "Add":
            self._add(node)
        elif op in ("MaxPool", "AveragePool"):
            self._pool(node)
        elif op == "GlobalAveragePool":
            self._gap(node)
        elif op == "Sigmoid":
            self._sigmoid(node)
        elif op in ("Reshape", "Flatten"):
            self._reshape(node)
        elif op == "Softmax":
            self._softmax(node)
        else:  # Relu / Clip standing alone between DQ and Q
            self._standalone_activation(node)

    # ------------------------------------------------------------------ operators

    def _weights(self, node: onnx.NodeProto, k: int, axis: int, n_out: int) -> _Const:
        w = self._const(node.input[k])
        if w is None or w.q.dtype != np.int8:
            raise ExtractError(
                f"{self._label(node)}: weights must be a constant int8 DequantizeLinear "
                "(weight_type=QuantType.QInt8)"
            )
        if np.any(w.zero_point != 0):
            raise ExtractError(f"{self._label(node)}: weights must be symmetric (zero point 0)")
        if w.scale.size not in (1, n_out) or (w.scale.size > 1 and w.axis % w.q.ndim != axis):
            raise ExtractError(f"{self._label(node)}: weight scales must be per output channel")
        return w

    def _bias(self, node: onnx.NodeProto, k: int, n_out: int) -> npt.NDArray[np.int32]:
        if len(node.input) <= k or not node.input[k]:
            return np.zeros(n_out, dtype=np.int32)
        b = self._const(node.input[k])
        if b is None or b.q.dtype != np.int32:
            raise ExtractError(f"{self._label(node)}: the bias must be a constant int32 DQ")
        return np.asarray(b.q, dtype=np.int32).reshape(-1)

    @staticmethod
    def _multiplier(s_x: float, s_w: F32, s_y: float, n_out: int, alpha: float = 1.0) -> F32:
        sx = np.float32(alpha) * np.float32(s_x)  # QGemm: alpha · a_scale first
        m = (sx * np.broadcast_to(s_w.astype(np.float32), (n_out,))) / np.float32(s_y)
        return np.asarray(m, dtype=np.float32)

    def _conv(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        if len(t.shape) != 4:
            raise ExtractError(f"{self._label(node)}: only 2-D Conv ([N, C, H, W]) is supported")
        a = _attrs(node)
        w0 = self._init(self._const_name(node, 1))
        n_out = int(w0.shape[0]) if w0 is not None else 0
        w = self._weights(node, 1, 0, n_out)
        group = int(a.get("group", 1))  # type: ignore[call-overload]
        kernel = tuple(int(v) for v in a.get("kernel_shape", w.q.shape[2:]))  # type: ignore[attr-defined]
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ExtractError(f"{self._label(node)}: auto_pad is not supported; use pads")
        win = Window(
            kernel=(kernel[0], kernel[1]),
            strides=tuple(a.get("strides", (1, 1))),  # type: ignore[arg-type]
            pads=tuple(a.get("pads", (0, 0, 0, 0))),  # type: ignore[arg-type]
            dilations=tuple(a.get("dilations", (1, 1))),  # type: ignore[arg-type]
        )
        if t.shape[1] != w.q.shape[1] * group:
            raise ExtractError(f"{self._label(node)}: channels do not match the weights")
        q = self._output_q(node)
        oh, ow = win.out_hw(t.shape[2], t.shape[3])
        tout = self._new_tensor(q, (1, n_out, oh, ow))
        s_y = self.tensors[tout].scale
        self.layers.append(
            Layer(
                Op.CONV,
                node.name or q.output[0],
                (tin,),
                tout,
                window=win,
                group=group,
                weights=np.asarray(w.q, dtype=np.int8),
                bias=self._bias(node, 2, n_out),
                multiplier=self._multiplier(t.scale, w.scale, s_y, n_out),
            )
        )

    def _const_name(self, node: onnx.NodeProto, k: int) -> str:
        dq = self._dq_source(node.input[k])
        return str(dq.input[0]) if dq is not None else str(node.input[k])

    def _gemm(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        a = _attrs(node)
        alpha = float(a.get("alpha", 1.0))  # type: ignore[arg-type]
        if node.op_type == "Gemm":
            if a.get("transA", 0) or float(a.get("beta", 1.0)) != 1.0:  # type: ignore[arg-type]
                raise ExtractError(f"{self._label(node)}: Gemm needs transA=0 and beta=1")
            trans_b = bool(a.get("transB", 0))
        else:
            trans_b = False
            if len(t.shape) != 2:
                raise ExtractError(f"{self._label(node)}: MatMul needs a 2-D input [1, K]")
        w0 = self._init(self._const_name(node, 1))
        if w0 is None or w0.ndim != 2:
            raise ExtractError(f"{self._label(node)}: the weight must be a 2-D constant")
        n_out = int(w0.shape[0] if trans_b else w0.shape[1])
        w = self._weights(node, 1, 0 if trans_b else 1, n_out)
        wq = np.asarray(w.q if trans_b else w.q.T, dtype=np.int8)
        if t.size != wq.shape[1] or len(t.shape) != 2:
            raise ExtractError(f"{self._label(node)}: input {t.shape} does not fit weights [K, N]")
        bias = self._bias(node, 2, n_out)  # MatMul: zeros (no input 2)
        q = self._output_q(node)
        tout = self._new_tensor(q, (1, n_out))
        self.layers.append(
            Layer(
                Op.GEMM,
                node.name or q.output[0],
                (tin,),
                tout,
                weights=np.ascontiguousarray(wq),
                bias=bias,
                multiplier=self._multiplier(
                    t.scale, w.scale, self.tensors[tout].scale, n_out, alpha
                ),
            )
        )

    def _add(self, node: onnx.NodeProto) -> None:
        ta, tb = self._in(node, 0), self._in(node, 1)
        a, b = self.tensors[ta], self.tensors[tb]
        if a.shape != b.shape:
            raise ExtractError(
                f"{self._label(node)}: Add of shapes {a.shape} and {b.shape}; only equal "
                "shapes (no broadcasting) are supported"
            )
        q = self._output_q(node)
        tout = self._new_tensor(q, a.shape)
        c = self.tensors[tout]
        params = qlinear_add_params(
            a.scale, a.zero_point, b.scale, b.zero_point, c.scale, c.zero_point
        )
        self.layers.append(Layer(Op.ADD, node.name or q.output[0], (ta, tb), tout, add=params))

    def _pool(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        a = _attrs(node)
        if len(t.shape) != 4:
            raise ExtractError(f"{self._label(node)}: only 2-D pooling is supported")
        if a.get("ceil_mode", 0) or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ExtractError(f"{self._label(node)}: ceil_mode and auto_pad are not supported")
        if node.op_type == "MaxPool" and len(node.output) > 1 and node.output[1]:
            raise ExtractError(f"{self._label(node)}: the MaxPool indices output is unsupported")
        kernel = tuple(int(v) for v in a["kernel_shape"])  # type: ignore[attr-defined]
        win = Window(
            kernel=(kernel[0], kernel[1]),
            strides=tuple(a.get("strides", (1, 1))),  # type: ignore[arg-type]
            pads=tuple(a.get("pads", (0, 0, 0, 0))),  # type: ignore[arg-type]
            dilations=tuple(a.get("dilations", (1, 1))),  # type: ignore[arg-type]
        )
        q = self._output_q(node)
        oh, ow = win.out_hw(t.shape[2], t.shape[3])
        if node.op_type == "MaxPool":
            self._same_quant(node, t, q)
            tout = self._new_tensor(q, (1, t.shape[1], oh, ow))
            self.layers.append(
                Layer(Op.MAXPOOL, node.name or q.output[0], (tin,), tout, window=win)
            )
            return
        if win.dilations != (1, 1):
            raise ExtractError(f"{self._label(node)}: AveragePool dilations are not supported")
        if win.kernel == t.shape[2:] and not any(win.pads):
            self._gap(node)  # onnxruntime falls back to the global kernel here
            return
        tout = self._new_tensor(q, (1, t.shape[1], oh, ow))
        self.layers.append(
            Layer(
                Op.AVGPOOL,
                node.name or q.output[0],
                (tin,),
                tout,
                window=win,
                count_include_pad=bool(a.get("count_include_pad", 0)),
            )
        )

    def _gap(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        if len(t.shape) != 4:
            raise ExtractError(f"{self._label(node)}: GlobalAveragePool needs [N, C, H, W]")
        q = self._output_q(node)
        tout = self._new_tensor(q, (1, t.shape[1], 1, 1))
        n = t.shape[2] * t.shape[3]
        s_y = np.float32(self.tensors[tout].scale)
        m = np.float32(t.scale) / (s_y * np.float32(n))
        if not (2.0**-32 <= m < 256.0):
            raise ExtractError(f"{self._label(node)}: scale ratio {m:g} out of onnxruntime's range")
        self.layers.append(
            Layer(
                Op.GLOBAL_AVGPOOL,
                node.name or q.output[0],
                (tin,),
                tout,
                multiplier=np.array([m], dtype=np.float32),
            )
        )

    def _sigmoid(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        q = self._output_q(node)
        tout = self._new_tensor(q, t.shape)
        o = self.tensors[tout]
        lut = sigmoid_table(t.scale, t.zero_point, o.scale, o.zero_point)
        self.layers.append(Layer(Op.LOOKUP, node.name or q.output[0], (tin,), tout, lut=lut))

    def _reshape(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        q = self._output_q(node)
        self._same_quant(node, t, q)
        if node.op_type == "Flatten":
            axis = int(_attrs(node).get("axis", 1))  # type: ignore[call-overload]
            axis = axis % len(t.shape) if axis < 0 else axis
            lead = int(np.prod(t.shape[:axis], dtype=np.int64))
            shape: tuple[int, ...] = (lead, t.size // lead)
        else:
            target = self._init(node.input[1])
            if target is None:
                raise ExtractError(f"{self._label(node)}: the target shape must be a constant")
            dims = [int(d) for d in target.reshape(-1)]
            dims = [t.shape[i] if d == 0 else d for i, d in enumerate(dims)]
            if -1 in dims:
                known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
                dims[dims.index(-1)] = t.size // known
            shape = tuple(dims)
        if int(np.prod(shape)) != t.size or shape[0] != 1 or len(shape) > 4:
            raise ExtractError(
                f"{self._label(node)}: reshape {t.shape} → {shape} must keep the batch "
                "dimension 1 and the element count"
            )
        tout = self._new_tensor(q, tuple(int(d) for d in shape))
        self.layers.append(Layer(Op.RESHAPE, node.name or q.output[0], (tin,), tout))

    def _softmax(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        q = self._output_q(node)
        users = self.consumers.get(q.output[0], [])
        final = {self._real(o.name) for o in self.graph.output}
        if not all(u.op_type == "DequantizeLinear" and u.output[0] in final for u in users):
            raise ExtractError(f"{self._label(node)}: Softmax is supported only as the last node")
        # The decision (argmax) does not need the probabilities; the logits tensor stands in.
        self.ids[q.output[0]] = tin
        self.notes.append(
            f"final Softmax {node.name!r} dropped: the decision is the argmax of the int8 logits"
        )

    def _standalone_activation(self, node: onnx.NodeProto) -> None:
        tin = self._in(node)
        t = self.tensors[tin]
        q = self._output_q(node)
        self._same_quant(node, t, q)
        self.ids[q.output[0]] = tin  # the clamp is already implied by the range: identity

    def _same_quant(self, node: onnx.NodeProto, t: Tensor, q: onnx.NodeProto) -> None:
        scale, zp = self._qparams(q)
        if np.float32(scale) != np.float32(t.scale) or zp != t.zero_point:
            raise ExtractError(
                f"{self._label(node)}: input and output quantization differ "
                f"({t.scale:g}/{t.zero_point} vs {scale:g}/{zp}); onnxruntime runs it in float"
            )


def extract(
    model: onnx.ModelProto,
    *,
    input_scale: float,
    postprocess: Postprocess = Postprocess.ARGMAX,
    threshold: float = 0.0,
    name: str | None = None,
) -> IntModel:
    """The integer model of a QDQ ``model``; raises ``UnsupportedModelError`` listing problems."""
    label = name or model.graph.name or "model"
    return _Extractor(model, label).run(input_scale, postprocess, threshold)


_SIGMOID_CACHE: dict[tuple[float, int, float, int], npt.NDArray[np.int8]] = {}


def sigmoid_table(s_x: float, zp_x: int, s_y: float, zp_y: int) -> npt.NDArray[np.int8]:
    """onnxruntime's QLinearSigmoid output for every int8 input (index ``q + 128``)."""
    key = (float(np.float32(s_x)), zp_x, float(np.float32(s_y)), zp_y)
    if key in _SIGMOID_CACHE:
        return _SIGMOID_CACHE[key]
    import onnxruntime as ort
    from onnx import TensorProto, helper

    def c(n: str, v: npt.NDArray[np.generic]) -> onnx.TensorProto:
        return numpy_helper.from_array(v, n)

    node = helper.make_node(
        "QLinearSigmoid", ["x", "xs", "xz", "ys", "yz"], ["y"], domain="com.microsoft"
    )
    graph = helper.make_graph(
        [node],
        "lut",
        [helper.make_tensor_value_info("x", TensorProto.INT8, [256])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [256])],
        [
            c("xs", np.array(s_x, np.float32)),
            c("xz", np.array(zp_x, np.int8)),
            c("ys", np.array(s_y, np.float32)),
            c("yz", np.array(zp_y, np.int8)),
        ],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    proto.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = np.arange(QMIN, QMAX + 1, dtype=np.int8)
    table = np.asarray(sess.run(None, {"x": x})[0], dtype=np.int8)
    _SIGMOID_CACHE[key] = table
    return table
