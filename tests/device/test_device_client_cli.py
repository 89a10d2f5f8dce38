"""``fieldbench device info|ota|rollback|calibrate`` against a device model reached by port name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).parent))

from device_link_model import DeviceModel, TcpDevice

from core.bundle.sample import sample_bundle
from core.cli import main

KEY = ec.derive_private_key(0x5EED_0007, ec.SECP256R1())
OLD, _, _ = sample_bundle(KEY, release=3)
NEW, _, _ = sample_bundle(KEY, release=4)


def test_info_prints_identity_and_both_slots(capsys: pytest.CaptureFixture[str]) -> None:
    with TcpDevice(DeviceModel.with_bundle(OLD)) as dev:
        assert main(["device", "info", "--port", dev.port]) == 0
    out = capsys.readouterr().out
    assert "device id   02fb00d0ffee" in out
    assert "slot 0      edge-inference-v2.3.1" in out and "[running]" in out
    assert "slot 1      (empty)" in out


def test_ota_installs_and_rollback_is_refused_below_the_epoch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "v4.fbb"
    bundle.write_bytes(NEW)
    model = DeviceModel.with_bundle(OLD)
    with TcpDevice(model) as dev:
        assert main(["device", "ota", "--port", dev.port, str(bundle)]) == 0
        out = capsys.readouterr().out
        assert "ota: 100 %" in out
        assert "installed: slot 1 runs edge-inference-v2.4.1" in out
        assert main(["device", "rollback", "--port", dev.port, "--yes"]) == 2
        err = capsys.readouterr().err
        assert "EPOCH_TOO_LOW" in err
        assert main(["device", "calibrate", "--port", dev.port, "--", "-12"]) == 0
    assert model.running == 1 and model.slots[1].calibration == -12


def test_an_unreachable_port_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "info", "--port", "socket://127.0.0.1:1"]) == 2
    assert "cannot connect" in capsys.readouterr().err
