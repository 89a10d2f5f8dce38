"""The integer model: what the numpy executor runs, what the blob stores, what the device runs.

Built from a QDQ ONNX model by ``core.model.extract``. Every number here is already in the form
the kernels use: int8 weights (``[C_out, C_in/group, kH, kW]`` for Conv, ``[N, K]`` for Gemm),
int32 biases, float32 requantization multipliers computed in onnxruntime's order, zero points.

Every tensor is int8; shapes keep the ONNX layout with the leading batch dimension 1. The model
input is the int8 tensor ``input``, written by the quantize step that precedes the layers:
``x = float32(feature_int16) · input_scale``, ``q = sat(RNE(x / s) + zp)`` (true division).
The op codes, this layout and the arithmetic mirror the blob header
``firmware/components/edge_runtime/include/edge_runtime/model_format.h``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]

QMIN, QMAX = -128, 127


class Op(IntEnum):
    """Layer kinds (values are the blob's op codes)."""

    CONV = 1  # QLinearConv (2-D, groups incl. depthwise), per-channel multiplier
    GEMM = 2  # QGemm / QLinearMatMul: y[n] = req(b[n] + Σ_k (x[k] − zp) · W[n, k])
    ADD = 3  # QLinearAdd (same shapes), MLAS AVX2 arithmetic (two fused multiply-adds)
    MAXPOOL = 4  # int8 max, no requantization
    AVGPOOL = 5  # QLinearAveragePool: float32 dequantize, sum, divide, quantize
    GLOBAL_AVGPOOL = 6  # QLinearGlobalAveragePool: Σ q − zp·N, multiplier s_x / (s_y · N)
    LOOKUP = 7  # QLinearSigmoid as a 256-entry int8 table (here indexed by q + 128)
    RESHAPE = 8  # Reshape / Flatten: same bytes, new shape


class Postprocess(IntEnum):
    """How the runtime turns the int8 output into a decision."""

    ARGMAX = 1  # classifier: index of the max int8 output, lowest index on ties
    RECON_MSE = 2  # autoencoder: float32 reconstruction MSE, decision = score > threshold


@dataclass(frozen=True)
class Tensor:
    """One activation tensor (shape includes the batch dimension 1)."""

    name: str
    shape: tuple[int, ...]
    scale: float  # a float32 value
    zero_point: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Window:
    """Geometry of a 2-D convolution or pooling window (H, W order)."""

    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    dilations: tuple[int, int] = (1, 1)

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        kh = (self.kernel[0] - 1) * self.dilations[0] + 1
        kw = (self.kernel[1] - 1) * self.dilations[1] + 1
        oh = (h + self.pads[0] + self.pads[2] - kh) // self.strides[0] + 1
        ow = (w + self.pads[1] + self.pads[3] - kw) // self.strides[1] + 1
        return oh, ow


@dataclass(frozen=True, eq=False)
class Layer:
    """One integer kernel invocation. Unused fields stay at their defaults."""

    op: Op
    name: str
    inputs: tuple[int, ...]
    output: int
    window: Window | None = None
    group: int = 1
    weights: I8 | None = None
    bias: I32 | None = None
    multiplier: F32 | None = None  # per output channel (CONV, GEMM) or one value (GAP)
    lut: I8 | None = None  # LOOKUP: 256 entries, index q + 128
    add: F32 | None = None  # ADD: [ratio_a, ratio_b, fixed] (see executor.qlinear_add)
    count_include_pad: bool = False  # AVGPOOL

    def macs(self, tensors: tuple[Tensor, ...]) -> int:
        """Multiply-accumulates per inference (0 for data movement)."""
        out = tensors[self.output]
        if self.op is Op.CONV and self.weights is not None:
            per_out = int(np.prod(self.weights.shape[1:]))
            return out.size * per_out
        if self.op is Op.GEMM and self.weights is not None:
            return int(self.weights.size)
        if self.op in (Op.AVGPOOL, Op.MAXPOOL) and self.window is not None:
            return out.size * self.window.kernel[0] * self.window.kernel[1]
        if self.op is Op.GLOBAL_AVGPOOL:
            return tensors[self.inputs[0]].size
        return out.size if self.op is Op.ADD else 0


@dataclass(frozen=True, eq=False)
class IntModel:
    """A whole integer model: tensors, layers in execution order, input and output ids."""

    name: str
    tensors: tuple[Tensor, ...]
    layers: tuple[Layer, ...]
    input: int
    output: int
    input_scale: float
    postprocess: Postprocess
    threshold: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.tensors[self.input].shape

    def tensor_id(self, name: str) -> int:
        for i, t in enumerate(self.tensors):
            if t.name == name:
                return i
        raise KeyError(name)

    def macs(self) -> int:
        """Multiply-accumulates per inference, the input quantization counted as one per value."""
        return self.tensors[self.input].size + sum(lay.macs(self.tensors) for lay in self.layers)
