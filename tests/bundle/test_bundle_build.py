"""Building bundles from a spec through the gate, and the CLI around it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.build import BundleSpec, build_bundle
from core.bundle.gate import GateError
from core.bundle.keys import KeyStore
from core.bundle.registry import BundleRegistry
from core.bundle.sample import SAMPLE_TARGET, sample_components
from core.bundle.trust import TrustedKey
from core.bundle.verify import DeviceContext, verify_bundle
from core.cli import main
from core.workspace import Workspace

PHRASE = "correct horse battery"
KEY = ec.derive_private_key(0xB111D, ec.SECP256R1())


def _project(tmp: Path, *, pool: int = 9000, latency: float = 3.2, int8: float = 0.97) -> Path:
    names = ["firmware", "model", "thresholds", "calibration", "drift_baseline", "selftest"]
    for name, data in zip(names, sample_components(4), strict=True):
        (tmp / f"{name}.bin").write_bytes(data)
    model_sha = hashlib.sha256((tmp / "model.bin").read_bytes()).hexdigest()
    report = {
        "format": 1,
        "model": {"name": "m", "sha256_float": "0" * 64, "sha256_int8": model_sha},
        "task": "anomaly",
        "overall": {"float": {"auc": 0.972}, "int8": {"auc": int8}},
        "strata": [],
        "layers": [],
        "flags": [],
        "budgets": {
            "pool_bytes": pool,
            "flash_bytes": 40000,
            "macs": 1,
            "latency_ms": latency,
            "cycles_per_mac": 2.0,
        },
        "passed": True,
    }
    (tmp / "report.json").write_text(json.dumps(report))
    (tmp / "partitions.bin").write_bytes(b"fieldbench partitions v1")
    spec = f"""
