"""The slot manifest at the start of ``model_k`` (mirror of ``node/slot.h``).

Until the signed bundle manifest (issue 6) takes its place, this 128-byte record says what the
slot holds and how to check it: ``<IHHIIII32s32s32sII`` = magic "FBSL", version 1, size 128,
app_size, data_size, epoch, flags, bundle_version, app SHA-256, data SHA-256, reserved
(0xFFFFFFFF), CRC-32 of bytes 0..123. The data payload starts at ``model_k + 0x1000``.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from core.device.errors import DeviceFormatError

MAGIC = 0x4C534246
VERSION = 1
SIZE = 128
DATA_OFFSET = 0x1000
LAYOUT = struct.Struct("<IHHIIII32s32s32sI")  # 124 bytes, then the CRC


@dataclass(frozen=True)
class SlotManifest:
    app_size: int
    data_size: int
    epoch: int
    bundle_version: str
    app_sha256: bytes
    data_sha256: bytes
    flags: int = 0

    @classmethod
    def describe(cls, app: bytes, data: bytes, epoch: int, bundle_version: str) -> SlotManifest:
        return cls(
            len(app),
            len(data),
            epoch,
            bundle_version,
            hashlib.sha256(app).digest(),
            hashlib.sha256(data).digest(),
        )

    def to_bytes(self) -> bytes:
        version = self.bundle_version.encode("ascii")
        if len(version) > 32:
            raise DeviceFormatError(f"slot manifest: bundle version {self.bundle_version!r} > 32")
        body = LAYOUT.pack(
            MAGIC,
            VERSION,
            SIZE,
            self.app_size,
            self.data_size,
            self.epoch,
            self.flags,
            version.ljust(32, b"\0"),
            self.app_sha256,
            self.data_sha256,
            0xFFFFFFFF,
        )
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, raw: bytes) -> SlotManifest:
        if len(raw) < SIZE:
            raise DeviceFormatError("slot manifest: fewer than 128 bytes")
        f = LAYOUT.unpack_from(raw)
        (crc,) = struct.unpack_from("<I", raw, LAYOUT.size)
        if f[0] != MAGIC or f[1] != VERSION or f[2] != SIZE or crc != zlib.crc32(raw[:124]):
            raise DeviceFormatError("slot manifest: bad magic, version or CRC")
        return cls(
            f[3], f[4], f[5], f[7].split(b"\0", 1)[0].decode("ascii", "replace"), f[8], f[9], f[6]
        )
