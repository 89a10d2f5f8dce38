"""The Python mirror agrees with bundle_format.h, and containers round-trip both ways."""

from __future__ import annotations

import dataclasses
import re
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bundle import format as fmt
from core.bundle.format import BundleFormatError, BundleHeader, Manifest
from core.bundle.native import native_tool
from core.bundle.sample import sample_bundle

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "firmware/components/edge_runtime/include/edge_runtime/bundle_format.h"
SOURCE = ROOT / "firmware/components/edge_runtime/src/bundle/bundle_format.cpp"
KEY = ec.derive_private_key(0xF0F0, ec.SECP256R1())


def _constant(name: str) -> int:
    m = re.search(rf"constexpr \w+ {name} = (0x[0-9A-Fa-f]+|\d+)u?;", HEADER.read_text())
    assert m, name
    return int(m.group(1), 0)


def test_constants_match_the_c_header() -> None:
    assert _constant("kMagic") == fmt.MAGIC
    assert _constant("kFormatVersion") == fmt.FORMAT_VERSION
    assert _constant("kHeaderSize") == fmt.HEADER_SIZE
    assert _constant("kHeaderCrcOffset") == fmt.HEADER_CRC_OFFSET
    assert _constant("kMaxManifestSize") == fmt.MAX_MANIFEST_SIZE
    assert _constant("kMinManifestSize") == fmt.MIN_MANIFEST_SIZE
    assert _constant("kMaxSignatureSize") == fmt.MAX_SIGNATURE_SIZE
    assert _constant("kMinSignatureSize") == fmt.MIN_SIGNATURE_SIZE
    assert _constant("kMaxString") == fmt.MAX_STRING
    assert _constant("kMaxListItems") == fmt.MAX_LIST_ITEMS
    assert _constant("kComponentTlvSize") == fmt.COMPONENT_TLV_SIZE


def test_tags_components_and_reasons_match_the_c_header() -> None:
    text = HEADER.read_text()
    tags = {m[0]: int(m[1], 16) for m in re.findall(r"kTag(\w+) = (0x[0-9A-F]+),", text)}
    camel = {t.name.replace("_", "").lower(): t.value for t in fmt.Tag}
    assert {k.lower(): v for k, v in tags.items()} == camel
    reasons = re.findall(r"  k(\w+) = (\d+),", text.split("enum class Reason")[1])
    assert [int(n) for _, n in reasons] == list(range(len(fmt.REASONS) + 1))
    names = re.findall(r'"([A-Z_]+)",', SOURCE.read_text())
    assert tuple(names) == fmt.REASONS
    components = re.findall(r'"([a-z_]+)"', SOURCE.read_text().split("kComponentNames")[1])
    assert tuple(components[: len(fmt.COMPONENTS)]) == fmt.COMPONENTS


def test_header_struct_offsets_match_the_c_static_asserts() -> None:
    text = HEADER.read_text()
    offsets = dict(re.findall(r"offsetof\(BundleHeader, (\w+)\) == (\w+)", text))
    packed = fmt.HEADER_STRUCT.pack(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, b"\x0c" * 28, 13)
    assert struct.unpack_from("<H", packed, int(offsets["format_version"]))[0] == 2
    assert struct.unpack_from("<H", packed, int(offsets["fw_version"]))[0] == 4
    assert struct.unpack_from("<H", packed, int(offsets["calibration_version"]))[0] == 7
    assert struct.unpack_from("<I", packed, int(offsets["manifest_size"]))[0] == 8
    assert struct.unpack_from("<I", packed, int(offsets["payload_size"]))[0] == 10
    assert struct.unpack_from("<I", packed, int(offsets["flags"]))[0] == 11
    assert packed[int(offsets["reserved"])] == 12
    assert struct.unpack_from("<I", packed, fmt.HEADER_CRC_OFFSET)[0] == 13


