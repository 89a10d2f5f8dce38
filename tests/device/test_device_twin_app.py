"""The twin's application side end to end: the firmware's host build (``node_twin serve``) on a
provisioned flash file, reached by port name through L's unchanged ``DeviceClient``,
``install_bundle`` and ``rollback`` — real signed bundles, resumes after a dropped connection
and after a power cut of the twin, automatic revert, manual rollback accepted and refused with
the device's reason, and the sample stream the capture tools record."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.trust import TrustedKey
from core.device.client import DeviceClient, DeviceRefused
from core.device.commands import identify, rollback
from core.device.ota import install_bundle
from core.errors import Cancelled
from core.link.messages import MsgType
from core.twin.app import AppTwin, node_twin_binary
from core.twin.factory import factory_key, provision_twin, trusted_key_files, twin_bundle

pytestmark = pytest.mark.skipif(
    not node_twin_binary().exists(), reason="firmware host build missing (make firmware-host)"
)


class Twin:
    """A provisioned flash file and the twin process serving it (restartable: power cycles)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.flash = folder / "flash.bin"
        self.key = factory_key(folder)
        provision_twin(self.flash, self.key)
        self.trust = trusted_key_files(folder, include_keystore=False)
        self.app: AppTwin | None = None

    def start(self, **kw: object) -> AppTwin:
        self.app = AppTwin(self.flash, trust=self.trust, **kw).start()  # type: ignore[arg-type]
        return self.app

    def client(self) -> DeviceClient:
        assert self.app is not None
        return DeviceClient.open(self.app.port, timeout=2.0)

    def stop(self) -> None:
        if self.app is not None:
            self.app.stop()


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Twin]:
    t = Twin(tmp_path)
    t.start()
    yield t
    t.stop()


def test_the_twin_identifies_itself_with_the_factory_bundle_running(twin: Twin) -> None:
    with twin.client() as c:
        info = identify(c)
    assert info.chip == "ESP32-S3 twin"
    assert info.bundle_version == "edge-inference-v2.4.1"
    assert info.firmware_version == "fw-1.8.0"  # the app descriptor of the image in ota_0
    assert info.running_slot == 0 and not info.on_trial
    assert info.slots[0].verifies and info.slots[0].state == "VALID"
    assert not info.slots[1].verifies
    assert info.secure_version == 4


