"""Capture figures: link-parser throughput and a 60 s capture at the USB full-speed ceiling.

The capture runs a simulated device in a child process that streams the link protocol over a
local TCP socket at 1.2 MB/s, paced in real time; this process decodes it and writes it into a
temporary workspace through ``CaptureSession``. CPU is this process's CPU time over wall time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.link import SimulatedDevice, StreamDecoder  # noqa: E402
from core.link.messages import SampleBlock  # noqa: E402
from core.link.simulator import default_info  # noqa: E402

FEEDER = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from core.link.simulator import SimulatedDevice, default_info
rate, channels, per = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dev = SimulatedDevice(default_info(rate, channels, per))
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
conn.sendall(dev.boot())
t0, sent, block_s = time.monotonic(), 0, per / rate
try:
    while True:
        due = int((time.monotonic() - t0) / block_s) + 1
        if due > sent:
            conn.sendall(dev.blocks(due - sent))
            sent = due
        time.sleep(0.002)
except OSError:
    pass
"""


def parser_throughput(label: str, stream: bytes, chunk: int = 65536) -> float:
    best = float("inf")
    for _ in range(3):
        dec = StreamDecoder()
        t0 = time.perf_counter()
        for i in range(0, len(stream), chunk):
            dec.feed(stream[i : i + chunk])
        best = min(best, time.perf_counter() - t0)
    assert dec.counters.bad_frames == 0 and dec.counters.frames_lost == 0
    mbps = len(stream) / best / 1e6
    frames = dec.counters.frames_received
    print(f"  {label:<52} {mbps:7.1f} MB/s  ({frames} frames, {len(stream) / 1e6:.1f} MB)")
    return mbps


def parser_section() -> None:
    print("link frame parser (pure Python + numpy; target ≥ 10 MB/s)")
    dev = SimulatedDevice(default_info(1600, 3, 64))
    parser_throughput("3 ch × 64 samples/block (vibration node)", dev.boot() + dev.blocks(20000))
    dev = SimulatedDevice(default_info(150000, 4, 128))
    parser_throughput("4 ch × 128 samples/block (USB ceiling stream)", dev.blocks(10000))
    dev = SimulatedDevice(default_info(16000, 1, 2058))
    parser_throughput("1 ch × 2058 samples/block (largest frames)", dev.blocks(2000))
    # Worst case for COBS: all-zero samples, one code byte per data byte.
    zeros = np.zeros((128, 4), np.int16)
    dev = SimulatedDevice(default_info(150000, 4, 128))
    silent = b"".join(dev.block(zeros) for _ in range(3000))
    parser_throughput("4 ch × 128, all-zero samples (COBS worst case)", silent)
    _ = SampleBlock


def capture_section(seconds: float) -> None:
    from core.capture import CaptureSession, LinkSource, SocketStream
    from core.dataset.store import Dataset
    from core.workspace import Workspace

    rate, channels, per = 150000.0, 4, 128
    frame_bytes = len(SimulatedDevice(default_info(rate, channels, per)).block())
    byte_rate = frame_bytes * rate / per
    print(
        f"\n{seconds:g} s capture from a loopback device at {byte_rate / 1e6:.2f} MB/s "
        f"({channels} ch × {rate / 1000:g} kHz int16, {per}-sample blocks, TCP loopback; "
        "targets: 0 frames lost, CPU < 30 % of one core)"
    )
    feeder = subprocess.Popen(
        [sys.executable, "-c", FEEDER, str(ROOT), str(rate), str(channels), str(per)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert feeder.stdout is not None
        port = int(feeder.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            Workspace.create(Path(tmp) / "ws", "bench")
            with Dataset.open(Path(tmp) / "ws") as ds:
                source = LinkSource(SocketStream.open(f"socket://127.0.0.1:{port}"))
                session = CaptureSession(ds, source, seconds=seconds, live_seconds=2.0)
                w0, c0 = time.perf_counter(), time.process_time()
                result = session.run()
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                payload = ds.get(result.recording_id).payload.stat().st_size  # type: ignore[arg-type]
    finally:
        feeder.kill()
        feeder.wait()
        if feeder.stdout is not None:
            feeder.stdout.close()
    q, c = result.quality, result.counters
    print(f"  samples recorded           {result.samples} ({result.seconds:.1f} s of signal)")
    print(f"  bytes received             {c['bytes_received'] / 1e6:.1f} MB")
    print(f"  payload on disk            {payload / 1e6:.1f} MB")
    print(f"  frames received / lost     {q.frames_received} / {q.frames_lost}")
    print(f"  CRC errors / bad frames    {q.crc_errors} / {c['truncated_frames']}")
    print(f"  measured vs declared rate  {q.measured_rate_hz or 0:.1f} / {q.declared_rate_hz} Hz")
    print(f"  arrival jitter             {q.jitter_ms or 0:.2f} ms")
    print(f"  wall / CPU time            {wall:.1f} s / {cpu:.1f} s")
    print(f"  CPU                        {100 * cpu / wall:.1f} % of one core")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="capture length (default 60)")
    args = p.parse_args(argv)
    print("== Capture ==")
    parser_section()
    capture_section(args.seconds)


if __name__ == "__main__":
    main()
