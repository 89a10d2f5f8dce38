"""The device client and commands against a model of the device's link endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).parent))

from device_link_model import DeviceModel, FakeClock, FrameFaults, ModelStream

from core.bundle.sample import sample_bundle
from core.device.client import DeviceClient, DeviceRefused, DeviceTimeout
from core.device.commands import (
    confirm,
    get_status,
    identify,
    reboot,
    rollback,
    rollback_refusal,
    set_calibration_offset,
)
from core.link.frame import encode_frame
from core.link.messages import MsgType, OtadataState, SlotReason, slot_error

KEY = ec.derive_private_key(0x5EED_0007, ec.SECP256R1())
BUNDLE_V3, _, _ = sample_bundle(KEY, release=3)
BUNDLE_V4, _, _ = sample_bundle(KEY, release=4)


def two_slot_device() -> DeviceModel:
    """Slot 0: v3 (previous, VALID), slot 1: v4 running and confirmed."""
    dev = DeviceModel.with_bundle(BUNDLE_V3)
    dev.slots[1].bundle = BUNDLE_V4
    dev.slots[1].state = OtadataState.VALID
    dev.slots[0].state = OtadataState.VALID
    dev.running = 1
    dev.secure_version = 3
    return dev


def connect(dev: DeviceModel, **kw: object) -> tuple[DeviceClient, ModelStream, FakeClock]:
    clock = FakeClock()
    stream = ModelStream(dev, clock, **kw)  # type: ignore[arg-type]
    return DeviceClient(stream, clock=clock), stream, clock


def test_identify_reports_chip_id_versions_and_both_slots() -> None:
    client, _, _ = connect(two_slot_device())
    info = identify(client)
    assert info.chip == "Python simulator"
    assert info.device_id == "02fb00d0ffee"
    assert info.bundle_version == "edge-inference-v2.4.1"
    assert info.firmware_version == "fw-1.8.0"
    assert info.running_slot == 1
    assert [s.bundle_version for s in info.slots] == [
        "edge-inference-v2.3.1",
        "edge-inference-v2.4.1",
    ]
    assert info.slots[1].running and not info.slots[0].running
    assert all(s.verifies and s.state == "VALID" for s in info.slots)
    assert info.secure_version == 3
    assert any("slot 1" in line and "[running]" in line for line in info.lines())


def test_requests_carry_their_id_and_late_answers_are_skipped() -> None:
    dev = two_slot_device()
    client, stream, _ = connect(dev)
    # An answer to a request id the client never sent, then sample noise: both skipped.
    stray = encode_frame(MsgType.GET_STATUS_RESP, 99, b"\x07\x00\x00\x00", 2)
    stream._out += stray
    status = get_status(client)
    assert status.running_slot == 1
    assert client.counters.unrelated_frames == 1


def test_a_silent_device_times_out_after_the_retries() -> None:
    dev = two_slot_device()
    client, stream, _ = connect(dev, to_device=FrameFaults(rate=1.0, seed=1))
    stream.to_device.apply = lambda data: b""  # type: ignore[union-attr,method-assign]
    with pytest.raises(DeviceTimeout, match="no answer to get status after 3 attempt"):
        get_status(client)
    assert client.counters.retries == 2


def test_a_lost_request_is_retried_with_a_new_id() -> None:
    dev = two_slot_device()
    client, _stream, _ = connect(dev)
    dropped: list[bytes] = []
    real = dev.receive

    def drop_first(data: bytes) -> bytes:
        if not dropped and data.strip(b"\x00"):
            dropped.append(data)
            return b""
        return real(data)

    dev.receive = drop_first  # type: ignore[method-assign]
    assert get_status(client).running_slot == 1
    assert client.counters.retries == 1


def test_rollback_switches_to_the_previous_bundle_and_verifies_it() -> None:
    dev = two_slot_device()
    client, _, _ = connect(dev)
    before = identify(client)
    assert rollback_refusal(before) is None
    result = rollback(client, before)
    assert result.ok, result.message()
    assert result.after.running_slot == 0
    assert result.after.bundle_version == "edge-inference-v2.3.1"
    assert "passed its health check" in result.message()
    assert dev.slots[0].state == OtadataState.VALID


def test_rollback_is_refused_with_the_reason_when_the_previous_slot_is_empty() -> None:
    dev = DeviceModel.with_bundle(BUNDLE_V4)
    client, _, _ = connect(dev)
    before = identify(client)
    assert rollback_refusal(before) == "the slot holds no bundle"
    with pytest.raises(DeviceRefused, match="SLOT:SLOT_EMPTY") as err:
        rollback(client, before)
    assert err.value.code == slot_error(SlotReason.SLOT_EMPTY)
    assert dev.running == 0 and dev.reboots == 0


def test_rollback_below_the_anti_rollback_epoch_is_refused() -> None:
    dev = two_slot_device()
    dev.secure_version = 4
    client, _, _ = connect(dev)
    info = identify(client)
    assert rollback_refusal(info) == "older than the device's anti-rollback epoch"
    with pytest.raises(DeviceRefused, match="EPOCH_TOO_LOW"):
        rollback(client, info)
    assert dev.running == 1


def test_rollback_to_an_invalidated_bundle_is_refused() -> None:
    dev = two_slot_device()
    dev.slots[0].state = OtadataState.INVALID
    client, _, _ = connect(dev)
    with pytest.raises(DeviceRefused, match="SLOT_INVALIDATED"):
        rollback(client)


def test_calibration_offset_is_stored_per_bundle_and_returns_with_a_rollback() -> None:
    dev = two_slot_device()
    client, _, _ = connect(dev)
    assert set_calibration_offset(client, -37) == (-37, 15)
    assert set_calibration_offset(client, 12, slot=0) == (12, 15)
    info = rollback(client).after
    assert [s.calibration_offset for s in info.slots] == [12, -37]


def test_calibration_offset_for_an_empty_slot_is_refused() -> None:
    client, _, _ = connect(DeviceModel.with_bundle(BUNDLE_V4))
    with pytest.raises(DeviceRefused, match="SLOT_EMPTY"):
        set_calibration_offset(client, 5, slot=1)


def test_reboot_and_confirm_report_the_status() -> None:
    dev = two_slot_device()
    client, _, _ = connect(dev)
    info = reboot(client)
    assert info.running_slot == 1 and dev.reboots == 1
    assert confirm(client).running_slot == 1
