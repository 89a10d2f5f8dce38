"""Capture sessions into the dataset: limits, live view, replay, lost frames, unplugged cables."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import serial

from core.capture import (
    CaptureError,
    CaptureSession,
    LinkSource,
    LiveRing,
    MemoryStream,
    SerialStream,
    TextSource,
    replay_source,
    simulated_source,
)
from core.cli import main
from core.dataset.store import Dataset
from core.link import SimulatedDevice
from core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
TAGS = {"temperature": "hot", "orientation": "vertical"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    Workspace.create(tmp_path / "ws", "capture test")
    return tmp_path / "ws"


@pytest.fixture
def ds(workspace: Path):  # type: ignore[no-untyped-def]
    with Dataset.open(workspace) as d:
        yield d


def test_a_simulated_capture_lands_in_the_catalog_with_its_metadata(ds: Dataset) -> None:
    session = CaptureSession(
        ds, simulated_source(realtime=False), label="normal", tags=TAGS, seconds=2.0
    )
    result = session.run()
    assert result.recording_id is not None and not result.interrupted
    info = ds.get(result.recording_id)
    assert (info.state, info.samples, info.sample_rate, info.channels) == (
        "complete",
        3200,
        1600,
        3,
    )
    assert info.channel_names == ("accX", "accY", "accZ") and info.units == "g"
    assert info.label == "normal" and info.tags == TAGS
    assert info.device_hash and "02fb00c0ffee" not in info.device_hash
    assert info.quality.frames_lost == 0 and info.quality.declared_rate_hz == 1600
    expected = SimulatedDevice().next_samples(3200)
    assert np.array_equal(ds.load(result.recording_id), expected)


def test_progress_live_ring_and_sample_callback_see_every_block(ds: Dataset) -> None:
    seen: list[int] = []
    calls: list[tuple[int, int]] = []
    session = CaptureSession(
        ds,
        simulated_source(realtime=False),
        tags=TAGS,
        seconds=3.0,
        live_seconds=1.0,
        on_samples=lambda b: seen.append(b.shape[0]),
    )
    result = session.run(progress=lambda d, t: calls.append((d, t)))
    assert sum(seen) == 4800 and calls[-1] == (4800, 4800)
    assert session.live is not None
    recent, first = session.live.snapshot()
    assert first == 4800 - 1600
    assert np.array_equal(recent, ds.load(result.recording_id)[-1600:])  # type: ignore[arg-type]


def test_live_ring_wraps_and_keeps_the_newest_samples() -> None:
    ring = LiveRing(10, 1)
    for start in range(0, 37, 7):
        ring.push(np.arange(start, start + 7, dtype=np.int16)[:, None])
    held, first = ring.snapshot()
    assert first == 32 and np.array_equal(held[:, 0], np.arange(32, 42))


def test_cancel_stops_the_capture_and_keeps_it_complete(ds: Dataset) -> None:
    polls = iter(range(100))
    session = CaptureSession(ds, simulated_source(realtime=False), tags=TAGS)
    result = session.run(cancel=lambda: next(polls) >= 5)
    assert result.stopped_by_user and not result.interrupted
    assert ds.get(result.recording_id).state == "complete"  # type: ignore[arg-type]
    assert result.samples == ds.get(result.recording_id).samples > 0  # type: ignore[arg-type]


def test_a_frame_limit_stops_after_that_many_frames(ds: Dataset) -> None:
    result = CaptureSession(ds, simulated_source(realtime=False), tags=TAGS, max_frames=10).run()
    assert 10 <= result.quality.frames_received <= 10 + 16
    assert result.samples == (result.quality.frames_received - 2) * 64  # two INFOs: boot, HELLO


def test_bad_tags_are_refused_before_anything_is_written(ds: Dataset) -> None:
    from core.errors import FieldbenchError

    with pytest.raises(FieldbenchError, match="temperature"):
        CaptureSession(ds, simulated_source(realtime=False), tags={"temperature": "warm"}).run()
    assert ds.count() == 0


def test_lost_and_corrupt_frames_are_accounted_in_the_recording(ds: Dataset) -> None:
    dev = SimulatedDevice()
    frames = [f for f in (dev.boot() + dev.blocks(100)).split(b"\x00") if f]
    frames[40] = frames[40][:50] + bytes([frames[40][50] ^ 0xFF]) + frames[40][51:]
    del frames[60:63]
    wire = b"\x00" + b"\x00".join(frames) + b"\x00"
    chunks = [wire[i : i + 1000] for i in range(0, len(wire), 1000)]
    result = CaptureSession(ds, LinkSource(MemoryStream(chunks), live=False), tags=TAGS).run()
    q = ds.get(result.recording_id).quality  # type: ignore[arg-type]
    assert (q.frames_received, q.frames_lost, q.crc_errors) == (97, 4, 1)
    assert result.samples == 96 * 64
    assert result.counters["samples_missing"] == 4 * 64


def test_garbage_before_the_device_speaks_gives_a_clear_error(ds: Dataset) -> None:
    rng = np.random.default_rng(5)
    junk = [rng.integers(1, 256, 500, dtype=np.uint8).tobytes() for _ in range(100)]
    src = LinkSource(MemoryStream(junk), handshake_s=0.0)
    with pytest.raises(CaptureError, match="baud rate"):
        CaptureSession(ds, src, tags=TAGS).run()
    assert ds.count() == 0


# -- replay -----------------------------------------------------------------------------------


def test_a_raw_link_log_replays_to_the_same_samples(ds: Dataset, tmp_path: Path) -> None:
    log = tmp_path / "session.fblog"
    live = CaptureSession(
        ds, simulated_source(realtime=False, raw_log=str(log)), tags=TAGS, seconds=1.0
    ).run()
    replayed = CaptureSession(ds, replay_source(log), tags=TAGS).run()
    original = ds.load(live.recording_id)  # type: ignore[arg-type]
    again = ds.load(replayed.recording_id)  # type: ignore[arg-type]
    assert np.array_equal(again[: original.shape[0]], original)
    assert ds.get(replayed.recording_id).source == "replay"  # type: ignore[arg-type]


def test_wav_csv_and_npy_files_replay_into_recordings(ds: Dataset, tmp_path: Path) -> None:
    x = (np.arange(3000 * 2).reshape(3000, 2) % 2000 - 1000).astype(np.int16)
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(x.tobytes())
    npy = tmp_path / "a.npy"
    np.save(npy, x)
    csv = tmp_path / "a.csv"
    rows = "\n".join(f"{i * 10},{a / 1000:.3f},{b / 1000:.3f}" for i, (a, b) in enumerate(x))
    csv.write_text("timestamp,accX,accY\n" + rows + "\n")
    for path, rate, scale in ((wav, None, 1.0), (npy, 500.0, 1.0), (csv, None, 8000.0)):
        result = CaptureSession(ds, replay_source(path, sample_rate=rate), tags=TAGS).run()
        info = ds.get(result.recording_id)  # type: ignore[arg-type]
        assert info.samples == 3000 and info.fixed_point_scale == scale
        data = ds.load(result.recording_id)  # type: ignore[arg-type]
        want = x if scale == 1.0 else np.rint(x / 1000 * 8000).astype(np.int16)
        assert np.array_equal(data, want)
    assert ds.get(result.recording_id).sample_rate == 100.0  # type: ignore[arg-type]
    assert ds.get(result.recording_id).channel_names == ("accX", "accY")  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="--rate"):
        CaptureSession(ds, replay_source(npy), tags=TAGS).run()


# -- unplugged cables -------------------------------------------------------------------------


def _serve_once(blocks: int, linger: float = 0.3) -> tuple[int, threading.Thread]:
    """A TCP 'device' that sends boot + blocks, waits, then hangs up like a pulled cable."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        conn.settimeout(2.0)
        conn.recv(64)  # the HELLO: unread input would turn the hang-up into a reset
        dev = SimulatedDevice()
        conn.sendall(dev.boot() + dev.blocks(blocks))
        time.sleep(linger)
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def _assert_interrupted_and_consistent(ds: Dataset, result, max_samples: int) -> None:  # type: ignore[no-untyped-def]
    assert result.interrupted and "connection lost" in result.note, result.note
    info = ds.get(result.recording_id)
    assert info.state == "interrupted" and info.note == result.note
    data = ds.load(result.recording_id)
    assert data.shape == (info.samples, 3) and 0 < info.samples <= max_samples
    assert np.array_equal(data, SimulatedDevice().next_samples(info.samples))


