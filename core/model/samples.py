"""The sample models and their data: the sample workspace's dataset, numpy training, ONNX export.

* ``build_sample_models`` trains both sample models on the train part of a seeded split of the
  SAMPLE WORKSPACE's dataset (``core.sample``: tagged 3-axis fan recordings, features from its
  ``[features]``), quantizes the autoencoder to check the device budget and writes
  ``resources/models`` (ONNX + ``models.json``) byte for byte reproducibly.
* ``synthetic_recordings``: more recordings from the same physical model (``core.sample.
  field_recording``) with the schema's tags — ``temperature``, ``orientation``, ``noise``,
  ``age`` and the workspace's ``speed`` — for large held-out sets (tests, benchmarks).
* ``train_autoencoder`` / ``train_conv1d_classifier``: small seeded numpy training (Adam), then
  ``*_onnx`` builders (opset 17, batch 1, static shapes). Input normalisation is folded into the
  first layer, so the model input is ``x = f32(feature_int16) · input_scale`` as the conventions
  require.
* ``fan_vibration_set``: the real ESP32 recordings (``../shared/data/fan-vibration``) as an
  ``EvalSet`` with a ``speed`` tag and label 1 = imbalance, through ``FAN_FEATURES``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.dataset.schema import BUILTIN_TAGS
from core.dsp.config import BandsConfig, PreprocessingConfig
from core.dsp.fixed import extract_features, extract_segments
from core.dsp.plan import compile_plan
from core.errors import InputFileError
from core.model.calibration import EvalSet
from core.model.datasets import WindowLayout
from core.paths import fan_vibration_dir
from core.sample import SAMPLE_SPLIT_FRACTIONS, SAMPLE_SPLIT_NAME

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
INPUT_SCALE = 1.0 / 256.0  # Q8 log2 band energies → log2 units
OPSET = 17

#: The dataset schema's tags (core.dataset.schema) plus the sample workspace's ``speed``.
TAG_VALUES: dict[str, tuple[str, ...]] = {
    **BUILTIN_TAGS,
    "speed": ("low", "medium", "high"),
}
CLASSES = ("normal", "imbalance")
IMBALANCE = 0.08  # g, as in the sample workspace's dataset


def sample_features() -> PreprocessingConfig:
    """The sample workspace's ``[features]`` (resources/sample-workspace/fieldbench.toml)."""
    from core.paths import resources_dir
    from core.workspace import Workspace

    return Workspace.open(resources_dir() / "sample-workspace").features


#: The sample workspace's feature front-end, read from its fieldbench.toml.
SAMPLE_FEATURES = sample_features()

#: The first features for the real 200 Hz fan recordings (one 200-sample window = one frame):
#: 16 linear bands of 6.25 Hz, Hann window. Float AUC ≈ 0.99 at low/medium speed, ≈ 0.62 high.
FAN_FEATURES_V1 = PreprocessingConfig(
    sampleRate=200.0,
    windowSize=200,
    hopLength=200,
    channels=3,
    fixedPointScale=8000.0,
    inputRange=4.0,
    fftSize=256,
    bands=BandsConfig("linear", 16, 0.0, 100.0),
    stats=("rms", "peak", "crest"),
)

#: The features the real fan model uses. At high speed the coin shows as a small, steady drop
#: of the motor's narrow lines (80, 94, 66 Hz) and of the RMS, while the normal recording's level
#: drifts down over the session and the 0-60 Hz bands (shaft rate, 1-3 cycles per window, sensor
#: LSB noise) vary a lot from window to window. A 1-second window read without a taper
#: (rectangular: the lines stay one bin wide instead of Hann's three), zero-padded to 512 points
#: and summed into 32 bands of 3.125 Hz keeps those lines in their own bands, so the
#: reconstruction error sees them next to the noisy bands instead of diluted in 6.25 Hz bands.
FAN_FEATURES = FAN_FEATURES_V1.replace(
    window="rectangular", fftSize=512, bands=BandsConfig("linear", 32, 0.0, 100.0)
)
FAN_AE_HIDDEN = (16, 6, 16)


