"""The Fieldbench link protocol (docs/protocol.md): COBS frames, CRC-32, sequence numbers.

Layers: ``cobs`` (byte stuffing) → ``frame`` (header, CRC) → ``messages`` (typed payloads) →
``decoder`` (a streaming receiver that counts every bad byte). ``simulator`` is the Python
reference encoder of a device.
"""

from core.link.cobs import CobsError, cobs_decode, cobs_encode
from core.link.decoder import LinkCounters, StreamDecoder
from core.link.frame import Frame, FrameError, decode_frame, encode_frame
from core.link.messages import (
    DeviceStatus,
    ErrorMessage,
    FeatureBlock,
    Hello,
    Info,
    Message,
    MessageError,
    MsgType,
    OtaBegin,
    OtaChunk,
    OtaResponse,
    OtaStatus,
    Request,
    SampleBlock,
    SlotStatus,
    StatusResponse,
    error_name,
    parse_message,
)
from core.link.simulator import SimulatedDevice

__all__ = [
    "CobsError",
    "DeviceStatus",
    "ErrorMessage",
    "FeatureBlock",
    "Frame",
    "FrameError",
    "Hello",
    "Info",
    "LinkCounters",
    "Message",
    "MessageError",
    "MsgType",
    "OtaBegin",
    "OtaChunk",
    "OtaResponse",
    "OtaStatus",
    "Request",
    "SampleBlock",
    "SimulatedDevice",
    "SlotStatus",
    "StatusResponse",
    "StreamDecoder",
    "cobs_decode",
    "cobs_encode",
    "decode_frame",
    "encode_frame",
    "error_name",
    "parse_message",
]
