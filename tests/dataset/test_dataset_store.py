"""The dataset store: streaming writes, crash recovery, tag schema, no raw identities."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.dataset import CaptureQuality, Dataset, DatasetError, Segment, TagError
from core.dataset.store import CHUNK_BYTES

ROOT = Path(__file__).resolve().parents[2]


def _start(ds: Dataset, **kw: object):
    args: dict[str, object] = dict(
        label="normal",
        tags={"temperature": "hot", "orientation": "vertical"},
        sample_rate=200.0,
        channel_names=("x", "y", "z"),
        units="g",
        fixed_point_scale=8000.0,
        session=ds.new_session(),
    )
    args.update(kw)
    return ds.start_recording(**args)  # type: ignore[arg-type]


def test_a_streamed_recording_reads_back_exactly_and_is_memory_mappable(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    blocks = [rng.integers(-32768, 32767, (n, 3), dtype=np.int16) for n in (1, 500, 7000, 33)]
    with Dataset.open(tmp_path) as ds, _start(ds, device_id="24:6F:28:AA:BB:CC") as w:
        for b in blocks:
            w.append(b)
        rid = w.finish(CaptureQuality(frames_received=4, declared_rate_hz=200.0))
    with Dataset.open(tmp_path) as ds:
        info = ds.get(rid)
        data = ds.load(rid)
        assert isinstance(data, np.memmap)
        np.testing.assert_array_equal(data, np.concatenate(blocks))
        assert info.state == "complete" and info.samples == 7534
        assert info.duration_s == pytest.approx(7534 / 200.0)
        assert info.quality.frames_received == 4 and info.quality.declared_rate_hz == 200.0
        assert info.tags == {"orientation": "vertical", "temperature": "hot"}


def test_the_device_id_is_stored_only_as_a_salted_hash(tmp_path: Path) -> None:
    mac = "24:6F:28:AA:BB:CC"
    with Dataset.open(tmp_path / "a") as a, Dataset.open(tmp_path / "b") as b:
        with _start(a, device_id=mac) as w:
            w.append(np.zeros((10, 3), np.int16))
        assert a.get(w.recording_id).device_hash == a.device_hash(mac)
        assert a.device_hash(mac) != b.device_hash(mac)  # a salt per workspace
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert mac.encode() not in raw and b"246F28AABBCC" not in raw.upper()


def test_the_writer_flushes_in_chunks_and_the_file_is_always_a_valid_npy(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        w = _start(ds)
        rows_per_chunk = CHUNK_BYTES // 6 + 1
        w.append(np.ones((rows_per_chunk, 3), np.int16))
        w.append(np.ones((10, 3), np.int16))  # stays buffered
        on_disk = np.load(w.path)
        assert on_disk.shape == (rows_per_chunk, 3)
        w.finish(CaptureQuality())
        assert np.load(w.path).shape == (rows_per_chunk + 10, 3)


def test_an_exception_inside_the_writer_keeps_the_data_marked_interrupted(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        with pytest.raises(OSError), _start(ds) as w:
            w.append(np.ones((100, 3), np.int16))
            raise OSError("cable unplugged")
        info = ds.get(w.recording_id)
        assert info.state == "interrupted" and info.samples == 100
        assert "cable unplugged" in info.note


def test_abort_before_any_data_leaves_neither_row_nor_file(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        w = _start(ds)
        w.abort()
        assert ds.count() == 0 and not w.path.exists()
        with pytest.raises(OSError), _start(ds) as w2:
            raise OSError("port vanished")
        assert ds.count() == 0 and not w2.path.exists()


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from core.dataset import Dataset
    ds = Dataset.open(sys.argv[1])
    w = ds.start_recording(label="normal", tags={"noise": "hvac"}, sample_rate=1000.0,
                           channel_names=("x", "y", "z"), units="g", fixed_point_scale=8000.0,
                           session=ds.new_session(), device_id="dev-1")
    i = 0
    while True:
        w.append(np.full((1024, 3), i % 30000, np.int16))
        i += 1
        if i == 200:
            print(w.recording_id, flush=True)
    """
)


