"""Typed payloads of protocol version 1 (docs/protocol.md §3–5), packed and parsed with struct."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from core.bundle.format import REASONS
from core.link.frame import MAX_PAYLOAD, PROTOCOL_VERSION, Frame


class MsgType(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    ERROR = 0x03
    PING = 0x04
    SAMPLE_BLOCK = 0x10
    FEATURE_BLOCK = 0x11
    INFERENCE = 0x12
    STREAM_START = 0x20
    STREAM_START_RESP = 0x21
    STREAM_STOP = 0x22
    STREAM_STOP_RESP = 0x23
    SET_CALIBRATION_OFFSET = 0x24
    SET_CALIBRATION_OFFSET_RESP = 0x25
    GET_STATUS = 0x26
    GET_STATUS_RESP = 0x27
    ROLLBACK = 0x28
    ROLLBACK_RESP = 0x29
    REBOOT = 0x2A
    REBOOT_RESP = 0x2B
    CONFIRM = 0x2C
    CONFIRM_RESP = 0x2D
    TELEMETRY = 0x40
    OTA_BEGIN = 0x50
    OTA_BEGIN_RESP = 0x51
    OTA_CHUNK = 0x52
    OTA_CHUNK_RESP = 0x53
    OTA_STATUS = 0x54
    OTA_STATUS_RESP = 0x55
    OTA_END = 0x56
    OTA_END_RESP = 0x57
    OTA_COMMIT = 0x58
    OTA_COMMIT_RESP = 0x59
    OTA_ABORT = 0x5A
    OTA_ABORT_RESP = 0x5B


class Chip(IntEnum):
    UNKNOWN = 0
    ESP32_S3 = 1
    HOST_TWIN = 2
    SIMULATOR = 3


class ErrorCode(IntEnum):
    NONE = 0
    UNSUPPORTED_VERSION = 1
    UNKNOWN_TYPE = 2
    BAD_PAYLOAD = 3
    BUSY = 4
    INTERNAL = 5
    OVERRUN = 6


COMMAND_ERROR_BASE = 0x100  # + SlotReason
OTA_ERROR_BASE = 0x200  # + OtaError
BUNDLE_ERROR_BASE = 0x280  # + edge::bundle::Reason


class SlotReason(IntEnum):
    """The firmware's ``node::Reason`` (docs/device.md); error code = 0x100 + value."""

    NONE = 0
    TRIAL_IN_PROGRESS = 1
    NO_SUCH_SLOT = 2
    SLOT_EMPTY = 3
    BAD_MANIFEST = 4
    APP_IMAGE_INVALID = 5
    APP_HASH_MISMATCH = 6
    DATA_HASH_MISMATCH = 7
    WRONG_TARGET = 8
    EPOCH_TOO_LOW = 9
    SLOT_INVALIDATED = 10
    TOO_LARGE = 11
    NOT_STAGING = 12
    OUT_OF_ORDER = 13
    INCOMPLETE = 14
    FLASH_ERROR = 15
    SAME_SLOT = 16


class OtaError(IntEnum):
    """OTA transfer errors; error code = 0x200 + value (docs/protocol.md §10.1)."""

    WRONG_STATE = 1
    OUT_OF_ORDER = 2
    BAD_CHUNK = 3
    CHUNK_CRC = 4
    WRONG_TRANSFER = 5
    DIGEST_MISMATCH = 6
    BATTERY_LOW = 7
    INCOMPLETE = 8
    TOO_LARGE = 9
    BAD_PREFIX = 10


# Bundle verdicts travel as BUNDLE_ERROR_BASE + their number in the bundle format's enum.
BUNDLE_REASONS = REASONS


def slot_error(reason: int) -> int:
    return COMMAND_ERROR_BASE + int(reason)


def ota_error(err: int) -> int:
    return OTA_ERROR_BASE + int(err)


def bundle_error(reason: int) -> int:
    return BUNDLE_ERROR_BASE + int(reason)