def test_a_signed_bundle_installs_boots_on_trial_and_confirms_itself(twin: Twin) -> None:
    bundle = twin_bundle(twin.key, 5)
    with twin.client() as c:
        report = install_bundle(c, bundle)
        after = identify(c)
    assert report.installed, report.message()
    assert report.slot == 1 and report.chunks_sent == -(-len(bundle) // 4096)
    assert after.running_slot == 1 and after.bundle_version == "edge-inference-v2.5.1"
    assert after.firmware_version == "fw-1.9.0" and after.boot_outcome == "CONFIRMED"
    assert after.secure_version == 5  # raised after the confirmation
    assert twin.app is not None
    assert [b["outcome"] for b in twin.app.boots] == ["running", "confirmed"]


def test_a_transfer_resumes_on_a_new_connection_resending_at_most_one_chunk(twin: Twin) -> None:
    bundle = twin_bundle(twin.key, 4, bundle_id="edge-inference-v2.4.2")
    seen: list[float] = []
    with twin.client() as c, pytest.raises(Cancelled):
        install_bundle(
            c, bundle, progress=seen.append, cancel=lambda: bool(seen) and seen[-1] > 0.4
        )
    with twin.client() as c:  # the host dropped the port and comes back
        report = install_bundle(c, bundle)
    assert report.installed
    assert report.resumed_from >= 0.4 * len(bundle) - 4096
    assert report.resumed_from % 4096 == 0
    assert report.bytes_sent <= len(bundle) - report.resumed_from + 4096


def test_a_transfer_resumes_from_the_flash_journal_after_a_power_cut(twin: Twin) -> None:
    bundle = twin_bundle(twin.key, 5)
    seen: list[float] = []
    with twin.client() as c, pytest.raises(Cancelled):
        install_bundle(
            c, bundle, progress=seen.append, cancel=lambda: bool(seen) and seen[-1] > 0.5
        )
    assert twin.app is not None
    port = int(twin.app.port.rsplit(":", 1)[1])
    twin.app.kill()  # SIGKILL: nothing but the flash file survives
    twin.start(listen=port)
    with twin.client() as c:
        report = install_bundle(c, bundle)
    assert report.installed and report.resumed_from >= 0.5 * len(bundle) - 4096
    assert report.resumed_from % 4096 == 0


def test_a_bundle_failing_its_health_check_is_reverted_and_cannot_be_rolled_back_to(
    twin: Twin,
) -> None:
    bundle = twin_bundle(twin.key, 4, bundle_id="edge-inference-v2.4.9")
    assert twin.app is not None
    twin.app.control("sensor fault=stuck")  # liveness: the trial sees a frozen X axis
    with twin.client() as c:
        report = install_bundle(c, bundle)
        after = identify(c)
        assert not report.installed
        assert after.running_slot == 0 and after.bundle_version == "edge-inference-v2.4.1"
        assert after.slots[1].state == "INVALID"
        with pytest.raises(DeviceRefused) as refused:
            rollback(c)
    assert refused.value.reason == "SLOT:SLOT_INVALIDATED"
    assert twin.app.boots[1]["chain"] == ["revert_requested", "running"]  # trial, then slot 0


def test_manual_rollback_runs_the_previous_bundle_again(twin: Twin) -> None:
    with twin.client() as c:
        install_bundle(c, twin_bundle(twin.key, 4, bundle_id="edge-inference-v2.4.2"))
        result = rollback(c)
    assert result.ok, result.message()
    assert result.after.running_slot == 0 and result.after.bundle_version == "edge-inference-v2.4.1"


def test_manual_rollback_is_refused_below_the_anti_rollback_counter(twin: Twin) -> None:
    with twin.client() as c:
        install_bundle(c, twin_bundle(twin.key, 5))  # epoch 5 confirmed: counter 5
        with pytest.raises(DeviceRefused) as refused:
            rollback(c)
        still = identify(c)
    assert refused.value.reason == "SLOT:EPOCH_TOO_LOW"
    assert still.running_slot == 1 and still.bundle_version == "edge-inference-v2.5.1"


def test_manual_rollback_is_refused_when_the_other_slot_is_empty(twin: Twin) -> None:
    with twin.client() as c, pytest.raises(DeviceRefused) as refused:
        rollback(c)
    assert refused.value.reason == "SLOT:SLOT_EMPTY"


def test_bundles_from_untrusted_keys_low_battery_or_old_epochs_are_refused(twin: Twin) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert twin.app is not None
    with twin.client() as c:
        with pytest.raises(DeviceRefused) as unknown:
            install_bundle(c, twin_bundle(stranger, 5))
        with pytest.raises(DeviceRefused) as old:
            install_bundle(c, twin_bundle(twin.key, 3))
        twin.app.control("battery 10")  # the sample bundles ask for 15 %
        with pytest.raises(DeviceRefused) as battery:
            install_bundle(c, twin_bundle(twin.key, 5))
        assert identify(c).slots[1].state == "NONE" or not identify(c).slots[1].verifies
    assert unknown.value.reason == "BUNDLE:UNKNOWN_KEY"
    assert old.value.reason == "BUNDLE:EPOCH_TOO_LOW"
    assert battery.value.reason == "OTA:BATTERY_LOW"


def test_a_user_key_trusted_by_the_twin_signs_installable_bundles(tmp_path: Path) -> None:
    user = ec.generate_private_key(ec.SECP256R1())
    t = Twin(tmp_path)
    t.trust = trusted_key_files(
        tmp_path, [TrustedKey.from_public_key(user.public_key(), "user")], include_keystore=False
    )
    t.start()
    try:
        with t.client() as c:
            assert install_bundle(c, twin_bundle(user, 5)).installed
    finally:
        t.stop()


def _sample_blocks(c: DeviceClient, count: int) -> list[tuple[int, tuple[int, ...]]]:
    identify(c)  # HELLO starts the stream
    blocks = []
    while len(blocks) < count:
        f = c.wait_for(lambda f: f.type == MsgType.SAMPLE_BLOCK, timeout=5.0)
        assert f is not None, "no sample blocks"
        first, n, ch, fmt = struct.unpack_from("<QHBB", f.payload)
        assert (ch, fmt) == (3, 1)
        blocks.append((first, struct.unpack_from(f"<{n * ch}h", f.payload, 12)))
    return blocks


def _axis_means(blocks: list[tuple[int, tuple[int, ...]]]) -> list[float]:
    values = [v for _, b in blocks for v in b]
    return [sum(values[a::3]) / len(values[a::3]) for a in range(3)]


def test_the_sample_stream_is_gap_free_and_shows_the_mounting_orientation(tmp_path: Path) -> None:
    t = Twin(tmp_path)
    t.start(speed=8.0, sensor="noise=pink,temp_drift_c_per_h=20")
    try:
        with t.client() as c:
            flat = _sample_blocks(c, 12)
            assert t.app is not None
            t.app.control("sensor pitch_deg=-90")  # now mounted on a vertical wall
            c.stream.read()
            tilted = _sample_blocks(c, 40)[-12:]
    finally:
        t.stop()
    firsts = [f for f, _ in flat]
    assert firsts == list(range(firsts[0], firsts[0] + 64 * len(firsts), 64))
    z_flat = _axis_means(flat)
    assert abs(z_flat[2] - 8000) < 400 and abs(z_flat[0]) < 400  # 1 g on Z, 8000 counts/g
    x_tilted = _axis_means(tilted)
    assert abs(x_tilted[0] - 8000) < 400 and abs(x_tilted[2]) < 400


def test_fieldbench_capture_records_from_the_twin(tmp_path: Path) -> None:
    import shutil

    from core.cli import main

    ws = tmp_path / "ws"
    shutil.copytree(Path(__file__).resolve().parents[2] / "resources/sample-workspace", ws)
    t = Twin(tmp_path / "twin")
    t.start(speed=8.0, sensor="fault=bearing")
    try:
        assert t.app is not None
        code = main(["capture", t.app.port, "--seconds", "1", "--workspace", str(ws),
                     "--label", "imbalance", "--quiet"])  # fmt: skip
    finally:
        t.stop()
    assert code == 0
    assert any(p.suffix == ".npy" for p in ws.rglob("*.npy"))


def test_the_twin_exits_when_the_program_that_started_it_goes_away(twin: Twin) -> None:
    assert twin.app is not None and twin.app.running
    pid = twin.app.pid
    twin.app.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