def simulate(tags: dict[str, str], label: str, seconds: float, rng: np.random.Generator) -> F64:
    """3-axis acceleration (g, 1600 Hz) of the sample fan under ``tags`` (schema vocabulary).

    ``core.sample.field_recording`` with the shaft rate of ``tags["speed"]`` (±2 %); label
    ``imbalance`` adds the sample workspace's imbalance, ``loose`` (not in the sample dataset)
    adds short broadband rattles once per revolution; any other label is normal running.
    """
    from core.sample import RATE, SPEED_HZ, field_recording

    shaft = SPEED_HZ[tags.get("speed", "medium")] * (1.0 + 0.02 * float(rng.standard_normal()))
    x = field_recording(
        shaft_hz=shaft,
        imbalance=IMBALANCE if label == "imbalance" else 0.0,
        temperature=tags.get("temperature", "ambient"),
        orientation=tags.get("orientation", "horizontal"),
        noise=tags.get("noise", "quiet"),
        age=tags.get("age", "new"),
        seconds=seconds,
        seed=int(rng.integers(1 << 31)),
    )
    if label == "loose":
        n, period = x.shape[0], int(RATE / shaft)
        for k in range(int(rng.integers(0, period)), n, period):
            m = min(n, k + 24)
            burst = rng.standard_normal(m - k) * 0.15 * np.exp(-np.arange(m - k) / 6.0)
            x[k:m] += burst[:, None] * np.array([1.0, 0.6, 0.8])
    return x


@dataclass(frozen=True)
class FanRecording:
    tags: dict[str, str]
    label: int
    frames: npt.NDArray[np.int16]  # (frames, frame length)


def synthetic_recordings(
    n_recordings: int,
    seconds: float = 2.0,
    seed: int = 0,
    classes: Sequence[str] = CLASSES,
    progress: Callable[[float], None] | None = None,
) -> list[FanRecording]:
    """Recordings of the sample workspace's physical model, tags spread evenly, features computed.

    Every recording draws each tag value (schema vocabulary) and the label in turn, so the tag
    space is covered evenly; ``seed`` fixes everything.
    """
    rng = np.random.default_rng(seed)
    plan = compile_plan(SAMPLE_FEATURES)
    recs: list[FanRecording] = []
    for i in range(n_recordings):
        tags = {k: v[(i + int(rng.integers(len(v)))) % len(v)] for k, v in TAG_VALUES.items()}
        label = i % len(classes)
        raw = simulate(tags, classes[label], seconds, rng)
        q = np.clip(np.rint(raw * SAMPLE_FEATURES.fixedPointScale), -32768, 32767)
        recs.append(FanRecording(tags, label, extract_features(q.astype(np.int16), plan)))
        if progress is not None:
            progress((i + 1) / n_recordings)
    return recs


def frame_set(recs: Sequence[FanRecording], class_names: Sequence[str]) -> EvalSet:
    """One row per feature frame (autoencoder input ``[D]``)."""
    feats = np.concatenate([r.frames for r in recs])
    labels = np.concatenate([np.full(r.frames.shape[0], r.label) for r in recs])
    tags = [dict(r.tags) for r in recs for _ in range(r.frames.shape[0])]
    return EvalSet(feats, INPUT_SCALE, labels.astype(np.int64), tags, list(class_names))


def sequence_set(
    recs: Sequence[FanRecording], frames: int, class_names: Sequence[str], hop: int | None = None
) -> EvalSet:
    """One row per run of ``frames`` consecutive frames, shaped ``[D, 1, frames]``."""
    layout = WindowLayout(frames, True)
    rows, labels, tags = [], [], []
    for r in recs:
        x = layout.rows(r.frames, hop)
        rows.append(x)
        labels += [r.label] * x.shape[0]
        tags += [dict(r.tags) for _ in range(x.shape[0])]
    return EvalSet(
        np.concatenate(rows).astype(np.int16),
        INPUT_SCALE,
        np.asarray(labels),
        tags,
        list(class_names),
    )


# --------------------------------------------------------------------------- numpy training


