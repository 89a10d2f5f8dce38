"""The numpy INT8 executor is bit-exact with onnxruntime (ORT_ENABLE_EXTENDED, 1 thread)."""

from __future__ import annotations

import fractions
from functools import cache

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.model import executor as ex
from core.model import testmodels as tm
from core.model.extract import extract
from core.model.ir import IntModel, Op, Postprocess
from core.model.onnx_io import UnsupportedModelError

MODELS = ["mlp", "autoencoder", "conv1d", "dscnn1d", "addpool"]
N_PARITY = 10_000


@cache
def quantized(name: str, **kw: object) -> onnx.ModelProto:
    float_model = tm.BUILDERS[name](batch="N", **kw)
    return tm.quantize_qdq(float_model, tm.test_inputs(float_model, 128, seed=1))


@cache
def int_model(name: str) -> IntModel:
    post = Postprocess.RECON_MSE if name == "autoencoder" else Postprocess.ARGMAX
    return extract(quantized(name), input_scale=1 / 256, postprocess=post, name=name)


@pytest.mark.parametrize("name", MODELS)
def test_every_int8_tensor_matches_onnxruntime_on_10000_inputs(name: str) -> None:
    qdq = quantized(name)
    model = int_model(name)
    x = tm.test_inputs(qdq, N_PARITY, seed=20)
    golden = tm.ort_run(tm.ort_session(qdq, expose=True), x)
    mine = ex.run_float(model, x, keep_all=True)
    layers = tm.activation_outputs(qdq)
    assert len(layers) >= 4
    for tensor in layers:
        ref = golden[tensor].reshape(mine.tensors[tensor].shape)
        mismatches = int(np.count_nonzero(ref != mine.tensors[tensor]))
        assert mismatches == 0, f"{name} {tensor}: {mismatches} of {ref.size} values differ"
    final = golden[qdq.graph.output[0].name]
    t = model.tensors[model.output]
    dequantized = (mine.output.astype(np.float32) - t.zero_point) * np.float32(t.scale)
    assert np.array_equal(dequantized.reshape(final.shape), final)


@pytest.mark.parametrize("name", ["mlp", "autoencoder", "conv1d", "dscnn1d"])
def test_final_outputs_match_the_default_x86_u8s8_fused_path(name: str) -> None:
    qdq = quantized(name)
    x = tm.test_inputs(qdq, 3000, seed=21)
    golden = tm.ort_run(tm.ort_session(qdq, int8_allowed=False), x)["output"]
    mine = ex.run_float(int_model(name), x)
    t = int_model(name).tensors[int_model(name).output]
    got = (mine.output.astype(np.float32) - t.zero_point) * np.float32(t.scale)
    assert np.array_equal(got.reshape(golden.shape), golden)


def test_int16_features_run_like_their_float_image_in_onnxruntime() -> None:
    qdq, model = quantized("conv1d"), int_model("conv1d")
    rng = np.random.default_rng(3)
    feats = rng.integers(-700, 700, size=(500, 8 * 64)).astype(np.int16)
    x = feats.astype(np.float32) * np.float32(1 / 256)
    golden = tm.ort_run(tm.ort_session(qdq), x.reshape(500, 8, 1, 64))["output"]
    res = ex.run(model, feats)
    t = model.tensors[model.output]
    got = (res.output.astype(np.float32) - t.zero_point) * np.float32(t.scale)
    assert np.array_equal(got.reshape(golden.shape), golden)
    assert np.array_equal(res.decision, np.argmax(golden, axis=1))


def test_calibration_offset_saturates_in_int16_before_scaling() -> None:
    model = int_model("mlp")
    feats = np.array([[32000] * 32 + [-5] * 32], dtype=np.int16)
    shifted = ex.run(model, feats, offset=1000, keep_all=True)
    manual = np.clip(feats.astype(np.int32) + 1000, -32768, 32767).astype(np.int16)
    assert np.array_equal(shifted.output, ex.run(model, manual).output)


def test_recon_mse_is_the_sequential_float32_mean_of_dequantized_errors() -> None:
    model = int_model("autoencoder")
    x = tm.test_inputs(quantized("autoencoder"), 50, seed=4)
    res = ex.run_float(model, x, keep_all=True, threshold=0.5)
    assert res.score is not None
    t_in, t_out = model.tensors[model.input], model.tensors[model.output]
    q_in = res.tensors[t_in.name].reshape(50, -1)
    for row in range(50):
        acc = np.float32(0)
        for i in range(q_in.shape[1]):
            a = np.float32(int(res.output[row, i]) - t_out.zero_point) * np.float32(t_out.scale)
            b = np.float32(int(q_in[row, i]) - t_in.zero_point) * np.float32(t_in.scale)
            acc = np.float32(acc + np.float32((a - b) * (a - b)))
        assert res.score[row] == np.float32(acc / np.float32(q_in.shape[1]))
    assert np.array_equal(res.decision, (res.score > np.float32(0.5)).astype(np.int32))


def test_argmax_takes_the_lowest_index_on_ties() -> None:
    model = int_model("mlp")
    values = {
        model.input: np.zeros((1, 64), np.int8),
        model.output: np.array([[3, 7, 7, 1]], np.int8),
    }
    score, decision = ex.postprocess(model, values)
    assert decision.tolist() == [1]
    t = model.tensors[model.output]
    assert score is not None and score[0] == np.float32(7 - t.zero_point) * np.float32(t.scale)


