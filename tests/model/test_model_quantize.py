"""Quantization with onnxruntime: stratified calibration, methods, overrides, real data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from core.errors import Cancelled
from core.model import samples
from core.model.calibration import CalibrationMethod, EvalSet, stratified_indices
from core.model.quantize import (
    QuantizeError,
    QuantizeOptions,
    RangeOverride,
    parse_override,
    quantize_model,
    tensor_overrides,
)
from core.model.report_layers import quant_params
from core.paths import resources_dir

AE = resources_dir() / "models" / "fan_autoencoder.onnx"


@pytest.fixture(scope="module")
def anomaly_set() -> EvalSet:
    return samples.sample_anomaly_set(n_recordings=24, seed=5)


def _params(path):
    return {p.tensor: p for p in quant_params(onnx.load(str(path)))}


def test_stratified_draw_gives_every_stratum_an_equal_share():
    tags = [{"band": "cold"}] * 900 + [{"band": "hot"}] * 90 + [{"band": "room"}] * 10
    rows = stratified_indices(tags, 60, seed=3)
    counts = Counter(tags[i]["band"] for i in rows)
    assert counts == {"cold": 25, "hot": 25, "room": 10}  # small stratum taken whole
    assert np.array_equal(rows, stratified_indices(tags, 60, seed=3))
    assert len(set(rows.tolist())) == 60


def test_stratified_draw_also_balances_labels():
    tags = [{"speed": "low"}] * 100
    labels = np.array([0] * 95 + [1] * 5)
    rows = stratified_indices(tags, 20, labels=labels)
    assert int(labels[rows].sum()) == 5


def test_overrides_are_zero_dimensional_numpy_arrays():
    name, rng = parse_override("relu0=0:6.5")
    assert name == "relu0" and rng == RangeOverride(0.0, 6.5)
    tq = tensor_overrides({name: rng})
    assert tq["relu0"][0]["rmax"].shape == () and tq["relu0"][0]["rmax"].dtype == np.float32
    with pytest.raises(QuantizeError, match="TENSOR=rmin:rmax"):
        parse_override("relu0=6")
    with pytest.raises(QuantizeError, match="rmin < rmax"):
        parse_override("relu0=3:1")


def test_minmax_quantization_gives_per_channel_int8_weights(tmp_path, anomaly_set):
    res = quantize_model(AE, anomaly_set, tmp_path / "q.onnx")
    q = onnx.load(str(res.qdq_path))
    weights = {t.name: t for t in q.graph.initializer if t.name.endswith(".weight_quantized")}
    assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights.values())
    scale = next(t for t in q.graph.initializer if t.name == "dense0.weight_scale")
    assert scale.dims == [24]  # one scale per output channel
    assert len(res.calibration_rows) == min(512, len(anomaly_set))
    assert res.ranges["relu0"][0] == 0.0


def test_entropy_calibration_really_differs_from_minmax(tmp_path, anomaly_set):
    mm = quantize_model(AE, anomaly_set, tmp_path / "mm.onnx")
    en = quantize_model(
        AE, anomaly_set, tmp_path / "en.onnx", QuantizeOptions(CalibrationMethod.ENTROPY)
    )
    # quantize_static's own Entropy (128 bins) would equal MinMax; the real one trims.
    assert en.ranges["relu0"][1] < mm.ranges["relu0"][1]
    assert _params(en.qdq_path)["relu0"].scale < _params(mm.qdq_path)["relu0"].scale


def test_percentile_calibration_runs(tmp_path, anomaly_set):
    res = quantize_model(
        AE, anomaly_set, tmp_path / "p.onnx", QuantizeOptions(CalibrationMethod.PERCENTILE)
    )
    assert res.options.method is CalibrationMethod.PERCENTILE and res.qdq_path.is_file()


def test_an_override_sets_the_tensor_range(tmp_path, anomaly_set):
    opts = QuantizeOptions(overrides={"relu1": RangeOverride(0.0, 2.55)})
    res = quantize_model(AE, anomaly_set, tmp_path / "o.onnx", opts)
    p = _params(res.qdq_path)["relu1"]
    assert p.scale == pytest.approx(0.01, rel=1e-6)
    assert p.zero_point == -128


def test_unknown_override_tensor_is_named(tmp_path, anomaly_set):
    opts = QuantizeOptions(overrides={"nope": RangeOverride(0.0, 1.0)})
    with pytest.raises(QuantizeError, match="unknown tensor"):
        quantize_model(AE, anomaly_set, tmp_path / "x.onnx", opts)
    assert not (tmp_path / "x.onnx").exists()


def test_wrong_window_shape_is_refused(tmp_path):
    data = EvalSet(np.zeros((4, 10), np.int16), 1 / 256)
    with pytest.raises(QuantizeError, match=r"shape \[57\]"):
        quantize_model(AE, data, tmp_path / "x.onnx")


def test_cancel_stops_quantization_and_writes_nothing(tmp_path, anomaly_set):
    with pytest.raises(Cancelled):
        quantize_model(AE, anomaly_set, tmp_path / "c.onnx", cancel=lambda: True)
    assert not (tmp_path / "c.onnx").exists()
