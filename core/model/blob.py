"""Write and read the INT8 model blob, field by field as ``model_format.h`` (format version 1).

``firmware/components/edge_runtime/include/edge_runtime/model_format.h`` is the source of truth;
this module mirrors it with ``struct``. ``read_blob`` treats its input as untrusted and rejects
it with a ``BlobError`` whose ``code`` names the matching ``FB_MODEL_ERR_*`` status.

Differences between the in-memory IR and the blob: tensor and layer names are not stored
(``read_blob`` names them ``t<i>`` / ``l<i>``), nor are the model notes; the LOOKUP table is
stored indexed by the uint8 bit pattern of the input (``lut[(uint8_t)x]``), the IR indexes it by
``x + 128``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from core.errors import FieldbenchError
from core.model.arena import ArenaPlan, plan_arena
from core.model.ir import QMAX, QMIN, IntModel, Layer, Op, Postprocess, Tensor, Window

MAGIC = 0x4D494246  # "FBIM"
FORMAT_VERSION = 1
HEADER = struct.Struct("<IHHIIHHIIIIIIHHfBBHfI")
TENSOR = struct.Struct("<BBH4HfiIII")
LAYER = struct.Struct("<BBbb2HHHII12HI")
CRC_START = 12
DTYPE_INT8 = 1
NO_TENSOR = 0xFFFF
MAX_TENSORS = 64
MAX_LAYERS = 64
MAX_BLOB_BYTES = 16 * 1024 * 1024
MAX_ARENA_BYTES = 4 * 1024 * 1024
MAX_SCRATCH_BYTES = 1024 * 1024
MAX_REDUCTION = 32768
MAX_ABS_BIAS = 2**30

assert HEADER.size == 64 and TENSOR.size == 32 and LAYER.size == 48

#: FB_MODEL_ERR_* names → codes (model_format.h).
ERROR_CODES = {
    "TRUNCATED": 101,
    "BAD_MAGIC": 102,
    "BAD_VERSION": 103,
    "BAD_HEADER": 104,
    "BAD_CRC": 105,
    "BAD_OFFSET": 106,
    "BAD_TENSOR": 107,
    "BAD_SHAPE": 108,
    "BAD_OP": 109,
    "BAD_LAYER": 110,
    "BAD_PARAMS": 111,
    "ARENA_OVERLAP": 112,
    "ARENA_BOUNDS": 113,
    "BAD_POSTPROCESS": 115,
    "LIMITS": 116,
}


class BlobError(FieldbenchError):
    """A model blob is corrupt, truncated or from another format version."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.status = ERROR_CODES[code]
        super().__init__(f"model blob rejected ({code}): {message}")


@dataclass(frozen=True)
class BlobInfo:
    """What ``read_blob`` recovers besides the model."""

    plan: ArenaPlan
    scratch_bytes: int
    total_bytes: int
    crc32: int


# --------------------------------------------------------------------------- writing


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _layer_params(layer: Layer) -> bytes:
    if layer.op in (Op.CONV, Op.GEMM):
        assert layer.multiplier is not None and layer.weights is not None
        bias = layer.bias if layer.bias is not None else np.zeros(len(layer.multiplier), np.int32)
        return _pad4(
            layer.multiplier.astype("<f4").tobytes()
            + bias.astype("<i4").tobytes()
            + layer.weights.astype(np.int8).tobytes()
        )
    if layer.op is Op.ADD:
        assert layer.add is not None
        return layer.add.astype("<f4").tobytes()
    if layer.op is Op.GLOBAL_AVGPOOL:
        assert layer.multiplier is not None
        return layer.multiplier.astype("<f4").tobytes()
    if layer.op is Op.LOOKUP:
        assert layer.lut is not None
        return np.roll(layer.lut.astype(np.int8), -128).tobytes()  # index = (uint8_t)x
    return b""


def _layer_attrs(layer: Layer) -> list[int]:
    attrs = [0] * 12
    if layer.window is not None:
        w = layer.window
        attrs[:10] = [*w.kernel, *w.strides, *w.dilations, *w.pads]
    if layer.op is Op.CONV:
        attrs[10] = layer.group
    elif layer.op is Op.AVGPOOL:
        attrs[10] = int(layer.count_include_pad)
    return attrs


