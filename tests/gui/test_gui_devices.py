"""The Devices tab against a device model served on a local socket (reached by port name)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).parents[1] / "device"))

from device_link_model import DeviceModel, TcpDevice

from core.bundle.sample import sample_bundle
from core.link.messages import OtadataState
from gui.devices_tab import DevicesTab
from gui.worker import WorkerPool

pytestmark = pytest.mark.gui
KEY = ec.derive_private_key(0x5EED_0007, ec.SECP256R1())
OLD, _, _ = sample_bundle(KEY, release=3)
NEW, _, _ = sample_bundle(KEY, release=4)


@pytest.fixture
def tab(qtbot):  # type: ignore[no-untyped-def]
    pool = WorkerPool()
    widget = DevicesTab(
        pool, ports=lambda: [("/dev/ttyFAKE0  303A:1001  USB JTAG", "/dev/ttyFAKE0")]
    )
    qtbot.addWidget(widget)
    widget.resize(1100, 650)
    widget.show()
    yield widget
    pool.shutdown()


@pytest.fixture
def run(wait_done):  # type: ignore[no-untyped-def]
    return wait_done


def test_connect_shows_the_device_and_both_slots(qtbot, tab, tmp_path, run) -> None:  # type: ignore[no-untyped-def]
    with TcpDevice(DeviceModel.with_bundle(OLD)) as dev:
        tab.set_port(dev.port)
        run(tab.connect_device())
    assert tab.fields["chip"].text() == "Python simulator"
    assert tab.fields["bundle"].text() == "edge-inference-v2.3.1"
    assert tab.slots.rowCount() == 2
    assert tab.slots.item(0, 1).text() == "edge-inference-v2.3.1"
    assert tab.slots.item(1, 1).text() == "(empty)"
    assert "Rollback not possible: the slot holds no bundle" in tab.rollback_note.text()
    assert not tab.rollback_button.isEnabled()
    tab.grab().save(str(tmp_path / "devices_connected.png"))


def test_install_then_rollback_with_confirmation(qtbot, tab, tmp_path, run) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "v4.fbb"
    bundle.write_bytes(NEW)
    model = DeviceModel.with_bundle(OLD)
    with TcpDevice(model) as dev:
        tab.set_port(dev.port)
        run(tab.connect_device())
        tab.bundle_path.setText(str(bundle))
        run(tab.install())
        assert tab.last_report is not None and tab.last_report.installed
        assert "installed: slot 1" in tab.status.text()
        assert tab.progress.value() == 1000
        assert tab.slots.item(1, 1).text() == "edge-inference-v2.4.1"
        assert tab.slots.item(1, 7).text() == "running"
        # the previous bundle (epoch 3) is below the raised counter (4): refused, with reason
        assert "anti-rollback epoch" in tab.rollback_note.text()
        tab.grab().save(str(tmp_path / "devices_installed.png"))

        model.secure_version = 3  # a device whose counter was not raised: rollback allowed
        run(tab.connect_device())
        asked: list[str] = []
        tab.ask = lambda title, text: asked.append(text) is None and False
        assert tab.start_rollback() is None
        assert "Rollback not done" in tab.status.text() and model.running == 1
        tab.ask = lambda title, text: True
        run(tab.start_rollback())
    assert "to edge-inference-v2.3.1" in asked[0]
    assert tab.last_rollback is not None and tab.last_rollback.ok
    assert model.running == 0 and model.slots[0].state == OtadataState.VALID
    assert "rolled back" in tab.status.text()


def test_an_unreachable_port_shows_a_sentence(qtbot, tab, run) -> None:  # type: ignore[no-untyped-def]
    tab.set_port("socket://127.0.0.1:1")
    run(tab.connect_device())
    assert "cannot connect" in tab.status.text()
    assert tab.connect_button.isEnabled()


def test_a_published_twin_is_connected_at_start_up(qtbot, tab, run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from core.twin.runtime import TwinPorts, publish

    assert tab.connect_running_twin() is None  # nothing published: nothing happens
    with TcpDevice(DeviceModel.with_bundle(OLD)) as dev:
        publish(TwinPorts(app_port=dev.port, rom_port="", pid=os.getpid(), flash=""))
        run(tab.connect_running_twin())
        assert tab.fields["bundle"].text() == "edge-inference-v2.3.1"
