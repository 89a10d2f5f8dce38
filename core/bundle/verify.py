"""Bundle verification on the desktop: the same checks, order and reasons as the C verifier.

Verify-only: this module never touches a private key (signing lives in ``core.bundle.sign``).
The checks, in order (the first failure is the verdict; docs/bundle-format.md):

1. header: TRUNCATED, BAD_MAGIC, BAD_FORMAT_VERSION, BAD_CHECKSUM, MALFORMED_HEADER,
   TOO_LARGE (bundle), TRUNCATED / TRAILING_DATA (declared vs actual size)
2. MALFORMED_MANIFEST, UNKNOWN_KEY
3. MALFORMED_SIGNATURE (strict DER, low-S), BAD_SIGNATURE
4. HEADER_MISMATCH, WRONG_TARGET, INCOMPATIBLE_FIRMWARE, EPOCH_TOO_LOW, EXPIRED,
   TOO_LARGE (components)
5. HASH_MISMATCH:<component>, streamed component by component
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.der import parse_signature
from core.bundle.format import (
    COMPONENTS,
    FORMAT_VERSION,
    HEADER_CRC_OFFSET,
    HEADER_SIZE,
    MAGIC,
    MAX_MANIFEST_SIZE,
    MAX_SIGNATURE_SIZE,
    MIN_MANIFEST_SIZE,
    MIN_SIGNATURE_SIZE,
    BundleFormatError,
    BundleHeader,
    Manifest,
    crc32,
)
from core.bundle.trust import TrustedKey, short_id
from core.errors import Cancelled

CHUNK = 64 * 1024
Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

MESSAGES = {
    "OK": "the bundle is authentic, complete and fits this device",
    "TRUNCATED": "the file is shorter than the sizes it declares (an incomplete copy)",
    "BAD_MAGIC": "not a Fieldbench bundle (wrong magic bytes)",
    "BAD_FORMAT_VERSION": "a bundle of an unsupported format version; update Fieldbench",
    "BAD_CHECKSUM": "the header is damaged (checksum mismatch); copy the file again",
    "MALFORMED_HEADER": "the header declares impossible sizes or non-zero reserved fields",
    "TOO_LARGE": "the bundle or one of its components is larger than the device accepts",
    "TRAILING_DATA": "extra bytes follow the declared end of the bundle",
    "MALFORMED_MANIFEST": "the manifest is not a valid canonical TLV list",
    "UNKNOWN_KEY": "signed by a key this verifier does not trust; import its public key",
    "MALFORMED_SIGNATURE": "the signature is not strict DER with a low S value",
    "BAD_SIGNATURE": "the signature does not match the manifest (tampered or wrong key)",
    "HEADER_MISMATCH": "the header disagrees with the signed manifest",
    "WRONG_TARGET": "built for another chip, board, flash size or partition layout",
    "INCOMPATIBLE_FIRMWARE": "the firmware ABI is outside the range the bundle requires",
    "EPOCH_TOO_LOW": "older than the device's anti-rollback epoch (a downgrade)",
    "EXPIRED": "the bundle is past its expiry date",
    "HASH_MISMATCH": "a component does not match its signed SHA-256 (corrupt or mixed)",
    "IO_ERROR": "the bundle could not be read",
}


@dataclass(frozen=True)
class DeviceContext:
    """What the verifying device is and accepts; zero / None fields are not checked."""

    trusted_keys: tuple[TrustedKey, ...] = ()
    chip: str | None = "esp32s3"
    board_id: str | None = None
    flash_size: int = 0
    partition_hash: bytes | None = None
    firmware_abi: int = 0
    min_epoch: int = 0
    now: int = 0
    max_bundle_size: int = 0
    max_app_size: int = 0
    max_data_size: int = 0

    def native_lines(self) -> list[str]:
        """The same context as KEY=VALUE lines for the C++ host tool (bundle_verify)."""
        lines = [
            f"chip={self.chip or ''}",
            f"board_id={self.board_id or ''}",
            f"flash_size={self.flash_size}",
            f"partition_hash={self.partition_hash.hex() if self.partition_hash else ''}",
            f"firmware_abi={self.firmware_abi}",
            f"min_epoch={self.min_epoch}",
            f"now={self.now}",
            f"max_bundle_size={self.max_bundle_size}",
            f"max_app_size={self.max_app_size}",
            f"max_data_size={self.max_data_size}",
            "clear_keys=1",
        ]
        return lines + [f"key={k.spki_der.hex()}" for k in self.trusted_keys]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one verification: ``reason`` is "OK" or a reason code."""

    reason: str
    header: BundleHeader | None = None
    manifest: Manifest | None = None
    detail: str = ""
    signer: TrustedKey | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.reason == "OK"

    @property
    def code(self) -> str:
        """The reason without its component suffix."""
        return self.reason.split(":", 1)[0]

    def message(self) -> str:
        text = MESSAGES.get(self.code, self.reason)
        if self.code == "HASH_MISMATCH":
            text = f"component '{self.reason.split(':', 1)[1]}' does not match its signed SHA-256"
        return f"{self.reason}: {text}" + (f" ({self.detail})" if self.detail else "")


class _Source:
    def __init__(self, data: bytes | None = None, handle: BinaryIO | None = None) -> None:
        self._data = data
        self._handle = handle
        if data is not None:
            self.size = len(data)
        else:
            assert handle is not None
            self.size = os.fstat(handle.fileno()).st_size

    def read(self, offset: int, n: int) -> bytes:
        if self._data is not None:
            return self._data[offset : offset + n]
        assert self._handle is not None
        self._handle.seek(offset)
        out = self._handle.read(n)
        if len(out) != n:
            raise OSError("short read")
        return out


