"""``fieldbench capture``: record from a port, a file or the simulated device into a workspace."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "capture",
        help="record from a serial port, a file or the simulated device into the dataset",
        description="Record a capture into a workspace's dataset. The source is a serial port "
        "speaking the Fieldbench link protocol (docs/protocol.md), the same port in --text mode "
        "(one reading per line), a file (--replay) or the built-in simulated device "
        "(--simulate). Prints live counters and a capture-quality summary.",
    )
    p.add_argument("port", nargs="?", help="serial port or pyserial URL (socket://host:port)")
    p.add_argument("--list-ports", action="store_true", help="list serial ports and exit")
    p.add_argument("--replay", type=Path, metavar="FILE", help="WAV/CSV/NPY or a raw .fblog")
    p.add_argument("--simulate", action="store_true", help="record the simulated device")
    p.add_argument("--text", action="store_true", help="the port prints plain text lines")
    p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    p.add_argument("--rate", type=float, help="sample rate in Hz (text: skips detection)")
    p.add_argument("--channels", type=int, help="text: channel count (skips detection)")
    p.add_argument("--scale", type=float, help="counts per unit for text or CSV values")
    p.add_argument("--units", help="text: physical unit of the values")
    p.add_argument("--seconds", type=float, help="stop after this much signal")
    p.add_argument("--frames", type=int, help="stop after this many frames (text: lines)")
    p.add_argument("--label", help="class label of the recording")
    p.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag (repeatable)"
    )
    p.add_argument("--workspace", type=Path, default=Path("."), help="workspace folder")
    p.add_argument("--raw-log", type=Path, help="also save the raw link bytes to this file")
    p.add_argument("--realtime", action="store_true", help="replay at the file's own pace")
    p.add_argument("--quiet", action="store_true", help="no live counters")
    p.set_defaults(run=run)


def parse_tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--tag {item!r}: write it as key=value, e.g. --tag temperature=hot")
        tags[key.strip()] = value.strip()
    return tags


def run(args: argparse.Namespace) -> int:
    from core.capture import list_ports

    if args.list_ports:
        ports = list_ports()
        if not ports:
            print("no serial ports found (is the board plugged in? try another cable)")
        for port in ports:
            print(port.label())
        return 0
    chosen = sum(bool(x) for x in (args.port, args.replay, args.simulate))
    if chosen != 1:
        raise ConfigError("give exactly one source: a PORT, --replay FILE or --simulate")
    return _capture(args)


def _workspace_scale(root: Path) -> float:
    from core.workspace import CONFIG_NAME, Workspace

    if (root / CONFIG_NAME).is_file():
        return float(Workspace.open(root).features.fixedPointScale)
    return 8000.0


def _capture(args: argparse.Namespace) -> int:
    from core.capture import (
        CaptureSession,
        CaptureSource,
        TextSource,
        replay_source,
        serial_source,
        simulated_source,
    )
    from core.capture.link_source import LinkSource
    from core.capture.streams import SerialStream
    from core.dataset.store import Dataset
    from core.errors import WorkspaceError
    from core.workspace import CONFIG_NAME

    root = args.workspace
    if not (root / CONFIG_NAME).is_file():
        raise WorkspaceError(
            f"{root.resolve()}: no {CONFIG_NAME} here; give --workspace DIR of a workspace"
        )
    tags = parse_tags(args.tag)
    scale = args.scale or _workspace_scale(root)
    raw_log = str(args.raw_log) if args.raw_log else None
    source: CaptureSource
    if args.simulate:
        source = simulated_source(
            args.rate or 1600.0, realtime=True, raw_log=raw_log, samples_per_block=64
        )
    elif args.replay:
        source = replay_source(
            args.replay, sample_rate=args.rate, fixed_point_scale=scale, realtime=args.realtime
        )
    elif args.text:
        source = TextSource(
            SerialStream.open(args.port, args.baud),
            sample_rate=args.rate,
            channels=args.channels,
            units=args.units,
            fixed_point_scale=args.scale,
            default_scale=scale,
            baud=args.baud,
        )
    else:
        source = serial_source(args.port, args.baud)
        if raw_log and isinstance(source, LinkSource):
            source = LinkSource(source.stream, raw_log=raw_log)

    with Dataset.open(root) as ds:
        session = CaptureSession(
            ds,
            source,
            label=args.label,
            tags=tags,
            seconds=args.seconds,
            max_frames=args.frames,
        )
        live = not args.quiet
        done = threading.Event()

        def ticker() -> None:
            while not done.wait(0.5):
                st = session.status()
                if not st.running or session.live is None:
                    continue
                line = f"\r{st.samples} samples  {st.seconds:6.1f} s  {st.quality.summary()}"
                print(line[:160].ljust(100), end="", file=sys.stderr, flush=True)

        old = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda *_: session.stop())
        thread = threading.Thread(target=ticker, daemon=True) if live else None
        if thread:
            thread.start()
        t0 = time.monotonic()
        try:
            result = session.run()
        finally:
            done.set()
            if thread:
                thread.join()
                print(file=sys.stderr)
            signal.signal(signal.SIGINT, old)
    wall = time.monotonic() - t0
    print(result.info.description)
    print(result.summary())
    bad = {k: v for k, v in result.counters.items() if v and k not in _ROUTINE}
    if bad:
        print("problems: " + ", ".join(f"{k}={v}" for k, v in sorted(bad.items())))
    print(f"session {result.session}, {wall:.1f} s wall time")
    return 1 if result.recording_id is None else 0


_ROUTINE = {"bytes_received", "frames_received", "samples_received", "lines"}