def write_blob(model: IntModel, plan: ArenaPlan | None = None, scratch_bytes: int = 0) -> bytes:
    """The blob bytes of ``model`` with ``plan`` (computed here when not given)."""
    plan = plan or plan_arena(model)
    n_t, n_l = len(model.tensors), len(model.layers)
    if not (1 <= n_t <= MAX_TENSORS and 1 <= n_l <= MAX_LAYERS):
        raise BlobError("LIMITS", f"{n_t} tensors / {n_l} layers exceed the runtime's limits")
    tensors = bytearray()
    for t, off in zip(model.tensors, plan.offsets, strict=True):
        if len(t.shape) > 4 or max(t.shape) > 0xFFFF:
            raise BlobError("BAD_TENSOR", f"tensor {t.name!r} shape {t.shape} does not fit")
        dims = [*t.shape, 0, 0, 0, 0][:4]
        tensors += TENSOR.pack(
            DTYPE_INT8, len(t.shape), 0, *dims, t.scale, t.zero_point, off, t.size, 0
        )
    layers = bytearray()
    params = bytearray()
    for layer in model.layers:
        p = _layer_params(layer)
        p_off = len(params) if p else 0
        params += p
        ins = [*layer.inputs, NO_TENSOR][:2]
        layers += LAYER.pack(
            int(layer.op),
            len(layer.inputs),
            QMIN,
            QMAX,
            *ins,
            layer.output,
            0,
            p_off,
            len(p),
            *_layer_attrs(layer),
            0,
        )
    t_off = HEADER.size
    l_off = t_off + len(tensors)
    p_off = l_off + len(layers)
    total = p_off + len(params)
    head = HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        HEADER.size,
        0,
        total,
        n_t,
        n_l,
        t_off,
        l_off,
        p_off,
        len(params),
        plan.arena_bytes,
        scratch_bytes,
        model.input,
        model.output,
        model.input_scale,
        int(model.postprocess),
        0,
        0,
        model.threshold,
        0,
    )
    body = bytearray(head) + tensors + layers + params
    crc = zlib.crc32(bytes(body[CRC_START:])) & 0xFFFFFFFF
    struct.pack_into("<I", body, 8, crc)
    return bytes(body)


# --------------------------------------------------------------------------- reading


def _expect(cond: bool, code: str, message: str) -> None:
    if not cond:
        raise BlobError(code, message)


