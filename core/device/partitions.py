"""ESP-IDF partition tables: the CSV of ``firmware/partitions.csv`` and its binary form.

The binary table (``gen_esp32part.py`` format, ``esp_flash_partitions.h``) is a list of 32-byte
entries ``<2sBBII16sI`` (magic ``AA 50``, type, subtype, offset, size, label, flags), then an MD5
row (``EB EB``, 14 × ``FF``, MD5 of all entry bytes) and ``FF`` padding to 0xC00 bytes. It is
flashed at 0x8000. The C++ parser is ``firmware/components/node/src/partition_table.cpp``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from core.device.errors import DeviceFormatError

TABLE_OFFSET = 0x8000
TABLE_MAX_LEN = 0xC00
ENTRY = struct.Struct("<2sBBII16sI")
MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
FLASH_SIZE = 8 * 1024 * 1024
DEFAULT_CSV = Path(__file__).resolve().parents[2] / "firmware" / "partitions.csv"

TYPES = {"app": 0x00, "data": 0x01}
APP_SUBTYPES = {"factory": 0x00, "test": 0x20} | {f"ota_{i}": 0x10 + i for i in range(16)}
DATA_SUBTYPES = {
    "ota": 0x00,
    "phy": 0x01,
    "nvs": 0x02,
    "coredump": 0x03,
    "nvs_keys": 0x04,
    "efuse": 0x05,
    "undefined": 0x06,
    "esphttpd": 0x80,
    "fat": 0x81,
    "spiffs": 0x82,
    "littlefs": 0x83,
}


@dataclass(frozen=True)
class Partition:
    """One row of the table."""

    label: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class PartitionTable:
    """The partitions in flash order."""

    partitions: tuple[Partition, ...]

    def __getitem__(self, label: str) -> Partition:
        for p in self.partitions:
            if p.label == label:
                return p
        raise DeviceFormatError(f"partition table: no partition named {label!r}")

    def app_slots(self) -> list[Partition]:
        """The ota_N app partitions ordered by N."""
        apps = [p for p in self.partitions if p.type == 0 and 0x10 <= p.subtype < 0x20]
        return sorted(apps, key=lambda p: p.subtype)

    def to_bytes(self) -> bytes:
        """The binary table with its MD5 row, padded with FF to 0xC00 bytes."""
        body = b"".join(
            ENTRY.pack(
                MAGIC,
                p.type,
                p.subtype,
                p.offset,
                p.size,
                p.label.encode("ascii")[:16].ljust(16, b"\0"),
                p.flags,
            )
            for p in self.partitions
        )
        md5_row = MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()
        return (body + md5_row).ljust(TABLE_MAX_LEN, b"\xff")

    @classmethod
    def from_bytes(cls, data: bytes) -> PartitionTable:
        """Parses a binary table; checks the MD5 row when present."""
        parts: list[Partition] = []
        for off in range(0, min(len(data), TABLE_MAX_LEN) - 31, 32):
            raw = data[off : off + 32]
            if raw[:2] == b"\xff\xff":
                break
            if raw[:2] == MD5_MAGIC:
                if hashlib.md5(data[:off]).digest() != raw[16:32]:
                    raise DeviceFormatError("partition table: the MD5 row does not match")
                continue
            if raw[:2] != MAGIC:
                raise DeviceFormatError(f"partition table: bad entry magic at +0x{off:x}")
            _, typ, sub, offset, size, label, flags = ENTRY.unpack(raw)
            name = label.split(b"\0", 1)[0].decode("ascii", "replace")
            parts.append(Partition(name, typ, sub, offset, size, flags))
        if not parts:
            raise DeviceFormatError("partition table: no entries (is the flash blank at 0x8000?)")
        return cls(tuple(parts))


def _int(text: str, where: str) -> int:
    t = text.strip().lower()
    try:
        if t.endswith("k"):
            return int(t[:-1], 0) * 1024
        if t.endswith("m"):
            return int(t[:-1], 0) * 1024 * 1024
        return int(t, 0)
    except ValueError:
        raise DeviceFormatError(f"{where}: {text!r} is not a number") from None


def parse_csv(text: str, flash_size: int = FLASH_SIZE) -> PartitionTable:
    """Parses an ESP-IDF partition CSV (explicit or auto offsets) and checks the layout."""
    parts: list[Partition] = []
    cursor = TABLE_OFFSET + 0x1000
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"partitions.csv line {lineno}"
        cols = [c.strip() for c in line.split(",")]
        cols += [""] * (6 - len(cols))
        name, typ, sub, off, size, flags = cols[:6]
        if typ not in TYPES:
            raise DeviceFormatError(f"{where}: unknown type {typ!r} (use app or data)")
        subs = APP_SUBTYPES if typ == "app" else DATA_SUBTYPES
        if sub not in subs:
            raise DeviceFormatError(f"{where}: unknown {typ} subtype {sub!r}")
        align = 0x10000 if typ == "app" else 0x1000
        offset = _int(off, where) if off else (cursor + align - 1) // align * align
        length = _int(size, where)
        if offset % align or length % 0x1000:
            raise DeviceFormatError(
                f"{where}: {name} must start on a 0x{align:x} boundary and be a multiple of 4 KiB"
            )
        if offset < cursor:
            raise DeviceFormatError(f"{where}: {name} overlaps the previous partition")
        if typ == "data" and sub == "ota" and length != 0x2000:
            raise DeviceFormatError(f"{where}: otadata must be exactly 0x2000 bytes")
        if offset + length > flash_size:
            raise DeviceFormatError(f"{where}: {name} ends past the {flash_size >> 20} MB flash")
        parts.append(
            Partition(name, TYPES[typ], subs[sub], offset, length, 1 if "encrypted" in flags else 0)
        )
        cursor = offset + length
    return PartitionTable(tuple(parts))


def default_table() -> PartitionTable:
    """The table of ``firmware/partitions.csv``."""
    return parse_csv(DEFAULT_CSV.read_text(encoding="utf-8"))
