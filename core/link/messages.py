"""Typed payloads of protocol version 1 (docs/protocol.md §3–5), packed and parsed with struct."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from core.link.frame import MAX_PAYLOAD, PROTOCOL_VERSION, Frame


class MsgType(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    ERROR = 0x03
    PING = 0x04
    SAMPLE_BLOCK = 0x10
    FEATURE_BLOCK = 0x11


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


Message = Hello | Info | SampleBlock | ErrorMessage | UnknownMessage


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
    return UnknownMessage(t, p)


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
    )


def max_block_samples(channels: int) -> int:
    """The most samples per channel one SAMPLE_BLOCK can carry."""
    return (MAX_PAYLOAD - BLOCK_HEADER_SIZE) // (2 * channels)
