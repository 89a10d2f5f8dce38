"""ESP-IDF app images (``esp_app_format.h``) that the unmodified ``esptool image-info`` reads.

Layout: ``esp_image_header_t`` (24 bytes: magic 0xE9, segment count, SPI mode, size/frequency,
entry address, WP pin, pin drive, chip id, chip revisions, hash_appended), segments
``{u32 load_addr, u32 data_len, data}``, zero padding up to 15 mod 16, one XOR checksum byte
(seed 0xEF, over the segment data), then the SHA-256 of everything before it. The first segment
(DROM) opens with ``esp_app_desc_t`` (256 bytes, magic 0xABCD5432) carrying the version.
The C++ checker is ``firmware/components/node/src/app_image.cpp``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from core.device.errors import DeviceFormatError

IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
APP_DESC_MAGIC = 0xABCD5432
CHIP_ID_ESP32S3 = 9
HEADER = struct.Struct("<BBBBIB3sHBHH4sB")  # 24 bytes
APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")  # 256 bytes
DROM_ADDR = 0x3C000020
IROM_ADDR = 0x42000020


@dataclass(frozen=True)
class AppImage:
    """What an image says about itself."""

    version: str
    project_name: str
    secure_version: int
    chip_id: int
    segments: tuple[tuple[int, int], ...]  # (load address, length)
    length: int
    sha256: bytes


def _cstr(text: str, size: int, what: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) >= size:
        raise DeviceFormatError(f"app image: {what} {text!r} is longer than {size - 1} characters")
    return raw.ljust(size, b"\0")


def build_app_image(
    version: str,
    payload: bytes = b"",
    *,
    project_name: str = "fieldbench_node",
    secure_version: int = 0,
    idf_version: str = "v5.3",
    chip_id: int = CHIP_ID_ESP32S3,
) -> bytes:
    """An app image with a DROM segment (app descriptor + half the payload) and an IROM segment.

    The compile time/date fields are fixed strings: images are reproducible and carry no
    wall-clock time.
    """
    desc = APP_DESC.pack(
        APP_DESC_MAGIC,
        secure_version,
        b"\0" * 8,
        _cstr(version, 32, "version"),
        _cstr(project_name, 32, "project name"),
        _cstr("00:00:00", 16, "time"),
        _cstr("Jan  1 2025", 16, "date"),
        _cstr(idf_version, 32, "IDF version"),
        hashlib.sha256(payload).digest(),
        0,
        0xFFFF,
        16,  # mmu_page_size: log2(64 KiB)
        b"\0" * 3,
        b"\0" * 72,
    )
    half = len(payload) // 2
    rodata = desc + payload[:half]
    code = payload[half:] or b"\0" * 4
    rodata += b"\0" * (-len(rodata) % 4)
    code += b"\0" * (-len(code) % 4)
    header = HEADER.pack(
        IMAGE_MAGIC, 2, 2, 0x3F, 0x40375000, 0xEE, b"\0\0\0", chip_id, 0, 0, 99, b"\0" * 4, 1
    )
    irom = IROM_ADDR + ((len(rodata) + 0xFFFF) & ~0xFFFF)
    body = bytearray(header)
    checksum = CHECKSUM_SEED
    for addr, data in ((DROM_ADDR, rodata), (irom, code)):
        body += struct.pack("<II", addr, len(data)) + data
        for b in data:
            checksum ^= b
    body += b"\0" * (15 - len(body) % 16)
    body.append(checksum)
    body += hashlib.sha256(body).digest()
    return bytes(body)


def parse_app_image(data: bytes) -> AppImage:
    """Checks structure, checksum and appended SHA-256; reads the app descriptor."""
    if len(data) < HEADER.size or data[0] != IMAGE_MAGIC:
        raise DeviceFormatError("app image: no ESP image header (magic 0xE9) at the start")
    fields = HEADER.unpack_from(data)
    count, chip_id, hash_appended = fields[1], fields[7], fields[12]
    if not 1 <= count <= 16:
        raise DeviceFormatError(f"app image: {count} segments (1..16 allowed)")
    pos = HEADER.size
    checksum = CHECKSUM_SEED
    segments: list[tuple[int, int]] = []
    first = b""
    for i in range(count):
        if pos + 8 > len(data):
            raise DeviceFormatError(f"app image: truncated in segment {i} header")
        addr, length = struct.unpack_from("<II", data, pos)
        pos += 8
        seg = data[pos : pos + length]
        if len(seg) != length:
            raise DeviceFormatError(f"app image: truncated in segment {i} data")
        if i == 0:
            first = seg
        for b in seg:
            checksum ^= b
        segments.append((addr, length))
        pos += length
    pos += 15 - pos % 16
    if pos >= len(data) or data[pos] != checksum:
        raise DeviceFormatError("app image: checksum mismatch")
    pos += 1
    digest = b""
    if hash_appended == 1:
        digest = data[pos : pos + 32]
        if hashlib.sha256(data[:pos]).digest() != digest:
            raise DeviceFormatError("app image: appended SHA-256 mismatch")
        pos += 32
    version = project = ""
    secure_version = 0
    if len(first) >= APP_DESC.size:
        d = APP_DESC.unpack_from(first)
        if d[0] == APP_DESC_MAGIC:
            secure_version = d[1]
            version = d[3].split(b"\0", 1)[0].decode("ascii", "replace")
            project = d[4].split(b"\0", 1)[0].decode("ascii", "replace")
    return AppImage(version, project, secure_version, chip_id, tuple(segments), pos, digest)