def error_name(code: int) -> str:
    """A stable name for any ERROR code: ``BAD_PAYLOAD``, ``SLOT:EPOCH_TOO_LOW``, …"""
    try:
        if code < COMMAND_ERROR_BASE:
            return ErrorCode(code).name
        if code < OTA_ERROR_BASE:
            return "SLOT:" + SlotReason(code - COMMAND_ERROR_BASE).name
        if code < BUNDLE_ERROR_BASE:
            return "OTA:" + OtaError(code - OTA_ERROR_BASE).name
        if code - BUNDLE_ERROR_BASE < len(BUNDLE_REASONS):
            return "BUNDLE:" + BUNDLE_REASONS[code - BUNDLE_ERROR_BASE]
    except ValueError:
        pass
    return f"0x{code:X}"


SAMPLE_FORMAT_INT16 = 1
NO_REQUEST = 0xFFFFFFFF
MAX_STRING = 64
MAX_CHANNELS = 32

_HELLO = struct.Struct("<BBH")
_INFO = struct.Struct("<BBBB6sHIfHH")
_BLOCK = struct.Struct("<QHBB")
_ERROR = struct.Struct("<IHH")
BLOCK_HEADER_SIZE = _BLOCK.size  # 12
INFO_FIXED_SIZE = _INFO.size  # 24


class MessageError(ValueError):
    """A frame with a valid CRC whose payload does not match its type's layout."""


_STATUS = struct.Struct("<BBBBBBBBII")
_SLOT = struct.Struct("<BBBBIIIhH32s32s8sI")
_OTA_STATUS = struct.Struct("<BBHIII32s")
_OTA_BEGIN = struct.Struct("<I32sBBH")
_CHUNK = struct.Struct("<IHHII8s8s")
_FEATURES = struct.Struct("<IHH")
_INFERENCE = struct.Struct("<IbBH")
_CAL_REQ = struct.Struct("<BBh")
_CAL_RESP = struct.Struct("<hH")
_REQ_SEQ = struct.Struct("<I")
_TELEMETRY = struct.Struct("<BBH")
_EXT = struct.Struct("<BH")
SLOT_RECORD_SIZE = _SLOT.size  # 96
DEVICE_STATUS_SIZE = _STATUS.size + 2 * SLOT_RECORD_SIZE  # 208
OTA_STATUS_SIZE = _OTA_STATUS.size  # 48
CHUNK_HEADER_SIZE = _CHUNK.size  # 32
OTA_CHUNK_SIZE = 4096
MAX_OTA_PREFIX = 64 + 2048 + 72
INFO_EXT_DEVICE_STATUS = 1
NO_SLOT = 0xFF
OTA_BEGIN_RESTART = 0x01

assert SLOT_RECORD_SIZE == 96 and DEVICE_STATUS_SIZE == 208 and OTA_STATUS_SIZE == 48
assert CHUNK_HEADER_SIZE == 32


class OtaState(IntEnum):
    """``ota_state`` of the device status and the OTA status (§10.3)."""

    IDLE = 0
    RECEIVING = 1
    VERIFIED = 2
    COMMITTED = 3


class OtadataState(IntEnum):
    """ESP-IDF's esp_ota_img_states_t as a slot record carries it (0xFF: no entry)."""

    NEW = 0
    PENDING_VERIFY = 1
    VALID = 2
    INVALID = 3
    ABORTED = 4
    NONE = 0xFF


class BootOutcome(IntEnum):
    """The firmware's ``node::BootOutcome``."""

    RUNNING = 0
    CONFIRMED = 1
    REVERT_REQUESTED = 2
    SWITCH_REQUESTED = 3
    NO_VALID_BUNDLE = 4
    TRIAL_UNREVERTABLE = 5
    POWER_LOST = 6


SLOT_FLAG_RUNNING = 0x01
SLOT_FLAG_NEXT_BOOT = 0x02
SLOT_FLAG_HAS_BUNDLE = 0x04
STATUS_FLAG_SAFE_MODE = 0x01
STATUS_FLAG_TRIAL = 0x02


def _cstr(b: bytes) -> str:
    return b.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _pad(s: str, n: int) -> bytes:
    b = s.encode("utf-8")[:n]
    return b + bytes(n - len(b))


