"""Deterministic sample releases: the negative corpus, the benchmarks and the GUI demo use them."""

from __future__ import annotations

import dataclasses
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
