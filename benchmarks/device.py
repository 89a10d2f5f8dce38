"""Device platform figures: power-cut campaign counts and time, ROM-loader twin throughput with
the unmodified esptool, cross-build sizes (when arm-none-eabi-g++ is installed)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.device.appimage import build_app_image  # noqa: E402
from core.device.flash_image import provision  # noqa: E402
from core.twin.server import TwinServer  # noqa: E402


def _campaign(seeds: int) -> None:
    exe = ROOT / "build/host/node/test_node_campaign"
    if not exe.exists():
        print("  campaign: build/host missing (make setup)")
        return
    t = time.perf_counter()
    out = subprocess.run([str(exe), "--seeds", str(seeds)], capture_output=True, text=True).stdout
    dt = time.perf_counter() - t
    for line in out.splitlines():
        if line.startswith(("scenario", "exhaustive:", "random:", "violations:")):
            print("  " + line)
    print(f"  campaign wall time: {dt:.2f} s")


def _esptool(size: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPTOOL")}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        provision(d / "flash.bin")
        img = d / "app.bin"
        img.write_bytes(build_app_image("9.0.0", random.Random(1).randbytes(size)))
        for transport, extra in (("socket", ["--no-stub"]), ("pty", [])):
            with TwinServer(d / "flash.bin", transport) as twin:
                t = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "esptool", "--chip", "esp32s3", "-p", twin.port,
                     "--before", "no-reset", "--after", "no-reset", *extra, "write-flash",
                     "0x290000", str(img)],
                    capture_output=True, cwd=d, env=env, check=True,
                )  # fmt: skip
                dt = time.perf_counter() - t
            mode = "ROM, uncompressed" if extra else "stub, compressed"
            print(f"  esptool write-flash {size // 1024} KiB over {transport} ({mode}): {dt:.2f} s")


def _cross() -> None:
    if shutil.which("arm-none-eabi-g++") is None:
        print("  cross build: arm-none-eabi-g++ not installed (make cross installs it)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(ROOT / "firmware/cross/build.sh"), tmp], capture_output=True,
                             text=True).stdout  # fmt: skip
    for line in out.splitlines():
        print("  " + line)


def main() -> None:
    print("== device platform (issue 7) ==")
    _campaign(1000)
    _esptool(256 * 1024)
    _cross()


if __name__ == "__main__":
    main()
