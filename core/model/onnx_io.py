"""Load a float ONNX model, check it against the supported operator set, run it in float.

Everything a user can get wrong is reported before anything runs: every unsupported node at
once (``UnsupportedModelError``), a dynamic or missing input shape (``DynamicShapeError``), an
opset below 13, a file that is not ONNX. Inference goes through onnxruntime on the CPU with one
intra-op thread (the same settings the INT8 golden runs use).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from core.errors import Cancelled, FieldbenchError

F32 = npt.NDArray[np.float32]
ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

MIN_OPSET = 13

#: Float operators the INT8 path (quantize → executor → C++ runtime) handles.
SUPPORTED_OPS: frozenset[str] = frozenset(
    {
        "Gemm",
        "MatMul",
        "Conv",
        "Relu",
        "Clip",
        "Add",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "Reshape",
        "Flatten",
        "Sigmoid",
        "Softmax",
        # Folded away by quant_pre_process (constant folding) or no-ops at run time.
        "Constant",
        "Identity",
    }
)


class ModelError(FieldbenchError):
    """A model file cannot be read or used."""


class UnsupportedModelError(ModelError):
    """The model has nodes outside the supported set; ``problems`` lists every one."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{path}: {len(self.problems)} node(s) cannot run on the INT8 path; change them "
            f"and export again:\n{lines}"
        )


