"""The build gate: a bundle is built only when its validation report passes the profile's
criteria and the model fits the RAM and latency budgets (or an override is recorded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.bundle.profiles import DeploymentProfile
from core.errors import FieldbenchError


class GateError(FieldbenchError):
    """The build gate refused a bundle, or its report cannot be read."""


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    checks: tuple[GateCheck, ...]
    pool_bytes: int
    latency_us: int

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.passed)


def load_report(path: str | Path) -> dict[str, Any]:
    """A validation report (workspace/reports/quantization/<model>/report.json, format 1)."""
    p = Path(path)
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"{p}: cannot read the validation report ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GateError(f"{p}: not a JSON validation report ({exc})") from None
    if not isinstance(report, dict) or report.get("format") != 1:
        raise GateError(f"{p}: not a format-1 validation report; re-run the quantization")
    return report


def _metric(report: dict[str, Any], which: str) -> tuple[str, float] | None:
    block = report.get("overall", {}).get(which, {})
    for name in ("accuracy", "auc"):
        if isinstance(block.get(name), int | float):
            return name, float(block[name])
    return None


def evaluate(
    report: dict[str, Any],
    profile: DeploymentProfile,
    model_sha256: bytes,
    max_latency_ms: int,
    peak_ram_budget_bytes: int,
) -> GateResult:
    """Every gate check, each with a sentence; nothing raises for a failing check."""
    checks: list[GateCheck] = []
    model = report.get("model", {})
    # The model component is the runtime blob the report saved (sha256_blob); a report from
    # before blobs were saved names only the INT8 ONNX file (sha256_int8).
    validated = {str(model.get(k) or "").lower() for k in ("sha256_blob", "sha256_int8")}
    same = model_sha256.hex() in validated
    checks.append(
        GateCheck(
            "report_matches_model",
            same,
            "the report validates this model blob"
            if same
            else "the report is about another model (its blob hash differs); re-validate",
        )
    )
    checks.append(
        GateCheck(
            "report_passed",
            report.get("passed") is True,
            "the validation report passed"
            if report.get("passed") is True
            else f"the validation report failed (flags: {', '.join(map(str, report.get('flags', []))) or 'none'})",  # noqa: E501
        )
    )
    int8 = _metric(report, "int8")
    flt = _metric(report, "float")
    if int8 is None:
        checks.append(GateCheck("accuracy", False, "the report has no INT8 accuracy or AUC"))
    else:
        name, value = int8
        ok = value >= profile.min_metric
        checks.append(
            GateCheck("accuracy", ok, f"INT8 {name} {value:.4f} vs floor {profile.min_metric:.4f}")
        )
        if flt is not None:
            drop = flt[1] - value
            checks.append(
                GateCheck(
                    "accuracy_drop",
                    drop <= profile.max_drop + 1e-12,
                    f"{name} drop {drop:.4f} vs allowed {profile.max_drop:.4f}",
                )
            )
    budgets = report.get("budgets", {})
    pool = budgets.get("pool_bytes")
    latency = budgets.get("latency_ms")
    if not isinstance(pool, int | float):
        checks.append(GateCheck("ram_budget", False, "the report has no pool_bytes budget"))
        pool = 0
    else:
        checks.append(
            GateCheck(
                "ram_budget",
                pool <= peak_ram_budget_bytes,
                f"pool {int(pool)} B vs peakRamBudgetBytes {peak_ram_budget_bytes} B",
            )
        )
    if not isinstance(latency, int | float):
        checks.append(GateCheck("latency_budget", False, "the report has no latency_ms estimate"))
        latency = 0.0
    else:
        checks.append(
            GateCheck(
                "latency_budget",
                latency <= max_latency_ms,
                f"latency {latency:.2f} ms vs maxLatencyMs {max_latency_ms} ms",
            )
        )
    return GateResult(tuple(checks), int(pool), round(float(latency) * 1000))
