"""Partition table, otadata, app images and slot manifests: Python builders, Python parsers,
the unmodified esptool, and the C++ node component (through node_twin) agree."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from core.device.appimage import build_app_image, parse_app_image
from core.device.errors import DeviceFormatError
from core.device.flash_image import demo_bundle, inspect, provision, read_flash_file
from core.device.otadata import OtaEntry, OtaState, active_index, boot_slot, seq_crc
from core.device.partitions import PartitionTable, default_table, parse_csv
from core.device.slot_manifest import SlotManifest

ROOT = Path(__file__).resolve().parents[2]
NODE_TWIN = Path(os.environ.get("FIELDBENCH_NODE_TWIN", ROOT / "build/host/node/node_twin"))


def test_default_table_has_the_seven_partitions_of_an_8mb_node() -> None:
    t = default_table()
    assert [p.label for p in t.partitions] == [
        "nvs", "otadata", "phy_init", "ota_0", "ota_1", "model_0", "model_1",
    ]  # fmt: skip
    assert t["otadata"].size == 0x2000
    assert all(p.offset % 0x10000 == 0 for p in t.app_slots())
    assert t["model_1"].end == 8 * 1024 * 1024


def test_binary_table_round_trips_and_carries_an_md5_row() -> None:
    raw = default_table().to_bytes()
    assert len(raw) == 0xC00
    assert raw[:2] == b"\xaa\x50" and raw[7 * 32 : 7 * 32 + 2] == b"\xeb\xeb"
    assert PartitionTable.from_bytes(raw) == default_table()


def test_a_table_with_a_wrong_md5_is_rejected() -> None:
    raw = bytearray(default_table().to_bytes())
    raw[4] ^= 1
    with pytest.raises(DeviceFormatError, match="MD5"):
        PartitionTable.from_bytes(bytes(raw))


def test_csv_errors_name_the_line_and_the_fix() -> None:
    with pytest.raises(DeviceFormatError, match=r"line 1.*0x10000 boundary"):
        parse_csv("ota_0, app, ota_0, 0x11000, 0x100000,")
    with pytest.raises(DeviceFormatError, match="exactly 0x2000"):
        parse_csv("otadata, data, ota, 0xd000, 0x1000,")


def test_otadata_crc_matches_esp_idf_values() -> None:
    assert [seq_crc(s) for s in (1, 2, 3)] == [0x4743989A, 0x55F63774, 0xED4A5011]
    raw = OtaEntry.select(2, OtaState.VALID).to_bytes()
    assert raw.hex() == "02000000" + "ff" * 20 + "02000000" + "7437f655"


def test_otadata_selection_follows_the_larger_valid_sequence() -> None:
    a = OtaEntry.select(3, OtaState.VALID)
    b = OtaEntry.select(4, OtaState.ABORTED)
    assert active_index((a, b)) == 0 and boot_slot((a, b), 2) == 0
    c = OtaEntry.select(4, OtaState.PENDING_VERIFY)
    assert boot_slot((a, c), 2) == 1
    assert boot_slot((OtaEntry(), OtaEntry()), 2) == 0  # blank: no factory -> ota_0


def test_app_image_round_trips_and_detects_a_flipped_bit() -> None:
    img = build_app_image("2.0.1", bytes(range(256)) * 40, secure_version=3)
    info = parse_app_image(img)
    assert (info.version, info.secure_version, info.chip_id) == ("2.0.1", 3, 9)
    assert info.length == len(img) and len(img) % 16 == 0
    bad = bytearray(img)
    bad[500] ^= 0x10
    with pytest.raises(DeviceFormatError, match="checksum"):
        parse_app_image(bytes(bad))


def test_esptool_image_info_reads_our_app_image(
    tmp_path: Path, esptool: tuple[list[str], dict[str, str]]
) -> None:
    path = tmp_path / "app.bin"
    path.write_bytes(build_app_image("1.4.2", b"\x5a" * 5000, secure_version=7))
    cmd, env = esptool
    out = subprocess.run(
        [*cmd, "--chip", "esp32s3", "image-info", str(path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    ).stdout  # fmt: skip
    assert "Checksum: " in out and "(valid)" in out.split("Checksum: ")[1].splitlines()[0]
    assert "Validation hash:" in out and "App version: 1.4.2" in out
    assert "Secure version: 7" in out and "Chip ID: 9 (ESP32-S3)" in out


def test_slot_manifest_round_trips_and_rejects_corruption() -> None:
    m = SlotManifest.describe(b"app", b"data", 4, "1.0.0")
    raw = m.to_bytes()
    assert len(raw) == 128 and SlotManifest.from_bytes(raw) == m
    with pytest.raises(DeviceFormatError):
        SlotManifest.from_bytes(raw[:20] + bytes([raw[20] ^ 1]) + raw[21:])


def test_provisioned_flash_boots_slot_0(tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    provision(path, demo_bundle("0.3.0"))
    slot, entries, views = inspect(read_flash_file(path))
    assert slot == 0 and entries[0].valid and entries[0].state == OtaState.VALID
    assert views[0].bundle_version == "0.3.0" and views[1].problem is not None


@pytest.mark.skipif(not NODE_TWIN.exists(), reason="host build missing: run `make setup`")
def test_cpp_node_reads_the_python_flash_image_identically(tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    bundle = demo_bundle("0.4.0", epoch=2)
    provision(path, bundle)
    out = subprocess.run(
        [str(NODE_TWIN), "boot", "--flash", str(path)], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    table = default_table()
    assert [(p["label"], p["offset"], p["size"]) for p in report["partitions"]] == [
        (p.label, p.offset, p.size) for p in table.partitions
    ]
    assert report["md5_row"] is True
    assert report["boot"] == {"running_slot": 0, "state": "VALID", "outcome": "running", "boots": 1}
    s0 = report["slots"][0]
    assert s0["verify"] == "none" and s0["bundle_version"] == "0.4.0" and s0["epoch"] == 2
    assert s0["app_size"] == len(bundle.app)
    assert report["slots"][1]["verify"] == "slot_empty"
    # One flipped byte in the data payload: the C++ verifier names it.
    data = bytearray(path.read_bytes())
    data[table["model_0"].offset + 0x1000 + 10] ^= 1
    path.write_bytes(bytes(data))
    report = json.loads(
        subprocess.run([str(NODE_TWIN), "info", "--flash", str(path)], capture_output=True,
                       text=True, check=True).stdout
    )  # fmt: skip
    assert report["slots"][0]["verify"] == "data_hash_mismatch"
    assert struct.calcsize("<I") == 4
