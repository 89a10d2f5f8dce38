"""Deterministic sample releases: the negative corpus, the benchmarks and the GUI demo use them."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec

from core import __version__
from core.bundle.format import COMPONENTS, Manifest, Target
from core.bundle.sign import digests, seal
from core.bundle.trust import key_id_of

# Component sizes of the sample (not multiples of 4 KiB, so the last page is partial).
SAMPLE_SIZES: dict[str, int] = {
    "firmware": 96 * 1024 + 123,
    "model": 40 * 1024 + 7,
    "thresholds": 260,
    "calibration": 148,
    "drift_baseline": 2 * 1024 + 16,
    "selftest": 5 * 1024 + 40,
}
SAMPLE_TARGET = Target(
    board_id="esp32-s3-devkitc-1",
    flash_size=8 * 1024 * 1024,
    partition_hash=hashlib.sha256(b"fieldbench partitions v1").digest(),
    abi_min=1,
    abi_max=2,
    firmware_abi=1,
)


def sample_components(release: int, sizes: dict[str, int] | None = None) -> list[bytes]:
    """Six pseudo-random components, different for each release number."""
    sz = sizes or SAMPLE_SIZES
    rng = np.random.default_rng(1000 + release)
    return [rng.integers(0, 256, sz[name], dtype=np.uint8).tobytes() for name in COMPONENTS]


def sample_manifest(
    key: ec.EllipticCurvePrivateKey, components: list[bytes], release: int = 4, **changes: object
) -> Manifest:
    """The seed's example DeploymentBundle (edge-inference-v2.<release>.1)."""
    m = Manifest(
        bundle_id=f"edge-inference-v2.{release}.1",
        firmware_version=f"fw-1.{release + 4}.0",
        model_version=f"int8-anomaly-detect-0.9.{release - 2}",
        threshold_version=f"thresh-v{release - 1}",
        calibration_version=f"calib-v{release - 2}",
        version_numbers=(0x0100 + release + 4, release, release - 1, release - 2),
        tool_version=f"fieldbench {__version__}",
        profile="safety-critical",
        epoch=release,
        key_id=key_id_of(key.public_key()),
        target=SAMPLE_TARGET,
        target_environment=("indoor", "outdoor", "thermal_-20_to_60"),
        min_battery_level=15,
        max_latency_ms=45,
        peak_ram_budget_bytes=12288,
        threshold_policy=0,
        calibration_policy=0,
        rollback_policy=1,
        model_pool_bytes=9216,
        model_latency_us=3100,
        components=digests(components),
        rollback_target=f"edge-inference-v2.{release - 1}.0",
    )
    return dataclasses.replace(m, **changes)  # type: ignore[arg-type]


def sample_bundle(
    key: ec.EllipticCurvePrivateKey, release: int = 4, **changes: object
) -> tuple[bytes, Manifest, list[bytes]]:
    """A signed sample bundle, its manifest and components."""
    comps = sample_components(release)
    m = sample_manifest(key, comps, release, **changes)
    return seal(m, comps, key), m, comps


# ------------------------------------------------------------------- real device components

#: Recordings behind each sample release's self-test vectors: (label, speed) of the sample fan.
SELFTEST_CASES = (
    ("normal", "low"),
    ("normal", "high"),
    ("imbalance", "medium"),
    ("imbalance", "high"),
    ("loose", "high"),
)
SAMPLE_FAR = 0.01  # the sample threshold: at most 1 % of normal calibration frames above it


@functools.cache
def sample_model() -> tuple[bytes, float]:
    """The sample autoencoder (resources/models) as the device's INT8 blob, and its threshold.

    Quantized with MinMax ranges on sample frames (deterministic); the threshold is the
    float32 ``1 - SAMPLE_FAR`` quantile of the normal frames' device scores (core.train).
    """
    import tempfile
    from pathlib import Path

    from core.model.blob import read_blob
    from core.model.executor import run
    from core.model.quantize import quantize_model
    from core.model.report import runtime_blob
    from core.model.samples import AUTOENCODER_NAME, INPUT_SCALE, sample_anomaly_set
    from core.paths import resources_dir
    from core.train.thresholds import threshold_at

    data = sample_anomaly_set(12, seed=5)
    with tempfile.TemporaryDirectory(prefix="fieldbench-sample-blob-") as tmp:
        q = quantize_model(
            resources_dir() / "models" / f"{AUTOENCODER_NAME}.onnx", data, Path(tmp) / "ae.onnx"
        )
        blob = runtime_blob(q.qdq_path, "anomaly", INPUT_SCALE, 0.0)
    if blob is None:
        raise RuntimeError("the sample autoencoder does not extract to a runtime blob")
    model, _ = read_blob(blob)
    assert data.labels is not None
    x = data.inputs().reshape(len(data), -1)
    normal = x[data.labels == 0]
    res = run(model, normal.astype(np.int16))
    assert res.score is not None
    threshold = threshold_at(res.score.astype(np.float64), SAMPLE_FAR)
    return blob, threshold


def sample_device_components(release: int = 4, calibration_offset: int = 0) -> list[bytes]:
    """Six components of a sample release a device's health check accepts: pseudo-random
    firmware and drift baseline, the sample autoencoder blob, its FBTH threshold, FBCA from the
    sample workspace's [features], and FBSV vectors (sample fan recordings, normal and
    imbalanced, seeded by ``release``) with the reference's expectations."""
    from core.bundle.components import (
        Calibration,
        Thresholds,
        make_selftest,
        recording_frames,
        selftest_recordings,
    )
    from core.dsp.fixed import quantize
    from core.model.samples import SAMPLE_FEATURES, simulate

    blob, threshold = sample_model()
    cal = Calibration.from_plan(SAMPLE_FEATURES, calibration_offset)
    th = Thresholds(threshold)
    input_len = SAMPLE_FEATURES.frame_length  # the sample autoencoder reads one frame
    n = recording_frames(cal.feature_plan(), input_len)
    rng = np.random.default_rng(5000 + release)
    seconds = 4 * n / SAMPLE_FEATURES.sampleRate
    recs = [
        quantize(simulate({"speed": speed}, label, seconds, rng), SAMPLE_FEATURES)
        for label, speed in SELFTEST_CASES
    ]
    # A knocked sensor (6x the normal level): well above the threshold, so the vectors expect
    # both decisions and a wrong threshold shows.
    recs.append(
        quantize(6.0 * simulate({"speed": "medium"}, "normal", seconds, rng), SAMPLE_FEATURES)
    )
    values = selftest_recordings(cal, input_len, recs, per_recording=2)
    st = make_selftest(blob, cal, th, values)
    rnd = sample_components(release)
    return [rnd[0], blob, th.to_bytes(), cal.to_bytes(), rnd[4], st.to_bytes()]
