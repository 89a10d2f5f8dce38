"""The link protocol: COBS, frames, messages and the streaming decoder on real byte streams."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from core.link import (
    CobsError,
    Hello,
    Info,
    SampleBlock,
    SimulatedDevice,
    StreamDecoder,
    cobs_decode,
    cobs_encode,
    decode_frame,
    encode_frame,
)
from core.link.frame import (
    FLAG_SEQ_RESTART,
    HEADER_SIZE,
    MAX_ENCODED,
    MAX_PAYLOAD,
    FrameError,
    FrameFault,
    raw_frame,
)
from core.link.messages import (
    ErrorCode,
    ErrorMessage,
    MessageError,
    MsgType,
    UnknownMessage,
    max_block_samples,
    parse_message,
)
from core.link.simulator import default_info


def frames_of(stream: bytes) -> list[bytes]:
    return [p for p in stream.split(b"\x00") if p]


# -- COBS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
    ],
)
def test_cobs_matches_the_published_examples(raw: bytes, encoded: bytes) -> None:
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


def test_cobs_round_trips_random_data_of_every_awkward_length(rng: np.random.Generator) -> None:
    for n in [*range(0, 600), 4142]:
        for zeros in (0.0, 0.01, 0.5):
            data = rng.integers(1, 256, n, dtype=np.uint8)
            data[rng.random(n) < zeros] = 0
            raw = data.tobytes()
            enc = cobs_encode(raw)
            assert b"\x00" not in enc
            assert len(enc) <= n + n // 254 + 1
            assert cobs_decode(enc) == raw


def test_cobs_rejects_a_code_pointing_past_the_end_and_a_zero_inside() -> None:
    with pytest.raises(CobsError):
        cobs_decode(b"\x05\x11\x22")
    with pytest.raises(CobsError):
        cobs_decode(b"\x03\x11\x00")
    with pytest.raises(CobsError):
        cobs_decode(b"")


# -- frames ------------------------------------------------------------------------------------


def test_crc_is_zlibs_with_the_standard_check_value() -> None:
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_frame_layout_is_the_documented_little_endian_header() -> None:
    raw = raw_frame(0x10, 0x01020304, b"\xaa\xbb", FLAG_SEQ_RESTART)
    assert raw[:HEADER_SIZE] == bytes([1, 0x10, 1, 0, 4, 3, 2, 1, 2, 0])
    assert raw[HEADER_SIZE:-4] == b"\xaa\xbb"
    assert int.from_bytes(raw[-4:], "little") == zlib.crc32(raw[:-4])
    wire = encode_frame(0x10, 0x01020304, b"\xaa\xbb", FLAG_SEQ_RESTART)
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    frame = decode_frame(wire[:-1])
    assert (frame.type, frame.seq, frame.flags, frame.payload) == (
        0x10,
        0x01020304,
        FLAG_SEQ_RESTART,
        b"\xaa\xbb",
    )


def test_the_largest_frame_fits_the_documented_maximum() -> None:
    wire = encode_frame(0x10, 7, b"\x01" * MAX_PAYLOAD)
    assert len(wire) - 1 == MAX_ENCODED
    assert decode_frame(wire[:-1]).payload == b"\x01" * MAX_PAYLOAD
    with pytest.raises(ValueError):
        encode_frame(0x10, 7, b"\x01" * (MAX_PAYLOAD + 1))


@pytest.mark.parametrize(
    ("mangle", "fault"),
    [
        (lambda w: w[:-3], FrameFault.TRUNCATED),
        (lambda w: w[:5], FrameFault.TRUNCATED),
        (lambda w: w[:20] + bytes([w[20] ^ 0x40]) + w[21:], FrameFault.CRC),
        (lambda w: w + w, FrameFault.OVERSIZE),
    ],
    ids=["cut-end", "cut-header", "bit-flip", "oversize"],
)
def test_a_damaged_frame_is_rejected_with_its_fault(mangle, fault) -> None:  # type: ignore[no-untyped-def]
    wire = encode_frame(0x10, 1, bytes(range(1, 200)) * 12)[:-1]
    with pytest.raises(FrameError) as err:
        decode_frame(mangle(wire))
    assert err.value.fault is fault


# -- messages ---------------------------------------------------------------------------------


def test_info_round_trips_with_every_field() -> None:
    info = Info(
        sample_rate=1600.5,
        channel_names=("accX", "accY", "accZ"),
        units="g",
        fixed_point_scale=8000.0,
        mac=bytes.fromhex("24a1603f0c5e"),
        chip=1,
        firmware_version="1.2.3",
        bundle_version="b7",
        samples_per_block=64,
    )
    wire = encode_frame(MsgType.INFO, 0, info.pack())
    back = parse_message(decode_frame(wire[:-1]))
    assert back == info
    assert back.device_id == "24a1603f0c5e"
    assert info.pack()[12:16] == (1600500).to_bytes(4, "little")


def test_sample_block_layout_is_header_then_interleaved_int16() -> None:
    x = np.array([[1, -2], [3, -4], [32767, -32768]], dtype=np.int16)
    payload = SampleBlock(5, x).pack()
    assert payload[:12] == (5).to_bytes(8, "little") + bytes([3, 0, 2, 1])
    assert np.array_equal(np.frombuffer(payload[12:], "<i2"), [1, -2, 3, -4, 32767, -32768])
    back = parse_message(decode_frame(encode_frame(0x10, 0, payload)[:-1]))
    assert isinstance(back, SampleBlock) and back.first_sample == 5
    assert np.array_equal(back.samples, x)


@pytest.mark.parametrize(
    ("msg_type", "payload"),
    [
        (MsgType.SAMPLE_BLOCK, b"\x00" * 11),
        (MsgType.SAMPLE_BLOCK, (0).to_bytes(8, "little") + bytes([4, 0, 2, 1]) + b"\x00" * 15),
        (MsgType.SAMPLE_BLOCK, (0).to_bytes(8, "little") + bytes([1, 0, 1, 9]) + b"\x00" * 2),
        (MsgType.INFO, b"\x01" * 10),
        (MsgType.INFO, default_info().pack()[:-3]),
        (MsgType.HELLO, b"\x01"),
        (MsgType.ERROR, b"\x00"),
    ],
)
def test_a_payload_that_does_not_match_its_type_is_a_message_error(msg_type, payload) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MessageError):
        parse_message(decode_frame(encode_frame(msg_type, 0, payload)[:-1]))


def test_hello_and_error_round_trip_and_unknown_types_pass_through() -> None:
    assert parse_message(decode_frame(encode_frame(1, 0, Hello(1, 3).pack())[:-1])) == Hello(1, 3)
    err = ErrorMessage(ErrorCode.OVERRUN, "ring full", 9)
    assert parse_message(decode_frame(encode_frame(3, 0, err.pack())[:-1])) == err
    unknown = parse_message(decode_frame(encode_frame(0x42, 0, b"xyz")[:-1]))
    assert isinstance(unknown, UnknownMessage) and unknown.type == 0x42


def test_a_block_holds_at_most_what_one_frame_carries() -> None:
    n = max_block_samples(3)
    SimulatedDevice(default_info(channels=3, samples_per_block=n))
    with pytest.raises(ValueError):
        SimulatedDevice(default_info(channels=3, samples_per_block=n + 1))


# -- the streaming decoder --------------------------------------------------------------------


def test_decoder_yields_the_same_messages_whatever_the_chunking(rng: np.random.Generator) -> None:
    dev = SimulatedDevice()
    stream = dev.stream_seconds(1.0)
    whole = StreamDecoder()
    expected = whole.feed(stream)
    for _ in range(20):
        cuts = np.sort(rng.integers(0, len(stream), rng.integers(1, 200)))
        dec = StreamDecoder()
        got = []
        for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            got += dec.feed(stream[a:b])
        assert len(got) == len(expected)
        assert dec.counters == whole.counters
    assert whole.counters.frames_received == 26 and whole.counters.samples_received == 1600
    assert whole.counters.bad_frames == 0 and whole.counters.frames_lost == 0


def test_joining_mid_frame_counts_garbage_not_a_bad_frame() -> None:
    dev = SimulatedDevice()
    stream = dev.blocks(10)
    dec = StreamDecoder()
    msgs = dec.feed(stream[37:])
    assert len(msgs) == 9
    assert dec.counters.garbage_bytes > 0 and dec.counters.bad_frames == 0


def test_lost_frames_are_counted_from_sequence_gaps() -> None:
    dev = SimulatedDevice()
    frames = frames_of(dev.boot() + dev.blocks(50))
    kept = [f for i, f in enumerate(frames) if i not in (5, 6, 7, 30)]
    dec = StreamDecoder()
    dec.feed(b"\x00" + b"\x00".join(kept) + b"\x00")
    c = dec.counters
    assert (c.frames_received, c.frames_lost) == (47, 4)
    assert c.samples_missing == 4 * 64


def test_crc_errors_and_truncated_frames_are_counted_and_never_raise() -> None:
    dev = SimulatedDevice()
    frames = frames_of(dev.boot() + dev.blocks(40))
    frames[3] = frames[3][:100] + bytes([frames[3][100] ^ 0x01]) + frames[3][101:]  # CRC
    frames[10] = frames[10][: len(frames[10]) // 2]  # truncated (cable hiccup)
    frames[20] = frames[20][:8]  # shorter than a header
    dec = StreamDecoder()
    msgs = dec.feed(b"\x00" + b"\x00".join(frames) + b"\x00")
    c = dec.counters
    assert len(msgs) == 38
    assert c.crc_errors + c.truncated_frames == 3 and c.crc_errors >= 1
    assert c.frames_lost == 3


def test_an_oversize_run_without_delimiter_is_dropped_in_bounded_memory() -> None:
    dev = SimulatedDevice()
    dec = StreamDecoder()
    dec.feed(dev.boot())
    dec.feed(b"\x07" * (3 * MAX_ENCODED))  # no delimiter for 12 kB
    assert len(dec._pending) <= MAX_ENCODED
    msgs = dec.feed(b"\x00" + dev.blocks(3))
    assert len(msgs) == 3
    assert dec.counters.oversize_frames == 1
    assert dec.counters.garbage_bytes >= 3 * MAX_ENCODED


def test_duplicates_and_sequence_restarts_are_told_apart_from_losses() -> None:
    dec = StreamDecoder()
    info = default_info()
    wire = encode_frame(2, 100, info.pack(), FLAG_SEQ_RESTART)
    wire += encode_frame(0x10, 101, SampleBlock(0, np.zeros((4, 3), np.int16)).pack())
    wire += encode_frame(0x10, 101, SampleBlock(0, np.zeros((4, 3), np.int16)).pack())
    wire += encode_frame(2, 0, info.pack(), FLAG_SEQ_RESTART)  # device rebooted
    wire += encode_frame(0x10, 1, SampleBlock(0, np.zeros((4, 3), np.int16)).pack())
    dec.feed(wire)
    c = dec.counters
    assert (c.frames_lost, c.frames_duplicated, c.sequence_restarts) == (0, 1, 1)


def test_sequence_numbers_wrap_at_two_to_the_32() -> None:
    dec = StreamDecoder()
    block = SampleBlock(0, np.zeros((1, 1), np.int16)).pack()
    wire = b"".join(encode_frame(0x10, s & 0xFFFFFFFF, block) for s in range(2**32 - 3, 2**32 + 3))
    dec.feed(wire)
    assert dec.counters.frames_received == 6 and dec.counters.frames_lost == 0


def test_random_garbage_and_bit_flips_are_counted_never_a_crash(rng: np.random.Generator) -> None:
    dev = SimulatedDevice()
    clean = dev.stream_seconds(2.0)
    noisy = bytearray(clean)
    flips = rng.integers(0, len(noisy), 10)
    for i in flips:
        noisy[i] ^= 1 << int(rng.integers(0, 8))
    for stream in (bytes(noisy), rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()):
        dec = StreamDecoder()
        for i in range(0, len(stream), 777):
            dec.feed(stream[i : i + 777])
        dec.flush()
        c = dec.counters
        assert c.bytes_received == len(stream)
        assert c.frames_received + c.bad_frames > 0 or c.garbage_bytes > 0
    # the bit-flipped stream still delivers most frames, and accounts for the others
    dec = StreamDecoder()
    msgs = dec.feed(bytes(noisy))
    total = len(frames_of(clean))
    assert total - 20 <= len(msgs) < total
    assert dec.counters.bad_frames > 0
    # frames broken at either end leave no sequence gap behind them; all others do
    assert dec.counters.frames_received + dec.counters.frames_lost >= total - 5


def test_simulated_device_answers_hello_with_info() -> None:
    dev = SimulatedDevice()
    reply = dev.receive(encode_frame(1, 0, Hello().pack()))
    msgs = StreamDecoder().feed(reply)
    assert isinstance(msgs[0], Info) and dev.streaming
    refused = SimulatedDevice().receive(encode_frame(1, 0, Hello(2, 3).pack()))
    err = StreamDecoder().feed(refused)[0]
    assert isinstance(err, ErrorMessage) and err.code == ErrorCode.UNSUPPORTED_VERSION
