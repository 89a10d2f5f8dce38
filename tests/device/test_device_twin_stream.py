"""The twin's main loop while streaming: every sensor block goes out as SAMPLE_BLOCK and through
the running bundle's pipeline — fixed-point features, then INT8 inference on the static pool —
whose results arrive as FEATURE_BLOCK and INFERENCE frames (docs/protocol.md §10.5)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from core.device.client import DeviceClient
from core.device.commands import identify
from core.link.messages import FeatureBlock, Inference, MsgType, parse_message
from core.twin.app import AppTwin, node_twin_binary
from core.twin.factory import factory_key, provision_twin, trusted_key_files

pytestmark = pytest.mark.skipif(
    not node_twin_binary().exists(), reason="firmware host build missing (make firmware-host)"
)


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[AppTwin]:
    flash = tmp_path / "flash.bin"
    provision_twin(flash, factory_key(tmp_path))
    app = AppTwin(flash, trust=trusted_key_files(tmp_path, include_keystore=False), speed=8.0)
    app.start()
    try:
        yield app
    finally:
        app.stop()


def _stream(c: DeviceClient, inferences: int) -> tuple[list[FeatureBlock], list[Inference]]:
    identify(c)  # HELLO starts the stream
    blocks: list[FeatureBlock] = []
    results: list[Inference] = []
    while len(results) < inferences:
        f = c.wait_for(lambda f: f.type in (MsgType.FEATURE_BLOCK, MsgType.INFERENCE), timeout=5.0)
        assert f is not None, "the running bundle sends no features or inferences"
        msg = parse_message(f)
        if isinstance(msg, FeatureBlock):
            blocks.append(msg)
        elif isinstance(msg, Inference):
            assert blocks, "an inference came before the features of its window"
            last = blocks[-1]
            assert msg.frame == last.first_frame + last.features.shape[0] - 1
            results.append(msg)
    return blocks, results


def test_the_running_bundle_streams_features_and_inferences(twin: AppTwin) -> None:
    with DeviceClient.open(twin.port, timeout=2.0) as c:
        blocks, results = _stream(c, 4)
    widths = {b.features.shape[1] for b in blocks}
    assert len(widths) == 1 and widths.pop() > 0
    firsts = [b.first_frame for b in blocks]
    counts = [b.features.shape[0] for b in blocks]
    assert all(a + n == b for a, n, b in zip(firsts, counts, firsts[1:], strict=False))
    # One inference per model window of feature frames: evenly spaced.
    gaps = {b.frame - a.frame for a, b in pairwise(results)}
    assert len(gaps) == 1 and gaps.pop() >= 1
    assert all(r.decision in (0, 1) for r in results)
    status = twin.control("status")
    assert status["app_loaded"] is True and status["inferences"] >= 4
