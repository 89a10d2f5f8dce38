"""The model families as PyTorch modules that train float, fine-tune with QAT and export ONNX.

A network is a plan of steps (Conv / Gemm with an optional ReLU, GlobalAveragePool, Flatten)
over layers; the same plan drives the float forward pass, the fake-quantized forward pass and
the ONNX export, so the exported graph is the graph that was trained. Tensor names in the
export are the names the QAT ranges are handed to onnxruntime under: ``features`` (input),
``relu<i>`` (a ReLU output — onnxruntime folds the ReLU into the layer before it), ``pooled``,
and the output (``reconstruction`` or ``logits``).

Input normalisation (per-feature mean/std of the training data) is a fixed affine before the
first layer during float training; ``fold_normalisation`` folds it into the first layer (and,
for the autoencoder, the de-normalisation into the last) before QAT and export, so the
exported model takes ``x = f32(feature) · input_scale`` as the INT8 conventions require and
per-channel weight quantization sees the weights the device will hold.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.train.backend import require_torch
from core.train.config import TrainConfig
from core.train.fakequant import ActQuant, fake_quant_bias, fake_quant_weight

torch = require_torch()
nn = torch.nn
F = torch.nn.functional
OPSET = 17
INPUT_NAME = "features"


@dataclass(frozen=True)
class Step:
    op: str  # "conv" | "linear" | "gap" | "flatten"
    layer: int = -1  # index into QuantNet.layers
    relu: bool = False
    name: str = ""  # output tensor name (the ReLU output when relu)
    stride: int = 1
    pad: int = 0
    groups: int = 1


class QuantNet(nn.Module):  # type: ignore[misc,name-defined]
    """A plan of steps over ``layers`` with an activation quantizer on every quantized tensor."""

    def __init__(
        self,
        layers: list[Any],
        plan: list[Step],
        sample_shape: tuple[int, ...],
        denormalise_output: bool,
        momentum: float = 0.9,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.plan = plan
        self.sample_shape = tuple(sample_shape)
        self.denormalise_output = denormalise_output
        names = [INPUT_NAME] + [s.name for s in plan if s.op != "flatten"]
        self.quant = nn.ModuleDict({n: ActQuant(momentum) for n in names})
        # The input keeps its calibration range (as PTQ): an EMA-narrowed input range would clip
        # unusual windows before the model sees them. The autoencoder's output too: its score
        # compares output and input, and clipping both hides exactly the anomalies.
        self.quant[INPUT_NAME].track = False
        if denormalise_output:
            self.quant[plan[-1].name].track = False
        c = sample_shape[0]
        self.register_buffer("mu", torch.zeros(c))
        self.register_buffer("sd", torch.ones(c))
        self.folded = False
        self.qat = False

    @property
    def output_name(self) -> str:
        return self.plan[-1].name

    # ---- normalisation ---------------------------------------------------------------------
    def set_normalisation(self, x: npt.NDArray[np.float32]) -> None:
        """Per-feature mean and std over the training inputs ``[n, *sample_shape]``."""
        axes = tuple(i for i in range(x.ndim) if i != 1)
        mu = x.astype(np.float64).mean(axis=axes)
        sd = x.astype(np.float64).std(axis=axes)
        # Floor at the INT8 input step: folded into the first layer as W / sd, a feature that
        # hardly varies would get a huge weight, amplify the input rounding and (per-channel
        # weight scales) squeeze the other weights of its row into a few levels.
        step = (max(0.0, float(x.max())) - min(0.0, float(x.min()))) / 255.0 if x.size else 0.0
        sd = np.maximum(sd, max(step, 1e-3 * max(float(sd.max()), 1e-12) + 1e-6))
        self.mu.copy_(torch.as_tensor(mu, dtype=torch.float32))
        self.sd.copy_(torch.as_tensor(sd, dtype=torch.float32))

    def _bcast(self, v: Any, ndim: int) -> Any:
        return v.reshape(1, -1, *([1] * (ndim - 2)))

    @torch.no_grad()  # type: ignore[untyped-decorator]
    def fold_normalisation(self) -> None:
        """Fold ``(x − mu)/sd`` into the first layer (and ``· sd + mu`` into the last)."""
        if self.folded:
            return
        first = self.layers[self.plan[0].layer]
        mu, sd = self.mu.double(), self.sd.double()
        w = first.weight.double()
        shape = [1, -1] + [1] * (w.ndim - 2)
        w_f = w / sd.reshape(shape)
        b_f = first.bias.double() - (w * (mu / sd).reshape(shape)).sum(dim=tuple(range(1, w.ndim)))
        first.weight.copy_(w_f.float())
        first.bias.copy_(b_f.float())
        if self.denormalise_output:
            last = self.layers[self.plan[-1].layer]
            last.weight.copy_((last.weight.double() * sd[:, None]).float())
            last.bias.copy_((last.bias.double() * sd + mu).float())
        self.mu.zero_()
        self.sd.fill_(1.0)
        self.folded = True

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, x: Any) -> Any:
        h = self.quant[INPUT_NAME](x)
        s_in = self.quant[INPUT_NAME].qparams()[0] if self.qat else None
        if not self.folded:
            h = (h - self._bcast(self.mu, h.ndim)) / self._bcast(self.sd, h.ndim)
        for k, step in enumerate(self.plan):
            if step.op in ("conv", "linear"):
                layer = self.layers[step.layer]
                w, b = layer.weight, layer.bias
                if self.qat:
                    w, s_w = fake_quant_weight(w)
                    b = fake_quant_bias(b, torch.as_tensor(s_in, dtype=torch.float32) * s_w)
                if step.op == "conv":
                    h = F.conv2d(h, w, b, (1, step.stride), (0, step.pad), 1, step.groups)
                else:
                    h = F.linear(h, w, b)
                if step.relu:
                    h = F.relu(h)
                if k == len(self.plan) - 1 and self.denormalise_output and not self.folded:
                    h = h * self.sd + self.mu
            elif step.op == "gap":
                h = h.mean(dim=(2, 3), keepdim=True)
            elif step.op == "flatten":
                h = h.flatten(1)
                continue  # shares the pooled tensor's quantization
            h = self.quant[step.name](h)
            if self.qat:
                s_in = self.quant[step.name].qparams()[0]
        return h

    # ---- quantization state ----------------------------------------------------------------
    def set_observing(self, on: bool) -> None:
        for q in self.quant.values():
            q.observe = on

    def set_fake_quant(self, on: bool) -> None:
        self.qat = on
        for q in self.quant.values():
            q.enabled = on

    def set_learning_ranges(self, on: bool, input_output: bool = False) -> None:
        """Learn the hidden ranges (and with ``input_output`` the input's and the
        autoencoder's output range, which otherwise keep their calibration range)."""
        for q in self.quant.values():
            q.set_learning(on, input_output)

    def range_parameters(self) -> list[Any]:
        return [p for q in self.quant.values() for p in (q.log_lo, q.log_hi) if p.requires_grad]

    def weight_parameters(self) -> list[Any]:
        return list(self.layers.parameters())

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The tracked float range of every quantized tensor (→ TensorQuantOverrides)."""
        return {name: q.range() for name, q in self.quant.items()}

    # ---- export ----------------------------------------------------------------------------
    def to_onnx(self, graph_name: str) -> onnx.ModelProto:
        """Float ONNX (opset 17, batch 1, static shapes) of the folded network."""
        net = self
        if not self.folded:
            net = copy.deepcopy(self)
            net.fold_normalisation()
        inits: list[onnx.TensorProto] = []
        nodes: list[onnx.NodeProto] = []
        prev = INPUT_NAME
        for step in net.plan:
            if step.op in ("conv", "linear"):
                layer = net.layers[step.layer]
                base = f"{step.op}{step.layer}"
                inits.append(_init(layer.weight, f"{base}.weight"))
                inits.append(_init(layer.bias, f"{base}.bias"))
                out = f"{base}_out" if step.relu else step.name
                ins = [prev, f"{base}.weight", f"{base}.bias"]
                if step.op == "conv":
                    k = int(layer.weight.shape[-1])
                    nodes.append(
                        helper.make_node(
                            "Conv",
                            ins,
                            [out],
                            base,
                            kernel_shape=[1, k],
                            strides=[1, step.stride],
                            pads=[0, step.pad, 0, step.pad],
                            group=step.groups,
                        )
                    )
                else:
                    nodes.append(helper.make_node("Gemm", ins, [out], base, transB=1))
                if step.relu:
                    nodes.append(helper.make_node("Relu", [out], [step.name], f"{step.name}_op"))
            elif step.op == "gap":
                nodes.append(helper.make_node("GlobalAveragePool", [prev], [step.name], "gap"))
            elif step.op == "flatten":
                nodes.append(helper.make_node("Flatten", [prev], [step.name], "flatten"))
            prev = step.name
        out_shape = list(net.forward_shape())
        graph = helper.make_graph(
            nodes,
            graph_name,
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, *self.sample_shape])],
            [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, *out_shape])],
            inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fieldbench-train"
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model

    @torch.no_grad()  # type: ignore[untyped-decorator]
    def forward_shape(self) -> tuple[int, ...]:
        was = (self.qat, self.training, [q.observe for q in self.quant.values()])
        self.eval()
        self.set_observing(False)
        try:
            saved = self.qat
            self.qat = False
            enabled = [q.enabled for q in self.quant.values()]
            for q in self.quant.values():
                q.enabled = False
            y = self.forward(torch.zeros(1, *self.sample_shape))
            for q, e in zip(self.quant.values(), enabled, strict=True):
                q.enabled = e
            self.qat = saved
        finally:
            self.train(was[1])
            for q, o in zip(self.quant.values(), was[2], strict=True):
                q.observe = o
        return tuple(int(d) for d in y.shape[1:])


def _init(t: Any, name: str) -> onnx.TensorProto:
    return numpy_helper.from_array(t.detach().cpu().numpy().astype(np.float32), name)


# ---------------------------------------------------------------------------- the families


def build_net(config: TrainConfig, sample_shape: tuple[int, ...], n_classes: int) -> QuantNet:
    """The network of ``config.family`` for inputs ``sample_shape`` (seeded by the caller)."""
    m = config.range_momentum
    if config.family == "dense_ae":
        d = int(sample_shape[0])
        dims = [d, *config.hidden, d]
        layers = [nn.Linear(a, b) for a, b in itertools.pairwise(dims)]
        plan = [
            Step("linear", i, relu=i < len(layers) - 1, name=f"relu{i}") for i in range(len(layers))
        ]
        plan[-1] = Step("linear", len(layers) - 1, name="reconstruction")
        return QuantNet(layers, plan, sample_shape, denormalise_output=True, momentum=m)
    c, t = int(sample_shape[0]), int(sample_shape[-1])
    ch = config.channels
    if config.family == "conv1d":
        layers = [
            nn.Conv2d(c, ch, (1, 3)),
            nn.Conv2d(ch, ch, (1, 3), stride=(1, 2)),
            nn.Linear(ch, n_classes),
        ]
        plan = [
            Step("conv", 0, relu=True, name="relu0"),
            Step("conv", 1, relu=True, name="relu1", stride=2),
        ]
        fc = 2
    else:  # dscnn: conv → [depthwise → pointwise] × blocks
        layers = [nn.Conv2d(c, ch, (1, 3))]
        plan = [Step("conv", 0, relu=True, name="relu0")]
        for _ in range(config.blocks):
            dw = len(layers)
            layers += [nn.Conv2d(ch, ch, (1, 3), padding=(0, 1), groups=ch), nn.Conv2d(ch, ch, 1)]
            plan += [
                Step("conv", dw, relu=True, name=f"relu{dw}", pad=1, groups=ch),
                Step("conv", dw + 1, relu=True, name=f"relu{dw + 1}"),
            ]
        layers.append(nn.Linear(ch, n_classes))
        fc = len(layers) - 1
    if t < 3:
        raise ValueError("a CNN window needs at least 3 frames")
    plan += [
        Step("gap", name="pooled"),
        Step("flatten", name="flat"),
        Step("linear", fc, name="logits"),
    ]
    return QuantNet(layers, plan, sample_shape, denormalise_output=False, momentum=m)
