"""One training run, end to end, written into the workspace only when it completes.

``run_training`` splits and loads the data, checks the model fits the device budget, trains the
float model, quantizes it (PTQ), fine-tunes it with QAT, quantizes it again with the QAT ranges,
validates both INT8 models with the same report, calibrates thresholds on the validation part
and writes everything at once. Files go to a hidden staging folder first and replace
``<workspace>/models/<name>/`` in one rename, so a cancelled or crashed run leaves the previous
model (or nothing) — never a half-written one.

``models/<name>/``: ``<name>.onnx`` (the deployed float model, QAT-tuned), ``<name>-int8.onnx``
(its QDQ INT8 model), ``<name>-float.onnx`` and ``<name>-ptq-int8.onnx`` (the float-trained
model and its PTQ INT8 model), ``qat_ranges.json`` (the TensorQuantOverrides ranges),
``validation.npz`` / ``test.npz`` (EvalSets for the Quantization tab and ``fieldbench
validate``), ``models.json`` (as resources/models) and ``training.json`` (config, history, the
float/PTQ/QAT table, thresholds). The deployed model's validation report goes to
``reports/quantization/<name>/`` and the thresholds to ``thresholds/<name>/thresh-vN.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_write_text
from core.errors import Cancelled
from core.model.calibration import EvalSet, stratified_indices
from core.model.report import budgets_for, save_report
from core.train.compare import comparison, quantize_and_validate, table_lines
from core.train.config import TrainConfig
from core.train.data import INPUT_SCALE, TrainData, load_train_data
from core.train.errors import BudgetError, TrainError
from core.train.thresholds import build_component, int8_scores, save_component

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
MODELS_DIR = "models"
RECORD_FORMAT = 1


@dataclass
class TrainResult:
    model_name: str
    model_dir: Path
    record: dict[str, Any]
    table: dict[str, Any]
    history: list[dict[str, Any]]
    thresholds_path: Path | None
    report_path: Path | None
    notes: list[str] = field(default_factory=list)

    @property
    def deployed_float(self) -> Path:
        return self.model_dir / f"{self.model_name}.onnx"

    @property
    def deployed_int8(self) -> Path:
        return self.model_dir / str(self.record["files"]["deployed_int8"])

    @property
    def qat_ranges(self) -> dict[str, tuple[float, float]]:
        return {k: (v[0], v[1]) for k, v in self.record.get("qat_ranges", {}).items()}

    def table_lines(self, min_n: int = 0, max_tags: int = 1) -> list[str]:
        return table_lines(self.table, min_n, max_tags)


def model_dir(workspace_root: str | Path, name: str) -> Path:
    return Path(workspace_root) / MODELS_DIR / name


def run_training(
    workspace_root: str | Path,
    features: Any,
    config: TrainConfig,
    on_epoch: Callable[[Any], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    data: TrainData | None = None,
    check_budget: bool = True,
) -> TrainResult:
    """Train ``config`` on the workspace's dataset (or ``data``); see the module docstring.

    ``features`` is the workspace's ``PreprocessingConfig``. Raises ``TrainDataError``,
    ``BudgetError``, ``NonFiniteLossError``, ``Cancelled`` (nothing written in those cases).
    """
    from core.train.loop import deterministic, train_float, train_qat
    from core.train.nets import build_net

    root = Path(workspace_root)
    name = config.model_name
    _check_name(name)
    p = _Progress(progress, cancel)
    notes: list[str] = []
    if data is None:
        data = load_train_data(root, features, config, p.sub(0.0, 0.05), cancel)
    notes += data.notes
    p(0.05)
    models = root / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=models))
    try:
        with deterministic(config.seed):
            net = build_net(config, data.sample_shape, len(data.class_names))
            clean = data.clean_train_set()
            # Calibrate on every labelled training window, faults included: an autoencoder
            # calibrated on normal windows only clips the larger band energies of a fault at
            # its input and output ranges, and the INT8 score no longer sees the anomaly.
            calibration = _calibration_rows(clean, config)
            if check_budget:
                _check_budget(net, calibration, data, staging, name, features)
            history = [
                r.to_dict()
                for r in train_float(net, data, config, on_epoch, p.sub(0.05, 0.5), cancel)
            ]
            net.fold_normalisation()
            float_path = staging / f"{name}-float.onnx"
            _write_onnx(net, float_path, name)
            ptq = quantize_and_validate(
                float_path,
                staging / f"{name}-ptq-int8.onnx",
                calibration,
                data.test,
                features=features,
                progress=p.sub(0.5, 0.6),
                cancel=cancel,
            )
            qat = None
            ranges: dict[str, tuple[float, float]] = {}
            if config.qat_epochs > 0:
                history += [
                    r.to_dict()
                    for r in train_qat(
                        net,
                        data,
                        config,
                        calibration,
                        on_epoch,
                        p.sub(0.6, 0.85),
                        cancel,
                        initial_ranges=ptq.quantized.ranges,
                    )
                ]
                ranges = net.ranges()
                qat_path = staging / f"{name}.onnx"
                _write_onnx(net, qat_path, name)
                qat = quantize_and_validate(
                    qat_path,
                    staging / f"{name}-int8.onnx",
                    calibration,
                    data.test,
                    ranges=ranges,
                    features=features,
                    progress=p.sub(0.85, 0.93),
                    cancel=cancel,
                )
            else:
                shutil.copyfile(float_path, staging / f"{name}.onnx")
                shutil.copyfile(ptq.quantized.qdq_path, staging / f"{name}-int8.onnx")
                notes.append("train.qatEpochs = 0: the deployed model is the PTQ model")
        deployed = qat or ptq
        table = comparison(ptq.report, deployed.report)
        if qat is None:
            for row in [table["overall"], *table["strata"]]:
                row["qat"] = row["qat_float"] = None
        p(0.94)
        scores = int8_scores(staging / f"{name}-int8.onnx", data.val, data.task)
        component = build_component(
            name,
            staging / f"{name}-int8.onnx",
            data.task,
            data.class_names,
            scores,
            data.val,
            {prof: config.false_alarm_for(prof) for prof in config.profiles},
            config.band_tags,
        )
        p(0.97)
        data.val.save(staging / "validation.npz")
        data.test.save(staging / "test.npz")
        record = _record(config, data, history, table, ranges, deployed, notes, qat is not None)
        _write_manifest(staging, name, config, data)
        atomic_write_text(staging / "qat_ranges.json", json.dumps(record["qat_ranges"]) + "\n")
        if cancel is not None and cancel():
            raise Cancelled("training cancelled")
        # Commit: thresholds and report first (versioned / per-model files), then the model.
        thresholds_path = save_component(root, name, component)
        record["thresholds"] = {
            "path": str(thresholds_path.relative_to(root)),
            "version": thresholds_path.stem,
        }
        atomic_write_text(staging / "training.json", json.dumps(record, indent=1) + "\n")
        final = _commit(staging, model_dir(root, name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = deployed.report
    report_path = save_report(report, root)
    p(1.0)
    return TrainResult(name, final, record, table, history, thresholds_path, report_path, notes)


# ------------------------------------------------------------------------------- helpers


class _Progress:
    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None) -> None:
        self.progress = progress
        self.cancel = cancel

    def __call__(self, f: float) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("training cancelled")
        if self.progress is not None:
            self.progress(min(1.0, max(0.0, f)))

    def sub(self, lo: float, hi: float) -> ProgressFn:
        return lambda f: self(lo + (hi - lo) * f)


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\\" in name or name != name.strip():
        raise TrainError(
            f"model name {name!r} cannot be a folder name; use letters, digits, - and _"
        )


def _calibration_rows(data: EvalSet, config: TrainConfig) -> EvalSet:
    if len(data) <= config.calibration_size:
        return data
    rows = stratified_indices(data.tags, config.calibration_size, config.seed, labels=data.labels)
    return data.subset(np.sort(rows))


def _write_onnx(net: Any, path: Path, graph_name: str) -> None:
    from core.atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        handle.write(net.to_onnx(graph_name).SerializeToString())


def _check_budget(
    net: Any, calibration: EvalSet, data: TrainData, work: Path, name: str, features: Any
) -> dict[str, Any]:
    """Quantize the untrained network once and check the device budget before training."""
    from core.model.quantize import QuantizeOptions, quantize_model

    probe = work / "budget-probe.onnx"
    q_path = work / "budget-probe-int8.onnx"
    net.set_normalisation(calibration.inputs()[:, 0])
    _write_onnx(net, probe, name)
    rows = calibration.subset(np.arange(min(len(calibration), 16)))
    quantize_model(probe, rows, q_path, QuantizeOptions(calibration_size=len(rows)))
    budgets = budgets_for(q_path, data.task, INPUT_SCALE, 0.0, features)
    for f in (probe, q_path):
        f.unlink(missing_ok=True)
    if "error" in budgets:
        raise BudgetError(f"the {name} network cannot run on the device: {budgets['error']}")
    if budgets.get("within_default_budget") is False:
        raise BudgetError(
            f"{name} needs {budgets['pool_bytes']} B of RAM and ~{budgets['latency_ms']:.1f} ms "
            "per inference, over the device budget (12288 B, 45 ms); use fewer hidden units or "
            "channels (train.hidden / train.channels) or fewer frames (train.frames)"
        )
    return budgets


def _record(
    config: TrainConfig,
    data: TrainData,
    history: list[dict[str, Any]],
    table: dict[str, Any],
    ranges: dict[str, tuple[float, float]],
    deployed: Any,
    notes: list[str],
    qat: bool,
) -> dict[str, Any]:
    from core.model.report import _clean

    return {
        "format": RECORD_FORMAT,
        "model": config.model_name,
        "family": config.family,
        "task": data.task,
        "config": config.to_mapping(),
        "split": data.split_name,
        "class_names": data.class_names,
        "sample_shape": list(data.sample_shape),
        "input_scale": INPUT_SCALE,
        "windows": {
            "train": len(data.clean_train_set()),
            "val": len(data.val),
            "test": len(data.test),
        },
        "history": history,
        "comparison": _clean(table),
        "qat_ranges": {k: [float(a), float(b)] for k, (a, b) in sorted(ranges.items())},
        "deployed": "qat" if qat else "ptq",
        "files": {
            "float": f"{config.model_name}-float.onnx",
            "ptq_int8": f"{config.model_name}-ptq-int8.onnx",
            "deployed_float": f"{config.model_name}.onnx",
            "deployed_int8": f"{config.model_name}-int8.onnx",
        },
        "budgets": _clean(deployed.report.budgets),
        "passed": deployed.report.passed,
        "reasons": deployed.report.reasons,
        "notes": notes,
    }


def _write_manifest(folder: Path, name: str, config: TrainConfig, data: TrainData) -> None:
    entry = {
        "file": f"{name}.onnx",
        "int8": f"{name}-int8.onnx",
        "task": data.task,
        "input_shape": [1, *data.sample_shape],
        "input_scale": INPUT_SCALE,
        "features": "workspace [features]"
        + ("" if data.frames == 1 else f", {data.frames} consecutive frames ([1, F, 1, T])"),
        "classes": data.class_names,
        "trained_on": f"{len(data.clean_train_set())} windows of split {data.split_name}, "
        f"seed {config.seed}",
    }
    atomic_write_text(folder / "models.json", json.dumps({name: entry}, indent=1) + "\n")


def _commit(staging: Path, final: Path) -> Path:
    """Replace ``final`` with ``staging`` (renames within one folder)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
    return final
