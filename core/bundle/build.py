"""Composing a bundle: a TOML spec (the seed's DeploymentBundle) + workspace artefacts + a key.

A spec file (paths relative to it)::

    bundleId = "edge-inference-v2.4.1"
    firmwareVersion = "fw-1.8.0"
    modelVersion = "int8-anomaly-detect-0.9.2"
    thresholdVersion = "thresh-v3"
    calibrationVersion = "calib-v2"
    rollbackTarget = "edge-inference-v2.3.0"       # optional
    versionNumbers = [264, 92, 3, 2]               # the header's u16 fw/model/threshold/calib
    profile = "safety-critical"
    epoch = 4
    expires = 1893456000                            # optional, unix seconds
    report = "reports/quantization/m/report.json"
    [metadata]
    targetEnvironment = ["indoor", "outdoor", "thermal_-20_to_60"]
    minBatteryLevel = 15                            # default: the profile's battery floor
    maxLatencyMs = 45
    peakRamBudgetBytes = 12288
    [target]
    boardId = "esp32-s3-devkitc-1"
    flashSize = 8388608
    partitionTable = "partitions.bin"               # or partitionHash = "<64 hex>"
    abiRange = [1, 2]
    firmwareAbi = 1
    [components]
    firmware = "build/app.bin"
    model = "models/m/model.fbm"
    thresholds = "thresholds.bin"
    calibration = "calibration.bin"
    driftBaseline = "drift_baseline.npy"
    selftest = "selftest.bin"

Device components may be given as workspace artefacts instead (see ``read_components``):
``thresholds = "thresholds/m/thresh-v3.json"``, ``calibration = "fieldbench.toml"``,
``selftest = "recordings.npz"`` or ``"generate"``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core import __version__
from core.atomic import atomic_open
from core.bundle.format import COMPONENTS, BundleFormatError, Manifest, Target
from core.bundle.gate import GateError, GateResult, evaluate, load_report
from core.bundle.profiles import DeploymentProfile, profile
from core.bundle.sign import digests, seal
from core.bundle.trust import key_id_of
from core.errors import Cancelled, ConfigError, InputFileError

SELFTEST_GENERATE = "generate"  # [components] selftest = "generate": sample-generator vectors
SPEC_COMPONENT_KEYS = {
    "firmware": "firmware",
    "model": "model",
    "thresholds": "thresholds",
    "calibration": "calibration",
    "drift_baseline": "driftBaseline",
    "selftest": "selftest",
}


@dataclass(frozen=True)
class BundleSpec:
    """Everything a bundle needs except the signing key."""

    fields: dict[str, Any]
    profile: DeploymentProfile
    target: Target
    components: tuple[Path, ...]
    report: Path | None
    source: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> BundleSpec:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputFileError(f"{p}: cannot read the bundle spec ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{p}: not valid TOML ({exc})") from None
        try:
            return cls.from_mapping(raw, p.parent, p)
        except ConfigError as exc:
            raise InputFileError(f"{p}: {exc}") from None

    @classmethod
    def from_mapping(
        cls, raw: dict[str, Any], base: Path, source: Path | None = None
    ) -> BundleSpec:
        def need(table: dict[str, Any], key: str, kind: type, where: str = "") -> Any:
            if key not in table:
                raise ConfigError(f"{where}{key}: missing")
            value = table[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
                raise ConfigError(f"{where}{key} = {value!r}: expected {kind.__name__}")
            return value

        prof = profile(need(raw, "profile", str))
        tgt = raw.get("target", {})
        if "partitionHash" in tgt:
            try:
                phash = bytes.fromhex(need(tgt, "partitionHash", str, "target."))
            except ValueError:
                raise ConfigError("target.partitionHash: expected 64 hex digits") from None
        else:
            table = base / need(tgt, "partitionTable", str, "target.")
            try:
                phash = hashlib.sha256(table.read_bytes()).digest()
            except OSError as exc:
                raise ConfigError(f"target.partitionTable: {table}: {exc.strerror}") from None
        abi = tgt.get("abiRange", [1, 1])
        if not (isinstance(abi, list) and len(abi) == 2 and all(isinstance(a, int) for a in abi)):
            raise ConfigError("target.abiRange: expected [min, max]")
        target = Target(
            chip=str(tgt.get("chip", "esp32s3")),
            board_id=need(tgt, "boardId", str, "target."),
            flash_size=need(tgt, "flashSize", int, "target."),
            partition_hash=phash,
            abi_min=abi[0],
            abi_max=abi[1],
            firmware_abi=int(tgt.get("firmwareAbi", abi[0])),
        )
        comps_raw = raw.get("components", {})
        missing = [k for k in SPEC_COMPONENT_KEYS.values() if k not in comps_raw]
        if missing:
            raise ConfigError(
                f"components: missing {', '.join(missing)} (every bundle has all six)"
            )
        comps = tuple(base / str(comps_raw[SPEC_COMPONENT_KEYS[n]]) for n in COMPONENTS)
        meta = raw.get("metadata", {})
        versions = need(raw, "versionNumbers", list)
        if len(versions) != 4 or not all(isinstance(v, int) for v in versions):
            raise ConfigError("versionNumbers: expected four integers [fw, model, thresh, calib]")
        fields = {
            "bundle_id": need(raw, "bundleId", str),
            "firmware_version": need(raw, "firmwareVersion", str),
            "model_version": need(raw, "modelVersion", str),
            "threshold_version": need(raw, "thresholdVersion", str),
            "calibration_version": need(raw, "calibrationVersion", str),
            "rollback_target": raw.get("rollbackTarget"),
            "version_numbers": tuple(versions),
            "epoch": need(raw, "epoch", int),
            "expires": raw.get("expires"),
            "target_environment": tuple(meta.get("targetEnvironment", ())),
            "min_battery_level": int(meta.get("minBatteryLevel", prof.min_battery_level)),
            "max_latency_ms": need(meta, "maxLatencyMs", int, "metadata."),
            "peak_ram_budget_bytes": need(meta, "peakRamBudgetBytes", int, "metadata."),
        }
        report = base / raw["report"] if "report" in raw else None
        return cls(fields, prof, target, comps, report, source)


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    manifest: Manifest
    gate: GateResult | None
    size: int
    sha256: bytes


def read_components(spec: BundleSpec) -> list[bytes]:
    """The six components; InputFileError names every missing file.

    Device components are converted from workspace artefacts (core.bundle.components): a
    ``thresholds`` ``.json`` (thresh-vN.json) → FBTH with the spec profile's threshold, a
    ``calibration`` ``.toml`` ([features] + optional [calibration] defaultOffset) → FBCA, and a
    ``selftest`` of ``.npy``/``.npz`` int16 recordings or ``"generate"`` → FBSV with the bit-exact
    reference's expectations. Other files are taken as they are.
    """
    from core.bundle.components import ComponentError, device_components

    generate = spec.components[5].name == SELFTEST_GENERATE
    missing = [
        f"{n} ({p})"
        for n, p in zip(COMPONENTS, spec.components, strict=True)
        if not p.is_file() and not (n == "selftest" and generate)
    ]
    if missing:
        raise InputFileError(f"missing bundle components: {', '.join(missing)}")
    try:
        return device_components(list(spec.components), spec.profile.name)
    except ComponentError as exc:
        raise InputFileError(f"cannot build the device components: {exc}") from None


def check_gate(spec: BundleSpec, model: bytes) -> GateResult:
    """The gate checks of ``spec`` against its validation report."""
    if spec.report is None:
        raise GateError('the spec names no validation report; add report = "..."')
    return evaluate(
        load_report(spec.report),
        spec.profile,
        hashlib.sha256(model).digest(),
        spec.fields["max_latency_ms"],
        spec.fields["peak_ram_budget_bytes"],
    )


def build_bundle(
    spec: BundleSpec,
    key: ec.EllipticCurvePrivateKey,
    out: str | Path,
    override: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> BuiltBundle:
    """Gate, sign and write a bundle atomically (nothing is written when anything fails).

    ``override`` (a reason) builds even when gate checks fail; the failed checks and the reason
    are recorded in the signed manifest.
    """
    steps = 4
    comps = read_components(spec)
    if progress:
        progress(1, steps)
    gate = check_gate(spec, comps[1])
    gate_note: str | None = None
    if not gate.passed:
        if not override:
            lines = "; ".join(c.detail for c in gate.checks if not c.passed)
            raise GateError(
                f"build gate failed ({', '.join(gate.failed)}): {lines}. Fix the model or "
                "budgets, or build with an explicit override reason"
            )
        gate_note = f"override [{','.join(gate.failed)}]: {override}"
        if len(gate_note) > 128:
            raise GateError("the override reason is too long; keep it under 80 characters")
    if cancel and cancel():
        raise Cancelled("bundle build cancelled")
    if progress:
        progress(2, steps)
    report_sha = hashlib.sha256(spec.report.read_bytes()).digest() if spec.report else None
    try:
        manifest = Manifest(
            tool_version=f"fieldbench {__version__}",
            profile=spec.profile.name,
            key_id=key_id_of(key.public_key()),
            target=spec.target,
            threshold_policy=int(spec.profile.threshold_policy),
            calibration_policy=int(spec.profile.calibration_policy),
            rollback_policy=int(spec.profile.rollback_policy),
            model_pool_bytes=gate.pool_bytes,
            model_latency_us=gate.latency_us,
            components=digests(comps),
            gate_override=gate_note,
            report_sha256=report_sha,
            **spec.fields,
        )
        data = seal(manifest, comps, key)
    except (BundleFormatError, TypeError) as exc:
        raise InputFileError(f"cannot build the bundle: {exc}") from None
    if progress:
        progress(3, steps)
    target = Path(out)
    with atomic_open(target, "wb") as handle:
        handle.write(data)
    if progress:
        progress(4, steps)
    return BuiltBundle(target, manifest, gate, len(data), hashlib.sha256(data).digest())
