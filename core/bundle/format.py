"""The bundle container in Python: a ``struct`` mirror of ``edge_runtime/bundle_format.h``.

That C header is the source of truth; ``tests/bundle`` parses it and fails when a constant here
disagrees. The layout is explained in docs/bundle-format.md.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from core.errors import FieldbenchError

MAGIC = 0x4E554246  # b"FBUN"
FORMAT_VERSION = 1
HEADER_SIZE = 64
HEADER_CRC_OFFSET = 60
MAX_MANIFEST_SIZE = 2048
MIN_MANIFEST_SIZE = 4
MAX_SIGNATURE_SIZE = 72
MIN_SIGNATURE_SIZE = 8
TLV_HEADER_SIZE = 4
MAX_STRING = 128
MAX_LIST_ITEMS = 8
COMPONENT_TLV_SIZE = 36

# magic, format_version, header_size, 4 × version, manifest, signature, payload, flags,
# 28 reserved bytes, checksum
HEADER_STRUCT = struct.Struct("<IHHHHHHIIII28sI")
assert HEADER_STRUCT.size == HEADER_SIZE


class Tag(IntEnum):
    BUNDLE_ID = 0x0001
    FIRMWARE_VERSION = 0x0002
    MODEL_VERSION = 0x0003
    THRESHOLD_VERSION = 0x0004
    CALIBRATION_VERSION = 0x0005
    ROLLBACK_TARGET = 0x0006
    VERSION_NUMBERS = 0x0007
    TOOL_VERSION = 0x0008
    PROFILE = 0x0009
    EPOCH = 0x0010
    EXPIRES = 0x0011
    KEY_ID = 0x0012
    CHIP = 0x0020
    BOARD_ID = 0x0021
    FLASH_SIZE = 0x0022
    PARTITION_HASH = 0x0023
    FIRMWARE_ABI = 0x0024
    TARGET_ENVIRONMENT = 0x0030
    MIN_BATTERY_LEVEL = 0x0031
    MAX_LATENCY_MS = 0x0032
    PEAK_RAM_BUDGET = 0x0033
    THRESHOLD_POLICY = 0x0034
    CALIBRATION_POLICY = 0x0035
    ROLLBACK_POLICY = 0x0036
    MODEL_POOL_BYTES = 0x0037
    MODEL_LATENCY_US = 0x0038
    GATE_OVERRIDE = 0x0039
    REPORT_SHA256 = 0x003A
    COMPONENT_FIRST = 0x0040


class ThresholdPolicy(IntEnum):
    STATIC = 0
    DYNAMIC = 1


class CalibrationPolicy(IntEnum):
    FIXED = 0
    DYNAMIC = 1


class RollbackPolicy(IntEnum):
    MANUAL = 0
    DUAL_BANK_AUTO = 1


MAX_POLICY_VALUE = 1

# Payload order; tag = Tag.COMPONENT_FIRST + index. Names as in the C ComponentName().
COMPONENTS: tuple[str, ...] = (
    "firmware",
    "model",
    "thresholds",
    "calibration",
    "drift_baseline",
    "selftest",
)

# Verdicts in check order, numbered as the C enum class Reason.
REASONS: tuple[str, ...] = (
    "OK",
    "TRUNCATED",
    "BAD_MAGIC",
    "BAD_FORMAT_VERSION",
    "BAD_CHECKSUM",
    "MALFORMED_HEADER",
    "TOO_LARGE",
    "TRAILING_DATA",
    "MALFORMED_MANIFEST",
    "UNKNOWN_KEY",
    "MALFORMED_SIGNATURE",
    "BAD_SIGNATURE",
    "HEADER_MISMATCH",
    "WRONG_TARGET",
    "INCOMPATIBLE_FIRMWARE",
    "EPOCH_TOO_LOW",
    "EXPIRED",
    "HASH_MISMATCH",
    "IO_ERROR",
)

# TLV value types (see the C header): str u8 u32 u64 h32 abi vers list comp.
_TAG_TYPES: dict[int, tuple[str, bool]] = {
    Tag.BUNDLE_ID: ("str", True),
    Tag.FIRMWARE_VERSION: ("str", True),
    Tag.MODEL_VERSION: ("str", True),
    Tag.THRESHOLD_VERSION: ("str", True),
    Tag.CALIBRATION_VERSION: ("str", True),
    Tag.ROLLBACK_TARGET: ("str", False),
    Tag.VERSION_NUMBERS: ("vers", True),
    Tag.TOOL_VERSION: ("str", True),
    Tag.PROFILE: ("str", True),
    Tag.EPOCH: ("u32", True),
    Tag.EXPIRES: ("u64", False),
    Tag.KEY_ID: ("h32", True),
    Tag.CHIP: ("str", True),
    Tag.BOARD_ID: ("str", True),
    Tag.FLASH_SIZE: ("u32", True),
    Tag.PARTITION_HASH: ("h32", True),
    Tag.FIRMWARE_ABI: ("abi", True),
    Tag.TARGET_ENVIRONMENT: ("list", True),
    Tag.MIN_BATTERY_LEVEL: ("u8", True),
    Tag.MAX_LATENCY_MS: ("u32", True),
    Tag.PEAK_RAM_BUDGET: ("u32", True),
    Tag.THRESHOLD_POLICY: ("u8", True),
    Tag.CALIBRATION_POLICY: ("u8", True),
    Tag.ROLLBACK_POLICY: ("u8", True),
    Tag.MODEL_POOL_BYTES: ("u32", True),
    Tag.MODEL_LATENCY_US: ("u32", True),
    Tag.GATE_OVERRIDE: ("str", False),
    Tag.REPORT_SHA256: ("h32", False),
    **{Tag.COMPONENT_FIRST + i: ("comp", True) for i in range(len(COMPONENTS))},
}
_FIXED_LENGTHS = {"u8": 1, "u32": 4, "u64": 8, "h32": 32, "abi": 6, "vers": 8, "comp": 36}


class BundleFormatError(FieldbenchError):
    """A bundle or manifest cannot be encoded or decoded."""


# ---- header -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleHeader:
    """The 64-byte container header (the seed's ModelBundleHeader plus sizes)."""

    fw_version: int
    model_version: int
    threshold_version: int
    calibration_version: int
    manifest_size: int
    signature_size: int
    payload_size: int
    magic: int = MAGIC
    format_version: int = FORMAT_VERSION
    header_size: int = HEADER_SIZE
    flags: int = 0
    reserved: bytes = bytes(28)
    checksum: int = 0

    @property
    def versions(self) -> tuple[int, int, int, int]:
        return (
            self.fw_version,
            self.model_version,
            self.threshold_version,
            self.calibration_version,
        )

    @property
    def total_size(self) -> int:
        return HEADER_SIZE + self.manifest_size + self.signature_size + self.payload_size

    def encode(self) -> bytes:
        """The 64 header bytes; the checksum is computed (``self.checksum`` is ignored)."""
        body = HEADER_STRUCT.pack(
            self.magic,
            self.format_version,
            self.header_size,
            *self.versions,
            self.manifest_size,
            self.signature_size,
            self.payload_size,
            self.flags,
            self.reserved,
            0,
        )
        return body[:HEADER_CRC_OFFSET] + struct.pack("<I", crc32(body[:HEADER_CRC_OFFSET]))

    @classmethod
    def decode(cls, data: bytes) -> BundleHeader:
        """Field-by-field decode of the first 64 bytes (no checks)."""
        if len(data) < HEADER_SIZE:
            raise BundleFormatError(f"a bundle header is {HEADER_SIZE} bytes, got {len(data)}")
        f = HEADER_STRUCT.unpack_from(data)
        return cls(
            magic=f[0],
            format_version=f[1],
            header_size=f[2],
            fw_version=f[3],
            model_version=f[4],
            threshold_version=f[5],
            calibration_version=f[6],
            manifest_size=f[7],
            signature_size=f[8],
            payload_size=f[9],
            flags=f[10],
            reserved=f[11],
            checksum=f[12],
        )


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC, as the C ``Crc32`` (zlib's)."""
    return zlib.crc32(data) & 0xFFFFFFFF


# ---- manifest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentDigest:
    size: int
    sha256: bytes


@dataclass(frozen=True)
class Target:
    """Where a bundle may be installed."""

    board_id: str
    flash_size: int
    partition_hash: bytes
    abi_min: int = 1
    abi_max: int = 1
    firmware_abi: int = 1
    chip: str = "esp32s3"


@dataclass(frozen=True)
class Manifest:
    """The signed facts of a bundle: the seed's DeploymentBundle plus digests and target."""

    bundle_id: str
    firmware_version: str
    model_version: str
    threshold_version: str
    calibration_version: str
    version_numbers: tuple[int, int, int, int]
    tool_version: str
    profile: str
    epoch: int
    key_id: bytes
    target: Target
    target_environment: tuple[str, ...]
    min_battery_level: int
    max_latency_ms: int
    peak_ram_budget_bytes: int
    threshold_policy: int
    calibration_policy: int
    rollback_policy: int
    model_pool_bytes: int
    model_latency_us: int
    components: tuple[ComponentDigest, ...]
    rollback_target: str | None = None
    expires: int | None = None
    gate_override: str | None = None
    report_sha256: bytes | None = None

    @property
    def payload_size(self) -> int:
        return sum(c.size for c in self.components)

    def component(self, name: str) -> ComponentDigest:
        return self.components[COMPONENTS.index(name)]

    def encode(self) -> bytes:
        """Canonical TLV bytes (the signed message). Raises BundleFormatError on bad values."""
        if len(self.components) != len(COMPONENTS):
            raise BundleFormatError(f"a manifest lists {len(COMPONENTS)} components")
        t = self.target
        items: list[tuple[int, bytes]] = [
            (Tag.BUNDLE_ID, _str(self.bundle_id, "bundleId")),
            (Tag.FIRMWARE_VERSION, _str(self.firmware_version, "firmwareVersion")),
            (Tag.MODEL_VERSION, _str(self.model_version, "modelVersion")),
            (Tag.THRESHOLD_VERSION, _str(self.threshold_version, "thresholdVersion")),
            (Tag.CALIBRATION_VERSION, _str(self.calibration_version, "calibrationVersion")),
            (Tag.VERSION_NUMBERS, _pack("<4H", "versionNumbers", *self.version_numbers)),
            (Tag.TOOL_VERSION, _str(self.tool_version, "toolVersion")),
            (Tag.PROFILE, _str(self.profile, "profile")),
            (Tag.EPOCH, _pack("<I", "epoch", self.epoch)),
            (Tag.KEY_ID, _h32(self.key_id, "keyId")),
            (Tag.CHIP, _str(t.chip, "target.chip")),
            (Tag.BOARD_ID, _str(t.board_id, "target.boardId")),
            (Tag.FLASH_SIZE, _pack("<I", "target.flashSize", t.flash_size)),
            (Tag.PARTITION_HASH, _h32(t.partition_hash, "target.partitionHash")),
            (Tag.FIRMWARE_ABI, _pack("<3H", "target ABI", t.abi_min, t.abi_max, t.firmware_abi)),
            (Tag.TARGET_ENVIRONMENT, _list(self.target_environment)),
            (Tag.MIN_BATTERY_LEVEL, _pack("<B", "minBatteryLevel", self.min_battery_level)),
            (Tag.MAX_LATENCY_MS, _pack("<I", "maxLatencyMs", self.max_latency_ms)),
            (Tag.PEAK_RAM_BUDGET, _pack("<I", "peakRamBudgetBytes", self.peak_ram_budget_bytes)),
            (Tag.THRESHOLD_POLICY, _pack("<B", "thresholdPolicy", self.threshold_policy)),
            (Tag.CALIBRATION_POLICY, _pack("<B", "calibrationPolicy", self.calibration_policy)),
            (Tag.ROLLBACK_POLICY, _pack("<B", "rollbackPolicy", self.rollback_policy)),
            (Tag.MODEL_POOL_BYTES, _pack("<I", "modelPoolBytes", self.model_pool_bytes)),
            (Tag.MODEL_LATENCY_US, _pack("<I", "modelLatencyUs", self.model_latency_us)),
        ]
        if self.rollback_target is not None:
            items.append((Tag.ROLLBACK_TARGET, _str(self.rollback_target, "rollbackTarget")))
        if self.expires is not None:
            items.append((Tag.EXPIRES, _pack("<Q", "expires", self.expires)))
        if self.gate_override is not None:
            items.append((Tag.GATE_OVERRIDE, _str(self.gate_override, "gate override")))
        if self.report_sha256 is not None:
            items.append((Tag.REPORT_SHA256, _h32(self.report_sha256, "report digest")))
        for i, c in enumerate(self.components):
            digest = _h32(c.sha256, f"{COMPONENTS[i]} digest")
            items.append((Tag.COMPONENT_FIRST + i, _pack("<I", "component size", c.size) + digest))
        data = b"".join(struct.pack("<HH", tag, len(v)) + v for tag, v in sorted(items))
        try:
            decoded = Manifest.decode(data)
        except BundleFormatError as exc:
            raise BundleFormatError(f"the manifest values are not valid: {exc}") from None
        if decoded != self:
            raise BundleFormatError("the manifest values do not survive encoding")
        if len(data) > MAX_MANIFEST_SIZE:
            raise BundleFormatError(
                f"the manifest is {len(data)} bytes; at most {MAX_MANIFEST_SIZE} fit the device"
            )
        return data

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        """Strict parse, accepting exactly what the C ``ParseManifest`` accepts."""
        values = parse_tlvs(data)
        comps = tuple(
            ComponentDigest(int.from_bytes(v[:4], "little"), v[4:])
            for v in (values[Tag.COMPONENT_FIRST + i] for i in range(len(COMPONENTS)))
        )
        abi_min, abi_max, fw_abi = struct.unpack("<3H", values[Tag.FIRMWARE_ABI])
        s = _decode_str

        def opt_str(tag: int) -> str | None:
            return s(values[tag]) if tag in values else None

        return cls(
            bundle_id=s(values[Tag.BUNDLE_ID]),
            firmware_version=s(values[Tag.FIRMWARE_VERSION]),
            model_version=s(values[Tag.MODEL_VERSION]),
            threshold_version=s(values[Tag.THRESHOLD_VERSION]),
            calibration_version=s(values[Tag.CALIBRATION_VERSION]),
            version_numbers=struct.unpack("<4H", values[Tag.VERSION_NUMBERS]),
            tool_version=s(values[Tag.TOOL_VERSION]),
            profile=s(values[Tag.PROFILE]),
            epoch=_u(values[Tag.EPOCH]),
            key_id=values[Tag.KEY_ID],
            target=Target(
                chip=s(values[Tag.CHIP]),
                board_id=s(values[Tag.BOARD_ID]),
                flash_size=_u(values[Tag.FLASH_SIZE]),
                partition_hash=values[Tag.PARTITION_HASH],
                abi_min=abi_min,
                abi_max=abi_max,
                firmware_abi=fw_abi,
            ),
            target_environment=_decode_list(values[Tag.TARGET_ENVIRONMENT]),
            min_battery_level=_u(values[Tag.MIN_BATTERY_LEVEL]),
            max_latency_ms=_u(values[Tag.MAX_LATENCY_MS]),
            peak_ram_budget_bytes=_u(values[Tag.PEAK_RAM_BUDGET]),
            threshold_policy=_u(values[Tag.THRESHOLD_POLICY]),
            calibration_policy=_u(values[Tag.CALIBRATION_POLICY]),
            rollback_policy=_u(values[Tag.ROLLBACK_POLICY]),
            model_pool_bytes=_u(values[Tag.MODEL_POOL_BYTES]),
            model_latency_us=_u(values[Tag.MODEL_LATENCY_US]),
            components=comps,
            rollback_target=opt_str(Tag.ROLLBACK_TARGET),
            expires=_u(values[Tag.EXPIRES]) if Tag.EXPIRES in values else None,
            gate_override=opt_str(Tag.GATE_OVERRIDE),
            report_sha256=values.get(Tag.REPORT_SHA256),
        )

    def to_json(self) -> dict[str, Any]:
        """Human rendering with the seed's DeploymentBundle names (``bundle inspect``)."""
        t = self.target
        out: dict[str, Any] = {
            "bundleId": self.bundle_id,
            "firmwareVersion": self.firmware_version,
            "modelVersion": self.model_version,
            "thresholdVersion": self.threshold_version,
            "calibrationVersion": self.calibration_version,
            "rollbackTarget": self.rollback_target,
            "versionNumbers": {
                "firmware": self.version_numbers[0],
                "model": self.version_numbers[1],
                "threshold": self.version_numbers[2],
                "calibration": self.version_numbers[3],
            },
            "metadata": {
                "targetEnvironment": list(self.target_environment),
                "minBatteryLevel": self.min_battery_level,
                "maxLatencyMs": self.max_latency_ms,
                "peakRamBudgetBytes": self.peak_ram_budget_bytes,
            },
            "profile": self.profile,
            "policies": {
                "threshold": ThresholdPolicy(self.threshold_policy).name.lower(),
                "calibration": CalibrationPolicy(self.calibration_policy).name.lower(),
                "rollback": RollbackPolicy(self.rollback_policy).name.lower(),
            },
            "epoch": self.epoch,
            "expires": self.expires,
            "keyId": self.key_id.hex(),
            "toolVersion": self.tool_version,
            "target": {
                "chip": t.chip,
                "boardId": t.board_id,
                "flashSize": t.flash_size,
                "partitionHash": t.partition_hash.hex(),
                "abiRange": [t.abi_min, t.abi_max],
                "firmwareAbi": t.firmware_abi,
            },
            "model": {"poolBytes": self.model_pool_bytes, "latencyUs": self.model_latency_us},
            "gateOverride": self.gate_override,
            "reportSha256": self.report_sha256.hex() if self.report_sha256 else None,
            "components": {
                name: {"size": c.size, "sha256": c.sha256.hex()}
                for name, c in zip(COMPONENTS, self.components, strict=True)
            },
        }
        return out


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    """Structure, order, types and required tags of a manifest; BundleFormatError otherwise."""
    values: dict[int, bytes] = {}
    pos, last = 0, -1
    size = len(data)
    while pos < size:
        if size - pos < TLV_HEADER_SIZE:
            raise BundleFormatError(f"manifest byte {pos}: a TLV header is cut short")
        tag, length = struct.unpack_from("<HH", data, pos)
        pos += TLV_HEADER_SIZE
        if tag <= last:
            raise BundleFormatError(f"manifest tag 0x{tag:04x}: tags must strictly increase")
        if length > size - pos:
            raise BundleFormatError(f"manifest tag 0x{tag:04x}: value runs past the end")
        last = tag
        spec = _TAG_TYPES.get(tag)
        if spec is None:
            raise BundleFormatError(f"manifest tag 0x{tag:04x}: unknown tag")
        value = bytes(data[pos : pos + length])
        if not _valid_value(spec[0], value):
            raise BundleFormatError(f"manifest tag 0x{tag:04x}: invalid {spec[0]} value")
        _check_semantics(tag, value)
        values[tag] = value
        pos += length
    for tag, (_, required) in _TAG_TYPES.items():
        if required and tag not in values:
            raise BundleFormatError(f"manifest tag 0x{tag:04x} is missing")
    total = sum(
        struct.unpack("<I", values[Tag.COMPONENT_FIRST + i][:4])[0] for i in range(len(COMPONENTS))
    )
    if total > 0xFFFFFFFF:
        raise BundleFormatError("component sizes add up to more than 4 GiB")
    return values


def _check_semantics(tag: int, v: bytes) -> None:
    if tag == Tag.EXPIRES and _u(v) == 0:
        raise BundleFormatError("expires = 0: leave the field out for no expiry")
    if tag == Tag.FIRMWARE_ABI:
        lo, hi, _ = struct.unpack("<3H", v)
        if lo > hi:
            raise BundleFormatError(f"ABI range {lo}..{hi} is empty")
    if tag == Tag.MIN_BATTERY_LEVEL and v[0] > 100:
        raise BundleFormatError(f"minBatteryLevel {v[0]} is not a percentage")
    policies = (Tag.THRESHOLD_POLICY, Tag.CALIBRATION_POLICY, Tag.ROLLBACK_POLICY)
    if tag in policies and v[0] > MAX_POLICY_VALUE:
        raise BundleFormatError(f"policy value {v[0]} is unknown")


def _printable(b: bytes) -> bool:
    return all(0x20 <= c <= 0x7E for c in b)


def _valid_value(kind: str, v: bytes) -> bool:
    n = len(v)
    if kind == "str":
        return 1 <= n <= MAX_STRING and _printable(v)
    if kind == "list":
        if n < 1 or v[0] > MAX_LIST_ITEMS:
            return False
        pos = 1
        for _ in range(v[0]):
            if pos >= n:
                return False
            item = v[pos]
            pos += 1
            if (
                item < 1
                or item > MAX_STRING
                or item > n - pos
                or not _printable(v[pos : pos + item])
            ):
                return False
            pos += item
        return pos == n
    return n == _FIXED_LENGTHS[kind]


def _u(v: bytes) -> int:
    return int.from_bytes(v, "little")


def _decode_str(v: bytes) -> str:
    return v.decode("ascii")


def _decode_list(v: bytes) -> tuple[str, ...]:
    items, pos = [], 1
    for _ in range(v[0]):
        n = v[pos]
        items.append(v[pos + 1 : pos + 1 + n].decode("ascii"))
        pos += 1 + n
    return tuple(items)


def _str(text: str, what: str) -> bytes:
    try:
        b = text.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise BundleFormatError(f"{what} = {text!r}: only printable ASCII is allowed") from None
    if not 1 <= len(b) <= MAX_STRING or not _printable(b):
        raise BundleFormatError(
            f"{what} = {text!r}: must be 1..{MAX_STRING} printable ASCII characters"
        )
    return b


def _h32(b: bytes, what: str) -> bytes:
    if not isinstance(b, bytes | bytearray) or len(b) != 32:
        raise BundleFormatError(f"{what}: expected 32 bytes")
    return bytes(b)


def _pack(fmt: str, what: str, *values: int) -> bytes:
    try:
        return struct.pack(fmt, *values)
    except struct.error:
        raise BundleFormatError(f"{what} = {values}: out of range") from None


def _list(items: Sequence[str]) -> bytes:
    if len(items) > MAX_LIST_ITEMS:
        raise BundleFormatError(f"targetEnvironment: at most {MAX_LIST_ITEMS} entries")
    out = bytes([len(items)])
    for item in items:
        b = _str(item, "targetEnvironment entry")
        out += bytes([len(b)]) + b
    return out


def split_bundle(data: bytes) -> tuple[BundleHeader, bytes, bytes, bytes]:
    """Header, manifest, signature and payload of a well-formed container (no verification)."""
    header = BundleHeader.decode(data)
    m0 = HEADER_SIZE
    s0 = m0 + header.manifest_size
    p0 = s0 + header.signature_size
    if len(data) < p0:
        raise BundleFormatError("the file ends inside the manifest or signature")
    return header, data[m0:s0], data[s0:p0], data[p0:]


def assemble(manifest: bytes, signature: bytes, payload: bytes, versions: Sequence[int]) -> bytes:
    """Container bytes: header (with checksum), manifest, signature, payload."""
    v = tuple(versions)
    header = BundleHeader(v[0], v[1], v[2], v[3], len(manifest), len(signature), len(payload))
    return header.encode() + manifest + signature + payload
