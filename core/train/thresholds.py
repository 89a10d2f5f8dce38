"""Decision thresholds at a target false-alarm rate, per deployment profile and metadata band.

Scores are the ones the device computes from the INT8 model (onnxruntime QDQ at
ORT_ENABLE_EXTENDED, bit-exact with the C++ runtime):

* anomaly: the RECON_MSE post-process (reconstruction MSE against the requantized input);
* classifier: the fault margin ``max_{c ≠ normal} logit_c − logit_normal`` of the dequantized
  logits; a window raises an alarm when the margin exceeds the threshold (0 = plain argmax).

A threshold is the ``1 − FAR`` quantile of the normal validation windows' scores ("higher"
method: at most FAR of them lie above it). A metadata band (one value of a tag such as
``temperature=hot``) gets its own threshold only where the data shows it matters: the band has
enough normal windows to resolve the rate (≥ 1/FAR, at least ``min_rows``) and the global
threshold's false-alarm rate in it is more than twice the target or below half of it.

The result is the versioned threshold component bundles carry:
``<workspace>/thresholds/<model>/thresh-v<N>.json`` (N counts up; a spec names it as
``thresholdVersion = "thresh-vN"`` and ``[components] thresholds = "thresholds/<model>/..."``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from core.atomic import atomic_open
from core.errors import FieldbenchError
from core.model.calibration import EvalSet
from core.model.onnx_io import file_sha256, make_session, run_session
from core.model.report_layers import quant_params
from core.model.report_metrics import recon_mse_int8

THRESHOLDS_DIR = "thresholds"
THRESHOLD_FORMAT = 1
_VERSION = re.compile(r"^thresh-v(\d+)\.json$")
F64 = npt.NDArray[np.float64]


class ThresholdError(FieldbenchError):
    """Thresholds cannot be calibrated or saved."""


def int8_scores(qdq_path: str | Path, data: EvalSet, task: str) -> F64:
    """Per-window device scores of the INT8 model (see the module docstring)."""
    x = data.inputs()
    y = run_session(make_session(qdq_path, "extended"), x)[0]
    if task == "anomaly":
        params = quant_params(onnx.load(str(qdq_path)))
        inp = next((p for p in params if p.producer == "input"), None)
        if inp is None:
            raise ThresholdError(f"{qdq_path}: no input QuantizeLinear; is this a QDQ model?")
        return recon_mse_int8(x, y, inp.scale, inp.zero_point).astype(np.float64)
    logits = y.reshape(len(data), -1).astype(np.float64)
    if logits.shape[1] < 2:
        raise ThresholdError("a classifier needs at least two outputs for a fault margin")
    margin: F64 = logits[:, 1:].max(axis=1) - logits[:, 0]  # class 0 is the normal class
    return margin


def threshold_at(normal_scores: F64, far: float) -> float:
    """The smallest float32 threshold with at most ``far`` of ``normal_scores`` above it."""
    if normal_scores.size == 0:
        raise ThresholdError("no normal windows to calibrate a threshold on")
    t = float(np.quantile(normal_scores, 1.0 - far, method="higher"))
    return float(np.float32(t))


def _rates(scores: F64, labels: npt.NDArray[np.int64], t: float) -> dict[str, Any]:
    normal = scores[labels == 0]
    fault = scores[labels != 0]
    return {
        "n_normal": int(normal.size),
        "n_fault": int(fault.size),
        "false_alarm": float(np.mean(normal > t)) if normal.size else None,
        "detection": float(np.mean(fault > t)) if fault.size else None,
    }


def calibrate(
    scores: F64,
    data: EvalSet,
    far: float,
    band_tags: Sequence[str] = (),
    min_rows: int = 20,
) -> dict[str, Any]:
    """One profile's thresholds: a default, plus band thresholds where they matter."""
    if data.labels is None:
        raise ThresholdError("the validation windows have no labels; label the recordings")
    labels = data.labels
    t = threshold_at(scores[labels == 0], far)
    out: dict[str, Any] = {
        "target_false_alarm": far,
        "threshold": t,
        "validation": _rates(scores, labels, t),
        "bands": {},
        "resolution_note": None,
    }
    n_normal = int(np.sum(labels == 0))
    if n_normal * far < 1:
        out["resolution_note"] = (
            f"{n_normal} normal validation windows cannot resolve a {far:.2%} false-alarm rate "
            f"(needs ≥ {math.ceil(1 / far)}); the threshold is the largest normal score — "
            "record more normal data to calibrate it properly"
        )
    keys = list(band_tags) or data.tag_keys()
    need = max(min_rows, math.ceil(1.0 / far))
    for key in keys:
        for value in sorted({tg[key] for tg in data.tags if key in tg}):
            rows = np.asarray([i for i, tg in enumerate(data.tags) if tg.get(key) == value])
            band_normal = scores[rows][labels[rows] == 0]
            if band_normal.size < need:
                continue
            far_global = float(np.mean(band_normal > t))
            if far < far_global / 2.0 or far_global < far / 2.0:
                tb = threshold_at(band_normal, far)
                if tb == t:
                    continue
                entry = _rates(scores[rows], labels[rows], tb)
                entry.update({"threshold": tb, "false_alarm_with_default": far_global})
                out["bands"].setdefault(key, {})[value] = entry
    return out


def build_component(
    model_name: str,
    qdq_path: str | Path,
    task: str,
    class_names: Sequence[str],
    scores: F64,
    data: EvalSet,
    profile_far: Mapping[str, float],
    band_tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The threshold component (before its version is assigned by ``save_component``)."""
    return {
        "format": THRESHOLD_FORMAT,
        "component": "thresholds",
        "model": {"name": model_name, "sha256_int8": file_sha256(qdq_path)},
        "task": task,
        "score": "recon_mse_int8" if task == "anomaly" else "fault_margin_int8_logits",
        "decision": "alarm when score > threshold",
        "class_names": list(class_names),
        "calibrated_on": {"windows": len(data), "part": "validation"},
        "profiles": {
            name: calibrate(scores, data, far, band_tags) for name, far in profile_far.items()
        },
    }


def component_dir(workspace_root: str | Path, model_name: str) -> Path:
    return Path(workspace_root) / THRESHOLDS_DIR / model_name


def versions(workspace_root: str | Path, model_name: str) -> list[int]:
    folder = component_dir(workspace_root, model_name)
    if not folder.is_dir():
        return []
    found = [_VERSION.match(p.name) for p in folder.iterdir()]
    return sorted(int(m.group(1)) for m in found if m)


def save_component(workspace_root: str | Path, model_name: str, component: dict[str, Any]) -> Path:
    """Write the next version ``thresh-v<N>.json`` atomically; returns its path."""
    n = (versions(workspace_root, model_name) or [0])[-1] + 1
    body = dict(component)
    body["version"] = f"thresh-v{n}"
    body["version_number"] = n
    path = component_dir(workspace_root, model_name) / f"thresh-v{n}.json"
    with atomic_open(path, "w") as handle:
        handle.write(json.dumps(body, indent=1) + "\n")
    return path


def load_component(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ThresholdError(f"{p}: not a readable threshold component ({exc})") from None
    if not isinstance(data, dict) or data.get("component") != "thresholds":
        raise ThresholdError(f"{p}: not a Fieldbench threshold component")
    return data
