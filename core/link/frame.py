"""Frames: header ‖ payload ‖ CRC-32, COBS-encoded, 0x00-delimited (protocol §1–2)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import Enum

from core.link.cobs import CobsError, cobs_decode, cobs_encode

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBBBIH")
HEADER_SIZE = HEADER.size  # 10
CRC_SIZE = 4
MAX_PAYLOAD = 4128
MAX_RAW_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE  # 4142
MAX_ENCODED = MAX_RAW_FRAME + MAX_RAW_FRAME // 254 + 1  # 4159
DELIMITER = b"\x00"

FLAG_SEQ_RESTART = 0x01
FLAG_RESPONSE = 0x02

_CRC = struct.Struct("<I")
assert HEADER_SIZE == 10


class FrameFault(Enum):
    """Why a received frame was dropped (each has its own counter)."""

    OVERSIZE = "oversize"
    TRUNCATED = "truncated"
    CRC = "crc"
    VERSION = "version"


class FrameError(ValueError):
    """A received frame is invalid; ``fault`` says which check failed."""

    def __init__(self, fault: FrameFault, message: str) -> None:
        super().__init__(message)
        self.fault = fault


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded, CRC-checked frame."""

    type: int
    seq: int
    flags: int
    payload: bytes
    version: int = PROTOCOL_VERSION


def raw_frame(msg_type: int, seq: int, payload: bytes = b"", flags: int = 0) -> bytes:
    """Header ‖ payload ‖ CRC, before COBS (what the CRC and the firmware's buffers see)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEADER.pack(PROTOCOL_VERSION, msg_type, flags, 0, seq & 0xFFFFFFFF, len(payload))
    body += payload
    return body + _CRC.pack(zlib.crc32(body))


def encode_frame(msg_type: int, seq: int, payload: bytes = b"", flags: int = 0) -> bytes:
    """The bytes on the wire for one frame, delimiter included."""
    return cobs_encode(raw_frame(msg_type, seq, payload, flags)) + DELIMITER


def decode_frame(encoded: bytes) -> Frame:
    """Decode one encoded frame (without its delimiter); raise ``FrameError`` if invalid."""
    if len(encoded) > MAX_ENCODED:
        raise FrameError(FrameFault.OVERSIZE, f"frame of {len(encoded)} bytes exceeds the maximum")
    try:
        raw = cobs_decode(encoded)
    except CobsError as exc:
        raise FrameError(FrameFault.TRUNCATED, f"bad COBS: {exc}") from None
    n = len(raw)
    if n < HEADER_SIZE + CRC_SIZE:
        raise FrameError(FrameFault.TRUNCATED, f"frame of {n} bytes is shorter than a header")
    body_end = n - CRC_SIZE
    if zlib.crc32(raw[:body_end]) != _CRC.unpack_from(raw, body_end)[0]:
        raise FrameError(FrameFault.CRC, "CRC mismatch")
    version, msg_type, flags, _, seq, length = HEADER.unpack_from(raw)
    if version != PROTOCOL_VERSION:
        raise FrameError(FrameFault.VERSION, f"protocol version {version}, expected 1")
    if length != body_end - HEADER_SIZE:
        raise FrameError(
            FrameFault.TRUNCATED,
            f"header says {length} payload bytes, frame holds {body_end - HEADER_SIZE}",
        )
    return Frame(msg_type, seq, flags, raw[HEADER_SIZE:body_end], version)