class _Adam:
    def __init__(self, params: list[F64], lr: float) -> None:
        self.p = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.lr = lr
        self.t = 0

    def step(self, grads: list[F64]) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        for p, g, m, v in zip(self.p, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mh = m / (1 - b1**self.t)
            vh = v / (1 - b2**self.t)
            p -= self.lr * mh / (np.sqrt(vh) + 1e-8)


def int8_input_step(x: F64) -> float:
    """The step of an asymmetric INT8 quantizer over ``x``'s range (0 always inside)."""
    return max(1e-6, (max(0.0, float(x.max())) - min(0.0, float(x.min()))) / 255.0)


def _norm_stats(x: F64, axis: tuple[int, ...], floor: float = 0.0) -> tuple[F64, F64]:
    """Per-feature mean and standard deviation, the deviation floored at ``floor``.

    The normalisation is folded into the first layer as ``W / sd``: a feature that hardly
    varies would get a huge weight and amplify the INT8 input rounding (step ``s``, noise
    ``s / √12``) into the reconstruction. Flooring ``sd`` at the input step keeps the
    quantized model's score close to the float one.
    """
    mu = x.mean(axis=axis)
    sd = x.std(axis=axis)
    return mu, np.maximum(sd, max(floor, 1e-3 * max(1e-12, float(sd.max())) + 1e-6))


@dataclass
class DenseNet:
    """Dense layers with ReLU between them, trained on normalised inputs."""

    weights: list[F64]  # (out, in)
    biases: list[F64]
    mu: F64
    sd: F64
    denormalise_output: bool  # autoencoder: output back in input units


def train_autoencoder(
    x: F64, hidden: Sequence[int] = (24, 8, 24), epochs: int = 200, seed: int = 0
) -> DenseNet:
    """A dense autoencoder reconstructing ``x`` (float model inputs, ``[n, D]``)."""
    rng = np.random.default_rng(seed)
    mu, sd = _norm_stats(x, (0,), int8_input_step(x))
    z = (x - mu) / sd
    dims = [x.shape[1], *hidden, x.shape[1]]
    ws = [rng.normal(0, np.sqrt(2.0 / a), (b, a)) for a, b in itertools.pairwise(dims)]
    bs = [np.zeros(b) for b in dims[1:]]
    opt = _Adam([*ws, *bs], 3e-3)
    batch = 64
    for _ in range(epochs):
        order = rng.permutation(z.shape[0])
        for s in range(0, z.shape[0], batch):
            xb = z[order[s : s + batch]]
            acts = [xb]
            for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
                h = acts[-1] @ w.T + b
                acts.append(np.maximum(h, 0) if i < len(ws) - 1 else h)
            grad = 2 * (acts[-1] - xb) / xb.size
            gw: list[F64] = []
            gb: list[F64] = []
            for i in range(len(ws) - 1, -1, -1):
                gw.insert(0, grad.T @ acts[i])
                gb.insert(0, grad.sum(axis=0))
                grad = grad @ ws[i]
                if i > 0:
                    grad = grad * (acts[i] > 0)
            opt.step([*gw, *gb])
    return DenseNet(ws, bs, mu, sd, True)


def dense_forward(net: DenseNet, x: F64) -> F64:
    h = (x - net.mu) / net.sd
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        h = h @ w.T + b
        if i < len(net.weights) - 1:
            h = np.maximum(h, 0)
    return h * net.sd + net.mu if net.denormalise_output else h


def autoencoder_onnx(net: DenseNet, name: str = "fan_autoencoder") -> onnx.ModelProto:
    """Gemm/Relu stack; normalisation folded into the first and last Gemm."""
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    # First layer: W·((x − mu)/sd) + b = (W/sd)·x + (b − W·(mu/sd)).
    bs[0] = bs[0] - ws[0] @ (net.mu / net.sd)
    ws[0] = ws[0] / net.sd
    if net.denormalise_output:
        ws[-1] = ws[-1] * net.sd[:, None]
        bs[-1] = bs[-1] * net.sd + net.mu
    d = ws[0].shape[1]
    nodes, inits = [], []
    prev = "features"
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        inits += [
            numpy_helper.from_array(w.astype(np.float32), f"dense{i}.weight"),
            numpy_helper.from_array(b.astype(np.float32), f"dense{i}.bias"),
        ]
        out = "reconstruction" if i == len(ws) - 1 else f"dense{i}"
        nodes.append(
            helper.make_node(
                "Gemm", [prev, f"dense{i}.weight", f"dense{i}.bias"], [out], f"gemm{i}", transB=1
            )
        )
        if i < len(ws) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], f"relu{i}"))
            out = f"relu{i}"
        prev = out
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, d])],
        [helper.make_tensor_value_info("reconstruction", TensorProto.FLOAT, [1, d])],
        inits,
    )
    return _model(graph)