bundleId = "edge-inference-v2.4.1"
firmwareVersion = "fw-1.8.0"
modelVersion = "int8-anomaly-detect-0.9.2"
thresholdVersion = "thresh-v3"
calibrationVersion = "calib-v2"
rollbackTarget = "edge-inference-v2.3.0"
versionNumbers = [264, 92, 3, 2]
profile = "safety-critical"
epoch = 4
report = "report.json"
[metadata]
targetEnvironment = ["indoor", "outdoor", "thermal_-20_to_60"]
minBatteryLevel = 15
maxLatencyMs = 45
peakRamBudgetBytes = 12288
[target]
boardId = "{SAMPLE_TARGET.board_id}"
flashSize = {SAMPLE_TARGET.flash_size}
partitionTable = "partitions.bin"
abiRange = [1, 2]
firmwareAbi = 1
[components]
firmware = "firmware.bin"
model = "model.bin"
thresholds = "thresholds.bin"
calibration = "calibration.bin"
driftBaseline = "drift_baseline.bin"
selftest = "selftest.bin"
"""
    (tmp / "bundle.toml").write_text(spec)
    return tmp / "bundle.toml"


def _ctx() -> DeviceContext:
    return DeviceContext(
        trusted_keys=(TrustedKey.from_public_key(KEY.public_key()),),
        board_id=SAMPLE_TARGET.board_id,
        partition_hash=SAMPLE_TARGET.partition_hash,
        min_epoch=4,
    )


def test_a_bundle_that_passes_the_gate_is_built_and_verifies(tmp_path: Path) -> None:
    spec = BundleSpec.load(_project(tmp_path))
    steps: list[tuple[int, int]] = []
    built = build_bundle(
        spec, KEY, tmp_path / "out.fbb", progress=lambda d, t: steps.append((d, t))
    )
    assert built.gate is not None and built.gate.passed
    assert steps[-1] == (4, 4)
    verdict = verify_bundle(built.path, _ctx())
    assert verdict.ok, verdict.message()
    m = verdict.manifest
    assert m is not None
    assert (m.rollback_target, m.profile, m.gate_override) == (
        "edge-inference-v2.3.0",
        "safety-critical",
        None,
    )
    assert (m.model_pool_bytes, m.model_latency_us, m.rollback_policy) == (9000, 3200, 1)


def test_the_gate_refuses_budgets_and_accuracy_and_writes_nothing(tmp_path: Path) -> None:
    spec = BundleSpec.load(_project(tmp_path, pool=20000, latency=60.0, int8=0.90))
    with pytest.raises(GateError) as err:
        build_bundle(spec, KEY, tmp_path / "out.fbb")
    for check in ("accuracy", "accuracy_drop", "ram_budget", "latency_budget"):
        assert check in str(err.value)
    assert not (tmp_path / "out.fbb").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_override_is_recorded_in_the_signed_manifest(tmp_path: Path) -> None:
    spec = BundleSpec.load(_project(tmp_path, pool=20000))
    built = build_bundle(spec, KEY, tmp_path / "out.fbb", override="field trial, ticket 42")
    assert built.manifest.gate_override == "override [ram_budget]: field trial, ticket 42"
    assert verify_bundle(built.path, _ctx()).manifest == built.manifest


def test_a_report_about_another_model_fails_the_gate(tmp_path: Path) -> None:
    spec = BundleSpec.load(_project(tmp_path))
    (tmp_path / "model.bin").write_bytes(b"another model")
    with pytest.raises(GateError, match="report_matches_model"):
        build_bundle(spec, KEY, tmp_path / "out.fbb")


def test_missing_components_are_named(tmp_path: Path) -> None:
    spec_path = _project(tmp_path)
    (tmp_path / "calibration.bin").unlink()
    (tmp_path / "selftest.bin").unlink()
    assert main(["keys", "list"]) == 0
    with pytest.raises(Exception, match=r"calibration .*selftest"):
        build_bundle(BundleSpec.load(spec_path), KEY, tmp_path / "out.fbb")


def test_cli_generate_build_verify_inspect_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    monkeypatch.setenv("FIELDBENCH_KEY_PASSPHRASE", PHRASE)
    ws = Workspace.create(tmp_path / "ws", "demo")
    assert main(["keys", "generate", "release"]) == 0
    out = tmp_path / "a.fbb"
    assert (
        main(
            [
                "bundle",
                "build",
                str(spec),
                "--key",
                "release",
                "--out",
                str(out),
                "--workspace",
                str(ws.path),
            ]
        )
        == 0
    )
    entries = BundleRegistry(ws.path).entries()
    assert [(e.bundle_id, e.rollback_target) for e in entries] == [
        ("edge-inference-v2.4.1", "edge-inference-v2.3.0")
    ]
    assert main(["bundle", "verify", str(out), "--board", SAMPLE_TARGET.board_id, "--native"]) == 0
    assert "same verdict" in capsys.readouterr().out
    assert main(["bundle", "verify", str(out), "--min-epoch", "5"]) == 1
    assert "EPOCH_TOO_LOW" in capsys.readouterr().out
    assert main(["bundle", "inspect", str(out)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["manifest"]["metadata"]["peakRamBudgetBytes"] == 12288
    text = (
        spec.read_text()
        .replace('thresh-v3"', 'thresh-v4"')
        .replace("[264, 92, 3, 2]", "[264, 92, 4, 2]")
    )
    spec.write_text(text)
    (tmp_path / "thresholds.bin").write_bytes(b"new thresholds")
    b = tmp_path / "b.fbb"
    assert main(["bundle", "build", str(spec), "--key", "release", "--out", str(b)]) == 0
    capsys.readouterr()
    assert main(["bundle", "diff", str(out), str(b)]) == 0
    diff = capsys.readouterr().out
    assert "thresholdVersion: thresh-v3 -> thresh-v4" in diff
    assert "components.thresholds.size" in diff and "model" not in diff


def test_cli_errors_are_sentences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    monkeypatch.setenv("FIELDBENCH_KEY_PASSPHRASE", PHRASE)
    assert main(["keys", "generate", "release"]) == 0
    monkeypatch.setenv("FIELDBENCH_KEY_PASSPHRASE", "wrong passphrase!")
    out = tmp_path / "a.fbb"
    assert main(["bundle", "build", str(spec), "--key", "release", "--out", str(out)]) == 2
    assert "wrong passphrase" in capsys.readouterr().err
    assert not out.exists()
    junk = tmp_path / "junk.fbb"
    junk.write_bytes(b"FBUN" + bytes(100))
    assert main(["bundle", "inspect", str(junk)]) == 2
    assert main(["bundle", "verify", str(junk)]) == 1
    assert "BAD_FORMAT_VERSION" in capsys.readouterr().out
    assert KeyStore().list()[0].name == "release"


def test_verification_reports_progress_can_be_cancelled_and_names_unreadable_files(
    tmp_path: Path,
) -> None:
    from core.bundle.sample import sample_bundle
    from core.errors import Cancelled

    data, manifest, _ = sample_bundle(KEY)
    seen: list[tuple[int, int]] = []
    assert verify_bundle(data, _ctx(), progress=lambda d, t: seen.append((d, t))).ok
    assert seen[-1] == (manifest.payload_size, manifest.payload_size)
    with pytest.raises(Cancelled):
        verify_bundle(data, _ctx(), cancel=lambda: True)
    assert verify_bundle(tmp_path / "absent.fbb", _ctx()).reason == "IO_ERROR"


def test_the_gate_matches_the_runtime_blob_the_report_saved() -> None:
    from core.bundle.gate import evaluate
    from core.bundle.profiles import profile

    blob = b"FBM1 runtime blob bytes"
    report = {
        "model": {"sha256_int8": "00" * 32, "sha256_blob": hashlib.sha256(blob).hexdigest()},
        "passed": True,
        "overall": {"float": {"auc": 0.97}, "int8": {"auc": 0.97}},
        "budgets": {"pool_bytes": 6000, "latency_ms": 0.2},
    }
    result = evaluate(
        report, profile("industrial-sensors"), hashlib.sha256(blob).digest(), 45, 12288
    )
    assert next(c for c in result.checks if c.name == "report_matches_model").passed
    other = evaluate(
        report, profile("industrial-sensors"), hashlib.sha256(b"x").digest(), 45, 12288
    )
    assert not next(c for c in other.checks if c.name == "report_matches_model").passed
