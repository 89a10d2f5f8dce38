"""The Quantization tab's long jobs, Qt-free: load the data, quantize + validate, save the report.

Each runs in the GUI's ``Worker`` with ``progress(fraction)`` and ``cancel()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Cancelled, FieldbenchError
from core.model.calibration import CalibrationMethod, EvalSet
from core.model.onnx_io import load_model
from core.model.quantize import QuantizeOptions
from core.model.report import (
    JobResult,
    QuantizationJob,
    ValidationConfig,
    detect_task,
    fix_and_revalidate,
    report_dir,
    run_job,
    save_report,
)
from core.paths import resources_dir

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

GENERATED = "generated"
WORKSPACE = "workspace"
FILE = "file"


class QuantizationSetupError(FieldbenchError):
    """The model or its validation data cannot be used as chosen."""


def sample_models() -> dict[str, dict[str, Any]]:
    """``resources/models/models.json``: name → entry with ``path`` added (empty when absent)."""
    folder = resources_dir() / "models"
    try:
        raw = json.loads((folder / "models.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for name, entry in raw.items():
        path = folder / str(entry.get("file", f"{name}.onnx"))
        if path.is_file():
            out[name] = dict(entry) | {"path": path}
    return out


@dataclass(frozen=True)
class DataChoice:
    """Where the validation windows come from."""

    kind: str  # GENERATED (sample models) | WORKSPACE (a saved split's part) | FILE (.npz)
    split: str | None = None
    part: str = "val"
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == GENERATED:
            return "generated held-out set"
        if self.kind == WORKSPACE:
            return f"workspace split {self.split!r}, part {self.part}"
        return self.path.name if self.path else "evaluation file"


@dataclass(frozen=True)
class QuantRequest:
    model_path: Path
    data: DataChoice
    workspace_root: Path
    method: str = "minmax"
    calibration_size: int = 512
    percentile: float = 99.999
    saturation_threshold: float = 1e-3
    sqnr_threshold_db: float = 20.0


@dataclass(frozen=True)
class QuantOutcome:
    result: JobResult
    report_path: Path

    @property
    def report(self) -> dict[str, Any]:
        return self.result.report.to_dict()


def _sample_entry(model_path: Path) -> dict[str, Any] | None:
    entry = sample_models().get(model_path.stem)
    if entry is not None and Path(entry["path"]).resolve() == model_path.resolve():
        return entry
    return None


def load_data(
    req: QuantRequest, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> tuple[EvalSet, Any]:
    """The validation set and the front-end config (for the pool budget) of ``req``."""
    from core.model import samples
    from core.workspace import Workspace

    entry = _sample_entry(req.model_path)
    features = samples.SAMPLE_FEATURES if entry is not None else None
    choice = req.data
    if choice.kind == GENERATED:
        if entry is None:
            raise QuantizationSetupError(
                f"{req.model_path.name}: only the sample models have a generated set; choose "
                "the workspace dataset or an evaluation .npz file"
            )
        data = (
            samples.sample_anomaly_set()
            if entry.get("task") == "anomaly"
            else samples.sample_classifier_set()
        )
        return data, features
    if choice.kind == FILE:
        if choice.path is None:
            raise QuantizationSetupError("choose an evaluation .npz file first")
        return EvalSet.load(choice.path), features or Workspace.open(req.workspace_root).features
    from core.model.datasets import dataset_eval_set

    model = load_model(req.model_path)
    task = str(entry["task"]) if entry else detect_task(model)
    classes = entry.get("classes") if entry else None
    ws = Workspace.open(req.workspace_root)
    data = dataset_eval_set(
        ws,
        split=choice.split,
        part=choice.part,
        sample_shape=model.sample_shape,
        features=features,
        task=task,
        class_names=classes if task == "classifier" else None,
        progress=progress,
        cancel=cancel,
    )
    return data, features or ws.features


def quantized_path(workspace_root: Path, model_path: Path) -> Path:
    """Where the INT8 QDQ model of ``model_path`` goes: beside its report."""
    return report_dir(workspace_root, model_path.stem) / f"{model_path.stem}.int8.onnx"


def run_quantization(
    req: QuantRequest, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> QuantOutcome:
    """Load the data, quantize, validate, save the report; 15 % of progress is the data."""

    def part(lo: float, hi: float) -> ProgressFn:
        return lambda f: progress(lo + (hi - lo) * f) if progress is not None else None

    data, features = load_data(req, part(0.0, 0.15), cancel)
    if cancel is not None and cancel():
        raise Cancelled("quantization cancelled")
    out = quantized_path(req.workspace_root, req.model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    job = QuantizationJob(
        req.model_path,
        data,
        out,
        QuantizeOptions(
            method=CalibrationMethod.parse(req.method),
            calibration_size=req.calibration_size,
            percentile=req.percentile,
        ),
        ValidationConfig(
            saturation_threshold=req.saturation_threshold,
            sqnr_threshold_db=req.sqnr_threshold_db,
        ),
        features=features,
    )
    result = run_job(job, part(0.15, 1.0), cancel)
    return QuantOutcome(result, save_report(result.report, req.workspace_root))


def run_fix(
    previous: JobResult,
    which: Sequence[int] | None,
    workspace_root: Path,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> QuantOutcome:
    """Apply the chosen flags' proposed fixes, quantize and validate again, save the report."""
    result = fix_and_revalidate(previous, which, progress, cancel)
    return QuantOutcome(result, save_report(result.report, workspace_root))