@dataclass(frozen=True)
class SlotStatus:
    """One bundle slot as the device reports it (§10.3)."""

    slot: int
    ota_state: int = OtadataState.NONE
    verify_reason: int = SlotReason.SLOT_EMPTY
    flags: int = 0
    epoch: int = 0
    app_size: int = 0
    data_size: int = 0
    calibration_offset: int = 0
    bundle_version: str = ""
    firmware_version: str = ""
    bundle_digest: bytes = bytes(8)

    @property
    def running(self) -> bool:
        return bool(self.flags & SLOT_FLAG_RUNNING)

    @property
    def next_boot(self) -> bool:
        return bool(self.flags & SLOT_FLAG_NEXT_BOOT)

    @property
    def has_bundle(self) -> bool:
        return bool(self.flags & SLOT_FLAG_HAS_BUNDLE)

    @property
    def verifies(self) -> bool:
        return self.verify_reason == SlotReason.NONE

    def pack(self) -> bytes:
        return _SLOT.pack(
            self.slot,
            self.ota_state,
            self.verify_reason,
            self.flags,
            self.epoch,
            self.app_size,
            self.data_size,
            self.calibration_offset,
            0,
            _pad(self.bundle_version, 32),
            _pad(self.firmware_version, 32),
            (bytes(self.bundle_digest) + bytes(8))[:8],
            0,
        )

    @classmethod
    def unpack(cls, p: bytes | memoryview, offset: int = 0) -> SlotStatus:
        f = _SLOT.unpack_from(p, offset)
        return cls(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], _cstr(f[9]), _cstr(f[10]), f[11])


@dataclass(frozen=True)
class DeviceStatus:
    """GET_STATUS's answer and INFO's extension (§10.3)."""

    running_slot: int
    slots: tuple[SlotStatus, SlotStatus]
    boot_outcome: int = BootOutcome.RUNNING
    boot_reason: int = SlotReason.NONE
    battery_percent: int = 100
    ota_state: int = OtaState.IDLE
    health: int = 0
    flags: int = 0
    secure_version: int = 0
    firmware_abi: int = 0
    status_version: int = 1

    @property
    def safe_mode(self) -> bool:
        return bool(self.flags & STATUS_FLAG_SAFE_MODE)

    @property
    def on_trial(self) -> bool:
        return bool(self.flags & STATUS_FLAG_TRIAL)

    def pack(self) -> bytes:
        head = _STATUS.pack(
            self.status_version,
            self.running_slot,
            self.boot_outcome,
            self.boot_reason,
            self.battery_percent,
            self.ota_state,
            self.health,
            self.flags,
            self.secure_version,
            self.firmware_abi & 0xFFFF,
        )
        return head + self.slots[0].pack() + self.slots[1].pack()

    @classmethod
    def unpack(cls, p: bytes | memoryview, offset: int = 0) -> DeviceStatus:
        if len(p) - offset < DEVICE_STATUS_SIZE:
            raise MessageError(f"device status of {len(p) - offset} bytes, expected 208")
        v, run, outcome, reason, batt, ota, health, flags, sv, abi = _STATUS.unpack_from(p, offset)
        base = offset + _STATUS.size
        slots = (SlotStatus.unpack(p, base), SlotStatus.unpack(p, base + SLOT_RECORD_SIZE))
        return cls(run, slots, outcome, reason, batt, ota, health, flags, sv, abi & 0xFFFF, v)


@dataclass(frozen=True)
class OtaStatus:
    """The OTA status body (§10.4)."""

    state: int = OtaState.IDLE
    slot: int = NO_SLOT
    size: int = 0
    durable_offset: int = 0
    chunk_size: int = OTA_CHUNK_SIZE
    sha256: bytes = bytes(32)

    def pack(self) -> bytes:
        return _OTA_STATUS.pack(
            self.state, self.slot, 0, self.size, self.durable_offset, self.chunk_size, self.sha256
        )

    @classmethod
    def unpack(cls, p: bytes | memoryview, offset: int = 0) -> OtaStatus:
        if len(p) - offset != OTA_STATUS_SIZE:
            raise MessageError(f"OTA status of {len(p) - offset} bytes, expected 48")
        st, slot, _, size, durable, chunk, sha = _OTA_STATUS.unpack_from(p, offset)
        return cls(st, slot, size, durable, chunk, sha)


@dataclass(frozen=True)
class Request:
    """A host → device command with no body (STREAM_START, GET_STATUS, ROLLBACK, REBOOT, CONFIRM,
    OTA_STATUS, OTA_END, OTA_COMMIT, OTA_ABORT)."""

    type: int

    def pack(self) -> bytes:
        return b""


