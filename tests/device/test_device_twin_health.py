"""The health check end to end through the real twin (``node_twin serve``) and the device
client: the sample release's real components (sample autoencoder blob, FBTH threshold, FBCA
front end, FBSV self-test vectors from ``core.bundle.sample``) pass the trial boot's health
check and confirm; a signed bundle whose self-test vectors disagree with its model is reverted,
its slot INVALID, and a manual rollback to it is refused with the device's reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.bundle.components import SelfTest, SelfTestVector
from core.bundle.sample import sample_device_components
from core.device.client import DeviceClient, DeviceRefused
from core.device.commands import identify, rollback
from core.device.ota import install_bundle
from core.twin.app import AppTwin, node_twin_binary
from core.twin.factory import factory_key, provision_twin, trusted_key_files, twin_bundle

pytestmark = pytest.mark.skipif(
    not node_twin_binary().exists(), reason="firmware host build missing (make firmware-host)"
)


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[tuple[AppTwin, object]]:
    flash = tmp_path / "flash.bin"
    key = factory_key(tmp_path)
    provision_twin(flash, key)  # slot 0: release 4 with real device components
    app = AppTwin(flash, trust=trusted_key_files(tmp_path, include_keystore=False)).start()
    yield app, key
    app.stop()


def test_a_real_bundle_passes_the_health_check_and_is_confirmed(
    twin: tuple[AppTwin, object],
) -> None:
    app, key = twin
    with DeviceClient.open(app.port, timeout=2.0) as c:
        before = identify(c)
        assert before.slots[0].verifies and before.slots[0].state == "VALID"
        report = install_bundle(c, twin_bundle(key, 5))  # type: ignore[arg-type]
        after = identify(c)
    assert report.installed
    assert after.running_slot == 1 and after.bundle_version == "edge-inference-v2.5.1"
    assert not after.on_trial and after.slots[1].state == "VALID"
    assert after.secure_version == 5  # the counter rose with the confirm
    assert app.boots[0]["app_loaded"]  # the factory bundle's pipeline loads too
    health = app.boots[-1]["health"][0]
    assert health["failure"] == "none" and health["vectors"] == health["passed"] == 12
    assert health["live_decision"] in (0, 1)


def test_disagreeing_self_test_vectors_revert_and_refuse_rollback(
    twin: tuple[AppTwin, object],
) -> None:
    app, key = twin
    comps = sample_device_components(5)
    st = SelfTest.from_bytes(comps[5])
    v = st.vectors[2]
    wrong = SelfTestVector(1 - v.decision, v.score, v.values)
    comps[5] = SelfTest(st.kind, (*st.vectors[:2], wrong, *st.vectors[3:])).to_bytes()
    bundle = twin_bundle(key, 5, components=comps)  # type: ignore[arg-type]
    with DeviceClient.open(app.port, timeout=2.0) as c:
        report = install_bundle(c, bundle)
        after = identify(c)
        assert not report.installed
        assert after.running_slot == 0 and after.bundle_version == "edge-inference-v2.4.1"
        assert after.slots[1].state == "INVALID"
        assert after.secure_version == 4  # the counter did not move
        with pytest.raises(DeviceRefused) as refused:
            rollback(c)
    assert refused.value.reason == "SLOT:SLOT_INVALIDATED"
    assert app.boots[-1]["chain"] == ["revert_requested", "running"]
    health = app.boots[-1]["health"][0]
    assert health["failure"] == "selftest_mismatch" and health["detail"] == 2
    assert health["passed"] == 2 and health["vectors"] == 12
