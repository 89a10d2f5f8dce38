"""The C++ INT8 runtime (through ctypes) is bit-exact with the numpy executor and onnxruntime.

Models: core.model.testmodels (QDQ s8s8 per-channel, quantize_static MinMax) and the sample
fan models in resources/models; the whole pipeline goes raw samples → fixed-point features
(numpy core.dsp and the C++ extractor) → INT8 → thresholded decision on both sides.
"""

from __future__ import annotations

import json
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import pytest

from core.dsp.fixed import extract_features
from core.dsp.native import native_extractor
from core.dsp.plan import compile_plan
from core.model import executor as ex
from core.model import testmodels as tm
from core.model.blob import BlobError, read_blob, write_blob
from core.model.extract import extract
from core.model.ir import IntModel, Postprocess
from core.model.native import NativeRuntime, NativeRuntimeError, validate_blob

ROOT = Path(__file__).resolve().parents[2]
N_PARITY = 10_000
INPUT_SCALE = 1 / 256


@cache
def quantized(name: str) -> onnx.ModelProto:
    float_model = tm.BUILDERS[name](batch="N")
    return tm.quantize_qdq(float_model, tm.test_inputs(float_model, 128, seed=1))


@cache
def int_model(name: str) -> IntModel:
    post = Postprocess.RECON_MSE if name == "autoencoder" else Postprocess.ARGMAX
    return extract(
        quantized(name), input_scale=INPUT_SCALE, postprocess=post, threshold=0.5, name=name
    )


def features_for(model: onnx.ModelProto, n: int, seed: int) -> np.ndarray:
    """int16 feature windows whose float input x = f · 1/256 spans ORT's test distribution."""
    x = tm.test_inputs(model, n, seed=seed)
    return np.clip(np.rint(x / INPUT_SCALE), -32768, 32767).astype(np.int16)


