"""The validation report: float vs INT8, overall and per stratum, with per-layer evidence.

``validate`` runs the float model and the QDQ INT8 model (onnxruntime at ORT_ENABLE_EXTENDED,
i.e. the fused integer kernels the device reproduces) over an ``EvalSet`` and gathers:

* task metrics — classifier: accuracy + confusion matrix; anomaly autoencoder: ROC AUC, the
  thresholded decision's accuracy + confusion, and the score error (score = reconstruction MSE;
  the INT8 score is the RECON_MSE post-process of the INT8 conventions, bit-exact);
* the same per stratum: one stratum per value of every tag (``{"speed": "low"}``, …), then one
  per combination of values of tag pairs (``{"temperature": "hot", "orientation": "vertical"}``;
  ``ValidationConfig.combinations`` chooses the tag groups, default every pair);
* per layer (``report_layers``): float range vs quantized range, saturation rate per stratum,
  SQNR (``qdq_loss_debug`` ``xmodel_err``), weight histograms and SQNR;
* flags for layers past the saturation or SQNR threshold, each with a proposed ``Fix`` that
  ``apply_fixes`` / ``fix_and_revalidate`` turn into new quantization options in one call.

Plots: the JSON carries every array a plot needs (histograms, per-stratum rates); the report
folder also gets two small SVGs written here (``report_svg``), so core needs no matplotlib.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from core.atomic import atomic_open, atomic_write_text
from core.errors import Cancelled, FieldbenchError
from core.model.calibration import CalibrationMethod, EvalSet, stratified_indices
from core.model.onnx_io import FloatModel, file_sha256, load_model, make_session, run_session
from core.model.quantize import (
    QuantizeOptions,
    QuantizeResult,
    RangeOverride,
    preprocess,
    quantize_model,
)
from core.model.report_layers import (
    LayerStats,
    WeightStats,
    activation_sqnr,
    float_activations,
    layer_stats,
    quant_params,
    weight_stats,
)
from core.model.report_metrics import (
    anomaly_metrics,
    classifier_metrics,
    recon_mse_float,
    recon_mse_int8,
)

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

REPORT_FORMAT = 1
REPORTS_DIR = Path("reports") / "quantization"
COMBINATIONS_SHOWN = 8


class ReportError(FieldbenchError):
    """Validation cannot run with the model and data given."""


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds and sizes; defaults suit tiny sensor models."""

    task: str | None = None  # "classifier" | "anomaly"; None: anomaly when output == input shape
    saturation_threshold: float = 1e-3  # share of values clipped in any stratum
    sqnr_threshold_db: float = 20.0
    sqnr_rows: int = 256  # rows (stratified) for qdq_loss_debug
    max_accuracy_drop: float = 0.01  # overall, absolute (also AUC)
    max_stratum_drop: float = 0.03  # any stratum with ≥ min_stratum_rows rows
    min_stratum_rows: int = 20
    # Tag-combination strata are smaller and noisier (an AUC over 40 rows moves by ±0.05 when a
    # few scores shift); the verdict checks them from this many rows on.
    min_combination_rows: int = 100
    threshold: float | None = None  # anomaly decision threshold; None: from normal float scores
    threshold_quantile: float = 0.99
    histogram_bins: int = 32
    # Tag groups whose value combinations become strata; None: every pair of the data's tags.
    combinations: tuple[tuple[str, ...], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Fix:
    """A proposed change: a range override for one tensor, or another calibration method."""

    kind: str  # "override" | "calibration"
    tensor: str | None = None
    rmin: float | None = None
    rmax: float | None = None
    method: str | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tensor": self.tensor,
            "rmin": self.rmin,
            "rmax": self.rmax,
            "method": self.method,
            "description": self.description,
        }


@dataclass(frozen=True)
class Flag:
    tensor: str
    kind: str  # "saturation" | "sqnr"
    value: float
    threshold: float
    message: str
    fix: Fix

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "kind": self.kind,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "fix": self.fix.to_dict(),
        }