def test_a_capture_process_killed_mid_write_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    rid = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Dataset.open(tmp_path) as ds:
        assert ds.recovered == [rid]
        info = ds.get(rid)
        assert info.state == "interrupted" and "recovered" in info.note
        data = np.load(info.payload)  # a readable .npy, not mapped, whole file
        assert data.shape == (info.samples, 3) and info.samples >= 200 * 1024 - CHUNK_BYTES // 6
        assert info.duration_s == pytest.approx(info.samples / 1000.0)
        blocks = data[: info.samples - info.samples % 1024].reshape(-1, 1024, 3)
        assert np.array_equal(blocks[:, 0, 0], np.arange(blocks.shape[0]) % 30000)
        assert ds.filter_ids(tags={"noise": "hvac"}).tolist() == [rid]
    with Dataset.open(tmp_path) as ds:
        assert ds.recovered == []  # recovery happens once


def test_opening_while_another_writer_is_live_does_not_steal_its_recording(
    tmp_path: Path,
) -> None:
    with Dataset.open(tmp_path) as ds:
        w = _start(ds)
        w.append(np.ones((5, 3), np.int16))
        w.flush()
        with Dataset.open(tmp_path) as other:
            assert other.recovered == []
            assert other.get(w.recording_id).state == "recording"
        rid = w.finish(CaptureQuality())
        assert ds.get(rid).state == "complete" and ds.get(rid).samples == 5


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"temperature": "tepid"}, "allowed values are 'cold', 'ambient', 'hot'"),
        ({"humidity": "high"}, "declared tags are 'temperature', 'orientation'"),
    ],
)
def test_tags_outside_the_schema_are_refused_with_the_allowed_values(
    tmp_path: Path, tags: dict[str, str], message: str
) -> None:
    with Dataset.open(tmp_path) as ds:
        with pytest.raises(TagError, match=message):
            _start(ds, tags=tags)
        assert ds.count() == 0


def test_user_tags_declared_in_fieldbench_toml_are_enforced(tmp_path: Path) -> None:
    (tmp_path / "fieldbench.toml").write_text(
        '[dataset]\nlabels = ["normal", "imbalance"]\n'
        '[dataset.tags.site]\nvalues = ["north", "south"]\n'
        '[dataset.tags.temperature]\nvalues = ["-20C", "25C", "60C"]\n'
    )
    with Dataset.open(tmp_path) as ds:
        with _start(ds, tags={"site": "north", "temperature": "60C"}) as w:
            w.append(np.zeros((3, 3), np.int16))
        assert ds.get(w.recording_id).tags == {"site": "north", "temperature": "60C"}
        with pytest.raises(TagError, match="'north', 'south'"):
            _start(ds, tags={"site": "east"})
        with pytest.raises(TagError, match="allowed labels are 'normal', 'imbalance'"):
            _start(ds, label="broken")


def test_sessions_are_ordinals_and_relabelling_keeps_the_payload(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        assert [ds.new_session() for _ in range(3)] == [1, 2, 3]
        rid = ds.add_recording(
            np.arange(30, dtype=np.int16).reshape(10, 3),
            label="normal",
            tags={},
            sample_rate=10.0,
            channel_names=("x", "y", "z"),
            units="g",
            fixed_point_scale=1.0,
            session=2,
        )
        before = ds.get(rid).payload.read_bytes()
        ds.update(rid, label=None, tags={"age": "worn"}, segments=[Segment(0, 4, "normal")])
        info = ds.get(rid)
        assert info.label is None and info.tags == {"age": "worn"}
        assert info.segments == (Segment(0, 4, "normal"),)
        assert info.payload.read_bytes() == before
        with pytest.raises(DatasetError, match="outside the recording"):
            ds.update(rid, segments=[Segment(5, 40, "normal")])


def test_a_failed_batch_leaves_no_rows_and_no_payloads(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        s = ds.new_session()
        with pytest.raises(TagError), ds.transaction():
            ds.add_recording(
                np.zeros((5, 1), np.int16), label="a", tags={}, sample_rate=1.0,
                channel_names=("x",), units="g", fixed_point_scale=1.0, session=s,
            )  # fmt: skip
            ds.add_recording(
                np.zeros((5, 1), np.int16), label="a", tags={"age": "ancient"}, sample_rate=1.0,
                channel_names=("x",), units="g", fixed_point_scale=1.0, session=s,
            )  # fmt: skip
        assert ds.count() == 0
        assert list((tmp_path / "dataset" / "recordings").iterdir()) == []
