"""QAT simulates the deployed arithmetic: the fake-quantized network and onnxruntime's INT8
model built from the exported float model + QAT ranges agree to within an output step."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.model.calibration import EvalSet  # noqa: E402
from core.model.onnx_io import make_session, run_session  # noqa: E402
from core.model.quantize import QuantizeOptions, RangeOverride, quantize_model  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402
from core.train.fakequant import act_qparams, fake_quant_weight  # noqa: E402
from core.train.loop import calibrate_ranges  # noqa: E402
from core.train.nets import build_net  # noqa: E402


def test_activation_qparams_follow_onnxruntime():
    assert act_qparams(0.0, 2.55) == pytest.approx((0.01, -128))
    scale, zp = act_qparams(-1.0, 3.0)
    assert scale == pytest.approx(4.0 / 255)
    assert zp == int(np.round(-128 + 1.0 / np.float64(np.float32(4.0 / 255))))
    assert act_qparams(0.5, 2.0)[1] == -128  # the range is widened to include 0


def test_weights_are_per_channel_symmetric_int8():
    w = torch.tensor([[1.0, -0.5, 0.25], [0.01, 0.02, -0.04]])
    fq, scale = fake_quant_weight(w)
    assert torch.allclose(scale, torch.tensor([1.0 / 127, 0.04 / 127]))
    q = torch.round(fq / scale[:, None])
    assert q.abs().max() <= 127
    assert torch.equal(q[:, 0].abs().max(), torch.tensor(127.0))


@pytest.mark.parametrize(("family", "shape"), [("dense_ae", (57,)), ("dscnn", (57, 1, 8))])
def test_fake_quant_forward_matches_onnxruntime_int8(tmp_path, family, shape):
    rng = np.random.default_rng(3)
    feats = rng.normal(2000, 500, (64, *shape)).clip(-32768, 32767).astype(np.int16)
    data = EvalSet(feats, 1 / 256, np.zeros(64, np.int64), [], ["normal", "fault"])
    torch.manual_seed(0)
    net = build_net(TrainConfig(family=family, channels=8, blocks=1), shape, 2)
    x = data.inputs()[:, 0]
    net.set_normalisation(x)
    calibrate_ranges(net, data)
    net.set_fake_quant(True)
    net.eval()
    with torch.no_grad():
        y_fq = net(torch.as_tensor(x)).numpy()
    path = tmp_path / "m.onnx"
    path.write_bytes(net.to_onnx("m").SerializeToString())
    overrides = {k: RangeOverride(lo, hi) for k, (lo, hi) in net.ranges().items()}
    q = quantize_model(path, data, tmp_path / "q.onnx", QuantizeOptions(overrides=overrides))
    y_ort = run_session(make_session(q.qdq_path), data.inputs())[0].reshape(y_fq.shape)
    out_scale = net.quant[net.output_name].qparams()[0]
    diff = np.abs(y_fq - y_ort) / out_scale
    assert np.median(diff) < 0.5
    assert np.mean(diff <= 1.01) > 0.97