@dataclass
class ValidationReport:
    model_name: str
    sha256_float: str
    sha256_int8: str
    task: str
    overall: dict[str, Any]
    strata: list[dict[str, Any]]
    layers: list[LayerStats]
    weights: list[WeightStats]
    flags: list[Flag]
    passed: bool
    reasons: list[str]
    config: ValidationConfig
    options: dict[str, Any] = field(default_factory=dict)
    budgets: dict[str, Any] = field(default_factory=dict)
    input_quant: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    threshold: float | None = None
    #: The runtime blob (docs/model-format.md) of this INT8 model: what a bundle carries as its
    #: model component. Saved as ``model.fbm`` beside the report; its hash is in ``model``.
    blob: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _clean(
            {
                "format": REPORT_FORMAT,
                "model": {
                    "name": self.model_name,
                    "sha256_float": self.sha256_float,
                    "sha256_int8": self.sha256_int8,
                    "sha256_blob": hashlib.sha256(self.blob).hexdigest() if self.blob else None,
                },
                "task": self.task,
                "class_names": self.class_names,
                "threshold": self.threshold,
                "input_quant": self.input_quant,
                "quantization": self.options,
                "overall": self.overall,
                "strata": self.strata,
                "layers": [layer.to_dict() for layer in self.layers],
                "weights": [w.to_dict() for w in self.weights],
                "flags": [f.to_dict() for f in self.flags],
                "budgets": self.budgets,
                "criteria": self.config.to_dict(),
                "passed": self.passed,
                "reasons": self.reasons,
            }
        )
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)


