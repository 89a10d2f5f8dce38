"""Signing keys: generate, import, export; kept in the user's config directory (0600).

Private keys are PEM (PKCS#8) encrypted with a passphrase and live in
``core.paths.user_config_dir()/keys`` — never in a workspace. Each key has a name (its file stem)
and an id (SHA-256 of its public key, in every manifest it signs).
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.atomic import atomic_open
from core.bundle.trust import KeyFileError, TrustedKey, short_id
from core.paths import user_config_dir

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSPHRASE = 8


def default_key_dir() -> Path:
    return user_config_dir() / "keys"


@dataclass(frozen=True)
class KeyInfo:
    name: str
    key_id: bytes
    private_path: Path
    public_path: Path

    @property
    def short_id(self) -> str:
        return short_id(self.key_id)


class KeyStore:
    """The folder of signing keys: ``NAME.key.pem`` (encrypted, 0600) + ``NAME.pub.pem``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_key_dir()
        _refuse_workspace(self.root)

    def _paths(self, name: str) -> tuple[Path, Path]:
        if not NAME_RE.match(name):
            raise KeyFileError(
                f"key name {name!r}: use 1-64 letters, digits, '-', '_' or '.' (no slashes)"
            )
        return self.root / f"{name}.key.pem", self.root / f"{name}.pub.pem"

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def list(self) -> builtins.list[KeyInfo]:
        """Keys in the store, sorted by name."""
        if not self.root.is_dir():
            return []
        out = []
        for pub in sorted(self.root.glob("*.pub.pem")):
            name = pub.name[: -len(".pub.pem")]
            trusted = TrustedKey.from_pem_file(pub)
            out.append(KeyInfo(name, trusted.key_id, self.root / f"{name}.key.pem", pub))
        return out

    def info(self, name: str) -> KeyInfo:
        priv, pub = self._paths(name)
        if not pub.is_file():
            known = ", ".join(k.name for k in self.list()) or "none yet"
            raise KeyFileError(
                f"no signing key named {name!r} in {self.root} (keys: {known}); "
                "create one with `fieldbench keys generate NAME`"
            )
        return KeyInfo(name, TrustedKey.from_pem_file(pub).key_id, priv, pub)

    def generate(self, name: str, passphrase: str) -> KeyInfo:
        """A new P-256 key, encrypted with ``passphrase``."""
        return self._store(name, ec.generate_private_key(ec.SECP256R1()), passphrase)

    def import_key(
        self, name: str, pem_path: str | Path, passphrase: str | None, new_passphrase: str
    ) -> KeyInfo:
        """Import a PEM private key (encrypted or not) and store it under ``new_passphrase``."""
        p = Path(pem_path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{p}: cannot read ({exc.strerror})") from None
        key = _load_private(data, passphrase, str(p))
        return self._store(name, key, new_passphrase)

    def _store(self, name: str, key: ec.EllipticCurvePrivateKey, passphrase: str) -> KeyInfo:
        priv, pub = self._paths(name)
        if priv.exists() or pub.exists():
            raise KeyFileError(f"a key named {name!r} already exists in {self.root}; pick another")
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise KeyFileError("bundles are signed with ECDSA P-256 keys only")
        if len(passphrase) < MIN_PASSPHRASE:
            raise KeyFileError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
        self._prepare_root()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
        )
        # atomic_open uses mkstemp: the file is created 0600 and renamed into place.
        with atomic_open(priv, "wb") as handle:
            handle.write(pem)
        os.chmod(priv, 0o600)
        public = key.public_key()
        with atomic_open(pub, "wb") as handle:
            handle.write(
                public.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return KeyInfo(name, TrustedKey.from_public_key(public).key_id, priv, pub)

    def load_private(self, name: str, passphrase: str) -> ec.EllipticCurvePrivateKey:
        """The decrypted private key; KeyFileError names a wrong passphrase."""
        info = self.info(name)
        try:
            data = info.private_path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{info.private_path}: cannot read ({exc.strerror})") from None
        return _load_private(data, passphrase, f"key {name!r}")

    def trusted(self, name: str) -> TrustedKey:
        return TrustedKey.from_pem_file(self.info(name).public_path)

    def all_trusted(self) -> tuple[TrustedKey, ...]:
        return tuple(TrustedKey.from_pem_file(k.public_path) for k in self.list())

    def export_public(self, name: str, out: str | Path) -> Path:
        info = self.info(name)
        target = Path(out)
        with atomic_open(target, "wb") as handle:
            handle.write(info.public_path.read_bytes())
        return target

    def export_private(self, name: str, out: str | Path) -> Path:
        """A copy of the encrypted PEM (same passphrase); refused inside a workspace."""
        info = self.info(name)
        target = Path(out)
        _refuse_workspace(target.parent)
        with atomic_open(target, "wb") as handle:
            handle.write(info.private_path.read_bytes())
        os.chmod(target, 0o600)
        return target

    def export_c_header(self, names: Sequence[str], out: str | Path) -> Path:
        """The trusted-key table for the firmware (edge::bundle::TrustedKey)."""
        keys = [self.trusted(n) for n in names]
        target = Path(out)
        with atomic_open(target, "w") as handle:
            handle.write(c_header(keys))
        return target


def c_header(keys: Sequence[TrustedKey]) -> str:
    """C++ source of a trusted-key table; generated, do not edit."""

    def arr(b: bytes) -> str:
        rows = [", ".join(f"0x{x:02x}" for x in b[i : i + 12]) for i in range(0, len(b), 12)]
        return "{\n    " + ",\n    ".join(rows) + "}"

    lines = [
        "// Generated by `fieldbench keys export --c-header`: the public keys this firmware",
        "// trusts for bundles. Do not edit; regenerate.",
        "#ifndef FIELDBENCH_TRUSTED_KEYS_H_",
        "#define FIELDBENCH_TRUSTED_KEYS_H_",
        "",
        '#include "edge_runtime/bundle_verify.h"',
        "",
        "namespace fieldbench_keys {",
        "",
    ]
    for i, k in enumerate(keys):
        lines.append(f"// {k.name or 'key'}: id {k.key_id.hex()}")
        lines.append(f"static const uint8_t kSpki{i}[{len(k.spki_der)}] = {arr(k.spki_der)};")
        lines.append("")
    lines.append("static const edge::bundle::TrustedKey kTrustedKeys[] = {")
    for i, k in enumerate(keys):
        lines.append(f"    {{{arr(k.key_id)}, kSpki{i}, {len(k.spki_der)}}},")
    lines += [
        "};",
        f"static const size_t kTrustedKeyCount = {len(keys)};",
        "",
        "}  // namespace fieldbench_keys",
        "",
        "#endif  // FIELDBENCH_TRUSTED_KEYS_H_",
        "",
    ]
    return "\n".join(lines)


def _load_private(data: bytes, passphrase: str | None, what: str) -> ec.EllipticCurvePrivateKey:
    pw = passphrase.encode("utf-8") if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password=pw)
    except TypeError:
        if pw is None:
            raise KeyFileError(f"{what}: the key is encrypted; give its passphrase") from None
        raise KeyFileError(f"{what}: the key is not encrypted; give no passphrase") from None
    except ValueError:
        if pw is not None:
            raise KeyFileError(f"{what}: wrong passphrase (or not a PEM private key)") from None
        raise KeyFileError(f"{what}: not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFileError(f"{what}: bundles are signed with ECDSA P-256 keys only")
    return key


def _refuse_workspace(folder: Path) -> None:
    """Keys never go inside a workspace (a folder holding fieldbench.toml, or below one)."""
    p = folder.resolve()
    for parent in (p, *p.parents):
        if (parent / "fieldbench.toml").is_file():
            raise KeyFileError(
                f"{folder}: inside the workspace {parent}; signing keys must stay out of "
                "workspaces (they are shared and backed up); choose another folder"
            )