class DynamicShapeError(ModelError):
    """An input dimension is symbolic or unknown."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class FloatModel:
    """A checked float ONNX model: one input and one output with static shapes."""

    path: Path
    proto: onnx.ModelProto
    input: TensorInfo
    output: TensorInfo
    opset: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one input without the batch dimension (which is 1)."""
        return self.input.shape[1:]

    def op_types(self) -> list[str]:
        return [n.op_type for n in self.proto.graph.node]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model(path: str | Path) -> FloatModel:
    """Read and check a float ONNX model; raise a ``ModelError`` naming what to change."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such model file")
    try:
        proto = onnx.load(str(p))
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError, …
        raise ModelError(f"{p}: not a readable ONNX model ({exc})") from None
    opset = _default_opset(proto)
    if opset < MIN_OPSET:
        raise ModelError(
            f"{p}: opset {opset} is too old; export with opset {MIN_OPSET} or newer "
            "(e.g. torch.onnx.export(..., opset_version=17))"
        )
    graph = proto.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelError(
            f"{p}: the model has {len(inputs)} input(s) and {len(graph.output)} output(s); "
            "the INT8 path takes exactly one input (the feature window) and one output"
        )
    inp = _static_info(p, inputs[0], "input")
    if inp.shape[0] != 1:
        raise DynamicShapeError(
            f"{p}: input {inp.name!r} has batch size {inp.shape[0]}; export with batch size 1 "
            f"(shape {[1, *inp.shape[1:]]})"
        )
    problems = unsupported_nodes(proto)
    if problems:
        raise UnsupportedModelError(str(p), problems)
    out = _output_info(p, proto, graph.output[0].name)
    return FloatModel(p, proto, inp, out, opset, file_sha256(p))


def unsupported_nodes(proto: onnx.ModelProto) -> list[str]:
    """One line per node the INT8 path cannot take (empty when the model is fine)."""
    graph = proto.graph
    problems: list[str] = []
    ranks = _ranks(proto)
    nodes = list(graph.node)
    outputs = {o.name for o in graph.output}
    for idx, node in enumerate(nodes):
        label = f"node {idx} {node.name or '(unnamed)'} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            problems.append(f"{label}: custom domain {node.domain!r} is not supported")
            continue
        if node.op_type not in SUPPORTED_OPS:
            problems.append(
                f"{label}: {node.op_type} is not supported; supported: "
                + ", ".join(sorted(SUPPORTED_OPS - {"Constant", "Identity"}))
            )
            continue
        if node.op_type == "Softmax" and not set(node.output) & outputs:
            problems.append(f"{label}: Softmax is supported only as the model's last node")
        if node.op_type in ("Conv", "MaxPool", "AveragePool", "GlobalAveragePool"):
            rank = ranks.get(node.input[0])
            if rank is not None and rank != 4:
                problems.append(
                    f"{label}: {rank - 2}-D {node.op_type} is not supported; use the 2-D form "
                    "(a 1-D signal as [N, C, 1, W])"
                )
        if node.op_type in ("MaxPool", "AveragePool"):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("ceil_mode", 0):
                problems.append(f"{label}: ceil_mode=1 is not supported; use ceil_mode=0")
            if node.op_type == "MaxPool" and len(node.output) > 1 and node.output[1]:
                problems.append(f"{label}: MaxPool indices output is not supported")
    return problems


def _default_opset(proto: onnx.ModelProto) -> int:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def _static_info(path: Path, value: onnx.ValueInfoProto, what: str) -> TensorInfo:
    tt = value.type.tensor_type
    if not tt.HasField("shape"):
        raise DynamicShapeError(
            f"{path}: {what} {value.name!r} has no shape; export it with a fixed shape "
            "such as [1, features]"
        )
    dims: list[int] = []
    symbolic = False
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:
            dims.append(-1)
            symbolic = True
    if symbolic:
        shown = [str(v) if v > 0 else "?" for v in dims]
        fixed = [1, *[v if v > 0 else "<size>" for v in dims[1:]]]
        raise DynamicShapeError(
            f"{path}: {what} {value.name!r} has a dynamic shape [{', '.join(shown)}]; "
            f"export it with a fixed shape, e.g. {fixed} (batch 1), for instance with "
            "torch.onnx.export without dynamic_axes"
        )
    return TensorInfo(value.name, tuple(dims))


def _output_info(path: Path, proto: onnx.ModelProto, name: str) -> TensorInfo:
    inferred = onnx.shape_inference.infer_shapes(proto)
    for value in inferred.graph.output:
        if value.name == name:
            return _static_info(path, value, "output")
    raise ModelError(f"{path}: output {name!r} not found")  # pragma: no cover - onnx checks


def _ranks(proto: onnx.ModelProto) -> dict[str, int]:
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:  # inference is a help for messages, not a requirement
        return {}
    ranks: dict[str, int] = {}
    graph = inferred.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tt = value.type.tensor_type
        if tt.HasField("shape"):
            ranks[value.name] = len(tt.shape.dim)
    return ranks


# ---------------------------------------------------------------------------------- inference


def session_options(level: str = "extended") -> Any:
    """ORT session options: one thread, ``level`` in disable|basic|extended|all."""
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    so = ort.SessionOptions()
    so.graph_optimization_level = levels[level]
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return so


def make_session(model: str | Path | bytes, level: str = "extended") -> Any:
    import onnxruntime as ort

    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, session_options(level), providers=["CPUExecutionProvider"])


def run_session(
    session: Any,
    x: npt.ArrayLike,
    outputs: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> list[F32]:
    """Run a batch-1 model over ``x`` (``[n, 1, *sample_shape]``), one sample per call.

    Returns one array per requested output, stacked over the samples: ``[n, *output_shape[1:]]``.
    """
    xs = np.asarray(x, dtype=np.float32)
    name = session.get_inputs()[0].name
    want = list(outputs) if outputs is not None else [o.name for o in session.get_outputs()]
    n = xs.shape[0]
    results: list[list[F32]] = [[] for _ in want]
    step = max(1, n // 50)
    for i in range(n):
        if i % step == 0:
            if cancel is not None and cancel():
                raise Cancelled("inference cancelled")
            if progress is not None:
                progress(i / max(1, n))
        outs = session.run(want, {name: xs[i]})
        for k, o in enumerate(outs):
            results[k].append(np.asarray(o)[0])
    if progress is not None:
        progress(1.0)
    return [
        np.stack(r).astype(np.float32, copy=False) if r else np.zeros((0,), np.float32)
        for r in results
    ]


def run_float(
    model: FloatModel | str | Path,
    x: npt.ArrayLike,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> F32:
    """Outputs ``[n, *output_shape[1:]]`` of a float (or QDQ) model for ``x`` ``[n, 1, ...]``."""
    path = model.path if isinstance(model, FloatModel) else Path(model)
    session = make_session(path, "extended")
    return run_session(session, x, None, progress, cancel)[0]