# ---- Conv1D classifier: x [B, C, T] → conv(k3) → relu → conv(k3, s2) → relu → GAP → dense


def _im2col(x: F64, k: int, stride: int) -> tuple[F64, npt.NDArray[np.intp]]:
    t_out = (x.shape[2] - k) // stride + 1
    idx = np.arange(t_out)[:, None] * stride + np.arange(k)[None, :]
    cols = x[:, :, idx]  # (B, C, T_out, k)
    return cols.transpose(0, 2, 1, 3).reshape(x.shape[0], t_out, -1), idx


@dataclass
class ConvNet:
    w1: F64  # (O1, C, k)
    b1: F64
    w2: F64  # (O2, O1, k)
    b2: F64
    w3: F64  # (classes, O2)
    b3: F64
    mu: F64  # per input channel
    sd: F64
    stride2: int = 2


def _conv_forward(net: ConvNet, z: F64) -> tuple[list[F64], F64]:
    k1, k2 = net.w1.shape[2], net.w2.shape[2]
    c1, _ = _im2col(z, k1, 1)
    h1 = np.maximum(c1 @ net.w1.reshape(net.w1.shape[0], -1).T + net.b1, 0)  # (B, T1, O1)
    h1t = h1.transpose(0, 2, 1)
    c2, _ = _im2col(h1t, k2, net.stride2)
    h2 = np.maximum(c2 @ net.w2.reshape(net.w2.shape[0], -1).T + net.b2, 0)  # (B, T2, O2)
    g = h2.mean(axis=1)
    logits = g @ net.w3.T + net.b3
    return [z, c1, h1, h1t, c2, h2, g], logits


def conv_predict(net: ConvNet, x: F64) -> F64:
    z = (x - net.mu[None, :, None]) / net.sd[None, :, None]
    return _conv_forward(net, z)[1]


def train_conv1d_classifier(
    x: F64,
    labels: npt.NDArray[np.int64],
    n_classes: int,
    channels: int = 12,
    epochs: int = 60,
    seed: int = 0,
) -> ConvNet:
    """Train on ``x`` ``[n, C, T]`` (float model inputs without the height axis)."""
    rng = np.random.default_rng(seed)
    mu, sd = _norm_stats(x.transpose(1, 0, 2).reshape(x.shape[1], -1), (1,), int8_input_step(x))
    z = (x - mu[None, :, None]) / sd[None, :, None]
    c, k = x.shape[1], 3
    net = ConvNet(
        rng.normal(0, np.sqrt(2.0 / (c * k)), (channels, c, k)),
        np.zeros(channels),
        rng.normal(0, np.sqrt(2.0 / (channels * k)), (channels, channels, k)),
        np.zeros(channels),
        rng.normal(0, np.sqrt(1.0 / channels), (n_classes, channels)),
        np.zeros(n_classes),
        mu,
        sd,
    )
    params = [net.w1, net.b1, net.w2, net.b2, net.w3, net.b3]
    opt = _Adam(params, 3e-3)
    batch = 32
    for _ in range(epochs):
        order = rng.permutation(z.shape[0])
        for s in range(0, z.shape[0], batch):
            rows = order[s : s + batch]
            (_zb, c1, h1, h1t, c2, h2, g), logits = _conv_forward(net, z[rows])
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(rows.size), labels[rows]] -= 1
            d_logits = p / rows.size
            gw3 = d_logits.T @ g
            gb3 = d_logits.sum(axis=0)
            d_g = d_logits @ net.w3
            d_h2 = np.repeat(d_g[:, None, :], h2.shape[1], axis=1) / h2.shape[1] * (h2 > 0)
            gw2 = np.einsum("bto,btk->ok", d_h2, c2).reshape(net.w2.shape)
            gb2 = d_h2.sum(axis=(0, 1))
            d_c2 = d_h2 @ net.w2.reshape(net.w2.shape[0], -1)  # (B, T2, O1*k)
            _, idx2 = _im2col(h1t, k, net.stride2)
            d_c2 = d_c2.reshape(rows.size, -1, h1t.shape[1], k).transpose(0, 2, 1, 3)
            d_h1t = np.zeros_like(h1t)
            np.add.at(d_h1t, (slice(None), slice(None), idx2), d_c2)  # type: ignore[arg-type]
            d_h1 = d_h1t.transpose(0, 2, 1) * (h1 > 0)
            gw1 = np.einsum("bto,btk->ok", d_h1, c1).reshape(net.w1.shape)
            gb1 = d_h1.sum(axis=(0, 1))
            opt.step([gw1, gb1, gw2, gb2, gw3, gb3])
    return net


