"""Whole-flash images for the twin: the raw 8 MB NOR contents as one file.

Byte *i* of the file is flash address *i*; the C++ host port (``HostFlash::OpenFile``) maps the
same file, so the ROM loader twin, ``node_twin`` and tests all share it. Blank flash is 0xFF.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from core.atomic import atomic_open
from core.device.appimage import build_app_image, parse_app_image
from core.device.errors import DeviceFormatError
from core.device.otadata import OtaEntry, OtaState, boot_slot, otadata_selecting, read_entries
from core.device.partitions import FLASH_SIZE, TABLE_OFFSET, PartitionTable, default_table
from core.device.slot_manifest import DATA_OFFSET, SlotManifest


@dataclass(frozen=True)
class Bundle:
    """What goes into one slot: an app image, a data payload and the slot manifest."""

    app: bytes
    data: bytes
    epoch: int
    version: str

    @property
    def manifest(self) -> SlotManifest:
        return SlotManifest.describe(self.app, self.data, self.epoch, self.version)


def demo_bundle(version: str = "0.1.0", epoch: int = 0, seed: int = 1) -> Bundle:
    """A small deterministic bundle (48 KiB app, 16 KiB data) for the twin and tests."""
    import random

    rng = random.Random(seed)
    app = build_app_image(version, rng.randbytes(48 * 1024), secure_version=epoch)
    return Bundle(app, rng.randbytes(16 * 1024), epoch, version)


def write_slot(
    flash: bytearray | mmap.mmap, table: PartitionTable, slot: int, bundle: Bundle
) -> None:
    """Factory provisioning of slot ``slot`` (erases the regions first, as NOR requires)."""
    app = table[f"ota_{slot}"]
    model = table[f"model_{slot}"]
    if len(bundle.app) > app.size or len(bundle.data) > model.size - DATA_OFFSET:
        raise DeviceFormatError(f"bundle {bundle.version} does not fit slot {slot}")
    flash[app.offset : app.end] = b"\xff" * app.size
    flash[model.offset : model.end] = b"\xff" * model.size
    flash[app.offset : app.offset + len(bundle.app)] = bundle.app
    raw = bundle.manifest.to_bytes()
    flash[model.offset : model.offset + len(raw)] = raw
    start = model.offset + DATA_OFFSET
    flash[start : start + len(bundle.data)] = bundle.data


def provision(
    path: str | os.PathLike[str], bundle: Bundle | None = None, table: PartitionTable | None = None
) -> None:
    """Writes a fresh flash image: partition table, otadata selecting slot 0 (VALID), and
    ``bundle`` (default: the demo bundle) in slot 0. Atomic: an existing file is replaced whole.
    """
    table = table or default_table()
    flash = bytearray(b"\xff" * FLASH_SIZE)
    raw = table.to_bytes()
    flash[TABLE_OFFSET : TABLE_OFFSET + len(raw)] = raw
    ota = table["otadata"]
    flash[ota.offset : ota.end] = otadata_selecting(0, OtaState.VALID)
    write_slot(flash, table, 0, bundle or demo_bundle())
    with atomic_open(path, "wb") as handle:
        handle.write(flash)


@dataclass(frozen=True)
class SlotView:
    slot: int
    app_version: str | None
    bundle_version: str | None
    problem: str | None


def inspect(flash: bytes) -> tuple[int, tuple[OtaEntry, OtaEntry], list[SlotView]]:
    """Reads table, otadata and both slots from a flash image: (boot slot, entries, slots)."""
    table = PartitionTable.from_bytes(flash[TABLE_OFFSET : TABLE_OFFSET + 0xC00])
    ota = table["otadata"]
    entries = read_entries(flash[ota.offset : ota.end])
    views = []
    apps = table.app_slots()
    for k in range(len(apps)):
        app = table[f"ota_{k}"]
        model = table[f"model_{k}"]
        try:
            image = parse_app_image(flash[app.offset : app.end])
            manifest = SlotManifest.from_bytes(flash[model.offset : model.offset + 128])
            views.append(SlotView(k, image.version, manifest.bundle_version, None))
        except DeviceFormatError as exc:
            views.append(SlotView(k, None, None, str(exc)))
    return boot_slot(entries, len(apps)), entries, views


def read_flash_file(path: str | os.PathLike[str]) -> bytes:
    data = Path(path).read_bytes()
    if len(data) != FLASH_SIZE:
        raise DeviceFormatError(
            f"{path}: {len(data)} bytes, expected an {FLASH_SIZE >> 20} MB image"
        )
    return data
