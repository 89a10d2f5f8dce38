"""The unmodified esptool 5 flashes, reads back and verifies the twin's flash through its ROM
loader emulation, over TCP (socket://) and a pty, with and without the stub."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from core.device.appimage import build_app_image, parse_app_image
from core.device.client import DeviceClient
from core.device.commands import identify
from core.device.flash_image import provision
from core.device.partitions import default_table
from core.twin.server import TwinServer

OTA_1 = default_table()["ota_1"].offset


def run_esptool(esptool: tuple[list[str], dict[str, str]], port: str, cwd: Path, *args: str) -> str:
    cmd, env = esptool
    proc = subprocess.run(
        [*cmd, "--chip", "esp32s3", "-p", port, "--before", "no-reset", "--after", "no-reset",
         *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "app.bin"
    path.write_bytes(build_app_image("3.1.4", random.Random(5).randbytes(60_000)))
    return path


def test_rom_path_write_read_verify_and_image_info_over_a_socket(
    tmp_path: Path, image: Path, esptool: tuple[list[str], dict[str, str]]
) -> None:
    flash = tmp_path / "flash.bin"
    provision(flash)
    with TwinServer(flash, "socket") as twin:
        out = run_esptool(esptool, twin.port, tmp_path, "--no-stub", "write-flash",
                          hex(OTA_1), str(image))  # fmt: skip
        assert "ESP32-S3" in out and "Hash of data verified." in out
        back = tmp_path / "back.bin"
        size = image.stat().st_size
        run_esptool(esptool, twin.port, tmp_path, "--no-stub", "read-flash", hex(OTA_1),
                    hex(size), str(back))  # fmt: skip
        assert back.read_bytes() == image.read_bytes()
        out = run_esptool(esptool, twin.port, tmp_path, "--no-stub", "verify-flash",
                          hex(OTA_1), str(image))  # fmt: skip
        assert "verification successful" in out.lower() or "Verification successful" in out
    # The flash file itself (what the C++ host port maps) holds the image.
    raw = flash.read_bytes()[OTA_1 : OTA_1 + size]
    assert parse_app_image(raw).version == "3.1.4"
    cmd, env = esptool
    info = subprocess.run([*cmd, "--chip", "esp32s3", "image-info", str(back)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, check=True).stdout  # fmt: skip
    assert "App version: 3.1.4" in info


@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX only")
def test_stub_path_compressed_write_streaming_read_and_erase_over_a_pty(
    tmp_path: Path, image: Path, esptool: tuple[list[str], dict[str, str]]
) -> None:
    flash = tmp_path / "flash.bin"
    provision(flash)
    with TwinServer(flash, "pty") as twin:
        assert os.path.exists(twin.port)
        out = run_esptool(esptool, twin.port, tmp_path, "--baud", "921600", "write-flash",
                          hex(OTA_1), str(image))  # fmt: skip
        assert "Stub flasher running" in out and "Hash of data verified." in out
        assert "compressed" in out
        back = tmp_path / "back.bin"
        run_esptool(esptool, twin.port, tmp_path, "read-flash", hex(OTA_1),
                    hex(image.stat().st_size), str(back))  # fmt: skip
        assert back.read_bytes() == image.read_bytes()
        run_esptool(esptool, twin.port, tmp_path, "erase-region", hex(OTA_1), "0x1000")
        assert twin.flash[OTA_1 : OTA_1 + 0x1000] == b"\xff" * 0x1000
        assert twin.flash[OTA_1 + 0x1000 : OTA_1 + 0x1010] == image.read_bytes()[0x1000:0x1010]


def test_rom_compressed_write_and_unaligned_offset(
    tmp_path: Path, esptool: tuple[list[str], dict[str, str]]
) -> None:
    flash = tmp_path / "flash.bin"
    provision(flash)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xc0\xdb" * 3000 + bytes(range(256)))  # SLIP specials round-trip
    with TwinServer(flash, "socket") as twin:
        run_esptool(esptool, twin.port, tmp_path, "--no-stub", "write-flash", "--compress",
                    "0x290100", str(blob))  # fmt: skip
        data = bytes(twin.flash[0x290100 : 0x290100 + blob.stat().st_size])
    assert data == blob.read_bytes()


LAUNCH = "import sys; from core.cli import main; sys.exit(main(sys.argv[1:]))"


def test_fieldbench_twin_prints_a_port_esptool_can_use(tmp_path: Path) -> None:
    flash = tmp_path / "flash.bin"
    home = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "twin", "--flash", str(flash), "--seconds", "20"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **home},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("twin: ESP32-S3 ROM loader on socket://127.0.0.1:")
        port = line.split(" on ", 1)[1].strip()
        app_line = proc.stdout.readline()
        assert app_line.startswith("twin: firmware link (Fieldbench device) on socket://")
        app_port = app_line.split(" on ", 1)[1].strip()
        published = json.loads((tmp_path / "data/fieldbench/twin/runtime.json").read_text())
        assert published["app_port"] == app_port and published["rom_port"] == port
        with DeviceClient.open(app_port) as client:
            assert identify(client).bundle_version == "edge-inference-v2.4.1"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESPTOOL")}
        out = subprocess.run(
            [sys.executable, "-m", "esptool", "-p", port, "--no-stub", "flash-id"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ESP32-S3" in out.stdout and "Detected flash size: 8MB" in out.stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert flash.stat().st_size == 8 * 1024 * 1024
    assert not (tmp_path / "data/fieldbench/twin/runtime.json").exists()  # withdrawn on exit