def read_blob(data: bytes) -> tuple[IntModel, BlobInfo]:
    """Parse and validate a blob; the inverse of ``write_blob`` (names excepted)."""
    _expect(len(data) >= HEADER.size, "TRUNCATED", f"{len(data)} bytes is shorter than a header")
    h = HEADER.unpack_from(data, 0)
    (
        magic,
        version,
        hbytes,
        crc,
        total,
        n_t,
        n_l,
        t_off,
        l_off,
        p_off,
        p_bytes,
        arena,
        scratch,
        in_id,
        out_id,
        in_scale,
        post,
        flags,
        res0,
        thr,
        res1,
    ) = h
    _expect(magic == MAGIC, "BAD_MAGIC", f"magic {magic:#010x} is not an FBIM model")
    _expect(version == FORMAT_VERSION, "BAD_VERSION", f"format version {version} is not 1")
    _expect(len(data) >= total, "TRUNCATED", f"{len(data)} of {total} bytes present")
    _expect(
        hbytes == HEADER.size
        and len(data) == total
        and total <= MAX_BLOB_BYTES
        and flags == 0
        and res0 == 0
        and res1 == 0
        and bool(np.isfinite(in_scale))
        and in_scale > 0,
        "BAD_HEADER",
        "header fields are inconsistent",
    )
    _expect(zlib.crc32(data[CRC_START:total]) & 0xFFFFFFFF == crc, "BAD_CRC", "CRC-32 mismatch")
    _expect(1 <= n_t <= MAX_TENSORS and 1 <= n_l <= MAX_LAYERS, "LIMITS", "too many records")
    _expect(
        t_off == HEADER.size
        and l_off == t_off + TENSOR.size * n_t
        and p_off == l_off + LAYER.size * n_l
        and p_bytes % 4 == 0
        and p_off + p_bytes == total,
        "BAD_OFFSET",
        "sections are not in the canonical layout",
    )
    _expect(
        arena <= MAX_ARENA_BYTES and scratch <= MAX_SCRATCH_BYTES,
        "ARENA_BOUNDS",
        "arena or scratch too large",
    )
    tensors: list[Tensor] = []
    offsets: list[int] = []
    for i in range(n_t):
        dt, rank, tflags, *rest = TENSOR.unpack_from(data, t_off + TENSOR.size * i)
        dims, (scale, zp, a_off, size, res) = rest[:4], rest[4:]
        _expect(
            dt == DTYPE_INT8
            and 1 <= rank <= 4
            and tflags == 0
            and res == 0
            and all(d >= 1 for d in dims[:rank])
            and all(d == 0 for d in dims[rank:])
            and bool(np.isfinite(scale))
            and scale > 0
            and QMIN <= zp <= QMAX
            and size == int(np.prod(dims[:rank])),
            "BAD_TENSOR",
            f"tensor {i} record is invalid",
        )
        _expect(a_off + size <= arena, "ARENA_BOUNDS", f"tensor {i} lies outside the arena")
        tensors.append(Tensor(f"t{i}", tuple(int(d) for d in dims[:rank]), float(scale), zp))
        offsets.append(a_off)
    _expect(in_id < n_t and out_id < n_t and in_id != out_id, "BAD_HEADER", "bad tensor ids")
    params = data[p_off:total]
    layers = [_read_layer(data, l_off + LAYER.size * i, i, params, tensors) for i in range(n_l)]
    _expect(post in (1, 2) and bool(np.isfinite(thr)), "BAD_POSTPROCESS", "bad post-processing")
    model = IntModel(
        name="blob",
        tensors=tuple(tensors),
        layers=tuple(layers),
        input=in_id,
        output=out_id,
        input_scale=float(in_scale),
        postprocess=Postprocess(post),
        threshold=float(thr),
    )
    _check_dataflow(model)
    if model.postprocess is Postprocess.RECON_MSE:
        _expect(
            tensors[out_id].size == tensors[in_id].size,
            "BAD_POSTPROCESS",
            "RECON_MSE needs equal input and output sizes",
        )
    elif tensors[out_id].size > 127:
        raise BlobError("BAD_POSTPROCESS", "ARGMAX over more than 127 outputs")
    from core.model.arena import ArenaError, lifetimes, validate_plan

    plan = ArenaPlan(tuple(offsets), arena, tuple(lifetimes(model)))
    try:
        validate_plan(model, plan)
    except ArenaError as exc:
        raise BlobError("ARENA_OVERLAP", str(exc)) from None
    return model, BlobInfo(plan, scratch, total, crc)


