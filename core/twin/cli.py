"""``fieldbench twin``: start a virtual ESP32-S3 and print the port to give esptool or the app."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def default_flash_path() -> Path:
    from core.paths import user_data_dir

    return user_data_dir() / "twin" / "flash.bin"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "twin",
        help="run a virtual ESP32-S3 (ROM loader over a file-backed 8 MB flash)",
        description="Start the device twin: an emulated ESP32-S3 ROM serial loader that the "
        "unmodified esptool can flash, over a pty or a local TCP port. The flash image is a "
        "plain 8 MB file shared with the firmware's host build; a new one is provisioned with "
        "the partition table and a demo bundle in slot 0.",
    )
    p.add_argument("--flash", type=Path, help="flash image file (default: in the user data dir)")
    p.add_argument("--transport", choices=("pty", "socket"), default="socket",
                   help="pty (POSIX) or socket:// on 127.0.0.1 (default)")  # fmt: skip
    p.add_argument("--reprovision", action="store_true",
                   help="replace the flash image with a freshly provisioned one")  # fmt: skip
    p.add_argument("--seconds", type=float, default=0.0,
                   help="stop after this long (default: run until Ctrl-C)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.device.flash_image import provision
    from core.twin.server import TwinServer

    flash: Path = args.flash or default_flash_path()
    if args.reprovision or not flash.exists():
        provision(flash)
    with TwinServer(flash, args.transport) as twin:
        print(f"twin: ESP32-S3 ROM loader on {twin.port}", flush=True)
        print(f"twin: flash image {flash}", flush=True)
        print(f"twin: try  python -m esptool -p {twin.port} flash-id", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("twin: stopped")
    return 0
