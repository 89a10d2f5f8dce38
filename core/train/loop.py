"""Training loops: float training, then QAT fine-tuning from the float weights (needs PyTorch).

Both loops call ``on_epoch`` with an ``EpochRecord`` (the GUI plots the loss curves from it),
take ``progress(fraction)`` and ``cancel() -> bool``, raise ``Cancelled`` between batches when
asked, and ``NonFiniteLossError`` when the loss stops being a number.

Model selection is on the validation part, by the metric the table reports: the autoencoder's
AUC of the reconstruction score (when the validation part holds anomalies; else its loss), the
classifier's accuracy (ties broken by the loss). The best epoch's weights are kept and training
stops after ``patience`` epochs without improvement. In QAT the metric is the fake-quantized
model's, and the starting point (the PTQ model: float weights, calibrated ranges) is a
candidate too, so fine-tuning never hands back something worse on validation than PTQ.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import Cancelled
from core.model.calibration import EvalSet
from core.train.backend import require_torch
from core.train.config import TrainConfig
from core.train.data import TrainData
from core.train.errors import NonFiniteLossError
from core.train.nets import INPUT_NAME, QuantNet

torch = require_torch()
F = torch.nn.functional

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class EpochRecord:
    phase: str  # "float" | "qat"
    epoch: int  # 1-based within the phase
    epochs: int
    train_loss: float
    val_loss: float
    val_metric: float = float("nan")  # AUC (anomaly) or accuracy (classifier) on validation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


OnEpoch = Callable[[EpochRecord], None]


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seeded, single-threaded torch (reproducible runs; the machine stays responsive)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def model_rows(data: EvalSet, task: str) -> EvalSet:
    """What the model learns from: the autoencoder only sees the normal class (label 0)."""
    if task != "anomaly" or data.labels is None:
        return data
    return data.subset(np.flatnonzero(data.labels == 0))


def tensors(data: EvalSet) -> tuple[Any, Any]:
    x = torch.as_tensor(data.inputs()[:, 0])
    y = torch.as_tensor(data.labels if data.labels is not None else np.zeros(len(data), np.int64))
    return x, y


def _target(net: QuantNet, x: Any) -> Any:
    """The autoencoder's target: the input as the model sees it (requantized under QAT, as the
    device's RECON_MSE compares the output with the requantized input)."""
    if not net.qat:
        return x
    from core.train.fakequant import QMAX, QMIN

    scale, zp = net.quant[INPUT_NAME].qparams()
    return torch.fake_quantize_per_tensor_affine(x, scale, zp, QMIN, QMAX)


def loss_of(task: str, out: Any, x: Any, y: Any) -> Any:
    if task == "anomaly":
        return F.mse_loss(out, x)  # the deployed score: reconstruction MSE in input units
    return F.cross_entropy(out, y)


