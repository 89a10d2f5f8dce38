"""The negative corpus: every tampering class of the threat model (S1-S7) with its reason.

Each case is a mutation of one signed base bundle (or a whole replacement bundle) plus the
device context it is verified under, and the set of reasons it may yield (a single reason for
every class whose outcome the format fixes; a small set where it depends on which bits a
mutation hits, e.g. a bit flip inside the signature may break the DER or just the maths).
Python and C++ must give the same reason for every case (tests/bundle).
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from core.bundle.der import P256_ORDER, encode_signature, parse_signature
from core.bundle.format import (
    COMPONENTS,
    HEADER_CRC_OFFSET,
    HEADER_SIZE,
    MAX_MANIFEST_SIZE,
    MAX_SIGNATURE_SIZE,
    MIN_MANIFEST_SIZE,
    MIN_SIGNATURE_SIZE,
    BundleHeader,
    Manifest,
    assemble,
    crc32,
    split_bundle,
)
from core.bundle.native import NativeCase
from core.bundle.sample import sample_components, sample_manifest
from core.bundle.sign import seal, sign_manifest
from core.bundle.trust import TrustedKey
from core.bundle.verify import DeviceContext

PAGE = 4096
MIX_SIZES = {
    "firmware": 5000,
    "model": 3000,
    "thresholds": 100,
    "calibration": 60,
    "drift_baseline": 200,
    "selftest": 300,
}


@dataclass(frozen=True)
class Case:
    klass: str
    op: str  # tool script line; "ok" with ``data`` for a replacement bundle
    expected: frozenset[str]
    context: DeviceContext
    data: bytes | None = None

    def apply(self, base: bytes) -> bytes:
        """The bundle bytes this case verifies (the Python twin of the tool's script)."""
        if self.data is not None:
            return self.data
        words = self.op.split()
        out = bytearray(base)
        if words[0] == "flip":
            out[int(words[1])] ^= int(words[2])
        elif words[0] == "trunc":
            del out[int(words[1]) :]
        elif words[0] == "append":
            out += bytes(int(words[1]))
        elif words[0] == "patch":
            patch = bytes.fromhex(words[2])
            off = int(words[1])
            out[off : off + len(patch)] = patch
        return bytes(out)

    def native(self) -> NativeCase:
        return NativeCase(self.op, self.context, self.data)


@dataclass(frozen=True)
class Corpus:
    base: bytes
    manifest: Manifest
    context: DeviceContext
    cases: tuple[Case, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.klass for c in self.cases))


def _one(reason: str) -> frozenset[str]:
    return frozenset({reason})


def _reseal(header: bytes) -> bytes:
    """The header with a recomputed checksum: what an attacker (not a cosmic ray) does."""
    return header[:HEADER_CRC_OFFSET] + struct.pack("<I", crc32(header[:HEADER_CRC_OFFSET]))


def _field_expectation(offset: int, old: bytes, new: bytes) -> frozenset[str]:
    """Verdict of a resealed header whose byte at ``offset`` changed (docs/bundle-format.md)."""
    h_old, h_new = BundleHeader.decode(old), BundleHeader.decode(new)
    if offset in (6, 7) or 28 <= offset < 60:
        return _one("MALFORMED_HEADER")
    if 8 <= offset < 16:
        return _one("HEADER_MISMATCH")
    bad_manifest = not MIN_MANIFEST_SIZE <= h_new.manifest_size <= MAX_MANIFEST_SIZE
    bad_signature = not MIN_SIGNATURE_SIZE <= h_new.signature_size <= MAX_SIGNATURE_SIZE
    if (16 <= offset < 20 and bad_manifest) or (20 <= offset < 24 and bad_signature):
        return _one("MALFORMED_HEADER")
    return _one("TRUNCATED" if h_new.total_size > h_old.total_size else "TRAILING_DATA")