def conv1d_onnx(net: ConvNet, frames: int, name: str = "fan_conv1d_classifier") -> onnx.ModelProto:
    """Input ``[1, C, 1, T]``: Conv(1×3) → Relu → Conv(1×3, stride 2) → Relu → GAP → Gemm."""
    c = net.w1.shape[1]
    w1 = net.w1 / net.sd[None, :, None]
    b1 = net.b1 - np.einsum("ock,c->o", net.w1, net.mu / net.sd)
    inits = [
        numpy_helper.from_array(w1[:, :, None, :].astype(np.float32), "conv0.weight"),
        numpy_helper.from_array(b1.astype(np.float32), "conv0.bias"),
        numpy_helper.from_array(net.w2[:, :, None, :].astype(np.float32), "conv1.weight"),
        numpy_helper.from_array(net.b2.astype(np.float32), "conv1.bias"),
        numpy_helper.from_array(net.w3.astype(np.float32), "fc.weight"),
        numpy_helper.from_array(net.b3.astype(np.float32), "fc.bias"),
    ]
    nodes = [
        helper.make_node(
            "Conv",
            ["features", "conv0.weight", "conv0.bias"],
            ["conv0"],
            "conv0",
            kernel_shape=[1, 3],
        ),
        helper.make_node("Relu", ["conv0"], ["relu0"], "relu0"),
        helper.make_node(
            "Conv",
            ["relu0", "conv1.weight", "conv1.bias"],
            ["conv1"],
            "conv1",
            kernel_shape=[1, 3],
            strides=[1, net.stride2],
        ),
        helper.make_node("Relu", ["conv1"], ["relu1"], "relu1"),
        helper.make_node("GlobalAveragePool", ["relu1"], ["pooled"], "gap"),
        helper.make_node("Flatten", ["pooled"], ["flat"], "flatten"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], "fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, c, 1, frames])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, net.w3.shape[0]])],
        inits,
    )
    return _model(graph)


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fieldbench"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ------------------------------------------------------------------------------- real data


FAN_FILES = {
    ("off", 0): "fan_0_off_0_weight.npz",
    ("low", 0): "fan_0_low_0_weight.npz",
    ("medium", 0): "fan_0_med_0_weight.npz",
    ("high", 0): "fan_0_high_0_weight.npz",
    ("low", 1): "fan_0_low_1_weight.npz",
    ("medium", 1): "fan_0_med_1_weight.npz",
    ("high", 1): "fan_0_high_1_weight.npz",
}


def default_fan_dir() -> Path:
    return fan_vibration_dir()


