"""Blob round trips (IR → blob → IR → blob), corrupt-blob rejection, arena plans, budgets."""

from __future__ import annotations

import struct
import zlib
from functools import cache

import numpy as np
import pytest

from core.model import executor as ex
from core.model import testmodels as tm
from core.model.arena import ArenaError, ArenaPlan, lifetimes, plan_arena, validate_plan
from core.model.blob import HEADER, LAYER, TENSOR, BlobError, read_blob, write_blob
from core.model.budget import CYCLES_PER_MAC, compute_budget
from core.model.extract import extract
from core.model.ir import IntModel, Op, Postprocess

MODELS = ["mlp", "autoencoder", "conv1d", "dscnn1d", "addpool"]


@cache
def int_model(name: str) -> IntModel:
    float_model = tm.BUILDERS[name](batch=1)
    qdq = tm.quantize_qdq(float_model, tm.test_inputs(float_model, 64, seed=1))
    post = Postprocess.RECON_MSE if name == "autoencoder" else Postprocess.ARGMAX
    return extract(qdq, input_scale=1 / 256, postprocess=post, threshold=0.25, name=name)


@pytest.mark.parametrize("name", MODELS)
def test_blob_round_trip_keeps_every_number_and_every_output(name: str) -> None:
    model = int_model(name)
    blob = write_blob(model)
    back, info = read_blob(blob)
    assert write_blob(back, info.plan) == blob
    assert info.total_bytes == len(blob)
    for a, b in zip(model.tensors, back.tensors, strict=True):
        assert (a.shape, np.float32(a.scale), a.zero_point) == (
            b.shape,
            np.float32(b.scale),
            b.zero_point,
        )
    for la, lb in zip(model.layers, back.layers, strict=True):
        assert (la.op, la.inputs, la.output, la.window, la.group) == (
            lb.op,
            lb.inputs,
            lb.output,
            lb.window,
            lb.group,
        )
        for field in ("weights", "bias", "multiplier", "lut", "add"):
            va, vb = getattr(la, field), getattr(lb, field)
            assert (va is None) == (vb is None)
            if va is not None:
                assert va.tobytes() == vb.tobytes(), field
    assert (back.input, back.output, back.postprocess) == (
        model.input,
        model.output,
        model.postprocess,
    )
    assert np.float32(back.threshold) == np.float32(0.25)
    x = tm.test_inputs(tm.BUILDERS[name](batch=1), 300, seed=3)
    assert np.array_equal(ex.run_float(model, x).output, ex.run_float(back, x).output)


def _recrc(blob: bytearray) -> bytes:
    struct.pack_into("<I", blob, 8, zlib.crc32(bytes(blob[12:])) & 0xFFFFFFFF)
    return bytes(blob)


def _corrupt(offset: int, fmt: str, value: int, fix_crc: bool = True) -> bytes:
    blob = bytearray(write_blob(int_model("addpool")))
    struct.pack_into(fmt, blob, offset, value)
    return _recrc(blob) if fix_crc else bytes(blob)


@pytest.mark.parametrize(
    ("blob", "code"),
    [
        (lambda: b"FBIM", "TRUNCATED"),
        (lambda: write_blob(int_model("mlp"))[:-3], "TRUNCATED"),
        (lambda: _corrupt(0, "<I", 0x12345678), "BAD_MAGIC"),
        (lambda: _corrupt(4, "<H", 2), "BAD_VERSION"),
        (lambda: _corrupt(HEADER.size + 12, "<f", 0.5, fix_crc=False), "BAD_CRC"),
        (lambda: _corrupt(24, "<I", 65), "BAD_OFFSET"),
        (lambda: _corrupt(16, "<H", 200), "LIMITS"),
        (lambda: _corrupt(HEADER.size, "<B", 3), "BAD_TENSOR"),
        (lambda: _corrupt(48, "<f", float("nan")), "BAD_HEADER"),
        (lambda: _corrupt(52, "<B", 9), "BAD_POSTPROCESS"),
    ],
)
def test_corrupt_blobs_are_rejected_with_a_distinct_code(blob: object, code: str) -> None:
    with pytest.raises(BlobError) as err:
        read_blob(blob())  # type: ignore[operator]
    assert err.value.code == code


def test_unknown_ops_and_overlapping_arena_offsets_are_rejected() -> None:
    model = int_model("addpool")
    blob = bytearray(write_blob(model))
    layer0 = HEADER.size + TENSOR.size * len(model.tensors)
    bad_op = bytearray(blob)
    struct.pack_into("<B", bad_op, layer0, 42)
    with pytest.raises(BlobError) as err:
        read_blob(_recrc(bad_op))
    assert err.value.code == "BAD_OP"
    # Put a conv's output on top of its (still live) input.
    conv = next(la for la in model.layers if la.op is Op.CONV)
    src_off = struct.unpack_from("<I", blob, HEADER.size + TENSOR.size * conv.inputs[0] + 20)[0]
    overlap = bytearray(blob)
    struct.pack_into("<I", overlap, HEADER.size + TENSOR.size * conv.output + 20, src_off)
    with pytest.raises(BlobError) as err:
        read_blob(_recrc(overlap))
    assert err.value.code in ("ARENA_OVERLAP", "ARENA_BOUNDS")
    bad_params = bytearray(blob)
    struct.pack_into("<I", bad_params, layer0 + 16, 7)  # params_bytes of layer 0
    with pytest.raises(BlobError):
        read_blob(_recrc(bad_params))
    assert LAYER.size == 48


@pytest.mark.parametrize("name", MODELS)
def test_arena_plan_reuses_memory_without_live_overlaps(name: str) -> None:
    model = int_model(name)
    plan = plan_arena(model)
    validate_plan(model, plan)
    assert all(o % 16 == 0 for o in plan.offsets)
    assert plan.arena_bytes < sum(t.size for t in model.tensors)
    for layer in model.layers:
        if layer.op is Op.RESHAPE:
            assert plan.offsets[layer.output] == plan.offsets[layer.inputs[0]]


def test_validate_plan_catches_two_live_tensors_on_the_same_bytes() -> None:
    model = int_model("mlp")
    plan = plan_arena(model)
    layer = model.layers[0]
    offsets = list(plan.offsets)
    offsets[layer.output] = offsets[layer.inputs[0]]
    with pytest.raises(ArenaError):
        validate_plan(model, ArenaPlan(tuple(offsets), plan.arena_bytes, plan.lifetimes))


def test_recon_mse_keeps_the_input_alive_to_the_end() -> None:
    model = int_model("autoencoder")
    assert lifetimes(model)[model.input][1] == len(model.layers)


def test_budget_reports_arena_flash_macs_and_a_stated_latency_estimate() -> None:
    model = int_model("mlp")
    blob = write_blob(model)
    budget = compute_budget(model, blob=blob, fe_pool=1000)
    assert budget.flash_bytes == len(blob)
    assert budget.macs == 64 + 64 * 32 + 32 * 16 + 16 * 4
    assert budget.pool_bytes == plan_arena(model).arena_bytes + 1000
    assert budget.cycles_per_mac == CYCLES_PER_MAC
    assert budget.latency_ms > budget.macs * CYCLES_PER_MAC / 240e6 * 1000
    assert "estimate" in budget.latency_source
    d = budget.as_dict()
    assert {"pool_bytes", "flash_bytes", "macs", "latency_ms", "cycles_per_mac"} <= set(d)
    assert budget.within()
