"""OTA client figures and the link soak: throughput over a lossless link, and the corruption
campaign (bit errors, drops, duplicates, truncations) run until a frame budget is spent.

    python benchmarks/device_ota.py              # ~60 k frames (make bench)
    python benchmarks/device_ota.py --frames 1000000   # the issue's 10^6-frame soak

The remote end is the Python model of the device's OTA receiver (tests/device); every install is
checked byte for byte: a wrong byte stored or committed fails the run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "device"))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from device_link_model import DeviceModel, FakeClock, FrameFaults, ModelStream  # noqa: E402

from core.bundle.sample import sample_bundle, sample_components, sample_manifest  # noqa: E402
from core.bundle.sign import seal  # noqa: E402
from core.device.client import DeviceClient  # noqa: E402
from core.device.ota import install_bundle  # noqa: E402

KEY = ec.derive_private_key(0x5EED_0007, ec.SECP256R1())
SMALL = {
    "firmware": 9000,
    "model": 4100,
    "thresholds": 60,
    "calibration": 40,
    "drift_baseline": 300,
    "selftest": 700,
}


def small_bundle(release: int) -> bytes:
    comps = sample_components(release, SMALL)
    return seal(sample_manifest(KEY, comps, release), comps, KEY)


def throughput() -> None:
    old, _, _ = sample_bundle(KEY, release=3)
    new, _, _ = sample_bundle(KEY, release=4)
    runs = 20
    t0 = time.perf_counter()
    for _ in range(runs):
        dev = DeviceModel.with_bundle(old)
        clock = FakeClock()
        report = install_bundle(DeviceClient(ModelStream(dev, clock), clock=clock), new)
        assert report.installed
    dt = (time.perf_counter() - t0) / runs
    print(f"  install of a {len(new)}-byte bundle (host side + model): {dt * 1e3:.1f} ms, "
          f"{len(new) / dt / 1e6:.1f} MB/s, {report.chunks_sent} chunks")  # fmt: skip


def corruption(frame_budget: int, rate: float) -> None:
    old, new = small_bundle(3), small_bundle(4)
    totals = FrameFaults()
    frames = installs = resumes = retries = 0
    t0 = time.perf_counter()
    seed = 0
    while frames < frame_budget:
        dev = DeviceModel.with_bundle(old)
        down = FrameFaults(rate=rate, seed=2 * seed)
        up = FrameFaults(rate=rate, seed=2 * seed + 1)
        clock = FakeClock()
        client = DeviceClient(ModelStream(dev, clock, to_device=down, to_host=up), clock=clock)
        client.retries = 6
        report = install_bundle(client, new, commit=False)
        if not (report.verified and dev.slots[1].bundle == new and dev.digest_mismatches == 0):
            raise SystemExit(f"seed {seed}: WRONG BYTES (verified={report.verified})")
        installs += 1
        resumes += report.resumes
        retries += client.counters.retries
        for f in (down, up):
            frames += f.frames
            totals.bit_errors += f.bit_errors
            totals.drops += f.drops
            totals.duplicates += f.duplicates
            totals.truncations += f.truncations
        seed += 1
    dt = time.perf_counter() - t0
    print(f"  link corruption at {rate:.0%} of frames: {frames} frames, {installs} installs "
          f"in {dt:.1f} s")  # fmt: skip
    print(f"    injected: {totals.bit_errors} bit errors, {totals.drops} drops, "
          f"{totals.duplicates} duplicates, {totals.truncations} truncations")  # fmt: skip
    print(f"    client: {retries} request retries, {resumes} resumes; wrong bytes stored or "
          "committed: 0")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=60_000, help="frame budget of the soak")
    p.add_argument("--rate", type=float, default=0.05, help="fraction of frames corrupted")
    args = p.parse_args(argv)
    print("== Device OTA client ==")
    throughput()
    corruption(args.frames, args.rate)


if __name__ == "__main__":
    main()