@dataclass(frozen=True)
class SetCalibrationOffset:
    offset: int
    slot: int = NO_SLOT

    type = MsgType.SET_CALIBRATION_OFFSET

    def pack(self) -> bytes:
        return _CAL_REQ.pack(self.slot, 0, self.offset)


@dataclass(frozen=True)
class OtaBegin:
    """Opens (or resumes) a transfer; ``prefix`` = header ‖ manifest ‖ signature of the bundle."""

    size: int
    sha256: bytes
    prefix: bytes = field(repr=False)
    slot: int = NO_SLOT
    restart: bool = False

    type = MsgType.OTA_BEGIN

    def pack(self) -> bytes:
        if len(self.sha256) != 32:
            raise ValueError("OTA_BEGIN: the digest must be 32 bytes")
        if len(self.prefix) > MAX_OTA_PREFIX:
            raise ValueError(f"OTA_BEGIN: a prefix of {len(self.prefix)} bytes is too long")
        flags = OTA_BEGIN_RESTART if self.restart else 0
        head = _OTA_BEGIN.pack(self.size, self.sha256, self.slot, flags, len(self.prefix))
        return head + self.prefix


@dataclass(frozen=True)
class OtaChunk:
    offset: int
    data: bytes = field(repr=False)
    size: int = 0
    digest_prefix: bytes = bytes(8)
    crc: int | None = None  # None: computed from ``data`` when packed

    type = MsgType.OTA_CHUNK

    def pack(self) -> bytes:
        crc = zlib.crc32(self.data) if self.crc is None else self.crc
        head = _CHUNK.pack(
            self.offset, len(self.data), 0, crc, self.size, self.digest_prefix[:8], bytes(8)
        )
        return head + self.data

    @property
    def crc_ok(self) -> bool:
        return self.crc is None or self.crc == zlib.crc32(self.data)


@dataclass(frozen=True)
class Response:
    """A device → host answer (type = request + 1) with its body still raw."""

    type: int
    request_seq: int
    body: bytes = field(repr=False, default=b"")

    def pack(self) -> bytes:
        return _REQ_SEQ.pack(self.request_seq) + self.body


@dataclass(frozen=True)
class StatusResponse:
    """GET_STATUS / ROLLBACK / CONFIRM answers."""

    type: int
    request_seq: int
    status: DeviceStatus

    def pack(self) -> bytes:
        return _REQ_SEQ.pack(self.request_seq) + self.status.pack()


@dataclass(frozen=True)
class OtaResponse:
    """Every OTA answer (0x51 … 0x5B)."""

    type: int
    request_seq: int
    ota: OtaStatus

    def pack(self) -> bytes:
        return _REQ_SEQ.pack(self.request_seq) + self.ota.pack()


@dataclass(frozen=True)
class CalibrationResponse:
    request_seq: int
    offset: int
    records_left: int

    type = MsgType.SET_CALIBRATION_OFFSET_RESP

    def pack(self) -> bytes:
        return _REQ_SEQ.pack(self.request_seq) + _CAL_RESP.pack(self.offset, self.records_left)


@dataclass(frozen=True)
class FeatureBlock:
    """``features`` is int16 shaped (frame_count, features_per_frame)."""

    first_frame: int
    features: npt.NDArray[np.int16] = field(repr=False)

    type = MsgType.FEATURE_BLOCK

    def pack(self) -> bytes:
        n, f = self.features.shape
        head = _FEATURES.pack(self.first_frame, n, f)
        return head + np.ascontiguousarray(self.features, dtype="<i2").tobytes()


@dataclass(frozen=True)
class Inference:
    frame: int
    score: int
    decision: int

    type = MsgType.INFERENCE

    def pack(self) -> bytes:
        return _INFERENCE.pack(self.frame, self.score, self.decision, 0)


@dataclass(frozen=True)
class Telemetry:
    kind: int
    body: bytes = field(repr=False, default=b"")
    telemetry_version: int = 1

    type = MsgType.TELEMETRY

    def pack(self) -> bytes:
        return _TELEMETRY.pack(self.telemetry_version, self.kind, 0) + self.body