def auc(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    """Area under the ROC curve of ``scores`` for ``labels != 0`` (ties count half)."""
    pos = labels != 0
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


@dataclass(frozen=True)
class Evaluation:
    loss: float  # the training loss on the validation rows the model learns from
    metric: float  # AUC / accuracy on every validation row (NaN when undefined)

    def key(self) -> tuple[float, float]:
        """Larger is better: the metric first (when defined), then the lower loss."""
        m = self.metric if math.isfinite(self.metric) else -math.inf
        return (m, -self.loss if math.isfinite(self.loss) else -math.inf)


def evaluate(net: QuantNet, data: EvalSet, task: str) -> Evaluation:
    """Validation loss and metric of ``net`` as it is (float, or fake-quantized under QAT)."""
    if len(data) == 0:
        return Evaluation(float("nan"), float("nan"))
    observing = [q.observe for q in net.quant.values()]
    net.eval()
    net.set_observing(False)
    try:
        with torch.no_grad():
            x, y = tensors(data)
            out = torch.cat([net(x[s : s + 1024]) for s in range(0, x.shape[0], 1024)])
            if task == "anomaly":
                err = ((out - _target(net, x)) ** 2).reshape(x.shape[0], -1).mean(dim=1)
                normal = y == 0
                loss = float(err[normal].mean()) if bool(normal.any()) else float("nan")
                metric = auc(err.double().numpy(), y.numpy()) if data.labels is not None else 0.0
            else:
                loss = float(F.cross_entropy(out, y))
                metric = float((out.argmax(dim=1) == y).double().mean())
            return Evaluation(loss, metric)
    finally:
        for q, o in zip(net.quant.values(), observing, strict=True):
            q.observe = o


def evaluate_loss(net: QuantNet, data: EvalSet, task: str) -> float:
    return evaluate(net, data, task).loss


def _batches(n: int, size: int, rng: np.random.Generator) -> Iterator[npt.NDArray[np.int64]]:
    order = rng.permutation(n)
    for s in range(0, n, size):
        yield order[s : s + size]


def _phase(
    net: QuantNet,
    data: TrainData,
    config: TrainConfig,
    phase: str,
    epochs: int,
    lr: float,
    rng: np.random.Generator,
    on_epoch: OnEpoch | None,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
    freeze_at: int | None = None,
    range_lr: float | None = None,
) -> list[EpochRecord]:
    task = data.task
    groups = [{"params": net.weight_parameters(), "lr": lr, "weight_decay": config.weight_decay}]
    ranges = net.range_parameters()
    if ranges and range_lr is not None:
        groups.append({"params": ranges, "lr": range_lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups)
    history: list[EpochRecord] = []
    best_key = (-math.inf, -math.inf)
    best_state = copy.deepcopy(net.state_dict())
    if phase == "qat":
        # The starting point (PTQ ranges, float weights) is a candidate: QAT keeps it unless
        # fine-tuning does better on validation.
        best_key = evaluate(net, data.val, task).key()
    since_best = 0
    for epoch in range(epochs):
        if freeze_at is not None and epoch == freeze_at:
            net.set_observing(False)
        rows = model_rows(data.epoch_set(rng, cancel), task)
        if len(rows) == 0:
            raise NonFiniteLossError("no training windows this epoch; check the dataset")
        x_all, y_all = tensors(rows)
        net.train()
        total, count = 0.0, 0
        for idx in _batches(len(rows), config.batch_size, rng):
            if cancel is not None and cancel():
                raise Cancelled("training cancelled")
            bi = torch.as_tensor(idx)
            xb, yb = x_all[bi], y_all[bi]
            loss = loss_of(task, net(xb), _target(net, xb), yb)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"{phase} epoch {epoch + 1}: the loss became {float(loss.detach())}; lower "
                    f"train.{'learningRate' if phase == 'float' else 'qatLearningRate'} "
                    f"(now {lr}) or check the recordings for clipped or constant signals"
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        val = evaluate(net, data.val, task)
        record = EpochRecord(phase, epoch + 1, epochs, total / max(count, 1), val.loss, val.metric)
        history.append(record)
        if val.key() > best_key:
            best_key, best_state, since_best = val.key(), copy.deepcopy(net.state_dict()), 0
        else:
            since_best += 1
        if on_epoch is not None:
            on_epoch(record)
        if progress is not None:
            progress((epoch + 1) / epochs)
        if config.patience and since_best >= config.patience:
            break
    net.load_state_dict(best_state)
    return history


def train_float(
    net: QuantNet,
    data: TrainData,
    config: TrainConfig,
    on_epoch: OnEpoch | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> list[EpochRecord]:
    """Float training from scratch (normalisation measured on the clean training windows)."""
    rng = np.random.default_rng(config.seed)
    clean = model_rows(data.clean_train_set(), data.task)
    net.set_normalisation(clean.inputs()[:, 0])
    net.set_fake_quant(False)
    net.set_observing(False)
    return _phase(
        net,
        data,
        config,
        "float",
        config.epochs,
        config.learning_rate,
        rng,
        on_epoch,
        progress,
        cancel,
    )


def calibrate_ranges(
    net: QuantNet,
    calibration: EvalSet,
    initial: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Initial activation ranges: min/max over the calibration windows (as PTQ's MinMax), or
    ``initial`` — the PTQ model's calibrated ranges — for every tensor it names."""
    net.fold_normalisation()
    net.set_fake_quant(False)
    net.set_learning_ranges(False)
    for q in net.quant.values():
        q.seen.fill_(False)
    net.set_observing(True)
    net.eval()
    with torch.no_grad():
        x, _ = tensors(calibration)
        for s in range(0, x.shape[0], 256):
            net(x[s : s + 256])
    net.set_observing(False)
    for name, (lo, hi) in (initial or {}).items():
        if name in net.quant:
            net.quant[name].set_range(lo, hi)


def train_qat(
    net: QuantNet,
    data: TrainData,
    config: TrainConfig,
    calibration: EvalSet,
    on_epoch: OnEpoch | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    initial_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> list[EpochRecord]:
    """Fine-tune ``net`` with fake quantization; returns the QAT epochs' history.

    Ranges start at ``initial_ranges`` (the PTQ model's; else the calibration min/max). With
    ``qatRanges = "learned"`` their ends train with the weights (LSQ, ``rangeLearningRate``);
    with ``"ema"`` they follow a moving average of the batch ranges and freeze after
    ``freezeRangesAfter`` of the epochs. The input's range (and the autoencoder's output
    range) stays at calibration. The best epoch on the fake-quantized validation metric wins,
    the starting point included.
    """
    rng = np.random.default_rng(config.seed + 1)
    calibrate_ranges(net, calibration, initial_ranges)
    net.set_fake_quant(True)
    learned = config.qat_ranges == "learned"
    net.set_learning_ranges(learned, config.learn_input_range)
    net.set_observing(not learned)
    freeze = None if learned else round(config.freeze_ranges_after * config.qat_epochs)
    try:
        return _phase(
            net,
            data,
            config,
            "qat",
            config.qat_epochs,
            config.qat_learning_rate,
            rng,
            on_epoch,
            progress,
            cancel,
            freeze_at=freeze,
            range_lr=config.range_learning_rate if learned else None,
        )
    finally:
        net.set_observing(False)
        net.set_learning_ranges(False)