def _clean(v: Any) -> Any:
    """JSON-safe: numpy scalars → Python, NaN/inf → None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------------- validate


def marginal_strata(
    tags: Sequence[dict[str, str]],
) -> list[tuple[dict[str, str], npt.NDArray[np.int64]]]:
    """One stratum per (tag, value): ``[({tag: value}, rows)]``, sorted."""
    keys = sorted({k for t in tags for k in t})
    strata: list[tuple[dict[str, str], npt.NDArray[np.int64]]] = []
    for key in keys:
        values = sorted({t[key] for t in tags if key in t})
        for value in values:
            rows = np.asarray(
                [i for i, t in enumerate(tags) if t.get(key) == value], dtype=np.int64
            )
            strata.append(({key: value}, rows))
    return strata


def combination_strata(
    tags: Sequence[dict[str, str]],
    groups: Sequence[Sequence[str]] | None = None,
) -> list[tuple[dict[str, str], npt.NDArray[np.int64]]]:
    """One stratum per combination of values of each tag group that has rows.

    ``groups=None``: every pair of the tags present (sorted), e.g. temperature × orientation.
    Rows missing a tag of the group are left out of that group's strata.
    """
    keys = sorted({k for t in tags for k in t})
    use = (
        [tuple(g) for g in groups]
        if groups is not None
        else [tuple(p) for p in itertools.combinations(keys, 2)]
    )
    strata: list[tuple[dict[str, str], npt.NDArray[np.int64]]] = []
    for group in use:
        if len(group) < 2 or any(k not in keys for k in group):
            continue
        cells: dict[tuple[str, ...], list[int]] = {}
        for i, t in enumerate(tags):
            if all(k in t for k in group):
                cells.setdefault(tuple(t[k] for k in group), []).append(i)
        for values in sorted(cells):
            strata.append(
                (dict(zip(group, values, strict=True)), np.asarray(cells[values], dtype=np.int64))
            )
    return strata


def detect_task(model: FloatModel) -> str:
    return "anomaly" if model.output.shape == model.input.shape else "classifier"


def validate(
    model: FloatModel | str | Path,
    qdq_path: str | Path,
    data: EvalSet,
    config: ValidationConfig | None = None,
    calibrated_ranges: dict[str, tuple[float, float]] | None = None,
    options: QuantizeOptions | None = None,
    budgets: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    features: Any = None,
) -> ValidationReport:
    """Compare the float model with its QDQ INT8 model on ``data``; see the module docstring."""
    cfg = config or ValidationConfig()
    fm = model if isinstance(model, FloatModel) else load_model(model)
    qpath = Path(qdq_path)
    if not qpath.is_file():
        raise ReportError(f"{qpath}: no such quantized model; run fieldbench quantize first")
    if data.features.shape[1:] != fm.sample_shape:
        raise ReportError(
            f"{fm.path.name}: takes windows of shape {list(fm.sample_shape)} but the data has "
            f"{list(data.features.shape[1:])}"
        )
    if len(data) == 0:
        raise ReportError("the validation set is empty; add recordings or lower the filters")
    task = cfg.task or detect_task(fm)
    step = _Steps(progress, cancel)
    x = data.inputs()
    qdq = onnx.load(str(qpath))
    params = quant_params(qdq)
    in_param = next((p for p in params if p.producer == "input"), None)
    if in_param is None:
        raise ReportError(f"{qpath}: no input QuantizeLinear; is this a QDQ model?")

    with tempfile.TemporaryDirectory(prefix="fieldbench-report-") as tmp:
        work = Path(tmp)
        pre = preprocess(fm.path, work / "pre.onnx")
        step(0.05)
        # Float pass: outputs and every quantized activation, all rows.
        out_name = fm.output.name
        acts = float_activations(
            pre, fm.input.name, x, [out_name, *[p.tensor for p in params]], work
        )
        y_float = acts[out_name]
        step(0.35)
        # INT8 pass: the QDQ model at ORT_ENABLE_EXTENDED (fused integer kernels).
        q_session = make_session(qpath, "extended")
        y_int8 = run_session(q_session, x)[0]
        step(0.65)
        sqnr_rows = stratified_indices(data.tags, cfg.sqnr_rows, seed=1, labels=data.labels)
        sqnr = activation_sqnr(pre, qpath, fm.input.name, x[sqnr_rows], work)
        step(0.85)
        weights = weight_stats(pre, qpath, cfg.histogram_bins)
    strata = marginal_strata(data.tags)
    layers = layer_stats(params, acts, strata, calibrated_ranges or {}, sqnr, cfg.histogram_bins)
    step(0.95)

    threshold: float | None = None
    if task == "anomaly":
        s_float = recon_mse_float(x, y_float)
        s_int8 = recon_mse_int8(x, y_int8, in_param.scale, in_param.zero_point)
        threshold = cfg.threshold if cfg.threshold is not None else _threshold(s_float, data, cfg)

        def metrics(rows: npt.NDArray[np.int64]) -> tuple[dict[str, Any], dict[str, Any]]:
            lab = None if data.labels is None else data.labels[rows]
            f = anomaly_metrics(s_float[rows], lab, threshold or 0.0)
            q = anomaly_metrics(s_int8[rows], lab, threshold or 0.0)
            err = np.abs(s_int8[rows].astype(np.float64) - s_float[rows])
            q["score_error"] = {
                "mean_abs": float(err.mean()) if err.size else 0.0,
                "max_abs": float(err.max()) if err.size else 0.0,
                "mean_rel": float(np.mean(err / np.maximum(s_float[rows], 1e-12)))
                if err.size
                else 0.0,
            }
            return f, q

        key = "auc"
    else:
        n_classes = int(y_float.reshape(len(data), -1).shape[1])
        p_float = np.argmax(y_float.reshape(len(data), -1), axis=1).astype(np.int64)
        p_int8 = np.argmax(y_int8.reshape(len(data), -1), axis=1).astype(np.int64)

        def metrics(rows: npt.NDArray[np.int64]) -> tuple[dict[str, Any], dict[str, Any]]:
            lab = None if data.labels is None else data.labels[rows]
            f = classifier_metrics(p_float[rows], lab, n_classes)
            q = classifier_metrics(p_int8[rows], lab, n_classes)
            q["agreement"] = float(np.mean(p_float[rows] == p_int8[rows])) if rows.size else 1.0
            return f, q

        key = "accuracy"

    all_rows = np.arange(len(data), dtype=np.int64)
    f_all, q_all = metrics(all_rows)
    overall = {"n": len(data), "float": f_all, "int8": q_all}
    strata_out = []
    for tags, rows in [*strata, *combination_strata(data.tags, cfg.combinations)]:
        f, q = metrics(rows)
        strata_out.append({"tags": tags, "n": int(rows.size), "float": f, "int8": q})

    passed, reasons = _verdict(key, overall, strata_out, cfg)
    flags = propose_flags(layers, cfg, options)
    report = ValidationReport(
        model_name=fm.name,
        sha256_float=fm.sha256,
        sha256_int8=file_sha256(qpath),
        task=task,
        overall=overall,
        strata=strata_out,
        layers=layers,
        weights=weights,
        flags=flags,
        passed=passed,
        reasons=reasons,
        config=cfg,
        options=options.to_dict() if options is not None else {},
        budgets=budgets
        if budgets is not None
        else budgets_for(qpath, task, data.input_scale, threshold, features),
        blob=runtime_blob(qpath, task, data.input_scale, threshold),
        input_quant={
            "scale": in_param.scale,
            "zero_point": in_param.zero_point,
            "input_scale": data.input_scale,
        },
        class_names=list(data.class_names),
        threshold=threshold,
    )
    step(1.0)
    return report


def _threshold(scores: npt.NDArray[np.float64], data: EvalSet, cfg: ValidationConfig) -> float:
    normal = scores if data.labels is None else scores[data.labels == 0]
    if normal.size == 0:
        normal = scores
    return float(np.float32(np.quantile(normal, cfg.threshold_quantile)))


def _verdict(
    key: str, overall: dict[str, Any], strata: list[dict[str, Any]], cfg: ValidationConfig
) -> tuple[bool, list[str]]:
    reasons: list[str] = []

    def drop(entry: dict[str, Any]) -> float | None:
        f, q = entry["float"].get(key), entry["int8"].get(key)
        return None if f is None or q is None else float(f) - float(q)

    d = drop(overall)
    if d is not None and d > cfg.max_accuracy_drop:
        reasons.append(f"overall {key} drops by {d:.4f} (limit {cfg.max_accuracy_drop}) after INT8")
    for s in strata:
        ds = drop(s)
        least = cfg.min_stratum_rows if len(s["tags"]) == 1 else cfg.min_combination_rows
        if s["n"] >= least and ds is not None and ds > cfg.max_stratum_drop:
            tags = ", ".join(f"{k}={v}" for k, v in s["tags"].items())
            reasons.append(
                f"stratum {tags}: {key} drops by {ds:.4f} (limit {cfg.max_stratum_drop})"
            )
    return not reasons, reasons


def propose_flags(
    layers: Sequence[LayerStats], cfg: ValidationConfig, options: QuantizeOptions | None = None
) -> list[Flag]:
    """Flag layers past the thresholds, each with a fix the user can apply in one step."""
    method = options.method if options is not None else CalibrationMethod.MINMAX
    flags: list[Flag] = []
    for layer in layers:
        worst = max([layer.saturation, *[s["rate"] for s in layer.saturation_strata]], default=0.0)
        if worst > cfg.saturation_threshold:
            lo = min(0.0, layer.float_range[0]) if layer.zero_point != -128 else 0.0
            hi = max(0.0, layer.float_range[1])
            margin = 0.02 * (hi - lo)
            rmin = lo - margin if lo < 0 else lo
            rmax = hi + margin
            where = max(layer.saturation_strata, key=lambda s: s["rate"], default=None)
            at = (
                " (worst: " + ", ".join(f"{k}={v}" for k, v in where["tags"].items()) + ")"
                if where and where["rate"] > layer.saturation
                else ""
            )
            flags.append(
                Flag(
                    layer.tensor,
                    "saturation",
                    worst,
                    cfg.saturation_threshold,
                    f"{layer.tensor}: {worst:.2%} of values clip at the INT8 range "
                    f"[{layer.quant_range[0]:.4g}, {layer.quant_range[1]:.4g}]{at}",
                    Fix(
                        "override",
                        layer.tensor,
                        float(rmin),
                        float(rmax),
                        None,
                        f"widen {layer.tensor} to [{rmin:.4g}, {rmax:.4g}] "
                        "(the range seen on the validation set)",
                    ),
                )
            )
            continue
        if layer.sqnr_db is not None and layer.sqnr_db < cfg.sqnr_threshold_db:
            if method is CalibrationMethod.MINMAX:
                fix = Fix(
                    "calibration",
                    None,
                    None,
                    None,
                    CalibrationMethod.ENTROPY.value,
                    "calibrate with entropy: it trims rare outliers that waste INT8 resolution",
                )
            else:
                lo, hi = layer.percentiles
                lo = 0.0 if layer.zero_point == -128 else min(0.0, lo)
                hi = max(hi, lo + 1e-6)
                fix = Fix(
                    "override",
                    layer.tensor,
                    float(lo),
                    float(hi),
                    None,
                    f"narrow {layer.tensor} to its 0.01–99.99 % range [{lo:.4g}, {hi:.4g}]",
                )
            flags.append(
                Flag(
                    layer.tensor,
                    "sqnr",
                    float(layer.sqnr_db),
                    cfg.sqnr_threshold_db,
                    f"{layer.tensor}: SQNR {layer.sqnr_db:.1f} dB is below "
                    f"{cfg.sqnr_threshold_db:.0f} dB",
                    fix,
                )
            )
    return flags


# ------------------------------------------------------------------- one-call job and fixes


@dataclass(frozen=True)
class QuantizationJob:
    """Everything needed to quantize and validate again (the GUI keeps one per model)."""

    model_path: Path
    data: EvalSet  # validation rows
    out_path: Path
    options: QuantizeOptions = field(default_factory=QuantizeOptions)
    config: ValidationConfig = field(default_factory=ValidationConfig)
    calibration: EvalSet | None = None  # default: drawn (stratified) from ``data``
    budgets: dict[str, Any] = field(default_factory=dict)  # empty: computed (core.model.budget)
    features: Any = None  # PreprocessingConfig of the front-end, for the pool budget


@dataclass(frozen=True)
class JobResult:
    job: QuantizationJob
    quantized: QuantizeResult
    report: ValidationReport


def run_job(
    job: QuantizationJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> JobResult:
    """Quantize, then validate; progress covers both."""
    fm = load_model(job.model_path)
    calib = job.calibration if job.calibration is not None else job.data
    q = quantize_model(
        fm, calib, job.out_path, job.options, None, _scaled(progress, 0.0, 0.3), cancel
    )
    report = validate(
        fm,
        q.qdq_path,
        job.data,
        job.config,
        q.ranges,
        job.options,
        job.budgets or None,
        _scaled(progress, 0.3, 1.0),
        cancel,
        job.features,
    )
    return JobResult(job, q, report)


def apply_fixes(
    job: QuantizationJob, flags: Sequence[Flag], which: Sequence[int] | None = None
) -> QuantizationJob:
    """A new job with the chosen flags' fixes applied (all flags by default)."""
    chosen = [flags[i] for i in which] if which is not None else list(flags)
    opts = job.options
    overrides: dict[str, RangeOverride] = {}
    for flag in chosen:
        fix = flag.fix
        if fix.kind == "calibration" and fix.method:
            opts = replace(opts, method=CalibrationMethod.parse(fix.method))
        elif (
            fix.kind == "override" and fix.tensor and fix.rmin is not None and fix.rmax is not None
        ):
            overrides[fix.tensor] = RangeOverride(fix.rmin, fix.rmax)
    if overrides:
        opts = opts.with_overrides(overrides)
    return replace(job, options=opts)