def test_a_socket_that_hangs_up_keeps_the_partial_recording(ds: Dataset) -> None:
    port, thread = _serve_once(blocks=200)
    src = LinkSource(SerialStream.open(f"socket://127.0.0.1:{port}"))
    result = CaptureSession(ds, src, tags=TAGS).run()
    thread.join()
    _assert_interrupted_and_consistent(ds, result, 200 * 64)
    assert result.samples == 200 * 64  # everything before the hang-up arrived


def test_a_pty_whose_device_side_closes_keeps_the_partial_recording(ds: Dataset) -> None:
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), timeout=0.05)
    dev = SimulatedDevice()

    def device() -> None:
        data = dev.boot() + dev.blocks(100)
        for i in range(0, len(data), 512):
            os.write(master, data[i : i + 512])
            time.sleep(0.002)
        time.sleep(0.3)
        os.close(master)

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    try:
        result = CaptureSession(ds, LinkSource(SerialStream(port)), tags=TAGS).run()
    finally:
        thread.join()
        os.close(slave)
    _assert_interrupted_and_consistent(ds, result, 100 * 64)


def test_text_lines_over_a_socket_that_hangs_up(ds: Dataset) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def board() -> None:
        conn, _ = server.accept()
        for i in range(300):
            conn.sendall(f"{i % 7},{-i % 5},{i % 3}\n".encode())
            time.sleep(0.005)
        time.sleep(0.2)
        conn.close()
        server.close()

    thread = threading.Thread(target=board, daemon=True)
    thread.start()
    src = TextSource(SerialStream.open(f"socket://127.0.0.1:{port}"), sample_rate=200.0)
    result = CaptureSession(ds, src, tags=TAGS).run()
    thread.join()
    assert result.interrupted and ds.get(result.recording_id).state == "interrupted"  # type: ignore[arg-type]
    assert result.samples == 299 and result.info.units == "counts"