def fan_vibration_set(
    folder: str | Path | None = None,
    include_off: bool = False,
    features: PreprocessingConfig | None = None,
) -> EvalSet:
    """The real fan windows as features (default ``FAN_FEATURES``): tag ``speed``, label 1 =
    imbalance. ``features`` must read 200 Hz, 3 channels and at most 200 samples per frame.
    """
    root = Path(folder) if folder is not None else default_fan_dir()
    cfg = features or FAN_FEATURES
    if cfg.segment_length > 200 or cfg.channels != 3 or cfg.sampleRate != 200.0:
        raise InputFileError(
            "the fan recordings are 1-second windows of 3 axes at 200 Hz; use a feature config "
            "with sampleRate 200, channels 3 and at most 200 samples per segment"
        )
    plan = compile_plan(cfg)
    feats, labels, tags = [], [], []
    for (speed, label), fname in FAN_FILES.items():
        if speed == "off" and not include_off:
            continue
        path = root / fname
        if not path.is_file():
            raise InputFileError(f"{path}: missing; the real fan recordings are not installed")
        with np.load(path, allow_pickle=False) as z:
            windows = np.asarray(z["X"], dtype=np.float64)
        q = np.clip(np.rint(windows * cfg.fixedPointScale), -32768, 32767).astype(np.int16)
        # Each 1-second window gives one frame (its first segment).
        seg = q.transpose(0, 2, 1)[:, :, : cfg.segment_length]
        feats.append(extract_segments(np.ascontiguousarray(seg), plan))
        labels += [label] * q.shape[0]
        tags += [{"speed": speed}] * q.shape[0]
    return EvalSet(
        np.concatenate(feats).astype(np.int16),
        INPUT_SCALE,
        np.asarray(labels, dtype=np.int64),
        [dict(t) for t in tags],
        ["normal", "imbalance"],
    )


# --------------------------------------------------------------------------- sample models

AUTOENCODER_NAME = "fan_autoencoder"
CLASSIFIER_NAME = "fan_conv1d_classifier"
CLASSIFIER_FRAMES = 8
TRAIN_SEED = 7
SPLIT_NAME = SAMPLE_SPLIT_NAME
#: The sample workspace's split the models are trained on (train part); its val and test parts
#: hold both labels. Recreate it with ``fieldbench dataset split --seed 7 --name sample-models
#: --fractions 0.6,0.2,0.2``.
SPLIT_FRACTIONS = SAMPLE_SPLIT_FRACTIONS
AE_HIDDEN = (24, 8, 24)


def sample_anomaly_set(n_recordings: int = 120, seed: int = 101) -> EvalSet:
    """Held-out tagged frames (normal + imbalance) for the sample autoencoder."""
    recs = synthetic_recordings(n_recordings, seed=seed)
    return frame_set(recs, CLASSES)


