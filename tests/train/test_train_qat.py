"""QAT ranges: learned (LSQ) ranges keep onnxruntime's forward arithmetic, move the way the loss
asks, start from the PTQ ranges and reach onnxruntime as TensorQuantOverrides."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from core.model.calibration import EvalSet  # noqa: E402
from core.model.onnx_io import make_session, run_session  # noqa: E402
from core.model.quantize import QuantizeOptions, RangeOverride, quantize_model  # noqa: E402
from core.model.report_layers import quant_params  # noqa: E402
from core.train.config import TrainConfig  # noqa: E402
from core.train.data import data_from_sets  # noqa: E402
from core.train.fakequant import QMAX, QMIN, ActQuant, act_qparams  # noqa: E402
from core.train.loop import auc, calibrate_ranges, evaluate, train_qat  # noqa: E402
from core.train.nets import build_net  # noqa: E402
from core.train.pipeline import run_training  # noqa: E402


def _learning_quantizer(lo: float, hi: float) -> ActQuant:
    q = ActQuant()
    q.set_range(lo, hi)
    q.enabled = True
    q.set_learning(True)
    q.train()
    return q


def test_learned_range_forward_is_onnxruntime_fake_quant():
    x = torch.linspace(-2.0, 7.0, 1001)
    q = _learning_quantizer(-1.5, 6.0)
    scale, zp = act_qparams(-1.5, 6.0)
    expected = torch.fake_quantize_per_tensor_affine(x, scale, zp, QMIN, QMAX)
    got = q(x).detach()
    # Same grid; x / s (onnxruntime) vs x · (1/s) (torch) may round a tie differently.
    steps = (got - expected).abs() / scale
    assert float(steps.max()) <= 1.0 + 1e-4
    assert float((steps < 1e-3).double().mean()) > 0.99
    assert torch.allclose(torch.round(got / scale), got / scale, atol=1e-3)


@pytest.mark.parametrize(("hi", "direction"), [(100.0, "shrinks"), (0.4, "grows")])
def test_learned_range_moves_the_way_the_error_asks(hi, direction):
    # Values in [0, 1]: a range of 100 wastes resolution (shrink it); 0.4 clips most (grow it).
    x = torch.rand(4096, generator=torch.Generator().manual_seed(0))
    q = _learning_quantizer(0.0, hi)
    loss = ((q(x) - x) ** 2).mean()
    loss.backward()
    assert q.log_lo.grad is None  # a range starting at 0 (a ReLU output) keeps its low end
    grad = float(q.log_hi.grad)
    assert (grad > 0) if direction == "shrinks" else (grad < 0)


def test_fixed_ranges_do_not_learn_unless_asked():
    q = ActQuant()
    q.track = False
    q.set_range(-1.0, 1.0)
    q.set_learning(True)
    assert not q.learn and not q.log_hi.requires_grad
    q.set_learning(True, fixed_too=True)
    assert q.learn and q.log_hi.requires_grad and q.log_lo.requires_grad


def _tiny_sets(rng: np.random.Generator) -> tuple[EvalSet, EvalSet]:
    feats = rng.normal(2000, 300, (96, 12)).clip(0, 32767).astype(np.int16)
    feats[48:, :3] += 900  # label 1: an anomaly in three features
    labels = np.repeat([0, 1], 48)
    tags = [{"speed": "low" if i % 2 else "high"} for i in range(96)]
    train = EvalSet(feats, 1 / 256, labels, tags, ["normal", "fault"])
    return train, train.subset(np.arange(0, 96, 2))


def test_qat_starts_from_the_ptq_ranges_and_never_ends_worse_on_validation():
    train, val = _tiny_sets(np.random.default_rng(1))
    data = data_from_sets(train, val, None, "anomaly", None)  # type: ignore[arg-type]
    cfg = TrainConfig(family="dense_ae", hidden=(6, 3, 6), qat_epochs=3, batch_size=16)
    torch.manual_seed(0)
    net = build_net(cfg, (12,), 2)
    net.set_normalisation(train.inputs()[:, 0])
    initial = {"relu0": (0.0, 3.25), "features": (0.0, 12.5)}
    calibrate_ranges(net, train, initial)
    assert net.ranges()["relu0"] == pytest.approx((0.0, 3.25))
    assert net.ranges()["features"] == pytest.approx((0.0, 12.5))
    net.set_fake_quant(True)
    start = evaluate(net, val, "anomaly")
    train_qat(net, data, cfg, train, initial_ranges=initial)
    net.set_fake_quant(True)
    assert evaluate(net, val, "anomaly").key() >= start.key()


def test_auc_counts_ties_half():
    assert auc(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1])) == 1.0
    assert auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5
    assert np.isnan(auc(np.array([1.0, 2.0]), np.array([0, 0])))


def test_learned_ranges_reach_onnxruntime_as_overrides(sample_ws):
    cfg = TrainConfig(family="dense_ae", hidden=(8, 4, 8), epochs=2, qat_epochs=2)
    result = run_training(sample_ws.path, sample_ws.features, cfg)
    ranges = json.loads((result.model_dir / "qat_ranges.json").read_text())
    params = {p.tensor: p for p in quant_params(onnx.load(str(result.deployed_int8)))}
    for name in ("features", "relu0", "relu1"):
        scale, zp = act_qparams(*ranges[name])
        assert params[name].scale == pytest.approx(scale, rel=1e-6)
        assert params[name].zero_point == zp


def test_fake_quant_with_moved_ranges_matches_onnxruntime(tmp_path):
    """After ranges move away from calibration, fake-quant and onnxruntime still agree."""
    rng = np.random.default_rng(4)
    feats = rng.normal(2000, 500, (64, 20)).clip(0, 32767).astype(np.int16)
    data = EvalSet(feats, 1 / 256, np.zeros(64, np.int64), [], ["normal", "fault"])
    torch.manual_seed(0)
    net = build_net(TrainConfig(family="dense_ae", hidden=(8, 4, 8)), (20,), 2)
    x = data.inputs()[:, 0]
    net.set_normalisation(x)
    calibrate_ranges(net, data)
    for name, q in net.quant.items():  # as a learned range would: narrower hidden ranges
        lo, hi = q.range()
        if name.startswith("relu"):
            q.set_range(lo, 0.6 * hi)
    net.set_fake_quant(True)
    net.eval()
    with torch.no_grad():
        y_fq = net(torch.as_tensor(x)).numpy()
    path = tmp_path / "m.onnx"
    path.write_bytes(net.to_onnx("m").SerializeToString())
    overrides = {k: RangeOverride(lo, hi) for k, (lo, hi) in net.ranges().items()}
    q = quantize_model(path, data, tmp_path / "q.onnx", QuantizeOptions(overrides=overrides))
    y_ort = run_session(make_session(q.qdq_path), data.inputs())[0].reshape(y_fq.shape)
    step = net.quant[net.output_name].qparams()[0]
    diff = np.abs(y_fq - y_ort) / step
    assert np.mean(diff <= 1.01) > 0.97
