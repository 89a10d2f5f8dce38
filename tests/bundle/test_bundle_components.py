"""Device components (FBTH / FBCA / FBSV): Python writers and readers against the node's C++
parser and health check (build/host/components_probe), both ways, and bundles built from
workspace artefacts carrying them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.build import BundleSpec, build_bundle
from core.bundle.components import (
    Calibration,
    ComponentError,
    SelfTest,
    SelfTestVector,
    Thresholds,
    check_components,
    thresholds_from_json,
)
from core.bundle.format import COMPONENTS, BundleHeader, Manifest
from core.bundle.sample import SAMPLE_TARGET, sample_components, sample_device_components
from core.dsp.recipes import AUDIO_RECIPE, VIBRATION_RECIPE
from core.model.samples import SAMPLE_FEATURES
from core.paths import resources_dir

PROBE = Path(__file__).resolve().parents[2] / "build" / "host" / "components_probe"
KEY = ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
needs_probe = pytest.mark.skipif(
    not PROBE.is_file(), reason="build/host/components_probe missing (make test builds it)"
)


def _probe_check(tmp: Path, model: bytes, th: bytes, cal: bytes, st: bytes) -> dict[str, object]:
    names = ("model.fbm", "thresholds.bin", "calibration.bin", "selftest.bin")
    for name, data in zip(names, (model, th, cal, st), strict=True):
        (tmp / name).write_bytes(data)
    out = subprocess.run(
        [str(PROBE), "check", *(str(tmp / n) for n in names)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


# ------------------------------------------------------------------------------- python only


def test_thresholds_round_trip_and_refusals() -> None:
    raw = Thresholds(0.123456789).to_bytes()
    assert len(raw) == 16 and raw[:4] == b"FBTH"
    assert Thresholds.from_bytes(raw).threshold == float(np.float32(0.123456789))
    with pytest.raises(ComponentError):
        Thresholds(float("inf")).to_bytes()
    for bad in (raw[:15], b"XXXX" + raw[4:], raw[:12] + b"\x01\x00\x00\x00"):
        with pytest.raises(ComponentError):
            Thresholds.from_bytes(bad)


@pytest.mark.parametrize("config", [SAMPLE_FEATURES, VIBRATION_RECIPE, AUDIO_RECIPE])
def test_calibration_round_trip(config: object) -> None:
    cal = Calibration.from_plan(config, -7)  # type: ignore[arg-type]
    raw = cal.to_bytes()
    back = Calibration.from_bytes(raw)
    assert back.to_bytes() == raw and back.default_offset == -7
    assert back.matches(config)  # type: ignore[arg-type]
    with pytest.raises(ComponentError, match="add up"):
        Calibration.from_bytes(raw[:-2])


def test_selftest_round_trip_and_refusals() -> None:
    vecs = tuple(
        SelfTestVector(i % 2, 1.5 + i, np.arange(12, dtype=np.int16) * (i + 1)) for i in range(3)
    )
    raw = SelfTest(1, vecs).to_bytes()
    back = SelfTest.from_bytes(raw)
    assert back.kind == 1 and back.to_bytes() == raw
    assert [v.decision for v in back.vectors] == [0, 1, 0]
    with pytest.raises(ComponentError):
        SelfTest.from_bytes(raw[:-1])
    with pytest.raises(ComponentError):
        SelfTest(1, ()).to_bytes()


def test_thresholds_from_the_train_json(tmp_path: Path) -> None:
    body = {
        "component": "thresholds",
        "profiles": {"safety-critical": {"threshold": 2.5}, "consumer": {"threshold": 7.0}},
    }
    path = tmp_path / "thresh-v1.json"
    path.write_text(json.dumps(body))
    assert thresholds_from_json(path, "consumer").threshold == 7.0
    with pytest.raises(ComponentError, match="name the profile"):
        thresholds_from_json(path)
    with pytest.raises(ComponentError, match="no threshold for profile"):
        thresholds_from_json(path, "industrial-sensors")


def test_sample_release_passes_the_reference_check_and_a_wrong_one_does_not() -> None:
    comps = sample_device_components(4)
    ok = check_components(comps[1], comps[2], comps[3], comps[5])
    assert ok.ok and ok.vectors == ok.passed == 12
    st = SelfTest.from_bytes(comps[5])
    assert {v.decision for v in st.vectors} == {0, 1}  # both decisions are exercised
    # Another release: other recordings, so another self-test component.
    assert sample_device_components(5)[5] != comps[5]
    # A threshold above every score flips the knocked-sensor vectors.
    bad = check_components(comps[1], Thresholds(1e6).to_bytes(), comps[3], comps[5])
    assert bad.failure == "selftest_mismatch"
    assert check_components(comps[1], comps[2], comps[3][:-2], comps[5]).failure == "calibration"


# -------------------------------------------------------------------------- against the C++


@needs_probe
def test_python_components_pass_the_device_self_test(tmp_path: Path) -> None:
    comps = sample_device_components(4, calibration_offset=5)
    report = _probe_check(tmp_path, comps[1], comps[2], comps[3], comps[5])
    assert report["failure"] == "none"
    assert report["vectors"] == report["passed"] == 12
    assert report["threshold_bits"] == _bits(Thresholds.from_bytes(comps[2]).threshold)
    assert report["default_offset"] == 5
    assert report["channels"] == 3 and report["frame_len"] == report["input_len"] == 57


@needs_probe
def test_a_disagreeing_vector_is_a_mismatch_on_both_sides(tmp_path: Path) -> None:
    comps = sample_device_components(4)
    st = SelfTest.from_bytes(comps[5])
    v = st.vectors[3]
    flipped = SelfTest(
        st.kind,
        (*st.vectors[:3], SelfTestVector(1 - v.decision, v.score, v.values), *st.vectors[4:]),
    ).to_bytes()
    report = _probe_check(tmp_path, comps[1], comps[2], comps[3], flipped)
    assert report["failure"] == "selftest_mismatch" and report["detail"] == 3
    py = check_components(comps[1], comps[2], comps[3], flipped)
    assert py.failure == "selftest_mismatch" and py.passed == 3
    # A score one ulp off is a mismatch too (bit-exact comparison).
    nudged = float(np.nextafter(np.float32(v.score), np.float32(np.inf)))
    off = SelfTest(
        st.kind, (*st.vectors[:3], SelfTestVector(v.decision, nudged, v.values), *st.vectors[4:])
    ).to_bytes()
    assert _probe_check(tmp_path, comps[1], comps[2], comps[3], off)["failure"] == (
        "selftest_mismatch"
    )
    assert check_components(comps[1], comps[2], comps[3], off).failure == "selftest_mismatch"


@needs_probe
def test_cpp_components_read_and_reproduced_in_python(tmp_path: Path) -> None:
    subprocess.run([str(PROBE), "emit", str(tmp_path)], check=True, timeout=60)
    model = (tmp_path / "model.fbm").read_bytes()
    th = (tmp_path / "thresholds.bin").read_bytes()
    cal = (tmp_path / "calibration.bin").read_bytes()
    st = (tmp_path / "selftest.bin").read_bytes()
    assert Thresholds.from_bytes(th).to_bytes() == th
    c = Calibration.from_bytes(cal)
    assert c.to_bytes() == cal and c.default_offset == 3
    # The node tests' recipe is the vibration recipe without stats: byte-identical tables.
    assert Calibration.from_plan(VIBRATION_RECIPE.replace(stats=()), 3).to_bytes() == cal
    s = SelfTest.from_bytes(st)
    assert s.kind == 1 and len(s.vectors) == 6 and s.to_bytes() == st
    # The Python reference reproduces the C++ expectations bit for bit.
    result = check_components(model, th, cal, st)
    assert result.ok and result.passed == 6


# ------------------------------------------------------------------- built from artefacts


def test_bundle_built_from_workspace_artefacts(tmp_path: Path) -> None:
    from core.bundle.sample import sample_model

    blob, threshold = sample_model()
    (tmp_path / "model.fbm").write_bytes(blob)
    rnd = dict(zip(COMPONENTS, sample_components(4), strict=True))
    (tmp_path / "app.bin").write_bytes(rnd["firmware"])
    (tmp_path / "drift.bin").write_bytes(rnd["drift_baseline"])
    thresh = {"component": "thresholds", "profiles": {"safety-critical": {"threshold": threshold}}}
    (tmp_path / "thresh-v1.json").write_text(json.dumps(thresh))
    toml = (resources_dir() / "sample-workspace" / "fieldbench.toml").read_text()
    (tmp_path / "fieldbench.toml").write_text(toml + "\n[calibration]\ndefaultOffset = -4\n")
    import hashlib

    report = {
        "format": 1,
        "model": {
            "name": "m",
            "sha256_float": "0" * 64,
            "sha256_int8": hashlib.sha256(blob).hexdigest(),
        },
        "task": "anomaly",
        "overall": {"float": {"auc": 0.97}, "int8": {"auc": 0.97}},
        "strata": [],
        "layers": [],
        "flags": [],
        "budgets": {
            "pool_bytes": 9000,
            "flash_bytes": 4440,
            "macs": 1,
            "latency_ms": 1.0,
            "cycles_per_mac": 2.0,
        },
        "passed": True,
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    spec = BundleSpec.from_mapping(
        {
            "bundleId": "edge-inference-v3.0.0",
            "firmwareVersion": "fw-2.0.0",
            "modelVersion": "ae-1",
            "thresholdVersion": "thresh-v1",
            "calibrationVersion": "calib-v1",
            "versionNumbers": [512, 1, 1, 1],
            "profile": "safety-critical",
            "epoch": 5,
            "report": "report.json",
            "metadata": {"maxLatencyMs": 45, "peakRamBudgetBytes": 12288},
            "target": {
                "boardId": SAMPLE_TARGET.board_id,
                "flashSize": SAMPLE_TARGET.flash_size,
                "partitionHash": SAMPLE_TARGET.partition_hash.hex(),
            },
            "components": {
                "firmware": "app.bin",
                "model": "model.fbm",
                "thresholds": "thresh-v1.json",
                "calibration": "fieldbench.toml",
                "driftBaseline": "drift.bin",
                "selftest": "generate",
            },
        },
        tmp_path,
    )
    built = build_bundle(spec, KEY, tmp_path / "out.fbb")
    data = built.path.read_bytes()
    header = BundleHeader.decode(data[:64])
    manifest = Manifest.decode(data[64 : 64 + header.manifest_size])
    at = 64 + header.manifest_size + header.signature_size
    comps = {}
    for name, c in zip(COMPONENTS, manifest.components, strict=True):
        comps[name] = data[at : at + c.size]
        at += c.size
    assert Thresholds.from_bytes(comps["thresholds"]).threshold == threshold
    assert Calibration.from_bytes(comps["calibration"]).default_offset == -4
    assert Calibration.from_bytes(comps["calibration"]).matches(SAMPLE_FEATURES)
    result = check_components(
        comps["model"], comps["thresholds"], comps["calibration"], comps["selftest"]
    )
    assert result.ok and result.vectors >= 8
    if PROBE.is_file():
        report_c = _probe_check(
            tmp_path, comps["model"], comps["thresholds"], comps["calibration"], comps["selftest"]
        )
        assert report_c["failure"] == "none" and report_c["passed"] == result.vectors