def sample_classifier_set(n_recordings: int = 120, seed: int = 202) -> EvalSet:
    """Held-out tagged 8-frame sequences (normal + imbalance) for the sample classifier."""
    recs = synthetic_recordings(n_recordings, seed=seed)
    return sequence_set(recs, CLASSIFIER_FRAMES, CLASSES, hop=CLASSIFIER_FRAMES // 2)


def sample_workspace_split(root: str | Path) -> tuple[EvalSet, EvalSet]:
    """The sample workspace at ``root`` (created if missing) split with ``TRAIN_SEED``:
    ``(frames, sequences)`` of its train part — what the sample models are trained on.
    """
    from core.dataset import Dataset
    from core.dataset.splits import make_split
    from core.model.datasets import dataset_eval_set
    from core.sample import ensure_sample_workspace

    ws = ensure_sample_workspace(Path(root))
    with Dataset.open(ws.path, ws.dataset) as ds:
        make_split(ds, fractions=SPLIT_FRACTIONS, seed=TRAIN_SEED, name=SPLIT_NAME)
    frames = dataset_eval_set(ws, split=SPLIT_NAME, part="train", class_names=CLASSES)
    seqs = dataset_eval_set(
        ws,
        split=SPLIT_NAME,
        part="train",
        sample_shape=(ws.features.frame_length, 1, CLASSIFIER_FRAMES),
        class_names=CLASSES,
        hop=2,
    )
    return frames, seqs


def build_sample_models(out_dir: str | Path) -> dict[str, dict[str, object]]:
    """Train both sample models on the sample workspace's dataset and save them as ONNX.

    The workspace is generated in a temporary folder (fixed seeds), split with ``TRAIN_SEED``
    and the models trained on the train part. The autoencoder is quantized (MinMax, calibration
    stratified over the train part) to record its device budget. Returns the manifest (also
    written as ``models.json``). Deterministic: the same code and numpy give the same bytes.
    """
    import json
    import tempfile

    from core.atomic import atomic_open, atomic_write_text
    from core.model.budget import DEFAULT_MAX_LATENCY_MS, DEFAULT_PEAK_RAM_BUDGET_BYTES

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="fieldbench-sample-") as tmp:
        frames, seqs = sample_workspace_split(Path(tmp) / "ws")
        assert frames.labels is not None and seqs.labels is not None
        normal = frames.subset(np.flatnonzero(frames.labels == 0))
        x = normal.inputs()[:, 0].astype(np.float64)
        net = train_autoencoder(x, hidden=AE_HIDDEN, epochs=150, seed=TRAIN_SEED)
        ae = autoencoder_onnx(net, AUTOENCODER_NAME)
        ae_path = out / f"{AUTOENCODER_NAME}.onnx"
        with atomic_open(ae_path, "wb") as handle:
            handle.write(ae.SerializeToString())
        budget = _sample_budget(ae_path, frames, Path(tmp))
        manifest[AUTOENCODER_NAME] = {
            "file": ae_path.name,
            "task": "anomaly",
            "input_shape": [1, x.shape[1]],
            "input_scale": INPUT_SCALE,
            "features": "sample workspace [features] (resources/sample-workspace), one frame",
            "classes": list(CLASSES),
            "tags": list(TAG_VALUES),
            "trained_on": f"{x.shape[0]} normal frames of the sample workspace's dataset, "
            f"split {SPLIT_NAME!r} (seed {TRAIN_SEED}) part train; training seed {TRAIN_SEED}",
            "split": {"name": SPLIT_NAME, "seed": TRAIN_SEED, "fractions": list(SPLIT_FRACTIONS)},
            "peakRamBudgetBytes": DEFAULT_PEAK_RAM_BUDGET_BYTES,
            "maxLatencyMs": DEFAULT_MAX_LATENCY_MS,
            "budget": budget,
        }
        xs = seqs.inputs()[:, 0, :, 0, :].astype(np.float64)
        cnet = train_conv1d_classifier(xs, seqs.labels, len(CLASSES), epochs=60, seed=TRAIN_SEED)
        cls = conv1d_onnx(cnet, CLASSIFIER_FRAMES, CLASSIFIER_NAME)
        with atomic_open(out / f"{CLASSIFIER_NAME}.onnx", "wb") as handle:
            handle.write(cls.SerializeToString())
        manifest[CLASSIFIER_NAME] = {
            "file": f"{CLASSIFIER_NAME}.onnx",
            "task": "classifier",
            "input_shape": [1, xs.shape[1], 1, CLASSIFIER_FRAMES],
            "input_scale": INPUT_SCALE,
            "features": f"sample workspace [features], {CLASSIFIER_FRAMES} consecutive frames "
            "(feature-major: [1, F, 1, T])",
            "classes": list(CLASSES),
            "tags": list(TAG_VALUES),
            "split": {"name": SPLIT_NAME, "seed": TRAIN_SEED, "fractions": list(SPLIT_FRACTIONS)},
            "trained_on": f"{xs.shape[0]} sequences (hop 2) of the sample workspace's dataset, "
            f"split {SPLIT_NAME!r} (seed {TRAIN_SEED}) part train; training seed {TRAIN_SEED}",
        }
    atomic_write_text(out / "models.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def _sample_budget(model: Path, calibration: EvalSet, work: Path) -> dict[str, object]:
    """The INT8 autoencoder's device budget (pool incl. the front-end, latency estimate)."""
    import onnx as _onnx

    from core.model.budget import compute_budget
    from core.model.extract import extract
    from core.model.ir import Postprocess
    from core.model.quantize import quantize_model

    q = quantize_model(model, calibration, work / "ae.int8.onnx")
    int_model = extract(
        _onnx.load(str(q.qdq_path)), input_scale=INPUT_SCALE, postprocess=Postprocess.RECON_MSE
    )
    b = compute_budget(int_model, feature_config=SAMPLE_FEATURES)
    return {
        "pool_bytes": b.pool_bytes,
        "arena_bytes": b.arena_bytes,
        "fe_pool_bytes": b.fe_pool_bytes,
        "flash_bytes": b.flash_bytes,
        "macs": b.macs,
        "latency_ms": round(b.latency_ms, 4),
        "cycles_per_mac": b.cycles_per_mac,
        "within": b.within(),
    }
