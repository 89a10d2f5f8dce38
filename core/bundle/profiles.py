"""Deployment profiles: the seed's decision matrix as presets of policy and gate criteria."""

from __future__ import annotations

from dataclasses import dataclass

from core.bundle.format import CalibrationPolicy, RollbackPolicy, ThresholdPolicy
from core.errors import ConfigError


@dataclass(frozen=True)
class DeploymentProfile:
    """Policy fields written into the manifest and the accuracy criteria of the build gate.

    ``min_metric`` is the INT8 accuracy (classifier) or AUC (anomaly) floor; ``max_drop`` the
    largest allowed loss against the float model, both as fractions (0.01 = 1 point).
    """

    name: str
    title: str
    summary: str
    threshold_policy: ThresholdPolicy
    calibration_policy: CalibrationPolicy
    rollback_policy: RollbackPolicy
    min_battery_level: int
    min_metric: float
    max_drop: float


PROFILES: dict[str, DeploymentProfile] = {
    p.name: p
    for p in (
        DeploymentProfile(
            "industrial-sensors",
            "Industrial sensors",
            "static thresholds, OTA weight swaps",
            ThresholdPolicy.STATIC,
            CalibrationPolicy.FIXED,
            RollbackPolicy.DUAL_BANK_AUTO,
            min_battery_level=10,
            min_metric=0.90,
            max_drop=0.02,
        ),
        DeploymentProfile(
            "consumer-wearables",
            "Consumer wearables",
            "dynamic calibration, drift monitoring",
            ThresholdPolicy.DYNAMIC,
            CalibrationPolicy.DYNAMIC,
            RollbackPolicy.DUAL_BANK_AUTO,
            min_battery_level=20,
            min_metric=0.85,
            max_drop=0.03,
        ),
        DeploymentProfile(
            "safety-critical",
            "Safety-critical anomaly detection",
            "atomic versioning, dual-bank rollback",
            ThresholdPolicy.STATIC,
            CalibrationPolicy.FIXED,
            RollbackPolicy.DUAL_BANK_AUTO,
            min_battery_level=30,
            min_metric=0.95,
            max_drop=0.005,
        ),
        DeploymentProfile(
            "battery-iot",
            "Battery-constrained IoT",
            "fixed-point pipeline, INT8 QAT",
            ThresholdPolicy.STATIC,
            CalibrationPolicy.FIXED,
            RollbackPolicy.MANUAL,
            min_battery_level=15,
            min_metric=0.85,
            max_drop=0.02,
        ),
    )
}


def profile(name: str) -> DeploymentProfile:
    """The preset called ``name``; ConfigError lists the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"deployment profile {name!r} is unknown; choose one of {', '.join(PROFILES)}"
        ) from None