_EMPTY_REQUESTS = frozenset(
    {
        MsgType.STREAM_START,
        MsgType.STREAM_STOP,
        MsgType.GET_STATUS,
        MsgType.ROLLBACK,
        MsgType.REBOOT,
        MsgType.CONFIRM,
        MsgType.OTA_STATUS,
        MsgType.OTA_END,
        MsgType.OTA_COMMIT,
        MsgType.OTA_ABORT,
    }
)
_STATUS_RESPONSES = frozenset(
    {MsgType.GET_STATUS_RESP, MsgType.ROLLBACK_RESP, MsgType.CONFIRM_RESP}
)
_OTA_RESPONSES = frozenset(range(MsgType.OTA_BEGIN_RESP, MsgType.OTA_ABORT_RESP + 1, 2))
_PLAIN_RESPONSES = frozenset(
    {MsgType.STREAM_START_RESP, MsgType.STREAM_STOP_RESP, MsgType.REBOOT_RESP}
)


def response_type(request_type: int) -> int:
    """The success answer's type for a request type."""
    return request_type + 1


@dataclass(frozen=True)
class Hello:
    min_version: int = PROTOCOL_VERSION
    max_version: int = PROTOCOL_VERSION

    type = MsgType.HELLO

    def pack(self) -> bytes:
        return _HELLO.pack(self.min_version, self.max_version, 0)


@dataclass(frozen=True)
class Info:
    """What a device says about itself and its sample stream."""

    sample_rate: float
    channel_names: tuple[str, ...]
    units: str = "g"
    fixed_point_scale: float = 8000.0
    mac: bytes = bytes(6)
    chip: int = Chip.UNKNOWN
    firmware_version: str = ""
    bundle_version: str = ""
    samples_per_block: int = 64
    protocol_version: int = PROTOCOL_VERSION
    sample_format: int = SAMPLE_FORMAT_INT16
    status: DeviceStatus | None = None  # INFO extension kind 1 (§10.3)

    type = MsgType.INFO

    @property
    def channels(self) -> int:
        return len(self.channel_names)

    @property
    def device_id(self) -> str:
        """The MAC as 12 lowercase hex digits (stored only as a salted hash)."""
        return self.mac.hex()

    def pack(self) -> bytes:
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ValueError(f"INFO: {self.channels} channels, must be 1 … {MAX_CHANNELS}")
        if len(self.mac) != 6:
            raise ValueError("INFO: the MAC must be 6 bytes")
        fixed = _INFO.pack(
            self.protocol_version,
            int(self.chip),
            self.channels,
            self.sample_format,
            self.mac,
            0,
            round(self.sample_rate * 1000),
            self.fixed_point_scale,
            self.samples_per_block,
            0,
        )
        strings = [self.firmware_version, self.bundle_version, self.units, *self.channel_names]
        out = bytearray(fixed)
        for s in strings:
            b = s.encode("utf-8")[:MAX_STRING]
            out.append(len(b))
            out += b
        if self.status is not None:
            out += _EXT.pack(INFO_EXT_DEVICE_STATUS, DEVICE_STATUS_SIZE) + self.status.pack()
        return bytes(out)


@dataclass(frozen=True)
class SampleBlock:
    """``samples`` is int16 shaped (sample_count, channel_count)."""

    first_sample: int
    samples: npt.NDArray[np.int16] = field(repr=False)

    type = MsgType.SAMPLE_BLOCK

    @property
    def sample_count(self) -> int:
        return int(self.samples.shape[0])

    def pack(self) -> bytes:
        n, c = self.samples.shape
        head = _BLOCK.pack(self.first_sample, n, c, SAMPLE_FORMAT_INT16)
        return head + np.ascontiguousarray(self.samples, dtype="<i2").tobytes()


@dataclass(frozen=True)
class ErrorMessage:
    code: int
    message: str = ""
    request_seq: int = NO_REQUEST

    type = MsgType.ERROR

    def pack(self) -> bytes:
        text = self.message.encode("utf-8")[:200]
        return _ERROR.pack(self.request_seq, self.code, 0) + text


@dataclass(frozen=True)
class UnknownMessage:
    """A valid frame of a type this host does not implement (counted, passed on)."""

    type: int
    payload: bytes = field(repr=False)