def test_a_capture_process_killed_mid_write_leaves_a_readable_recording(workspace: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "core.cli", "capture", "--simulate", "--rate", "16000"]
    cmd += ["--workspace", str(workspace), "--quiet", "--tag", "temperature=cold"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    payload = workspace / "dataset" / "recordings" / "000001.npy"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if payload.exists() and payload.stat().st_size > 200_000:
                break
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.05)
        else:
            pytest.fail("the capture subprocess wrote nothing in 30 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    with Dataset.open(workspace) as ds:
        assert ds.recovered == [1]
        info = ds.get(1)
        assert info.state == "interrupted" and info.tags == {"temperature": "cold"}
        data = ds.load(1)
        assert data.shape == (info.samples, 3) and info.samples >= 30_000
        dev = SimulatedDevice(__import__("core.link.simulator").link.simulator.default_info(16000))
        assert np.array_equal(data, dev.next_samples(info.samples))


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_captures_the_simulated_device_and_prints_the_quality(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["capture", "--simulate", "--seconds", "0.5", "--workspace", str(workspace)]
    argv += ["--label", "normal", "--tag", "noise=quiet", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "recording 1 (complete): 800 samples" in out and "0 lost" in out
    with Dataset.open(workspace) as ds:
        assert ds.get(1).tags == {"noise": "quiet"}


def test_cli_refuses_unclear_sources_and_tags(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["capture", "--workspace", str(workspace)]) == 2
    assert "exactly one source" in capsys.readouterr().err
    argv = ["capture", "--simulate", "--workspace", str(workspace), "--tag", "temperature"]
    assert main(argv) == 2
    assert "key=value" in capsys.readouterr().err
    assert main(["capture", "/dev/does-not-exist", "--workspace", str(workspace)]) == 2
    assert "list-ports" in capsys.readouterr().err
    assert main(["capture", "--list-ports"]) == 0