def _exact_fma_f32(x: float, y: float, z: float) -> np.float32:
    exact = fractions.Fraction(x) * fractions.Fraction(y) + fractions.Fraction(z)
    r = np.float32(float(exact))  # float(Fraction) rounds once to double: refine below
    lo, hi = np.nextafter(r, np.float32(-np.inf)), np.nextafter(r, np.float32(np.inf))
    best = min(
        (lo, r, hi),
        key=lambda c: (
            abs(fractions.Fraction(float(c)) - exact),
            int(np.float32(c).view(np.int32)) & 1,
        ),
    )
    return np.float32(best)


def test_fma32_rounds_once_like_a_hardware_fused_multiply_add() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, 3000).astype(np.float32)
    y = np.exp(rng.uniform(-6, 3, 3000)).astype(np.float32)
    z = (rng.normal(0, 100, 3000)).astype(np.float32)
    # Near-midpoint cases: z chosen so that x·y + z lands close to float32 ties.
    z[:1000] = (np.float32(2**20) + np.float32(0.5)) - (x[:1000] * y[:1000]).astype(np.float32)
    got = ex.fma32(x, y, z)
    for i in range(3000):
        assert got[i] == _exact_fma_f32(float(x[i]), float(y[i]), float(z[i])), i


def _add_model(sa: float, za: int, sb: float, zb: int, sc: float, zc: int) -> onnx.ModelProto:
    def c(n: str, v: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(v, n)

    nodes = [
        helper.make_node("QuantizeLinear", ["A", "sa", "za"], ["qa"]),
        helper.make_node("DequantizeLinear", ["qa", "sa", "za"], ["da"]),
        helper.make_node("QuantizeLinear", ["B", "sb", "zb"], ["qb"]),
        helper.make_node("DequantizeLinear", ["qb", "sb", "zb"], ["db"]),
        helper.make_node("Add", ["da", "db"], ["s"]),
        helper.make_node("QuantizeLinear", ["s", "sc", "zc"], ["qc"]),
    ]
    graph = helper.make_graph(
        nodes,
        "add",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [65536]) for n in ("A", "B")],
        [helper.make_tensor_value_info("qc", TensorProto.INT8, [65536])],
        [
            c("sa", np.array(sa, np.float32)),
            c("za", np.array(za, np.int8)),
            c("sb", np.array(sb, np.float32)),
            c("zb", np.array(zb, np.int8)),
            c("sc", np.array(sc, np.float32)),
            c("zc", np.array(zc, np.int8)),
        ],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_qlinear_add_table_equals_onnxruntime_for_all_input_pairs() -> None:
    rng = np.random.default_rng(5)
    q = np.arange(-128, 128)
    a, b = (g.reshape(-1) for g in np.meshgrid(q, q, indexing="ij"))
    for _ in range(12):
        sa, sb, sc = (float(s) for s in np.exp(rng.uniform(-4, 0, 3)).astype(np.float32))
        za, zb, zc = (int(z) for z in rng.integers(-128, 128, 3))
        sess = tm.ort_session(_add_model(sa, za, sb, zb, sc, zc))
        xa = ((a - za) * np.float32(sa)).astype(np.float32)
        xb = ((b - zb) * np.float32(sb)).astype(np.float32)
        golden = sess.run(None, {"A": xa, "B": xb})[0].reshape(256, 256)  # type: ignore[attr-defined]
        table = ex.qlinear_add_table(ex.qlinear_add_params(sa, za, sb, zb, sc, zc))
        assert np.array_equal(table, golden)


def test_final_softmax_is_dropped_and_the_logits_match_onnxruntime() -> None:
    qdq = quantized("dscnn1d", softmax=True)
    model = extract(qdq, input_scale=1 / 256)
    assert any("Softmax" in n for n in model.notes)
    x = tm.test_inputs(qdq, 2000, seed=8)
    golden = tm.ort_run(tm.ort_session(qdq, expose=True), x)
    mine = ex.run_float(model, x, keep_all=True)
    logits = model.tensors[model.output].name
    assert np.array_equal(mine.output, golden[logits].reshape(mine.output.shape))


def test_every_unsupported_node_is_listed_before_anything_runs() -> None:
    b = tm._Builder(0)
    h = b.gemm("input", 8, 8)
    h = b.node("Tanh", [h])
    h = b.node("LeakyRelu", [h])
    y = b.gemm(h, 8, 2)
    float_model = b.model("bad", ["N", 8], y, ["N", 2])
    qdq = tm.quantize_qdq(float_model, tm.test_inputs(float_model, 16))
    with pytest.raises(UnsupportedModelError) as err:
        extract(qdq, input_scale=1.0)
    text = str(err.value)
    assert "Tanh" in text and "LeakyRelu" in text


def test_a_symbolic_feature_dimension_asks_for_a_fixed_shape() -> None:
    qdq = onnx.ModelProto()
    qdq.CopyFrom(quantized("mlp"))
    qdq.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"
    with pytest.raises(Exception, match="static shape"):
        extract(qdq, input_scale=1.0)


def test_batch_one_and_symbolic_batch_models_give_the_same_integer_model() -> None:
    fixed = tm.mlp(batch=1)
    free = tm.mlp(batch="N")
    cal = tm.test_inputs(fixed, 64, seed=1)
    a = extract(tm.quantize_qdq(fixed, cal), input_scale=1.0)
    b = extract(tm.quantize_qdq(free, cal), input_scale=1.0)
    assert [t.shape for t in a.tensors] == [t.shape for t in b.tensors]
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.op is lb.op is Op.GEMM
        assert np.array_equal(la.weights, lb.weights)  # type: ignore[arg-type]
        assert np.array_equal(la.multiplier, lb.multiplier)  # type: ignore[arg-type]
