"""Training loops: float training, then QAT fine-tuning from the float weights (needs PyTorch).

Both loops call ``on_epoch`` with an ``EpochRecord`` (the GUI plots the loss curves from it),
take ``progress(fraction)`` and ``cancel() -> bool``, raise ``Cancelled`` between batches when
asked, and ``NonFiniteLossError`` when the loss stops being a number. The weights of the epoch
with the lowest validation loss are kept.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
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
from core.train.nets import QuantNet

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


def loss_of(task: str, out: Any, x: Any, y: Any) -> Any:
    if task == "anomaly":
        return F.mse_loss(out, x)  # the deployed score: reconstruction MSE in input units
    return F.cross_entropy(out, y)


def evaluate_loss(net: QuantNet, data: EvalSet, task: str) -> float:
    rows = model_rows(data, task)
    if len(rows) == 0:
        return float("nan")
    observing = [q.observe for q in net.quant.values()]
    net.eval()
    net.set_observing(False)
    try:
        with torch.no_grad():
            x, y = tensors(rows)
            return float(loss_of(task, net(x), x, y))
    finally:
        for q, o in zip(net.quant.values(), observing, strict=True):
            q.observe = o


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
) -> list[EpochRecord]:
    task = data.task
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best = (math.inf, copy.deepcopy(net.state_dict()))
    history: list[EpochRecord] = []
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
            loss = loss_of(task, net(xb), xb, yb)
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
        val = evaluate_loss(net, data.val, task)
        record = EpochRecord(phase, epoch + 1, epochs, total / max(count, 1), val)
        history.append(record)
        if math.isfinite(val) and val <= best[0]:
            best = (val, copy.deepcopy(net.state_dict()))
        if on_epoch is not None:
            on_epoch(record)
        if progress is not None:
            progress((epoch + 1) / epochs)
    if math.isfinite(best[0]):
        net.load_state_dict(best[1])
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


def calibrate_ranges(net: QuantNet, calibration: EvalSet) -> None:
    """Initial activation ranges: min/max over the calibration windows (as PTQ's MinMax)."""
    net.fold_normalisation()
    net.set_fake_quant(False)
    for q in net.quant.values():
        q.seen.fill_(False)
    net.set_observing(True)
    net.eval()
    with torch.no_grad():
        x, _ = tensors(calibration)
        for s in range(0, x.shape[0], 256):
            net(x[s : s + 256])
    net.set_observing(False)


def train_qat(
    net: QuantNet,
    data: TrainData,
    config: TrainConfig,
    calibration: EvalSet,
    on_epoch: OnEpoch | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> list[EpochRecord]:
    """Fine-tune ``net`` with fake quantization; returns the QAT epochs' history.

    Ranges start at the calibration min/max, follow an EMA of the batch ranges while the
    weights adapt, and are frozen after ``config.freeze_ranges_after`` of the epochs.
    """
    rng = np.random.default_rng(config.seed + 1)
    calibrate_ranges(net, calibration)
    net.set_fake_quant(True)
    net.set_observing(True)
    freeze = round(config.freeze_ranges_after * config.qat_epochs)
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
        )
    finally:
        net.set_observing(False)
