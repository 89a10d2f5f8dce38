"""Reading recordings: every supported format, and one clear line for every bad file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputFileError
from core.recording import check_sample_rate, load_recording, to_counts


def wav_bytes(pcm: np.ndarray, rate: int, bits: int = 16, tag: int = 1) -> bytes:
    data = pcm.tobytes()
    ch = pcm.shape[1] if pcm.ndim > 1 else 1
    fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * ch * bits // 8, ch * bits // 8, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def test_pcm16_stereo_wav_reads_as_counts(tmp_path: Path) -> None:
    pcm = np.array([[1, -2], [300, -32768], [32767, 0]], dtype="<i2")
    (tmp_path / "a.wav").write_bytes(wav_bytes(pcm, 8000))
    rec = load_recording(tmp_path / "a.wav")
    assert rec.sample_rate == 8000 and rec.units == "counts"
    assert to_counts(rec, 123.0).tolist() == pcm.tolist()


def test_float_wav_is_full_scale(tmp_path: Path) -> None:
    pcm = np.array([[0.5], [-1.0]], dtype="<f4")
    (tmp_path / "f.wav").write_bytes(wav_bytes(pcm, 100, bits=32, tag=3))
    assert to_counts(load_recording(tmp_path / "f.wav"), 1.0).ravel().tolist() == [16384, -32767]


def test_edge_impulse_csv_gives_rate_from_millisecond_timestamps(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("timestamp,accX,accY\n0,0.1,1\n10,0.2,2\n20,0.3,3\n")
    rec = load_recording(tmp_path / "e.csv")
    assert rec.sample_rate == pytest.approx(100.0)
    assert rec.channel_names == ("accX", "accY")
    assert rec.data.tolist() == [[0.1, 1], [0.2, 2], [0.3, 3]]


def test_plain_csv_takes_the_rate_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("1\t2\n3\t4\n")
    rec = load_recording(tmp_path / "p.csv", sample_rate=50.0)
    assert rec.sample_rate == 50.0 and rec.data.shape == (2, 2)


def test_npy_reads_one_and_two_dimensional_arrays(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.arange(5, dtype=np.int16))
    np.save(tmp_path / "two.npy", np.zeros((4, 3), dtype=np.float32))
    assert load_recording(tmp_path / "one.npy").data.shape == (5, 1)
    assert load_recording(tmp_path / "two.npy").data.shape == (4, 3)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.wav", b"not a wav at all", "not a WAV file"),
        ("empty.wav", b"", "file is empty"),
        ("nodata.wav", b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
        ("bad.csv", b"a,b\n1,2\n3,x\n", "line 3: 'x' is not a number"),
        ("ragged.csv", b"1,2\n3\n", "line 2 has 1 columns, expected 2"),
        ("nan.csv", b"1,2\nnan,4\n", "sample 1 of channel 0 is NaN or infinite"),
        ("inf.csv", b"1\ninf\n", "NaN or infinite"),
        ("bad.npy", b"\x93NUMPY garbage", "not a valid .npy file"),
        ("notes.txt", b"hello", "unsupported file type .txt"),
        ("binary.csv", b"\xff\xfe\x00\x01", "not UTF-8 text"),
        ("backwards.csv", b"timestamp,x\n10,1\n5,2\n", "timestamps do not increase"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        load_recording(path)
    text = str(info.value)
    assert message in text and name in text and "\n" not in text


def test_object_npy_is_refused_without_unpickling(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match=r"not a valid \.npy"):
        load_recording(tmp_path / "obj.npy")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"missing\.wav: file not found"):
        load_recording(tmp_path / "missing.wav")


def test_a_wrong_sample_rate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.wav").write_bytes(wav_bytes(np.zeros((10, 1), dtype="<i2"), 44100))
    with pytest.raises(InputFileError, match=r"44100 Hz does not match features\.sampleRate 16000"):
        check_sample_rate(load_recording(tmp_path / "r.wav"), 16000.0)


def test_a_truncated_wav_keeps_its_whole_frames(tmp_path: Path) -> None:
    raw = wav_bytes(np.arange(100, dtype="<i2").reshape(50, 2), 1000)
    (tmp_path / "t.wav").write_bytes(raw[:-3])
    assert load_recording(tmp_path / "t.wav").data.shape == (49, 2)
