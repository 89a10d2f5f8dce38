"""Signing keys: encrypted, 0600, outside workspaces; public keys exported for the firmware."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.keys import KeyStore, default_key_dir
from core.bundle.trust import KeyFileError, TrustedKey
from core.paths import user_config_dir
from core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
PHRASE = "correct horse battery"


def test_generated_keys_live_in_the_user_config_dir_with_0600() -> None:
    info = KeyStore().generate("release", PHRASE)
    assert info.private_path.parent == default_key_dir() == user_config_dir() / "keys"
    assert stat.S_IMODE(info.private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(default_key_dir().stat().st_mode) == 0o700
    assert b"ENCRYPTED PRIVATE KEY" in info.private_path.read_bytes()
    assert [k.name for k in KeyStore().list()] == ["release"]


def test_a_wrong_passphrase_is_named() -> None:
    KeyStore().generate("release", PHRASE)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        KeyStore().load_private("release", "not the passphrase")
    key = KeyStore().load_private("release", PHRASE)
    assert TrustedKey.from_public_key(key.public_key()).key_id == KeyStore().info("release").key_id


def test_keys_are_never_stored_or_exported_inside_a_workspace(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws", "demo")
    with pytest.raises(KeyFileError, match="workspace"):
        KeyStore(ws.path / "keys")
    KeyStore().generate("release", PHRASE)
    with pytest.raises(KeyFileError, match="workspace"):
        KeyStore().export_private("release", ws.path / "release.pem")
    assert not (ws.path / "release.pem").exists()


def test_import_reencrypts_and_refuses_other_curves(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    plain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    info = KeyStore().import_key("imported", plain, None, PHRASE)
    assert info.key_id == TrustedKey.from_public_key(key.public_key()).key_id
    other = tmp_path / "p384.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="P-256"):
        KeyStore().import_key("p384", other, None, PHRASE)
    with pytest.raises(KeyFileError, match="already exists"):
        KeyStore().import_key("imported", plain, None, PHRASE)


def test_the_exported_c_header_compiles_against_bundle_verify_h(tmp_path: Path) -> None:
    KeyStore().generate("a", PHRASE)
    KeyStore().generate("b", PHRASE)
    header = KeyStore().export_c_header(["a", "b"], tmp_path / "trusted_keys.h")
    user = tmp_path / "use.cpp"
    user.write_text(
        '#include "trusted_keys.h"\n'
        "static_assert(sizeof(fieldbench_keys::kTrustedKeys) / "
        'sizeof(fieldbench_keys::kTrustedKeys[0]) == 2, "two keys");\n'
        "int main() { return fieldbench_keys::kTrustedKeys[1].spki_len == 91 ? 0 : 1; }\n"
    )
    include = ROOT / "firmware/components/edge_runtime/include"
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-fsyntax-only",
            "-Wall",
            "-Werror",
            f"-I{include}",
            f"-I{header.parent}",
            str(user),
        ],
        check=True,
    )
    text = header.read_text()
    assert KeyStore().info("a").key_id.hex() in text


def test_the_verify_path_never_imports_signing_code() -> None:
    import ast

    for name in ("verify.py", "trust.py", "der.py", "format.py"):
        tree = ast.parse((ROOT / "core/bundle" / name).read_text())
        imported = {
            n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
        } | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & {"core.bundle.keys", "core.bundle.sign", "core.bundle.build"}, name
        assert "load_pem_private_key" not in (ROOT / "core/bundle" / name).read_text()
