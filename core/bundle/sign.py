"""Signing: one ECDSA P-256 / SHA-256 signature over the canonical manifest bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from core.bundle.der import encode_signature, low_s
from core.bundle.format import COMPONENTS, BundleFormatError, ComponentDigest, Manifest, assemble
from core.bundle.trust import key_id_of


def sign_manifest(manifest_bytes: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Strict-DER, low-S signature of the manifest bytes (the only form verifiers accept)."""
    r, s = decode_dss_signature(key.sign(manifest_bytes, ec.ECDSA(hashes.SHA256())))
    return encode_signature(*low_s(r, s))


def digests(components: Sequence[bytes]) -> tuple[ComponentDigest, ...]:
    """Size and SHA-256 of each component, in payload order."""
    if len(components) != len(COMPONENTS):
        raise BundleFormatError(f"a bundle has {len(COMPONENTS)} components: {COMPONENTS}")
    return tuple(ComponentDigest(len(c), hashlib.sha256(c).digest()) for c in components)


def seal(manifest: Manifest, components: Sequence[bytes], key: ec.EllipticCurvePrivateKey) -> bytes:
    """The container bytes of a manifest whose digests match ``components``, signed by ``key``."""
    if manifest.key_id != key_id_of(key.public_key()):
        raise BundleFormatError("the manifest's key id is not the id of the signing key")
    if manifest.components != digests(components):
        raise BundleFormatError("the manifest's component digests do not match the components")
    body = manifest.encode()
    return assemble(body, sign_manifest(body, key), b"".join(components), manifest.version_numbers)
