"""``fieldbench bundle build|verify|inspect|diff`` and ``fieldbench keys ...`` subcommands.

Passphrases come from ``--passphrase-file``, the FIELDBENCH_KEY_PASSPHRASE environment variable,
or an interactive prompt — never from the command line itself.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from core.errors import FieldbenchError, InputFileError

PASSPHRASE_ENV = "FIELDBENCH_KEY_PASSPHRASE"


def register(sub: Any) -> None:
    b = sub.add_parser("bundle", help="build, verify, inspect and diff signed deployment bundles")
    bs = b.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    build = bs.add_parser("build", help="gate, sign and write a bundle from a TOML spec")
    build.add_argument("spec", type=Path, help="bundle spec (see docs/bundle-format.md)")
    build.add_argument("--key", required=True, help="signing key name (fieldbench keys list)")
    build.add_argument("--out", type=Path, required=True, help="output bundle file (.fbb)")
    build.add_argument("--override", help="build despite failed gate checks; the reason is signed")
    build.add_argument("--workspace", type=Path, help="record the bundle in this workspace")
    build.add_argument("--passphrase-file", type=Path)
    build.set_defaults(run=_build)

    verify = bs.add_parser("verify", help="verify a bundle as a device would")
    verify.add_argument("bundle", type=Path)
    verify.add_argument(
        "--pubkey",
        type=Path,
        action="append",
        default=[],
        help="trusted public key PEM (default: every key in the key store)",
    )
    verify.add_argument("--board", help="device board id")
    verify.add_argument("--flash-size", type=int, default=0)
    verify.add_argument("--partition-hash", help="SHA-256 of the device's partition table (hex)")
    verify.add_argument("--min-epoch", type=int, default=0, help="the device's anti-rollback epoch")
    verify.add_argument("--now", type=int, default=None, help="unix time (default: this clock)")
    verify.add_argument(
        "--native", action="store_true", help="also run the firmware's C++ verifier and compare"
    )
    verify.set_defaults(run=_verify)

    inspect = bs.add_parser("inspect", help="print a bundle's header and manifest as JSON")
    inspect.add_argument("bundle", type=Path)
    inspect.set_defaults(run=_inspect)

    diff = bs.add_parser("diff", help="what changed between two bundles")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.set_defaults(run=_diff)

    k = sub.add_parser("keys", help="bundle signing keys (kept in the user config folder)")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = ks.add_parser("generate", help="create a passphrase-protected ECDSA P-256 key")
    gen.add_argument("name")
    gen.add_argument("--passphrase-file", type=Path)
    gen.set_defaults(run=_keys_generate)
    imp = ks.add_parser("import", help="import a PEM private key")
    imp.add_argument("pem", type=Path)
    imp.add_argument("--name", required=True)
    imp.add_argument("--passphrase-file", type=Path, help="passphrase of the PEM and the store")
    imp.set_defaults(run=_keys_import)
    exp = ks.add_parser("export", help="export a key: public PEM, C header or encrypted private")
    exp.add_argument("name", nargs="+")
    exp.add_argument("--out", type=Path, required=True)
    kind = exp.add_mutually_exclusive_group()
    kind.add_argument("--c-header", action="store_true", help="trusted-key table for firmware")
    kind.add_argument("--private", action="store_true", help="the encrypted private PEM")
    exp.set_defaults(run=_keys_export)
    lst = ks.add_parser("list", help="keys in the store with their ids")
    lst.set_defaults(run=_keys_list)


def _passphrase(args: argparse.Namespace, prompt: str, confirm: bool = False) -> str:
    path = getattr(args, "passphrase_file", None)
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InputFileError(f"{path}: cannot read the passphrase ({exc.strerror})") from None
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise InputFileError(
            f"no passphrase: give --passphrase-file or set {PASSPHRASE_ENV} (no terminal to ask)"
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise InputFileError("the two passphrases differ; nothing was created")
    return first


def _build(args: argparse.Namespace) -> int:
    from core.bundle.build import BundleSpec, build_bundle
    from core.bundle.keys import KeyStore
    from core.bundle.registry import BundleRegistry

    spec = BundleSpec.load(args.spec)
    store = KeyStore()
    store.info(args.key)
    key = store.load_private(args.key, _passphrase(args, f"passphrase of key {args.key}: "))
    built = build_bundle(spec, key, args.out, override=args.override)
    assert built.gate is not None
    for check in built.gate.checks:
        print(f"{'pass' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    if built.manifest.gate_override:
        print(f"gate override recorded: {built.manifest.gate_override}")
    print(
        f"{built.path}: {built.manifest.bundle_id}, {built.size} bytes, sha256 {built.sha256.hex()}"
    )
    if args.workspace is not None:
        entry = BundleRegistry(args.workspace).add(built)
        print(
            f"registered as #{entry.ordinal} (rollback target: {entry.rollback_target or 'none'})"
        )
    return 0


def _context(args: argparse.Namespace) -> Any:
    import time

    from core.bundle.keys import KeyStore
    from core.bundle.trust import TrustedKey
    from core.bundle.verify import DeviceContext

    keys = tuple(TrustedKey.from_pem_file(p) for p in args.pubkey) or KeyStore().all_trusted()
    return DeviceContext(
        trusted_keys=keys,
        board_id=args.board,
        flash_size=args.flash_size,
        partition_hash=bytes.fromhex(args.partition_hash) if args.partition_hash else None,
        min_epoch=args.min_epoch,
        now=int(time.time()) if args.now is None else args.now,
    )


def _verify(args: argparse.Namespace) -> int:
    from core.bundle.verify import verify_bundle

    ctx = _context(args)
    verdict = verify_bundle(args.bundle, ctx)
    print(f"{args.bundle}: {verdict.message()}")
    if args.native:
        from core.bundle.native import native_verify_file

        native = native_verify_file(args.bundle, ctx)
        same = "same verdict" if native == verdict.reason else "DIFFERENT verdict"
        print(f"C++ verifier: {native} ({same})")
        if native != verdict.reason:
            return 1
    return 0 if verdict.ok else 1


def _read_parts(path: Path) -> tuple[Any, Any]:
    from core.bundle.format import BundleFormatError, Manifest, split_bundle

    try:
        header, body, _, _ = split_bundle(path.read_bytes())
        return header, Manifest.decode(body)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    except BundleFormatError as exc:
        raise InputFileError(f"{path}: not a readable bundle ({exc})") from None


def _inspect(args: argparse.Namespace) -> int:
    header, manifest = _read_parts(args.bundle)
    out = {
        "header": {
            "formatVersion": header.format_version,
            "versions": list(header.versions),
            "manifestSize": header.manifest_size,
            "signatureSize": header.signature_size,
            "payloadSize": header.payload_size,
            "checksum": f"{header.checksum:08x}",
        },
        "manifest": manifest.to_json(),
    }
    print(json.dumps(out, indent=2))
    return 0


def diff_manifests(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths whose values differ, as "path: old -> new" lines."""
    lines: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff_manifests(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {a} -> {b}")
    return lines


def _diff(args: argparse.Namespace) -> int:
    _, old = _read_parts(args.old)
    _, new = _read_parts(args.new)
    lines = diff_manifests(old.to_json(), new.to_json())
    print("\n".join(lines) if lines else "no differences in the manifests")
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    from core.bundle.keys import KeyStore

    info = KeyStore().generate(args.name, _passphrase(args, "new passphrase: ", confirm=True))
    print(f"key {info.name}: id {info.short_id}, stored in {info.private_path} (0600)")
    return 0


def _keys_import(args: argparse.Namespace) -> int:
    from core.bundle.keys import KeyStore

    phrase = _passphrase(args, "passphrase: ")
    info = KeyStore().import_key(args.name, args.pem, phrase or None, phrase)
    print(f"key {info.name}: id {info.short_id}, stored in {info.private_path} (0600)")
    return 0


def _keys_export(args: argparse.Namespace) -> int:
    from core.bundle.keys import KeyStore

    store = KeyStore()
    if args.c_header:
        path = store.export_c_header(args.name, args.out)
    elif len(args.name) != 1:
        raise FieldbenchError("export one key at a time (several only with --c-header)")
    elif args.private:
        path = store.export_private(args.name[0], args.out)
    else:
        path = store.export_public(args.name[0], args.out)
    print(f"wrote {path}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from core.bundle.keys import KeyStore

    store = KeyStore()
    keys = store.list()
    if not keys:
        print(f"no keys in {store.root}; create one with `fieldbench keys generate NAME`")
    for k in keys:
        print(f"{k.name}\t{k.short_id}")
    return 0