def ort_final(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return tm.ort_run(tm.ort_session(model), x)[model.graph.output[0].name]


@pytest.mark.parametrize("name", ["autoencoder", "conv1d", "dscnn1d", "addpool", "mlp"])
def test_cpp_equals_executor_equals_onnxruntime_on_10000_windows(name: str) -> None:
    qdq, model = quantized(name), int_model(name)
    rt = NativeRuntime(write_blob(model))
    feats = features_for(qdq, N_PARITY, seed=30)
    dec, score, out = rt.run(feats)
    mine = ex.run(model, feats)
    # C++ == numpy executor: every raw int8 output, every decision, every score bit.
    assert np.array_equal(out, mine.output.reshape(N_PARITY, -1))
    assert np.array_equal(dec.astype(np.int32), mine.decision)
    if mine.score is not None:
        assert np.array_equal(score.view(np.uint32), mine.score.view(np.uint32))
    # C++ == onnxruntime (ORT_ENABLE_EXTENDED, 1 thread) on the dequantized final output.
    x = ex.features_to_float(model, feats.reshape(N_PARITY, -1)).reshape(
        N_PARITY, *model.input_shape[1:]
    )
    golden = ort_final(qdq, x)
    t = model.tensors[model.output]
    deq = (out.astype(np.float32) - np.float32(t.zero_point)) * np.float32(t.scale)
    assert np.array_equal(deq.reshape(golden.shape), golden)


@pytest.mark.parametrize("name", ["conv1d", "dscnn1d", "addpool"])
def test_every_cpp_layer_tensor_equals_the_executor(name: str) -> None:
    qdq, model = quantized(name), int_model(name)
    rt = NativeRuntime(write_blob(model))
    feats = features_for(qdq, 64, seed=31)
    mine = ex.run(model, feats, keep_all=True)
    for i in range(feats.shape[0]):
        _, tensors = rt.run_dump(feats[i])
        assert len(tensors) == len(model.tensors)
        for tid, t in enumerate(model.tensors):
            assert np.array_equal(tensors[tid], mine.tensors[t.name][i].reshape(-1)), (
                f"{name} window {i}: tensor {t.name} differs"
            )


def test_calibration_offset_and_threshold_match_the_executor() -> None:
    qdq, model = quantized("autoencoder"), int_model("autoencoder")
    rt = NativeRuntime(write_blob(model))
    feats = features_for(qdq, 500, seed=32)
    base = ex.run(model, feats)
    assert base.score is not None
    thr = float(np.median(base.score))
    rt.set_threshold(thr)
    for offset in (-700, 0, 333, 32767):
        rt.set_calibration_offset(offset)
        dec, score, out = rt.run(feats)
        ref = ex.run(model, feats, offset=offset, threshold=thr)
        assert ref.score is not None
        assert np.array_equal(out, ref.output.reshape(len(feats), -1))
        assert np.array_equal(score.view(np.uint32), ref.score.view(np.uint32))
        assert np.array_equal(dec.astype(np.int32), ref.decision)
    with pytest.raises(NativeRuntimeError) as err:
        rt.set_threshold(float("nan"))
    assert err.value.code == "BAD_ARG"


def test_runs_are_refused_until_integrity_is_verified() -> None:
    rt = NativeRuntime(write_blob(int_model("mlp")), unsigned=False)
    feats = features_for(quantized("mlp"), 2, seed=33)
    with pytest.raises(NativeRuntimeError) as err:
        rt.run(feats)
    assert err.value.code == "NOT_VERIFIED"


def _fix_crc(b: bytearray) -> None:
    total = int.from_bytes(b[12:16], "little")
    if 12 <= total <= len(b):
        b[8:12] = (zlib.crc32(bytes(b[12:total])) & 0xFFFFFFFF).to_bytes(4, "little")


def _c_status(blob: bytes) -> int:
    try:
        validate_blob(blob)
    except NativeRuntimeError as e:
        return e.status
    return 0


def _py_status(blob: bytes) -> int:
    try:
        read_blob(blob)
    except BlobError as e:
        return e.status
    return 0


def test_cpp_parser_and_python_reader_agree_on_truncation_and_crc() -> None:
    good = write_blob(int_model("dscnn1d"))
    assert validate_blob(good).n_layers == len(int_model("dscnn1d").layers)
    for n in range(0, len(good), 5):
        assert _c_status(good[:n]) == _py_status(good[:n]) == 101  # TRUNCATED
    rng = np.random.default_rng(5)
    for _ in range(200):  # body flips without a CRC fix-up: both say BAD_CRC
        b = bytearray(good)
        i = int(rng.integers(64, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
        assert _c_status(bytes(b)) == _py_status(bytes(b)) == 105, i
    for i in range(64):  # header flips: both reject (the check order may differ)
        b = bytearray(good)
        b[i] ^= 0x10
        assert _c_status(bytes(b)) != 0 and _py_status(bytes(b)) != 0, i


def test_cpp_parser_rejects_or_safely_runs_structurally_corrupt_blobs() -> None:
    """Bit flips with the CRC fixed up reach the structural checks; whatever the C++ parser
    accepts must run. The Python reader agrees on most (see the report for the differences)."""
    good = write_blob(int_model("dscnn1d"))
    rng = np.random.default_rng(6)
    window = features_for(quantized("dscnn1d"), 1, seed=34)
    agree = total = 0
    for _ in range(600):
        b = bytearray(good)
        i = int(rng.integers(0, 1024))
        b[min(i, len(b) - 1)] ^= 1 << int(rng.integers(0, 8))
        _fix_crc(b)
        c, p = _c_status(bytes(b)), _py_status(bytes(b))
        total += 1
        agree += (c == 0) == (p == 0)
        if c == 0:
            NativeRuntime(bytes(b)).run(window)
    assert agree >= 0.8 * total


# --------------------------------------------------------------------------- whole pipeline


def _rename_input(model: onnx.ModelProto, new: str) -> None:
    old = model.graph.input[0].name
    model.graph.input[0].name = new
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new


@cache
def fan_models() -> dict[str, tuple[onnx.ModelProto, IntModel]]:
    meta = json.loads((ROOT / "resources/models/models.json").read_text())
    from core.model.samples import sample_anomaly_set, sample_classifier_set

    sets = {
        "fan_autoencoder": sample_anomaly_set(12),
        "fan_conv1d_classifier": sample_classifier_set(12),
    }
    out = {}
    for name, info in meta.items():
        float_model = onnx.load(str(ROOT / "resources/models" / info["file"]))
        _rename_input(float_model, "input")  # testmodels' helpers feed "input"
        calib = sets[name].features[:128].astype(np.float32) * np.float32(INPUT_SCALE)
        calib = calib.reshape(calib.shape[0], *info["input_shape"][1:])
        qdq = tm.quantize_qdq(float_model, calib)
        post = Postprocess.RECON_MSE if info["task"] == "anomaly" else Postprocess.ARGMAX
        out[name] = (qdq, extract(qdq, input_scale=INPUT_SCALE, postprocess=post, name=name))
    return out


def test_whole_pipeline_raw_samples_to_decision_is_identical_on_both_sides() -> None:
    from core.model.samples import SAMPLE_FEATURES, TAG_VALUES, simulate

    plan = compile_plan(SAMPLE_FEATURES)
    native_fe = native_extractor(plan)
    rng = np.random.default_rng(77)
    py_frames, c_frames = [], []
    for i, label in enumerate(["normal", "imbalance", "loose"] * 2):
        tags = {k: v[i % len(v)] for k, v in TAG_VALUES.items()}
        raw = simulate(tags, label, 3.0, rng)
        q = np.clip(np.rint(raw * SAMPLE_FEATURES.fixedPointScale), -32768, 32767).astype(np.int16)
        py_frames.append(extract_features(q, plan))
        c_frames.append(native_fe.extract_features(q))
        assert np.array_equal(py_frames[-1], c_frames[-1])  # fixed-point features: identical
    models = fan_models()
    # Anomaly model: one frame per window; threshold at the median numpy score.
    qdq, model = models["fan_autoencoder"]
    py = np.concatenate(py_frames)
    cc = np.concatenate(c_frames)
    ref = ex.run(model, py)
    assert ref.score is not None
    thr = float(np.median(ref.score))
    ref = ex.run(model, py, threshold=thr)
    rt = NativeRuntime(write_blob(model))
    rt.set_threshold(thr)
    dec, score, _ = rt.run(cc)
    assert np.array_equal(score.view(np.uint32), ref.score.view(np.uint32))
    assert np.array_equal(dec.astype(np.int32), ref.decision)
    assert 0 < int(dec.sum()) < len(dec)  # the threshold really splits the windows
    # Classifier: runs of 8 frames, feature-major [57, 1, 8].
    qdq, model = models["fan_conv1d_classifier"]
    t = model.input_shape[-1]

    def windows(frames: list[np.ndarray]) -> np.ndarray:
        rows = [f[s : s + t].T.reshape(-1) for f in frames for s in range(0, len(f) - t + 1, 2)]
        return np.stack(rows).astype(np.int16)

    wp, wc = windows(py_frames), windows(c_frames)
    ref = ex.run(model, wp)
    dec, _, out = NativeRuntime(write_blob(model)).run(wc)
    assert np.array_equal(dec.astype(np.int32), ref.decision)
    assert np.array_equal(out, ref.output.reshape(len(wc), -1))
    x = ex.features_to_float(model, wc).reshape(len(wc), 1, *model.input_shape[1:])
    session = tm.ort_session(qdq)  # batch-1 model: one window per call
    golden = np.concatenate([tm.ort_run(session, row)[qdq.graph.output[0].name] for row in x])
    tt = model.tensors[model.output]
    deq = (out.astype(np.float32) - np.float32(tt.zero_point)) * np.float32(tt.scale)
    assert np.array_equal(deq.reshape(golden.shape), golden)
