"""The OTA client against a model of the device's OTA receiver: install, resume, refuse, revert,
and the link campaigns (corrupted frames, a disconnect at every frame boundary)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).parent))

from device_link_model import (
    DeviceModel,
    FakeClock,
    FrameFaults,
    ModelStream,
)

from core.bundle.sample import sample_bundle, sample_components, sample_manifest
from core.bundle.sign import seal
from core.bundle.trust import TrustedKey
from core.bundle.verify import DeviceContext
from core.device.client import DeviceClient, DeviceRefused
from core.device.commands import identify
from core.device.ota import OtaFailed, OtaSession, install_bundle
from core.errors import Cancelled
from core.link.messages import OTA_CHUNK_SIZE, OtadataState

KEY = ec.derive_private_key(0x5EED_0007, ec.SECP256R1())
CONTEXT = DeviceContext(trusted_keys=(TrustedKey.from_public_key(KEY.public_key()),))
OLD, _, _ = sample_bundle(KEY, release=3)
NEW, _, _ = sample_bundle(KEY, release=4)
SMALL_SIZES = {
    "firmware": 9000,
    "model": 4100,
    "thresholds": 60,
    "calibration": 40,
    "drift_baseline": 300,
    "selftest": 700,
}


def small_bundle(release: int) -> bytes:
    comps = sample_components(release, SMALL_SIZES)
    return seal(sample_manifest(KEY, comps, release), comps, KEY)


SMALL_OLD = small_bundle(3)
SMALL_NEW = small_bundle(4)


def device(old: bytes = OLD) -> DeviceModel:
    return DeviceModel.with_bundle(old, context=CONTEXT)


def connect(dev: DeviceModel, **kw: object) -> tuple[DeviceClient, FakeClock]:
    clock = FakeClock()
    client = DeviceClient(ModelStream(dev, clock, **kw), clock=clock)  # type: ignore[arg-type]
    client.opener = lambda: ModelStream(dev, clock)
    return client, clock


def test_install_stages_verifies_switches_and_confirms() -> None:
    dev = device()
    client, _ = connect(dev)
    seen: list[float] = []
    report = install_bundle(client, NEW, progress=seen.append)
    assert report.installed, report.message()
    assert report.slot == 1 and dev.running == 1
    assert dev.slots[1].bundle == NEW and dev.slots[1].state == OtadataState.VALID
    assert dev.secure_version == 4
    assert report.chunks_sent == -(-len(NEW) // OTA_CHUNK_SIZE) and report.bytes_resent == 0
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert report.after is not None and report.after.bundle_version == "edge-inference-v2.4.1"
    assert "passed its health check" in report.message()


def test_a_bundle_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "v4.fbb"
    path.write_bytes(SMALL_NEW)
    dev = device(SMALL_OLD)
    client, _ = connect(dev)
    assert install_bundle(client, path).installed


def test_a_file_that_is_not_a_bundle_is_refused_before_anything_is_sent() -> None:
    dev = device()
    client, _ = connect(dev)
    with pytest.raises(OtaFailed, match="not a Fieldbench bundle"):
        install_bundle(client, b"\x7fELF" + bytes(100))
    with pytest.raises(OtaFailed, match="truncated"):
        install_bundle(client, NEW[:-10])
    assert client.counters.bytes_sent == 0


def test_a_cancelled_install_resumes_from_the_durable_offset() -> None:
    dev = device()
    client, _ = connect(dev)
    session = OtaSession(client, NEW, cancel=lambda: session.report.chunks_sent >= 10)
    with pytest.raises(Cancelled, match="resumes there"):
        session.run()
    assert dev.slots[1].j_durable == 10 * OTA_CHUNK_SIZE and dev.open_slot == -1
    report = install_bundle(client, NEW)
    assert report.resumed_from == 10 * OTA_CHUNK_SIZE
    assert report.chunks_sent == -(-len(NEW) // OTA_CHUNK_SIZE) - 10
    assert report.installed and dev.slots[1].bundle == NEW


def test_restart_discards_a_partial_transfer() -> None:
    dev = device()
    client, _ = connect(dev)
    session = OtaSession(client, NEW, cancel=lambda: session.report.chunks_sent >= 5)
    with pytest.raises(Cancelled):
        session.run()
    report = install_bundle(client, NEW, restart=True)
    assert report.resumed_from == 0 and report.installed


def test_a_device_reboot_mid_transfer_resumes_at_the_last_durable_sector() -> None:
    dev = device()
    client, _ = connect(dev, cut_at_frame=20, reboot_on_cut=True)
    report = install_bundle(client, NEW)
    assert report.installed and dev.slots[1].bundle == NEW
    assert report.reconnects == 1 and report.resumes == 1
    assert report.bytes_resent <= OTA_CHUNK_SIZE


def test_a_power_cut_reboot_seen_as_a_wrong_state_answer_resumes() -> None:
    dev = device()
    client, _ = connect(dev)
    real = dev.ota_chunk
    calls = {"n": 0}

    def chunk_then_cut(c):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 7:
            dev.reboot()  # the device lost power; its boot INFO reaches the host
        return real(c)

    dev.ota_chunk = chunk_then_cut  # type: ignore[method-assign]
    report = install_bundle(client, NEW)
    assert report.installed and report.resumes == 1
    assert report.bytes_resent <= OTA_CHUNK_SIZE


def test_an_older_epoch_is_refused_at_begin_and_nothing_is_written() -> None:
    dev = device(NEW)
    client, _ = connect(dev)
    with pytest.raises(DeviceRefused, match="BUNDLE:EPOCH_TOO_LOW"):
        install_bundle(client, OLD)
    assert dev.bytes_written == 0 and dev.running == 0


def test_a_low_battery_refuses_the_update_with_the_reason() -> None:
    dev = device()
    dev.battery = 9
    client, _ = connect(dev)
    with pytest.raises(DeviceRefused, match=r"OTA:BATTERY_LOW.*battery 9 %"):
        install_bundle(client, NEW)


def test_a_tampered_bundle_is_refused_by_verification_before_the_switch() -> None:
    bad = bytearray(NEW)
    bad[-100] ^= 0xFF  # a payload byte: the digest the host sends matches, the signature not
    dev = device()
    client, _ = connect(dev)
    with pytest.raises(DeviceRefused, match="BUNDLE:HASH_MISMATCH"):
        install_bundle(client, bytes(bad))
    assert dev.running == 0 and dev.slots[1].state == OtadataState.NONE
    assert identify(client).running_slot == 0


def test_a_bundle_failing_its_health_check_is_reverted_and_reported() -> None:
    dev = device()
    dev.unhealthy.add(hashlib.sha256(NEW).digest())
    client, _ = connect(dev)
    report = install_bundle(client, NEW)
    assert report.committed and not report.installed
    assert dev.running == 0 and dev.slots[1].state == OtadataState.INVALID
    assert "reverted to slot 0" in report.message()
    assert "failed its health check" in report.message()


def test_staging_without_commit_leaves_the_running_bundle() -> None:
    dev = device()
    client, _ = connect(dev)
    report = install_bundle(client, NEW, commit=False)
    assert report.verified and not report.committed
    assert dev.running == 0 and dev.slots[1].bundle == NEW


# ---- campaigns ---------------------------------------------------------------------------------


def frames_of_one_install(bundle: bytes) -> int:
    dev = device(OLD)
    clock = FakeClock()
    stream = ModelStream(dev, clock)
    install_bundle(DeviceClient(stream, clock=clock), bundle)
    return stream.frames_written


@pytest.mark.parametrize("reboot", [False, True], ids=["unplug", "power-cut"])
def test_a_disconnect_at_every_frame_boundary_resends_at_most_one_sector(reboot: bool) -> None:
    total = frames_of_one_install(NEW)
    worst = 0
    resumes = 0
    for cut in range(0, total + 1):
        dev = device(OLD)
        client, _ = connect(dev, cut_at_frame=cut, reboot_on_cut=reboot)
        report = install_bundle(client, NEW)
        assert report.installed, (cut, report.message())
        assert dev.running == 1 and dev.slots[1].bundle == NEW
        assert dev.digest_mismatches == 0
        worst = max(worst, report.max_resent_per_resume)
        resumes += report.resumes
        assert report.max_resent_per_resume <= OTA_CHUNK_SIZE
    print(
        f"\ndisconnect campaign ({'power cut' if reboot else 'unplug'}): {total} frame "
        f"boundaries tried, {resumes} resumes, all verified, worst re-send {worst} bytes "
        f"(≤ one {OTA_CHUNK_SIZE}-byte sector)"
    )


def test_link_corruption_never_commits_a_wrong_byte() -> None:
    """CI variant of the 10^6-frame soak (benchmarks/device_ota.py)."""
    totals = FrameFaults()
    frames = installs = 0
    for seed in range(2000):
        dev = device(SMALL_OLD)
        down = FrameFaults(rate=0.08, seed=2 * seed)
        up = FrameFaults(rate=0.08, seed=2 * seed + 1)
        client, _ = connect(dev, to_device=down, to_host=up)
        client.retries = 6
        report = install_bundle(client, SMALL_NEW, commit=False)
        assert report.verified
        assert dev.slots[1].bundle == SMALL_NEW
        assert bytes(dev.slots[1].staged) == SMALL_NEW
        assert dev.digest_mismatches == 0
        installs += 1
        for f in (down, up):
            frames += f.frames
            totals.bit_errors += f.bit_errors
            totals.drops += f.drops
            totals.duplicates += f.duplicates
            totals.truncations += f.truncations
    assert totals.injected > 100
    print(
        f"\nlink corruption (CI): {installs} installs, {frames} frames, {totals.bit_errors} bit "
        f"errors, {totals.drops} drops, {totals.duplicates} duplicates, {totals.truncations} "
        "truncations; wrong bytes committed: 0"
    )
