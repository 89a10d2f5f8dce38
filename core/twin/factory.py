"""The twin's factory image: a flash file that boots a signed bundle, and the keys it trusts.

A new twin gets what a board gets on the production line: the partition table, otadata
selecting slot 0 (VALID), and in slot 0 a signed bundle laid out exactly as the firmware's OTA
receiver stores one (docs/protocol.md §10.4): the firmware component — an ESP-IDF app image
that ``esptool image-info`` reads — in ``ota_0``; the rest of the bundle file (header ‖
manifest ‖ signature ‖ model ‖ thresholds ‖ calibration ‖ drift baseline ‖ self-test) at
``model_0 + 0x1000``; the slot manifest, the OTA journal record and a full progress bitmap in
``model_0``'s first sector. The anti-rollback counter (``<flash>.efuse``) starts at the bundle's
epoch.

The bundle is signed with the twin's *factory key*, generated once per user (an unencrypted
demo key in the twin's folder of the user data dir — it signs nothing but twin images). The
twin trusts it, plus every public key of the user's key store (``fieldbench keys``), so bundles
the user builds install on the twin as they would on a board provisioned with those keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.atomic import atomic_open, atomic_write_text
from core.bundle.format import BundleHeader, Manifest, Target
from core.bundle.sample import SAMPLE_TARGET, sample_device_components, sample_manifest
from core.bundle.sign import seal
from core.bundle.trust import TrustedKey
from core.device.appimage import build_app_image
from core.device.errors import DeviceFormatError
from core.device.otadata import OtaState, otadata_selecting
from core.device.partitions import FLASH_SIZE, TABLE_OFFSET, PartitionTable, default_table
from core.device.slot_manifest import DATA_OFFSET, SlotManifest

JOURNAL_OFFSET = 0x100  # node/link_endpoint.h
JOURNAL_MAGIC = 0x544F4246  # "FBOT"
BITMAP_OFFSET = 0x200
CHUNK = 4096
FACTORY_RELEASE = 4  # the sample release in slot 0: edge-inference-v2.4.1, epoch 4

__all__ = [
    "FACTORY_RELEASE",
    "SlotImage",
    "factory_key",
    "provision_twin",
    "slot_image",
    "trusted_key_files",
    "twin_bundle",
    "twin_dir",
    "twin_target",
    "write_bundle_slot",
]


def twin_dir() -> Path:
    """The twin's folder in the user data dir: flash image, factory key, runtime file."""
    from core.paths import user_data_dir

    return user_data_dir() / "twin"


