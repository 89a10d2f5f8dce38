"""Float vs PTQ vs QAT: quantize with onnxruntime, validate with the INT8 report, tabulate.

Both INT8 models go through ``core.model.quantize.quantize_model`` (QDQ, per-channel symmetric
int8 weights, asymmetric int8 activations) and ``core.model.report.validate`` (onnxruntime's
fused integer kernels), so the numbers are the ones the device reproduces bit for bit. PTQ
calibrates with MinMax over the calibration windows; QAT hands its learned ranges to
onnxruntime as ``TensorQuantOverrides``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.model.calibration import EvalSet
from core.model.quantize import QuantizeOptions, QuantizeResult, RangeOverride, quantize_model
from core.model.report import ValidationConfig, ValidationReport, validate

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
#: "PTQ loses one point or more" (issue 5): the table's summary checks QAT recovers half.
MATERIAL_LOSS = 0.01


@dataclass(frozen=True)
class Quantized:
    quantized: QuantizeResult
    report: ValidationReport


def quantize_and_validate(
    float_path: Path,
    out_path: Path,
    calibration: EvalSet,
    evaluation: EvalSet,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    options: QuantizeOptions | None = None,
    threshold: float | None = None,
    features: Any = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Quantized:
    """Quantize (with ``ranges`` as overrides when given) and validate on ``evaluation``."""
    opts = options or QuantizeOptions(calibration_size=max(1, len(calibration)))
    if ranges:
        opts = opts.with_overrides(
            {k: RangeOverride(lo, max(hi, lo + 1e-6)) for k, (lo, hi) in ranges.items()}
        )
    q = quantize_model(
        float_path, calibration, out_path, opts, None, _sub(progress, 0.0, 0.4), cancel
    )
    report = validate(
        float_path,
        q.qdq_path,
        evaluation,
        ValidationConfig(threshold=threshold),
        q.ranges,
        opts,
        None,
        _sub(progress, 0.4, 1.0),
        cancel,
        features,
    )
    return Quantized(q, report)


def metric_key(task: str) -> str:
    return "auc" if task == "anomaly" else "accuracy"


def comparison(ptq: ValidationReport, qat: ValidationReport) -> dict[str, Any]:
    """The float / PTQ / QAT table, overall and per stratum, with the issue's summary.

    ``float`` is the float model PTQ starts from; ``qat_float`` the QAT model without fake
    quantization (for reference); ``ptq`` and ``qat`` are onnxruntime INT8 results.
    """
    key = metric_key(ptq.task)

    def row(tags: dict[str, str], n: int, p: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
        return {
            "tags": tags,
            "n": n,
            "float": p["float"].get(key),
            "ptq": p["int8"].get(key),
            "qat": q["int8"].get(key),
            "qat_float": q["float"].get(key),
        }

    overall = row({}, int(ptq.overall["n"]), ptq.overall, qat.overall)
    q_strata = {tuple(sorted(s["tags"].items())): s for s in qat.strata}
    strata = [
        row(s["tags"], int(s["n"]), s, q_strata[tuple(sorted(s["tags"].items()))])
        for s in ptq.strata
        if tuple(sorted(s["tags"].items())) in q_strata
    ]
    return {
        "metric": key,
        "task": ptq.task,
        "overall": overall,
        "strata": strata,
        "summary": summarise(overall, strata),
    }


def summarise(overall: dict[str, Any], strata: list[dict[str, Any]]) -> dict[str, Any]:
    """Where PTQ loses ≥ 1 point, how much of it QAT recovers (target: at least half)."""
    checks = []
    for r in [overall, *strata]:
        f, p, q = r["float"], r["ptq"], r["qat"]
        if f is None or p is None or q is None:
            continue
        loss = f - p
        if loss >= MATERIAL_LOSS - 1e-12:
            recovered = (q - p) / loss
            checks.append(
                {
                    "tags": r["tags"],
                    "ptq_loss": loss,
                    "qat_gain": q - p,
                    "recovered": recovered,
                    "met": recovered >= 0.5,
                }
            )
    return {
        "material_losses": len(checks),
        "met": sum(1 for c in checks if c["met"]),
        "checks": checks,
    }


def table_lines(table: dict[str, Any], min_n: int = 0, max_tags: int = 1) -> list[str]:
    """A Markdown table: overall, then strata of at most ``max_tags`` tags and ≥ ``min_n`` rows."""
    key = table["metric"]

    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    lines = [
        f"| stratum | n | float {key} | PTQ int8 | QAT int8 | QAT − PTQ |",
        "|---|---|---|---|---|---|",
    ]
    for r in [table["overall"], *table["strata"]]:
        if r is not table["overall"] and (r["n"] < min_n or len(r["tags"]) > max_tags):
            continue
        name = ", ".join(f"{k}={v}" for k, v in r["tags"].items()) or "**overall**"
        gain = None if r["ptq"] is None or r["qat"] is None else r["qat"] - r["ptq"]
        lines.append(
            f"| {name} | {r['n']} | {f(r['float'])} | {f(r['ptq'])} | {f(r['qat'])} | "
            f"{'n/a' if gain is None else f'{gain:+.4f}'} |"
        )
    s = table["summary"]
    if s["material_losses"]:
        lines.append(
            f"\nPTQ lost ≥ 1 point in {s['material_losses']} row(s); QAT recovered at least half "
            f"in {s['met']}."
        )
        for c in s["checks"]:
            if not c["met"]:
                name = ", ".join(f"{k}={v}" for k, v in c["tags"].items()) or "overall"
                lines.append(
                    f"  not met: {name}: PTQ −{c['ptq_loss']:.4f}, QAT {c['qat_gain']:+.4f} "
                    f"({c['recovered']:.0%} recovered)"
                )
    else:
        lines.append(
            "\nPTQ lost less than 1 point everywhere; QAT had nothing material to recover."
        )
    return lines


def _sub(progress: ProgressFn | None, lo: float, hi: float) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda f: progress(lo + (hi - lo) * f)
