"""Import / export round trips for every format; malformed files leave the catalog unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.dataset import Dataset
from core.dataset.interop import export_recording, import_file
from core.errors import InputFileError

SCALE = 8000.0


@pytest.fixture
def ds(tmp_path: Path):
    with Dataset.open(tmp_path / "ws") as d:
        yield d


def _recording(ds: Dataset, rate: float = 200.0, n: int = 640, channels: int = 3) -> int:
    rng = np.random.default_rng(7)
    x = rng.integers(-20000, 20000, (n, channels), dtype=np.int16)
    return ds.add_recording(
        x, label="normal", tags={"temperature": "cold"}, sample_rate=rate,
        channel_names=("accX", "accY", "accZ")[:channels], units="g",
        fixed_point_scale=SCALE, session=ds.new_session(), source="capture",
    )  # fmt: skip


def _payload_files(ds: Dataset) -> list[str]:
    return sorted(p.name for p in (ds.dir / "recordings").iterdir())


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("ei-csv", "csv"), ("csv", "csv"), ("wav", "wav"), ("ei-json", "json"), ("ei-cbor", "cbor")],
)
def test_export_then_import_gives_back_the_same_samples(
    ds: Dataset, tmp_path: Path, fmt: str, suffix: str
) -> None:
    rid = _recording(ds)
    out = export_recording(ds, rid, tmp_path / f"a.{suffix}", fmt=fmt)
    kwargs = {"sample_rate": 200.0} if fmt == "csv" else {}
    (new,) = import_file(ds, out, fmt=fmt, label="normal", units="g", **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(ds.load(new), ds.load(rid))
    info = ds.get(new)
    assert info.sample_rate == 200.0 and info.source == f"import:{fmt}"
    if fmt != "wav":
        assert info.channel_names == ("accX", "accY", "accZ")


def test_edge_impulse_csv_starts_with_a_millisecond_timestamp(ds: Dataset, tmp_path: Path) -> None:
    rid = _recording(ds, rate=250.0, n=4)
    text = export_recording(ds, rid, tmp_path / "a.csv", fmt="ei-csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "timestamp,accX,accY,accZ"
    assert [ln.split(",")[0] for ln in lines[1:]] == [
        "0.000000",
        "4.000000",
        "8.000000",
        "12.000000",
    ]


@pytest.mark.parametrize("fmt", ["ei-json", "ei-cbor"])
def test_edge_impulse_files_are_signed_and_checked_with_hs256(
    ds: Dataset, tmp_path: Path, fmt: str
) -> None:
    rid = _recording(ds, n=50)
    key = b"project-hmac-key"
    out = export_recording(ds, rid, tmp_path / f"s.{fmt[3:]}", fmt=fmt, hmac_key=key)
    raw = out.read_bytes()
    assert b"HS256" in raw and b"0" * 64 not in raw and b"iat" not in raw
    (new,) = import_file(ds, out, hmac_key=key, label="normal")
    np.testing.assert_array_equal(ds.load(new), ds.load(rid))
    before = ds.count()
    with pytest.raises(InputFileError, match="signature does not match"):
        import_file(ds, out, hmac_key=b"wrong key")
    tampered = tmp_path / f"t.{fmt[3:]}"
    tampered.write_bytes(raw.replace(b"FIELDBENCH", b"FIELDBENCX"))
    with pytest.raises(InputFileError, match="signature does not match"):
        import_file(ds, tampered, hmac_key=key)
    assert ds.count() == before


def test_an_unsigned_file_is_refused_when_a_key_is_given(ds: Dataset, tmp_path: Path) -> None:
    out = export_recording(ds, _recording(ds, n=20), tmp_path / "u.json")
    with pytest.raises(InputFileError, match="not signed"):
        import_file(ds, out, hmac_key=b"k")


def test_nanoedge_lines_are_interleaved_signals_one_recording_each(
    ds: Dataset, tmp_path: Path
) -> None:
    rid = _recording(ds, n=300)
    out = export_recording(ds, rid, tmp_path / "n.csv", fmt="nanoedge", window=128)
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and len(lines[0].split(",")) == 3 * 128
    ids = import_file(ds, out, fmt="nanoedge", channels=3, sample_rate=200.0, label="normal")
    back = np.concatenate([ds.load(i) for i in ids])
    np.testing.assert_array_equal(back, ds.load(rid)[:256])
    assert len({ds.get(i).session for i in ids}) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"timestamp,x,y\n0,1,2\n1,3\n", "line 3 has 2 columns, expected 3"),
        ("nan.csv", b"x,y\n1,2\nnan,3\n", "NaN or infinite"),
        ("utf.csv", b"x,y\n\xff\xfe,1\n", "not UTF-8"),
        ("bad.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "no fmt chunk"),
        ("bad.cbor", b"\xa3\x61\x61\xff\xff\x00", "not valid CBOR"),
        ("bad.json", b'{"protected": {"ver": "v1", "alg": "none"}', "not valid JSON"),
        ("big.csv", b"x\n1\n100\n", "does not fit int16"),
    ],
)
def test_a_malformed_import_says_why_and_leaves_the_catalog_unchanged(
    ds: Dataset, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    _recording(ds)
    before = (ds.count(), _payload_files(ds))
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        import_file(ds, path, sample_rate=100.0, label="normal")
    assert (ds.count(), _payload_files(ds)) == before


def test_a_nanoedge_file_with_a_bad_line_imports_nothing(ds: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("0.1,0.2,0.3,0.4\n0.1,0.2,0.3,0.4\n0.1,0.2,0.3\n")
    with pytest.raises(InputFileError, match="line 3 has 3 values, expected 4"):
        import_file(ds, path, fmt="nanoedge", channels=2, sample_rate=50.0)
    assert ds.count() == 0 and _payload_files(ds) == []