Message = (
    Hello
    | Info
    | SampleBlock
    | ErrorMessage
    | UnknownMessage
    | FeatureBlock
    | Inference
    | Telemetry
    | Request
    | SetCalibrationOffset
    | OtaBegin
    | OtaChunk
    | Response
    | StatusResponse
    | OtaResponse
    | CalibrationResponse
)


def parse_message(frame: Frame) -> Message:
    """The typed message in a CRC-checked frame; ``MessageError`` if its payload is malformed."""
    t, p = frame.type, frame.payload
    if t == MsgType.SAMPLE_BLOCK:
        return _parse_block(p)
    if t == MsgType.INFO:
        return _parse_info(p)
    if t == MsgType.HELLO:
        if len(p) != _HELLO.size:
            raise MessageError(f"HELLO of {len(p)} bytes, expected {_HELLO.size}")
        lo, hi, _ = _HELLO.unpack(p)
        return Hello(lo, hi)
    if t == MsgType.ERROR:
        if len(p) < _ERROR.size:
            raise MessageError(f"ERROR of {len(p)} bytes is shorter than {_ERROR.size}")
        req, code, _ = _ERROR.unpack_from(p)
        return ErrorMessage(code, p[_ERROR.size :].decode("utf-8", "replace"), req)
    if t in _EMPTY_REQUESTS:
        if p:
            raise MessageError(f"{MsgType(t).name} carries {len(p)} bytes, expected none")
        return Request(t)
    return _parse_extended(t, p)


def _parse_extended(t: int, p: bytes) -> Message:
    if t == MsgType.FEATURE_BLOCK:
        if len(p) < _FEATURES.size:
            raise MessageError(f"FEATURE_BLOCK of {len(p)} bytes is shorter than its header")
        first, n, f = _FEATURES.unpack_from(p)
        if n == 0 or f == 0 or len(p) != _FEATURES.size + 2 * n * f:
            raise MessageError(f"FEATURE_BLOCK of {len(p)} bytes does not hold {n}×{f} int16")
        feats = np.frombuffer(p, dtype="<i2", offset=_FEATURES.size).reshape(n, f)
        return FeatureBlock(first, feats)
    if t == MsgType.INFERENCE:
        if len(p) != _INFERENCE.size:
            raise MessageError(f"INFERENCE of {len(p)} bytes, expected {_INFERENCE.size}")
        frame, score, decision, _ = _INFERENCE.unpack(p)
        return Inference(frame, score, decision)
    if t == MsgType.TELEMETRY:
        if len(p) < _TELEMETRY.size:
            raise MessageError(f"TELEMETRY of {len(p)} bytes is shorter than its header")
        ver, kind, _ = _TELEMETRY.unpack_from(p)
        return Telemetry(kind, p[_TELEMETRY.size :], ver)
    if t == MsgType.SET_CALIBRATION_OFFSET:
        if len(p) != _CAL_REQ.size:
            raise MessageError(f"SET_CALIBRATION_OFFSET of {len(p)} bytes, expected 4")
        slot, _, off = _CAL_REQ.unpack(p)
        return SetCalibrationOffset(off, slot)
    if t == MsgType.OTA_BEGIN:
        if len(p) < _OTA_BEGIN.size:
            raise MessageError(f"OTA_BEGIN of {len(p)} bytes is shorter than its header")
        size, sha, slot, flags, plen = _OTA_BEGIN.unpack_from(p)
        if len(p) != _OTA_BEGIN.size + plen or plen > MAX_OTA_PREFIX:
            raise MessageError(f"OTA_BEGIN of {len(p)} bytes does not hold a {plen}-byte prefix")
        return OtaBegin(size, sha, p[_OTA_BEGIN.size :], slot, bool(flags & OTA_BEGIN_RESTART))
    if t == MsgType.OTA_CHUNK:
        if len(p) < CHUNK_HEADER_SIZE:
            raise MessageError(f"OTA_CHUNK of {len(p)} bytes is shorter than its header")
        off, n, _, crc, size, digest, _ = _CHUNK.unpack_from(p)
        if len(p) != CHUNK_HEADER_SIZE + n or n > OTA_CHUNK_SIZE:
            raise MessageError(f"OTA_CHUNK of {len(p)} bytes does not hold {n} data bytes")
        return OtaChunk(off, p[CHUNK_HEADER_SIZE:], size, digest, crc)
    if (
        t in _STATUS_RESPONSES
        or t in _OTA_RESPONSES
        or t in _PLAIN_RESPONSES
        or (t == MsgType.SET_CALIBRATION_OFFSET_RESP)
    ):
        return _parse_response(t, p)
    return UnknownMessage(t, p)