def test_a_header_encoded_by_cpp_decodes_in_python() -> None:
    out = subprocess.run(
        [str(native_tool()), "--encode-header", "264", "9", "3", "2", "700", "71", "123456"],
        capture_output=True,
        text=True,
        check=True,
    )
    raw = bytes.fromhex(out.stdout.strip())
    h = BundleHeader.decode(raw)
    assert h.versions == (264, 9, 3, 2)
    assert (h.manifest_size, h.signature_size, h.payload_size) == (700, 71, 123456)
    assert h.checksum == fmt.crc32(raw[:60])
    assert BundleHeader(264, 9, 3, 2, 700, 71, 123456).encode() == raw


def test_a_bundle_built_in_python_is_read_field_by_field_by_cpp(tmp_path: Path) -> None:
    bundle, manifest, _ = sample_bundle(KEY)
    path = tmp_path / "b.fbb"
    path.write_bytes(bundle)
    out = subprocess.run(
        [str(native_tool()), "--dump", str(path)], capture_output=True, text=True, check=True
    )
    got = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert got["versions"] == ",".join(map(str, manifest.version_numbers))
    assert got["reason"] == "UNKNOWN_KEY"  # no trusted key given: parsed, then refused
    assert got["bundle_id"] == manifest.bundle_id
    assert int(got["epoch"]) == manifest.epoch
    assert got["abi"] == "1,2,1"
    assert int(got["peak_ram_budget"]) == manifest.peak_ram_budget_bytes
    for name in fmt.COMPONENTS:
        assert int(got[f"component.{name}"]) == manifest.component(name).size


def test_manifest_round_trips_and_has_one_encoding() -> None:
    _, manifest, _ = sample_bundle(KEY)
    body = manifest.encode()
    assert Manifest.decode(body) == manifest
    assert Manifest.decode(body).encode() == body


def test_non_canonical_manifests_are_refused() -> None:
    _, manifest, _ = sample_bundle(KEY)
    body = manifest.encode()
    first_len = struct.unpack_from("<H", body, 2)[0]
    first = body[: 4 + first_len]
    rest = body[4 + first_len :]
    second = rest[: 4 + struct.unpack_from("<H", rest, 2)[0]]
    with pytest.raises(BundleFormatError, match="strictly increase"):
        Manifest.decode(second + first + rest[len(second) :])  # swapped
    with pytest.raises(BundleFormatError):
        Manifest.decode(first + first + rest)  # duplicate tag
    with pytest.raises(BundleFormatError, match="unknown tag"):
        Manifest.decode(body + struct.pack("<HH", 0x7000, 1) + b"x")


def test_manifest_values_outside_the_format_are_refused_when_building() -> None:
    _, manifest, _ = sample_bundle(KEY)
    for change in (
        {"bundle_id": ""},
        {"bundle_id": "café"},
        {"min_battery_level": 101},
        {"epoch": -1},
        {"target_environment": tuple(f"e{i}" for i in range(9))},
        {"expires": 0},
    ):
        with pytest.raises(BundleFormatError):
            dataclasses.replace(manifest, **change).encode()  # type: ignore[arg-type]


_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(
    bundle_id=_text,
    versions=st.tuples(*[st.integers(0, 0xFFFF)] * 4),
    epoch=st.integers(0, 2**32 - 1),
    expires=st.none() | st.integers(1, 2**64 - 1),
    env=st.lists(_text, max_size=8).map(tuple),
    battery=st.integers(0, 100),
    override=st.none() | _text,
)
def test_any_valid_manifest_round_trips(
    bundle_id: str,
    versions: tuple[int, int, int, int],
    epoch: int,
    expires: int | None,
    env: tuple[str, ...],
    battery: int,
    override: str | None,
) -> None:
    _, manifest, _ = sample_bundle(KEY)
    m = dataclasses.replace(
        manifest,
        bundle_id=bundle_id,
        version_numbers=versions,
        epoch=epoch,
        expires=expires,
        target_environment=env,
        min_battery_level=battery,
        gate_override=override,
    )
    assert Manifest.decode(m.encode()) == m