def verify_bundle(
    bundle: bytes | bytearray | memoryview | str | os.PathLike[str],
    context: DeviceContext,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> Verdict:
    """Verify a bundle (bytes or a file path); never raises for bad bundles, only Cancelled."""
    if isinstance(bundle, bytes | bytearray | memoryview):
        return _verify(_Source(data=bytes(bundle)), context, progress, cancel)
    try:
        with open(Path(bundle), "rb") as handle:
            return _verify(_Source(handle=handle), context, progress, cancel)
    except OSError as exc:
        return Verdict("IO_ERROR", detail=f"{bundle}: {exc.strerror or exc}")


def _verify(
    src: _Source, ctx: DeviceContext, progress: Progress | None, cancel: CancelCheck | None
) -> Verdict:
    try:
        return _checks(src, ctx, progress, cancel)
    except OSError as exc:
        return Verdict("IO_ERROR", detail=str(exc))


def _checks(
    src: _Source, ctx: DeviceContext, progress: Progress | None, cancel: CancelCheck | None
) -> Verdict:
    # 1. Header.
    if src.size < HEADER_SIZE:
        return Verdict("TRUNCATED", detail=f"{src.size} bytes, the header alone is {HEADER_SIZE}")
    raw = src.read(0, HEADER_SIZE)
    h = BundleHeader.decode(raw)
    if h.magic != MAGIC:
        return Verdict("BAD_MAGIC")
    if h.format_version != FORMAT_VERSION:
        return Verdict(
            "BAD_FORMAT_VERSION",
            detail=f"format {h.format_version}; this Fieldbench reads {FORMAT_VERSION}",
        )
    if crc32(raw[:HEADER_CRC_OFFSET]) != h.checksum:
        return Verdict("BAD_CHECKSUM", h)
    if (
        h.header_size != HEADER_SIZE
        or h.flags != 0
        or any(h.reserved)
        or not MIN_MANIFEST_SIZE <= h.manifest_size <= MAX_MANIFEST_SIZE
        or not MIN_SIGNATURE_SIZE <= h.signature_size <= MAX_SIGNATURE_SIZE
    ):
        return Verdict("MALFORMED_HEADER", h)
    meta_end = HEADER_SIZE + h.manifest_size + h.signature_size
    total = meta_end + h.payload_size
    if ctx.max_bundle_size and total > ctx.max_bundle_size:
        return Verdict("TOO_LARGE", h, detail=f"{total} bytes > {ctx.max_bundle_size}")
    if src.size < total:
        return Verdict("TRUNCATED", h, detail=f"{src.size} of {total} bytes")
    if src.size > total:
        return Verdict("TRAILING_DATA", h, detail=f"{src.size - total} bytes after the end")

    # 2. Manifest and signer.
    manifest_bytes = src.read(HEADER_SIZE, h.manifest_size)
    signature = src.read(HEADER_SIZE + h.manifest_size, h.signature_size)
    try:
        m = Manifest.decode(manifest_bytes)
    except BundleFormatError as exc:
        return Verdict("MALFORMED_MANIFEST", h, detail=str(exc))
    key = next((k for k in ctx.trusted_keys if k.key_id == m.key_id), None)
    if key is None:
        return Verdict("UNKNOWN_KEY", h, m, detail=f"key id {short_id(m.key_id)}")

    # 3. Signature.
    if parse_signature(signature) is None:
        return Verdict("MALFORMED_SIGNATURE", h, m)
    try:
        key.public_key().verify(signature, manifest_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return Verdict("BAD_SIGNATURE", h, m)

    # 4. Signed facts against the header and the device.
    if h.versions != m.version_numbers or h.payload_size != m.payload_size:
        return Verdict("HEADER_MISMATCH", h, m, signer=key)
    t = m.target
    if (
        (ctx.chip is not None and ctx.chip != t.chip)
        or (ctx.board_id is not None and ctx.board_id != t.board_id)
        or (ctx.flash_size and ctx.flash_size != t.flash_size)
        or (ctx.partition_hash is not None and ctx.partition_hash != t.partition_hash)
    ):
        return Verdict("WRONG_TARGET", h, m, detail=f"built for {t.chip}/{t.board_id}", signer=key)
    if not t.abi_min <= t.firmware_abi <= t.abi_max or (
        ctx.firmware_abi and not t.abi_min <= ctx.firmware_abi <= t.abi_max
    ):
        return Verdict(
            "INCOMPATIBLE_FIRMWARE", h, m, detail=f"ABI range {t.abi_min}..{t.abi_max}", signer=key
        )
    if m.epoch < ctx.min_epoch:
        return Verdict(
            "EPOCH_TOO_LOW", h, m, detail=f"epoch {m.epoch} < device {ctx.min_epoch}", signer=key
        )
    if m.expires is not None and ctx.now and ctx.now > m.expires:
        return Verdict("EXPIRED", h, m, signer=key)
    app = m.components[0].size
    if (ctx.max_app_size and app > ctx.max_app_size) or (
        ctx.max_data_size and m.payload_size - app > ctx.max_data_size
    ):
        return Verdict("TOO_LARGE", h, m, detail="a component exceeds its partition", signer=key)

    # 5. Components, streamed.
    offset = meta_end
    done = 0
    for name, comp in zip(COMPONENTS, m.components, strict=True):
        digest = hashlib.sha256()
        left = comp.size
        while left:
            if cancel is not None and cancel():
                raise Cancelled("bundle verification cancelled")
            n = min(CHUNK, left)
            digest.update(src.read(offset, n))
            offset += n
            left -= n
            done += n
            if progress is not None:
                progress(done, h.payload_size)
        if digest.digest() != comp.sha256:
            return Verdict(f"HASH_MISMATCH:{name}", h, m, signer=key)
    return Verdict("OK", h, m, signer=key)
