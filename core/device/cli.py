"""``fieldbench device info|ota|rollback --port P``: talk to a board or a twin by its port."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "device",
        help="identify a device, install a bundle over the link (OTA), roll back",
        description="Talk to a node running Fieldbench firmware, or to a twin, by its port: "
        "a serial device (/dev/ttyACM0, COM3), a pty or socket://127.0.0.1:PORT.",
    )
    sub = p.add_subparsers(dest="device_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--port", required=True, help="serial port, pty or socket://host:port")
        q.add_argument("--baud", type=int, default=115200, help="UART baud rate (default 115200)")
        q.add_argument("--timeout", type=float, default=2.0, help="seconds per request attempt")

    info = sub.add_parser("info", help="chip, device id, versions and both slots")
    common(info)
    info.set_defaults(run=run_info)

    ota = sub.add_parser("ota", help="install a signed bundle into the inactive slot")
    common(ota)
    ota.add_argument("bundle", type=Path, help="the bundle file (.fbb)")
    ota.add_argument("--no-commit", action="store_true",
                     help="stage and verify only; keep running the current bundle")  # fmt: skip
    ota.add_argument("--restart", action="store_true",
                     help="discard a partial transfer instead of resuming it")  # fmt: skip
    ota.set_defaults(run=run_ota)

    rb = sub.add_parser("rollback", help="boot the other slot's bundle (it must verify)")
    common(rb)
    rb.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rb.set_defaults(run=run_rollback)

    cal = sub.add_parser("calibrate", help="persist a calibration offset for a slot's bundle")
    common(cal)
    cal.add_argument("offset", type=int, help="offset in feature counts (-32768 … 32767)")
    cal.add_argument("--slot", type=int, choices=(0, 1), help="default: the running bundle")
    cal.set_defaults(run=run_calibrate)


def _connect(args: argparse.Namespace) -> Any:
    from core.device.client import DeviceClient

    return DeviceClient.open(args.port, baud=args.baud, timeout=args.timeout)


def run_info(args: argparse.Namespace) -> int:
    from core.device.commands import identify

    with _connect(args) as client:
        for line in identify(client).lines():
            print(line)
    return 0


def run_ota(args: argparse.Namespace) -> int:
    from core.device.commands import identify
    from core.device.ota import install_bundle, read_bundle

    data = read_bundle(args.bundle)
    last = [-1]

    def progress(fraction: float) -> None:
        pct = int(fraction * 100)
        if pct // 10 != last[0] // 10:
            print(f"ota: {pct:3d} %", flush=True)
        last[0] = pct

    with _connect(args) as client:
        before = identify(client)
        print(f"ota: {args.bundle.name} ({len(data)} bytes) → {before.port}, running slot "
              f"{before.running_slot} ({before.bundle_version or '-'})")  # fmt: skip
        report = install_bundle(
            client, data, commit=not args.no_commit, restart=args.restart, progress=progress
        )
    if report.resumed_from:
        print(f"ota: resumed at byte {report.resumed_from}")
    print(
        f"ota: {report.chunks_sent} chunks, {report.bytes_sent} bytes sent, "
        f"{report.bytes_resent} re-sent, {report.resumes} resumes"
    )
    print(f"ota: {report.message()}")
    if report.after is not None:
        for line in report.after.lines():
            print(line)
    return 0 if report.installed or (args.no_commit and report.verified) else 1


def run_rollback(args: argparse.Namespace) -> int:
    from core.device.commands import identify, rollback, rollback_refusal

    with _connect(args) as client:
        before = identify(client)
        others = [s for s in before.slots if s.slot != before.running_slot]
        target = others[0] if others else None
        why = rollback_refusal(before)
        if why is not None:
            print(f"rollback: the device will likely refuse: {why}", file=sys.stderr)
        if not args.yes:
            what = target.bundle_version if target and target.bundle_version else "(empty)"
            answer = input(
                f"Roll {before.port} back from {before.bundle_version or '-'} to {what}? [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("rollback: not done")
                return 1
        result = rollback(client, before)
    print(f"rollback: {result.message()}")
    return 0 if result.ok else 1


def run_calibrate(args: argparse.Namespace) -> int:
    from core.device.commands import set_calibration_offset

    with _connect(args) as client:
        offset, left = set_calibration_offset(client, args.offset, args.slot)
    print(f"calibration offset {offset} stored ({left} more changes fit in this bundle's log)")
    return 0
