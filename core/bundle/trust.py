"""Public keys a verifier trusts: the verify-only side (no private key is ever loaded here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import FieldbenchError


class KeyFileError(FieldbenchError):
    """A key file cannot be read, decrypted or is of the wrong kind."""


def spki_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo: what mbedtls_pk_parse_public_key reads on the device."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """A key's id: SHA-256 of its DER SubjectPublicKeyInfo (32 bytes, in every manifest)."""
    return hashlib.sha256(spki_der(public_key)).digest()


def short_id(key_id: bytes) -> str:
    """The 16 hex digits users see for a key id."""
    return key_id[:8].hex()


@dataclass(frozen=True)
class TrustedKey:
    """One trusted public key (P-256)."""

    key_id: bytes
    spki_der: bytes
    name: str = ""

    @classmethod
    def from_public_key(cls, key: ec.EllipticCurvePublicKey, name: str = "") -> TrustedKey:
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise KeyFileError(f"{name or 'key'}: bundles are signed with ECDSA P-256 keys only")
        return cls(key_id_of(key), spki_der(key), name)

    @classmethod
    def from_pem_file(cls, path: str | Path) -> TrustedKey:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{p}: cannot read the public key ({exc.strerror})") from None
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise KeyFileError(
                f"{p}: not a PEM public key; export one with `fieldbench keys export NAME --public`"
            ) from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise KeyFileError(f"{p}: bundles are signed with ECDSA P-256 keys only")
        return cls.from_public_key(key, p.stem)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = serialization.load_der_public_key(self.spki_der)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key