def build_corpus(
    key: ec.EllipticCurvePrivateKey,
    stranger: ec.EllipticCurvePrivateKey,
    progress: Callable[[int, int], None] | None = None,
) -> Corpus:
    """Every negative case of the threat model for a sample bundle signed by ``key``.

    ``stranger`` is a second key the device does not trust.
    """
    comps = sample_components(4)
    manifest = sample_manifest(key, comps, release=4)
    base = seal(manifest, comps, key)
    trusted = TrustedKey.from_public_key(key.public_key())
    ctx = DeviceContext(
        trusted_keys=(trusted,),
        board_id=manifest.target.board_id,
        flash_size=manifest.target.flash_size,
        partition_hash=manifest.target.partition_hash,
        firmware_abi=1,
        min_epoch=manifest.epoch,
        now=1_900_000_000,
    )
    _, mbytes, sig, _ = split_bundle(base)
    m0, s0 = HEADER_SIZE, HEADER_SIZE + len(mbytes)
    p0 = s0 + len(sig)
    cases: list[Case] = []
    add = cases.append

    # S1a: every single-bit flip in header, manifest and signature.
    for off in range(HEADER_SIZE):
        exp = "BAD_MAGIC" if off < 4 else "BAD_FORMAT_VERSION" if off < 6 else "BAD_CHECKSUM"
        for bit in range(8):
            add(Case("bitflip_header", f"flip {off} {1 << bit}", _one(exp), ctx))
    manifest_reasons = frozenset({"MALFORMED_MANIFEST", "UNKNOWN_KEY", "BAD_SIGNATURE"})
    for off in range(m0, s0):
        for bit in range(8):
            add(Case("bitflip_manifest", f"flip {off} {1 << bit}", manifest_reasons, ctx))
    sig_reasons = frozenset({"MALFORMED_SIGNATURE", "BAD_SIGNATURE"})
    for off in range(s0, p0):
        for bit in range(8):
            add(Case("bitflip_signature", f"flip {off} {1 << bit}", sig_reasons, ctx))
    # ... and with the header checksum recomputed (a deliberate edit, not damage).
    raw_header = base[:HEADER_SIZE]
    for off in range(6, HEADER_CRC_OFFSET):
        for bit in range(8):
            edited = bytearray(raw_header)
            edited[off] ^= 1 << bit
            new = _reseal(bytes(edited))
            reasons = _field_expectation(off, raw_header, new)
            add(Case("bitflip_header_resealed", f"patch 0 {new.hex()}", reasons, ctx))

    # S1b: one byte flip per 4 KiB page of every component.
    offset = p0
    for index, name in enumerate(COMPONENTS):
        size = manifest.components[index].size
        for page_start in range(0, size, PAGE):
            span = min(PAGE, size - page_start)
            at = offset + page_start + (page_start // PAGE * 2654435761 + index) % span
            mask = 1 + (at * 40503) % 255
            add(Case("byteflip_component", f"flip {at} {mask}", _one(f"HASH_MISMATCH:{name}"), ctx))
        offset += size

    # S1c: truncation at every 4 KiB boundary and at every offset of header, manifest, signature.
    for length in range(0, len(base), PAGE):
        add(Case("truncate_4k", f"trunc {length}", _one("TRUNCATED"), ctx))
    for length in range(0, p0):
        add(Case("truncate_metadata", f"trunc {length}", _one("TRUNCATED"), ctx))
    # S1d: appended bytes, random blob, another format version.
    for n in (1, 16, PAGE):
        add(Case("trailing_data", f"append {n}", _one("TRAILING_DATA"), ctx))
    add(Case("not_a_bundle", "ok", _one("BAD_MAGIC"), ctx, data=bytes(range(256)) * 8))
    v2 = bytearray(raw_header)
    v2[4] = 2
    add(
        Case("not_a_bundle", f"patch 0 {_reseal(bytes(v2)).hex()}", _one("BAD_FORMAT_VERSION"), ctx)
    )

    # S2: wrong signer, malformed DER, high-S.
    foreign = seal(dataclasses.replace(manifest, key_id=_key_id(stranger)), comps, stranger)
    add(Case("signer", "ok", _one("UNKNOWN_KEY"), ctx, data=foreign))
    forged_sig = sign_manifest(mbytes, stranger)  # claims the trusted key id, signed by another
    add(Case("signer", "ok", _one("BAD_SIGNATURE"), ctx, data=_resign(base, forged_sig)))
    r, s = parse_signature(sig) or (0, 0)
    for bad in _malformed_signatures(r, s):
        add(
            Case(
                "signature_encoding",
                "ok",
                _one("MALFORMED_SIGNATURE"),
                ctx,
                data=_resign(base, bad),
            )
        )

    # S3: downgrade.
    add(
        Case(
            "downgrade",
            "ok",
            _one("EPOCH_TOO_LOW"),
            dataclasses.replace(ctx, min_epoch=manifest.epoch + 1),
        )
    )
    old = seal(dataclasses.replace(manifest, epoch=manifest.epoch - 1), comps, key)
    add(Case("downgrade", "ok", _one("EPOCH_TOO_LOW"), ctx, data=old))

    # S4: mix-and-match over three releases.
    cases += _mix_and_match(key, ctx)

    # S5 / S6 / S7 and the firmware ABI.
    add(
        Case(
            "expired",
            "ok",
            _one("EXPIRED"),
            ctx,
            data=seal(dataclasses.replace(manifest, expires=ctx.now - 1), comps, key),
        )
    )
    for change in (
        {"board_id": "esp32-s3-box-3"},
        {"chip": "esp32c3"},
        {"flash_size": 4 * 1024 * 1024},
        {"partition_hash": bytes(32)},
    ):
        add(Case("wrong_target", "ok", _one("WRONG_TARGET"), dataclasses.replace(ctx, **change)))
    other_board = dataclasses.replace(manifest.target, board_id="custom-node-rev-b")
    add(
        Case(
            "wrong_target",
            "ok",
            _one("WRONG_TARGET"),
            ctx,
            data=seal(dataclasses.replace(manifest, target=other_board), comps, key),
        )
    )
    add(
        Case(
            "incompatible_firmware",
            "ok",
            _one("INCOMPATIBLE_FIRMWARE"),
            dataclasses.replace(ctx, firmware_abi=3),
        )
    )
    fw_app = manifest.components[0].size
    for small in (
        dataclasses.replace(ctx, max_bundle_size=len(base) - 1),
        dataclasses.replace(ctx, max_app_size=fw_app - 1),
        dataclasses.replace(ctx, max_data_size=manifest.payload_size - fw_app - 1),
    ):
        add(Case("oversize", "ok", _one("TOO_LARGE"), small))
    huge = bytearray(raw_header)
    huge[24:28] = struct.pack("<I", 0xFFFFFFF0)
    add(
        Case(
            "oversize",
            f"patch 0 {_reseal(bytes(huge)).hex()}",
            _one("TOO_LARGE"),
            dataclasses.replace(ctx, max_bundle_size=16 * 1024 * 1024),
        )
    )

    # Positive controls: the base and each untouched release verify.
    add(Case("accepted", "ok", _one("OK"), ctx))
    if progress is not None:
        progress(len(cases), len(cases))
    return Corpus(base, manifest, ctx, tuple(cases))


def _key_id(key: ec.EllipticCurvePrivateKey) -> bytes:
    return TrustedKey.from_public_key(key.public_key()).key_id


def _resign(bundle: bytes, signature: bytes) -> bytes:
    """The bundle with another signature (header sizes and checksum updated)."""
    header, mbytes, _, payload = split_bundle(bundle)
    return assemble(mbytes, signature, payload, header.versions)


def _malformed_signatures(r: int, s: int) -> list[bytes]:
    """Encodings of (r, s) or near it that strict DER must refuse."""
    good = encode_signature(r, s)
    out = [
        encode_signature(r, P256_ORDER - s),  # high-S: valid maths, non-canonical
        good + b"\x00",  # trailing byte inside the signature area
        b"\x31" + good[1:],  # SET instead of SEQUENCE
        b"\x30\x81" + bytes([len(good) - 2]) + good[2:],  # long-form length
        encode_signature(0, s),  # r = 0
        encode_signature(r, 0),  # s = 0
        encode_signature(P256_ORDER, s),  # r = n
        good[:-1],  # cut inside s
    ]
    # A negative r (high bit set, no 0x00 pad) and a non-minimal r (extra 0x00).
    r_min = r.to_bytes((r.bit_length() + 7) // 8, "big")
    s_part = good[4 + good[3] :]
    neg = bytes([0x02, len(r_min)]) + bytes([r_min[0] | 0x80]) + r_min[1:]
    out.append(bytes([0x30, len(neg) + len(s_part)]) + neg + s_part)
    pad = bytes([0x02, len(r_min) + 2]) + b"\x00\x00" + r_min
    out.append(bytes([0x30, len(pad) + len(s_part)]) + pad + s_part)
    return [b for b in out if len(b) >= 2 and parse_signature(b) is None]


def _mix_and_match(key: ec.EllipticCurvePrivateKey, ctx: DeviceContext) -> list[Case]:
    """Each of the three signed manifests over every foreign combination of the four versioned
    components (firmware, model, thresholds, calibration) of three releases: 3 × 78 cases."""
    releases = [2, 3, 4]
    comps = {r: sample_components(r, MIX_SIZES) for r in releases}
    signed = {r: sample_manifest(key, comps[r], release=r, epoch=ctx.min_epoch) for r in releases}
    out: list[Case] = []
    for owner in releases:
        m = signed[owner]
        body = m.encode()
        sig = sign_manifest(body, key)
        for combo in itertools.product(releases, repeat=4):
            if len(set(combo)) == 1:
                continue  # the three consistent releases are not foreign
            parts = [comps[combo[i]][i] for i in range(4)] + comps[owner][4:]
            first_foreign = next(i for i in range(4) if combo[i] != owner)
            data = assemble(body, sig, b"".join(parts), m.version_numbers)
            out.append(
                Case(
                    "mix_and_match",
                    "ok",
                    _one(f"HASH_MISMATCH:{COMPONENTS[first_foreign]}"),
                    ctx,
                    data=data,
                )
            )
        out.append(
            Case(
                "accepted",
                "ok",
                _one("OK"),
                ctx,
                data=assemble(body, sig, b"".join(comps[owner]), m.version_numbers),
            )
        )
    return out


def run_python(corpus: Corpus, cases: Sequence[Case] | None = None) -> list[str]:
    """Python verdicts of the corpus cases."""
    from core.bundle.verify import verify_bundle

    return [verify_bundle(c.apply(corpus.base), c.context).reason for c in cases or corpus.cases]