def factory_key(folder: Path | None = None) -> ec.EllipticCurvePrivateKey:
    """The twin's factory signing key (created on first use, file mode 0600)."""
    path = (folder or twin_dir()) / "factory-key.pem"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise DeviceFormatError(f"{path}: not an EC key; delete it to get a new factory key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)
    return key


def trusted_key_files(
    folder: Path, extra: list[TrustedKey] | None = None, *, include_keystore: bool = True
) -> list[Path]:
    """Writes the DER public keys the twin trusts into ``folder/trusted`` and lists them:
    the factory key, the user's key store (unless ``include_keystore`` is off) and ``extra``."""
    keys = [TrustedKey.from_public_key(factory_key(folder).public_key(), "factory")]
    if include_keystore:
        from core.bundle.keys import KeyStore

        # An unreadable key store must not stop the twin: it still trusts its factory key.
        with contextlib.suppress(Exception):
            keys.extend(KeyStore().all_trusted())
    keys.extend(extra or [])
    out_dir = folder / "trusted"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for k in keys[:8]:  # the twin's trust store holds 8 keys
        p = out_dir / f"{k.key_id[:8].hex()}.der"
        if not p.exists() or p.read_bytes() != k.spki_der:
            with atomic_open(p, "wb") as handle:
                handle.write(k.spki_der)
        if p not in paths:
            paths.append(p)
    return paths


def twin_bundle(
    key: ec.EllipticCurvePrivateKey,
    release: int = FACTORY_RELEASE,
    components: list[bytes] | None = None,
    **changes: object,
) -> bytes:
    """A signed sample bundle whose firmware component is a real ESP-IDF app image and whose
    model, thresholds, calibration and self-test are real device components
    (``core.bundle.sample.sample_device_components``: the sample autoencoder, its threshold,
    the sample workspace's front end and self-test vectors the health check passes).

    ``changes`` override manifest fields (``epoch``, ``bundle_id``, ``min_battery_level``, …);
    the app image's version is the manifest's ``firmware_version``. ``components`` replaces
    the six components (the firmware one is still wrapped into an app image).
    """
    comps = list(components) if components is not None else sample_device_components(release)
    changes.setdefault("target", twin_target())
    draft = sample_manifest(key, comps, release, **changes)
    comps[0] = build_app_image(
        draft.firmware_version, comps[0][: 64 * 1024], secure_version=draft.epoch
    )
    manifest = sample_manifest(key, comps, release, **changes)
    return seal(manifest, comps, key)


def twin_target() -> Target:
    """The sample target with the twin's real partition-table hash (SHA-256 of the 0xC00
    table bytes at 0x8000, as the device checks it)."""
    table = hashlib.sha256(default_table().to_bytes()).digest()
    return dataclasses.replace(SAMPLE_TARGET, partition_hash=table)


@dataclass(frozen=True)
class SlotImage:
    """A bundle split the way the firmware stores it in slot k."""

    app: bytes  # -> ota_k
    data: bytes  # -> model_k + 0x1000 (the bundle file minus the firmware component)
    first_sector: bytes  # -> model_k: slot manifest, OTA journal, progress bitmap
    manifest: Manifest


def slot_image(bundle: bytes) -> SlotImage:
    header = BundleHeader.decode(bundle[:64])
    prefix = 64 + header.manifest_size + header.signature_size
    manifest = Manifest.decode(bundle[64 : 64 + header.manifest_size])
    fw = manifest.components[0].size
    app = bundle[prefix : prefix + fw]
    data = bundle[:prefix] + bundle[prefix + fw :]
    slot = SlotManifest.describe(app, data, manifest.epoch, manifest.bundle_id[:32])
    sector = bytearray(b"\xff" * CHUNK)
    raw = slot.to_bytes()
    sector[: len(raw)] = raw
    record = struct.pack(
        "<IIII32sIII",
        JOURNAL_MAGIC,
        len(bundle),
        prefix,
        fw,
        hashlib.sha256(bundle).digest(),
        manifest.epoch,
        0,
        0,
    )
    record += struct.pack("<I", zlib.crc32(record))
    sector[JOURNAL_OFFSET : JOURNAL_OFFSET + len(record)] = record
    chunks = -(-len(bundle) // CHUNK)
    bitmap = bytes([0] * (chunks // 8))
    if chunks % 8:
        bitmap += bytes([0xFF & ~((1 << (chunks % 8)) - 1)])
    sector[BITMAP_OFFSET : BITMAP_OFFSET + len(bitmap)] = bitmap
    return SlotImage(app, data, bytes(sector), manifest)


def write_bundle_slot(flash: bytearray, table: PartitionTable, slot: int, bundle: bytes) -> None:
    """Factory-writes ``bundle`` into slot ``slot`` of a flash image held in memory."""
    img = slot_image(bundle)
    app = table[f"ota_{slot}"]
    model = table[f"model_{slot}"]
    if len(img.app) > app.size or len(img.data) > model.size - DATA_OFFSET:
        raise DeviceFormatError(f"bundle {img.manifest.bundle_id} does not fit slot {slot}")
    flash[app.offset : app.end] = b"\xff" * app.size
    flash[model.offset : model.end] = b"\xff" * model.size
    flash[app.offset : app.offset + len(img.app)] = img.app
    flash[model.offset : model.offset + CHUNK] = img.first_sector
    start = model.offset + DATA_OFFSET
    flash[start : start + len(img.data)] = img.data


def provision_twin(
    path: str | os.PathLike[str],
    key: ec.EllipticCurvePrivateKey | None = None,
    bundle: bytes | None = None,
) -> Manifest:
    """Writes a factory flash image at ``path`` (atomic) and its ``.efuse`` counter; returns
    the manifest of the bundle in slot 0. Default bundle: the sample release signed with
    ``key`` (default: the factory key of the folder holding ``path``)."""
    p = Path(path)
    if bundle is None:
        bundle = twin_bundle(key or factory_key(), FACTORY_RELEASE)
    table = default_table()
    flash = bytearray(b"\xff" * FLASH_SIZE)
    raw = table.to_bytes()
    flash[TABLE_OFFSET : TABLE_OFFSET + len(raw)] = raw
    ota = table["otadata"]
    flash[ota.offset : ota.end] = otadata_selecting(0, OtaState.VALID)
    write_bundle_slot(flash, table, 0, bundle)
    with atomic_open(p, "wb") as handle:
        handle.write(flash)
    manifest = slot_image(bundle).manifest
    atomic_write_text(Path(f"{p}.efuse"), f"{manifest.epoch}\n")
    return manifest
