"""``fieldbench twin``: start a virtual ESP32-S3 and print the ports to give the app or esptool.

Two ports, as a board has two personalities: the **app port** is the firmware itself
(``node_twin serve``: boot path, slots, link endpoint with OTA, sensor stream) for the Devices
and Capture tabs, ``fieldbench device …`` and ``fieldbench capture --port …``; the **ROM loader
port** is the chip's serial bootloader for esptool. Both work on the same 8 MB flash file. When
an esptool session that wrote flash ends, the app side is rebooted (as esptool's hard reset
does on a board).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any


def default_flash_path() -> Path:
    from core.twin.factory import twin_dir

    return twin_dir() / "flash.bin"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "twin",
        help="run a virtual ESP32-S3 (firmware link + ROM loader over a file-backed 8 MB flash)",
        description="Start the device twin: the firmware's host build serving its link (info, "
        "OTA, rollback, sample stream) on one port, and an emulated ESP32-S3 ROM serial loader "
        "that the unmodified esptool can flash on a second port, over a pty or a local TCP port. "
        "The flash image is a plain 8 MB file; a new one is provisioned with the partition "
        "table and a signed sample bundle in slot 0. The ports are published so the app's port "
        "pickers list 'Fieldbench twin'.",
    )
    p.add_argument("--flash", type=Path, help="flash image file (default: in the user data dir)")
    p.add_argument("--transport", choices=("pty", "socket"), default="socket",
                   help="pty (POSIX) or socket:// on 127.0.0.1 (default)")  # fmt: skip
    p.add_argument("--app-port", type=int, default=0,
                   help="TCP port of the firmware link (default: any free port)")  # fmt: skip
    p.add_argument("--reprovision", action="store_true",
                   help="replace the flash image with a freshly provisioned one")  # fmt: skip
    p.add_argument("--no-app", action="store_true",
                   help="ROM loader only (no firmware link)")  # fmt: skip
    p.add_argument("--sensor", default="",
                   help="sensor simulator parameters, key=value,... (docs/device.md)")  # fmt: skip
    p.add_argument("--battery", type=int, default=100, help="battery level in percent")
    p.add_argument("--seconds", type=float, default=0.0,
                   help="stop after this long (default: run until Ctrl-C)")  # fmt: skip
    p.set_defaults(run=run)


def _interrupt(signum: int, frame: object) -> None:
    # Once: a second SIGTERM/Ctrl-C while shutting down must not abort the clean-up.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from core.twin.app import AppTwin
    from core.twin.factory import provision_twin, trusted_key_files, twin_dir
    from core.twin.runtime import TwinPorts, publish, withdraw
    from core.twin.server import TwinServer

    flash: Path = args.flash or default_flash_path()
    if args.reprovision or not flash.exists():
        provision_twin(flash)  # signed with the factory key the twin trusts
    # SIGTERM (the app closing, a test) unwinds like Ctrl-C so the ports are withdrawn.
    signal.signal(signal.SIGTERM, _interrupt)
    app: AppTwin | None = None
    with TwinServer(flash, args.transport) as rom:
        print(f"twin: ESP32-S3 ROM loader on {rom.port}", flush=True)
        try:
            if not args.no_app:
                app = AppTwin(
                    flash,
                    trust=trusted_key_files(twin_dir()),
                    listen=args.app_port,
                    pty=args.transport == "pty",
                    sensor=args.sensor,
                    battery=args.battery,
                ).start()
                publish(TwinPorts(app.port, rom.port, os.getpid(), str(flash)))
                print(f"twin: firmware link (Fieldbench device) on {app.port}", flush=True)
            print(f"twin: flash image {flash}", flush=True)
            print(f"twin: try  python -m esptool -p {rom.port} flash-id", flush=True)
            if app is not None:
                print(f"twin: try  fieldbench device info --port {app.port}", flush=True)
            deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
            writes = rom.loader_writes()
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
                now = rom.loader_writes()
                if app is not None and now != writes and not rom.busy():
                    app.control("reboot")  # esptool's hard reset after it wrote flash
                    writes = now
                if app is not None and not app.running:
                    print("twin: the firmware side stopped", flush=True)
                    return 2
        except KeyboardInterrupt:
            print("twin: stopped", flush=True)
        finally:
            if app is not None:
                withdraw(os.getpid())
                app.stop()
    return 0