def fix_and_revalidate(
    result: JobResult,
    which: Sequence[int] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> JobResult:
    """Apply the proposed fixes of ``result``'s flags and quantize + validate again."""
    if not result.report.flags:
        raise ReportError("no layer is flagged; there is nothing to fix")
    return run_job(apply_fixes(result.job, result.report.flags, which), progress, cancel)


def runtime_blob(
    qdq_path: Path, task: str, input_scale: float, threshold: float | None
) -> bytes | None:
    """The device's model blob for the QDQ model, or None when it cannot be extracted."""
    from core.model.blob import write_blob
    from core.model.extract import extract
    from core.model.ir import Postprocess

    post = Postprocess.RECON_MSE if task == "anomaly" else Postprocess.ARGMAX
    try:
        int_model = extract(
            onnx.load(str(qdq_path)),
            input_scale=input_scale,
            postprocess=post,
            threshold=float(threshold or 0.0),
        )
        return write_blob(int_model)
    except FieldbenchError:
        return None


def budgets_for(
    qdq_path: Path, task: str, input_scale: float, threshold: float | None, features: Any = None
) -> dict[str, Any]:
    """Budgets from C1's ``core.model.budget`` over the extracted integer model.

    ``features`` (a ``PreprocessingConfig``) adds the feature front-end's pool when the C++
    host build is available. Returns ``{"error": ...}`` when the model cannot be extracted.
    """
    try:
        from core.model.budget import compute_budget
        from core.model.extract import extract
        from core.model.ir import Postprocess
    except ImportError:
        return {}
    post = Postprocess.RECON_MSE if task == "anomaly" else Postprocess.ARGMAX
    try:
        int_model = extract(
            onnx.load(str(qdq_path)),
            input_scale=input_scale,
            postprocess=post,
            threshold=float(threshold or 0.0),
        )
        budget = compute_budget(int_model, feature_config=features)
    except FieldbenchError as exc:
        return {"error": str(exc)}
    out = dict(budget.as_dict())
    out["within_default_budget"] = budget.within()
    return out


# ------------------------------------------------------------------------------------- save


#: The runtime blob saved beside ``report.json`` — the model component of a bundle.
BLOB_NAME = "model.fbm"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def report_dir(workspace_root: str | Path, model_name: str) -> Path:
    return Path(workspace_root) / REPORTS_DIR / model_name


def save_report(report: ValidationReport, workspace_root: str | Path) -> Path:
    """Write ``report.json`` (+ SVG plots) atomically under ``reports/quantization/<model>/``."""
    from core.model.report_svg import layer_chart_svg, weight_histograms_svg

    folder = report_dir(workspace_root, report.model_name)
    path = folder / "report.json"
    atomic_write_text(folder / "layers.svg", layer_chart_svg(report))
    atomic_write_text(folder / "weights.svg", weight_histograms_svg(report))
    if report.blob is not None:
        atomic_write_bytes(folder / BLOB_NAME, report.blob)
    atomic_write_text(path, report.to_json() + "\n")
    return path


def load_report(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{p}: not a readable report ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ReportError(f"{p}: not a format-{REPORT_FORMAT} quantization report")
    return data


# ---------------------------------------------------------------------------------- helpers


class _Steps:
    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None) -> None:
        self._progress = progress
        self._cancel = cancel

    def __call__(self, fraction: float) -> None:
        if self._cancel is not None and self._cancel():
            raise Cancelled("validation cancelled")
        if self._progress is not None:
            self._progress(fraction)


def _scaled(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda f: progress(lo + (hi - lo) * f)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A readable summary of a report dict (CLI, logs)."""
    key = "auc" if report["task"] == "anomaly" else "accuracy"
    lines = [
        f"model {report['model']['name']} ({report['task']}), {report['overall']['n']} windows"
    ]

    def fmt(m: dict[str, Any]) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{v:.4f}"

    o = report["overall"]
    lines.append(f"overall {key}: float {fmt(o['float'])}  int8 {fmt(o['int8'])}")
    if report["task"] == "anomaly" and "score_error" in o["int8"]:
        e = o["int8"]["score_error"]
        lines.append(
            f"score error: mean |Δ| {e['mean_abs']:.4g}, max |Δ| {e['max_abs']:.4g}, "
            f"mean relative {e['mean_rel']:.2%}"
        )
    single = [s for s in report["strata"] if len(s["tags"]) == 1]
    combos = [s for s in report["strata"] if len(s["tags"]) > 1]
    if single:
        lines.append("strata:")
        for s in single:
            tags = ", ".join(f"{k}={v}" for k, v in s["tags"].items())
            lines.append(
                f"  {tags:<28} n={s['n']:<6} float {fmt(s['float'])}  int8 {fmt(s['int8'])}"
            )
    if combos:

        def change(s: dict[str, Any]) -> float:
            f, q = s["float"].get(key), s["int8"].get(key)
            return -1.0 if f is None or q is None else float(f) - float(q)

        worst = sorted(combos, key=lambda s: (-change(s), -s["n"]))[:COMBINATIONS_SHOWN]
        lines.append(
            f"tag combinations: {len(combos)} strata; largest INT8 drop first (all in report.json):"
        )
        for s in worst:
            tags = ", ".join(f"{k}={v}" for k, v in s["tags"].items())
            lines.append(
                f"  {tags:<40} n={s['n']:<6} float {fmt(s['float'])}  int8 {fmt(s['int8'])}"
            )
    lines.append("layers:")
    for layer in report["layers"]:
        sq = layer.get("sqnr_db")
        lines.append(
            f"  {layer['tensor']:<28} range "
            f"{layer['float_range'][0]:.3g}..{layer['float_range'][1]:.3g}"
            f" int8 {layer['quant_range'][0]:.3g}..{layer['quant_range'][1]:.3g}"
            f"  sat {layer['saturation']:.3%}  SQNR {'n/a' if sq is None else f'{sq:.1f} dB'}"
        )
    if report["flags"]:
        lines.append("flagged:")
        for f in report["flags"]:
            lines.append(f"  {f['message']}\n    fix: {f['fix']['description']}")
    else:
        lines.append("flagged: none")
    b = report.get("budgets") or {}
    if b:
        shown = {k: v for k, v in b.items() if k != "latency_source"}
        lines.append("budgets: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    lines.append("PASSED" if report["passed"] else "FAILED: " + "; ".join(report["reasons"]))
    return lines