def _parse_response(t: int, p: bytes) -> Message:
    if len(p) < _REQ_SEQ.size:
        raise MessageError(f"response {t:#x} of {len(p)} bytes has no request id")
    (req,) = _REQ_SEQ.unpack_from(p)
    body = p[_REQ_SEQ.size :]
    if t in _STATUS_RESPONSES:
        if len(body) != DEVICE_STATUS_SIZE:
            raise MessageError(f"status response of {len(body)} bytes, expected 208")
        return StatusResponse(t, req, DeviceStatus.unpack(body))
    if t in _OTA_RESPONSES:
        return OtaResponse(t, req, OtaStatus.unpack(body))
    if t == MsgType.SET_CALIBRATION_OFFSET_RESP:
        if len(body) != _CAL_RESP.size:
            raise MessageError(f"calibration response of {len(body)} bytes, expected 4")
        off, left = _CAL_RESP.unpack(body)
        return CalibrationResponse(req, off, left)
    if body:
        raise MessageError(f"response {t:#x} carries {len(body)} unexpected bytes")
    return Response(t, req)


def _parse_block(p: bytes) -> SampleBlock:
    if len(p) < BLOCK_HEADER_SIZE:
        raise MessageError(f"SAMPLE_BLOCK of {len(p)} bytes is shorter than its header")
    first, n, c, fmt = _BLOCK.unpack_from(p)
    if fmt != SAMPLE_FORMAT_INT16:
        raise MessageError(f"SAMPLE_BLOCK sample format {fmt} is not int16 (1)")
    if n == 0 or c == 0 or len(p) != BLOCK_HEADER_SIZE + 2 * n * c:
        raise MessageError(f"SAMPLE_BLOCK of {len(p)} bytes does not hold {n}×{c} int16")
    samples = np.frombuffer(p, dtype="<i2", offset=BLOCK_HEADER_SIZE).reshape(n, c)
    return SampleBlock(first, samples)


def _parse_info(p: bytes) -> Info:
    if len(p) < INFO_FIXED_SIZE:
        raise MessageError(f"INFO of {len(p)} bytes is shorter than {INFO_FIXED_SIZE}")
    ver, chip, channels, fmt, mac, _, rate_mhz, scale, per_block, _ = _INFO.unpack_from(p)
    if not 1 <= channels <= MAX_CHANNELS:
        raise MessageError(f"INFO declares {channels} channels")
    if rate_mhz == 0:
        raise MessageError("INFO declares a sample rate of 0 Hz")
    strings: list[str] = []
    pos = INFO_FIXED_SIZE
    for _ in range(3 + channels):
        if pos >= len(p) or pos + 1 + p[pos] > len(p):
            raise MessageError("INFO strings run past the end of the payload")
        size = p[pos]
        strings.append(p[pos + 1 : pos + 1 + size].decode("utf-8", "replace"))
        pos += 1 + size
    status: DeviceStatus | None = None
    while pos < len(p):
        if pos + _EXT.size > len(p):
            raise MessageError("INFO extension header runs past the end of the payload")
        kind, size = _EXT.unpack_from(p, pos)
        pos += _EXT.size
        if pos + size > len(p):
            raise MessageError("INFO extension runs past the end of the payload")
        if kind == INFO_EXT_DEVICE_STATUS and size >= DEVICE_STATUS_SIZE:
            status = DeviceStatus.unpack(p[pos : pos + size])
        pos += size
    fw, bundle, units, *names = strings
    return Info(
        sample_rate=rate_mhz / 1000.0,
        channel_names=tuple(names),
        units=units,
        fixed_point_scale=float(scale),
        mac=mac,
        chip=chip,
        firmware_version=fw,
        bundle_version=bundle,
        samples_per_block=per_block,
        protocol_version=ver,
        sample_format=fmt,
        status=status,
    )


def max_block_samples(channels: int) -> int:
    """The most samples per channel one SAMPLE_BLOCK can carry."""
    return (MAX_PAYLOAD - BLOCK_HEADER_SIZE) // (2 * channels)