def _read_layer(data: bytes, at: int, i: int, params: bytes, tensors: list[Tensor]) -> Layer:
    (op_code, n_in, qmin, qmax, in0, in1, out, res0, p_off, p_len, *rest) = LAYER.unpack_from(
        data, at
    )
    attrs, res1 = rest[:12], rest[12]
    _expect(op_code in {int(o) for o in Op}, "BAD_OP", f"layer {i}: unknown op {op_code}")
    op = Op(op_code)
    n_t = len(tensors)
    ins = (in0, in1)[:n_in]
    _expect(
        n_in == (2 if op is Op.ADD else 1)
        and (n_in == 2 or in1 == NO_TENSOR)
        and all(t < n_t for t in ins)
        and out < n_t
        and res0 == 0
        and res1 == 0
        and qmin == QMIN
        and qmax == QMAX,
        "BAD_LAYER",
        f"layer {i}: record is invalid",
    )
    _expect(
        p_off % 4 == 0 and p_off + p_len <= len(params) and (p_len > 0 or p_off == 0),
        "BAD_OFFSET",
        f"layer {i}: params range outside the params section",
    )
    blob = params[p_off : p_off + p_len]
    t_in, t_out = tensors[ins[0]], tensors[out]
    name = f"l{i}"
    window = Window(
        (attrs[0], attrs[1]),
        (attrs[2], attrs[3]),
        (attrs[6], attrs[7], attrs[8], attrs[9]),
        (attrs[4], attrs[5]),
    )
    if op in (Op.CONV, Op.GEMM):
        if op is Op.CONV:
            _expect(
                len(t_in.shape) == 4
                and len(t_out.shape) == 4
                and attrs[10] >= 1
                and all(a >= 1 for a in attrs[:6]),
                "BAD_LAYER",
                f"layer {i}: bad attrs",
            )
            c_out, group = t_out.shape[1], attrs[10]
            _expect(
                t_in.shape[1] % group == 0 and c_out % group == 0,
                "BAD_SHAPE",
                f"layer {i}: channels do not divide by the group",
            )
            w_shape: tuple[int, ...] = (c_out, t_in.shape[1] // group, attrs[0], attrs[1])
            _expect(
                window.out_hw(*t_in.shape[2:]) == t_out.shape[2:],
                "BAD_SHAPE",
                f"layer {i}: output shape does not follow from the window",
            )
        else:
            c_out = t_out.size
            w_shape = (c_out, t_in.size)
            group = 1
        n_w = int(np.prod(w_shape))
        _expect(
            w_shape[1] * (w_shape[2] * w_shape[3] if op is Op.CONV else 1) <= MAX_REDUCTION,
            "BAD_PARAMS",
            f"layer {i}: reduction too long",
        )
        _expect(p_len == 8 * c_out + n_w + (-n_w % 4), "BAD_PARAMS", f"layer {i}: params size")
        m = np.frombuffer(blob, "<f4", c_out, 0).astype(np.float32)
        b = np.frombuffer(blob, "<i4", c_out, 4 * c_out).astype(np.int32)
        w = np.frombuffer(blob, np.int8, n_w, 8 * c_out).reshape(w_shape).copy()
        _expect(
            bool(np.all(np.isfinite(m)) and np.all(m > 0))
            and bool(np.all(np.abs(b.astype(np.int64)) <= MAX_ABS_BIAS)),
            "BAD_PARAMS",
            f"layer {i}: multiplier or bias out of range",
        )
        return Layer(
            op,
            name,
            ins,
            out,
            window=window if op is Op.CONV else None,
            group=group,
            weights=w,
            bias=b,
            multiplier=m,
        )
    if op is Op.ADD:
        _expect(
            p_len == 12 and tensors[ins[1]].size == t_in.size == t_out.size,
            "BAD_PARAMS",
            f"layer {i}: ADD params or shapes",
        )
        add = np.frombuffer(blob, "<f4", 3).astype(np.float32)
        _expect(bool(np.all(np.isfinite(add))), "BAD_PARAMS", f"layer {i}: ADD params")
        return Layer(op, name, ins, out, add=add)
    if op in (Op.MAXPOOL, Op.AVGPOOL):
        _expect(
            p_len == 0
            and len(t_in.shape) == 4
            and all(a >= 1 for a in attrs[:6])
            and attrs[11] == 0,
            "BAD_LAYER",
            f"layer {i}: pooling attrs",
        )
        _expect(
            window.out_hw(*t_in.shape[2:]) == t_out.shape[2:] and t_out.shape[:2] == t_in.shape[:2],
            "BAD_SHAPE",
            f"layer {i}: pool shape",
        )
        return Layer(
            op,
            name,
            ins,
            out,
            window=window,
            count_include_pad=bool(attrs[10]) if op is Op.AVGPOOL else False,
        )
    _expect(not any(attrs), "BAD_LAYER", f"layer {i}: attrs must be 0")
    if op is Op.GLOBAL_AVGPOOL:
        _expect(p_len == 4, "BAD_PARAMS", f"layer {i}: GAP params")
        m = np.frombuffer(blob, "<f4", 1).astype(np.float32)
        _expect(bool(np.isfinite(m[0])) and m[0] > 0, "BAD_PARAMS", f"layer {i}: GAP M")
        return Layer(op, name, ins, out, multiplier=m)
    if op is Op.LOOKUP:
        _expect(p_len == 256, "BAD_PARAMS", f"layer {i}: LUT size")
        lut = np.roll(np.frombuffer(blob, np.int8, 256), 128).copy()
        return Layer(op, name, ins, out, lut=lut)
    _expect(p_len == 0 and t_in.size == t_out.size, "BAD_SHAPE", f"layer {i}: reshape size")
    return Layer(op, name, ins, out)


def _check_dataflow(model: IntModel) -> None:
    written = {model.input}
    for i, layer in enumerate(model.layers):
        _expect(
            all(t in written for t in layer.inputs),
            "BAD_LAYER",
            f"layer {i} reads a tensor before it is written",
        )
        _expect(layer.output not in written, "BAD_LAYER", f"layer {i} writes a tensor twice")
        written.add(layer.output)
    _expect(model.output in written, "BAD_LAYER", "no layer writes the output tensor")
