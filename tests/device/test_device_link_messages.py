"""Round trips and bad input of the device-control and OTA messages (docs/protocol.md §10)."""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
import pytest

from core.link.decoder import StreamDecoder
from core.link.frame import FLAG_RESPONSE, decode_frame, encode_frame
from core.link.messages import (
    CHUNK_HEADER_SIZE,
    DEVICE_STATUS_SIZE,
    CalibrationResponse,
    DeviceStatus,
    FeatureBlock,
    Inference,
    Info,
    MessageError,
    MsgType,
    OtaBegin,
    OtaChunk,
    OtaError,
    OtaResponse,
    OtaState,
    OtaStatus,
    Request,
    Response,
    SetCalibrationOffset,
    SlotReason,
    SlotStatus,
    StatusResponse,
    Telemetry,
    bundle_error,
    error_name,
    ota_error,
    parse_message,
    slot_error,
)
from core.link.simulator import default_info


def _status() -> DeviceStatus:
    a = SlotStatus(0, 2, 0, 0b101, 3, 1000, 2000, -7, "demo-1.0", "fw-1.0.0", b"\x01" * 8)
    b = SlotStatus(1, 0xFF, SlotReason.SLOT_EMPTY)
    return DeviceStatus(0, (a, b), secure_version=3, firmware_abi=1, battery_percent=80)


def _roundtrip(msg_type: int, payload: bytes, flags: int = 0) -> object:
    return parse_message(decode_frame(encode_frame(msg_type, 5, payload, flags)[:-1]))


def test_device_status_layout_and_roundtrip() -> None:
    st = _status()
    raw = st.pack()
    assert len(raw) == DEVICE_STATUS_SIZE == 208
    assert raw[16 + 16 : 16 + 18] == (-7).to_bytes(2, "little", signed=True)
    back = DeviceStatus.unpack(raw)
    assert back == st
    assert back.slots[0].running and back.slots[0].has_bundle and back.slots[0].verifies
    assert not back.slots[1].verifies


def test_info_extension_is_optional_and_roundtrips() -> None:
    base = default_info()
    assert parse_message(decode_frame(encode_frame(2, 0, base.pack())[:-1])) == base
    ext = Info(**{**base.__dict__, "status": _status()})
    msg = _roundtrip(MsgType.INFO, ext.pack())
    assert isinstance(msg, Info) and msg.status == _status()
    with pytest.raises(MessageError):
        _roundtrip(MsgType.INFO, ext.pack()[:-3])


def test_requests_and_responses_roundtrip() -> None:
    for t in (MsgType.GET_STATUS, MsgType.ROLLBACK, MsgType.OTA_END, MsgType.OTA_COMMIT):
        assert _roundtrip(t, b"") == Request(t)
    with pytest.raises(MessageError):
        _roundtrip(MsgType.GET_STATUS, b"\x00")
    assert _roundtrip(MsgType.SET_CALIBRATION_OFFSET, SetCalibrationOffset(-12).pack()) == (
        SetCalibrationOffset(-12, 0xFF)
    )
    sr = StatusResponse(MsgType.GET_STATUS_RESP, 9, _status())
    assert _roundtrip(sr.type, sr.pack(), FLAG_RESPONSE) == sr
    ota = OtaResponse(MsgType.OTA_CHUNK_RESP, 4, OtaStatus(1, 1, 10000, 8192, 4096, b"\x07" * 32))
    assert _roundtrip(ota.type, ota.pack(), FLAG_RESPONSE) == ota
    cal = CalibrationResponse(3, -12, 95)
    assert _roundtrip(cal.type, cal.pack(), FLAG_RESPONSE) == cal
    assert _roundtrip(MsgType.REBOOT_RESP, Response(0x2B, 77).pack()) == Response(0x2B, 77)
    with pytest.raises(MessageError):
        _roundtrip(MsgType.OTA_STATUS_RESP, b"\x00" * 10)


def test_ota_begin_and_chunk_layouts() -> None:
    bundle = bytes(range(256)) * 40
    sha = hashlib.sha256(bundle).digest()
    begin = OtaBegin(len(bundle), sha, bundle[:300])
    raw = begin.pack()
    assert len(raw) == 40 + 300 and raw[36] == 0xFF
    assert _roundtrip(begin.type, raw) == begin
    chunk = OtaChunk(4096, bundle[4096:8192], len(bundle), sha[:8])
    raw = chunk.pack()
    assert len(raw) == CHUNK_HEADER_SIZE + 4096
    assert int.from_bytes(raw[8:12], "little") == zlib.crc32(bundle[4096:8192])
    back = _roundtrip(chunk.type, raw)
    assert isinstance(back, OtaChunk) and back.crc_ok and back.data == chunk.data
    bad = OtaChunk(0, b"abc", 3, sha[:8], crc=1)
    back = _roundtrip(bad.type, bad.pack())
    assert isinstance(back, OtaChunk) and not back.crc_ok
    with pytest.raises(MessageError):  # length field disagrees with the data
        _roundtrip(chunk.type, raw[:-1])


def test_streams_and_telemetry() -> None:
    fb = FeatureBlock(7, np.arange(12, dtype=np.int16).reshape(3, 4))
    back = _roundtrip(fb.type, fb.pack())
    assert isinstance(back, FeatureBlock) and back.first_frame == 7
    assert np.array_equal(back.features, fb.features)
    assert _roundtrip(MsgType.INFERENCE, Inference(9, -100, 1).pack()) == Inference(9, -100, 1)
    tel = Telemetry(1, bytes(16))
    assert _roundtrip(tel.type, tel.pack()) == tel


def test_error_names() -> None:
    assert error_name(3) == "BAD_PAYLOAD"
    assert error_name(slot_error(SlotReason.EPOCH_TOO_LOW)) == "SLOT:EPOCH_TOO_LOW"
    assert error_name(ota_error(OtaError.OUT_OF_ORDER)) == "OTA:OUT_OF_ORDER"
    assert error_name(bundle_error(11)) == "BUNDLE:BAD_SIGNATURE"
    assert error_name(0x2FF) == "0x2FF"
    assert OtaState.VERIFIED == 2


def test_decoder_counts_new_types_as_known() -> None:
    dec = StreamDecoder()
    wire = encode_frame(MsgType.GET_STATUS_RESP, 0, StatusResponse(0x27, 0, _status()).pack())
    msgs = dec.feed(b"\x00" + wire)
    assert isinstance(msgs[0], StatusResponse) and dec.counters.unknown_messages == 0
