"""Loading and checking float ONNX models before anything runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.model.onnx_io import (
    DynamicShapeError,
    ModelError,
    UnsupportedModelError,
    load_model,
    run_float,
)
from core.paths import resources_dir


def _save(tmp_path: Path, nodes, inputs, outputs, inits=(), opset=17, name="m") -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _vi(name: str, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_sample_models_load_with_static_shapes():
    ae = load_model(resources_dir() / "models" / "fan_autoencoder.onnx")
    assert ae.input.shape == (1, 57) and ae.output.shape == (1, 57)
    cls = load_model(resources_dir() / "models" / "fan_conv1d_classifier.onnx")
    assert cls.input.shape == (1, 57, 1, 8) and cls.output.shape == (1, 2)
    assert len(ae.sha256) == 64


def test_every_unsupported_node_is_listed_at_once(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["a"], "mm"),
        helper.make_node("Tanh", ["a"], ["b"], "tanh"),
        helper.make_node("Softmax", ["b"], ["c"], "early_softmax"),
        helper.make_node("LeakyRelu", ["c"], ["y"], "leaky"),
    ]
    path = _save(tmp_path, nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])], [w])
    with pytest.raises(UnsupportedModelError) as err:
        load_model(path)
    problems = err.value.problems
    assert len(problems) == 3
    assert "tanh (Tanh)" in problems[0]
    assert "only as the model's last node" in problems[1]
    assert "leaky (LeakyRelu)" in problems[2]


def test_dynamic_batch_dimension_asks_for_a_fixed_shape(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    path = _save(tmp_path, nodes, [_vi("x", ["N", 8])], [_vi("y", ["N", 8])])
    with pytest.raises(DynamicShapeError, match=r"fixed shape, e.g. \[1, 8\]"):
        load_model(path)


def test_one_dimensional_conv_is_refused_with_the_2d_form_named(tmp_path):
    w = numpy_helper.from_array(np.ones((2, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], "c1d")]
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 16])], [_vi("y", [1, 2, 14])], [w])
    with pytest.raises(UnsupportedModelError, match=r"\[N, C, 1, W\]"):
        load_model(path)


def test_old_opset_and_garbage_files_are_clear_errors(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    path = _save(tmp_path, nodes, [_vi("x", [1, 8])], [_vi("y", [1, 8])], opset=11)
    with pytest.raises(ModelError, match="opset 11 is too old"):
        load_model(path)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model at all")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_model(junk)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "missing.onnx")


def test_float_run_matches_the_gemm_arithmetic(tmp_path, rng):
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    path = _save(tmp_path, nodes, [_vi("x", [1, 5])], [_vi("y", [1, 3])], inits)
    x = rng.normal(size=(20, 1, 5)).astype(np.float32)
    y = run_float(load_model(path), x)
    np.testing.assert_allclose(y, x[:, 0] @ w.T + b, rtol=1e-5, atol=1e-5)
