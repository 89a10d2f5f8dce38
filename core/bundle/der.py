"""Strict DER for ECDSA P-256 signatures: the same acceptance rule as the C verifier.

``SEQUENCE { INTEGER r, INTEGER s }`` with short-form lengths, minimal positive integers,
``1 <= r < n`` and ``1 <= s <= n/2`` (low-S). Anything else is MALFORMED_SIGNATURE on both
sides, so a signature has exactly one accepted encoding.
"""

from __future__ import annotations

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_ORDER = P256_ORDER // 2


def _read_integer(der: bytes, pos: int) -> tuple[int, int] | None:
    if len(der) - pos < 2 or der[pos] != 0x02:
        return None
    length = der[pos + 1]
    pos += 2
    if length < 1 or length > 33 or length > len(der) - pos:
        return None
    v = der[pos : pos + length]
    if v[0] & 0x80:
        return None  # negative
    if length > 1 and v[0] == 0 and not v[1] & 0x80:
        return None  # non-minimal
    if v[0] == 0 and length > 1:
        v = v[1:]
    if len(v) > 32:
        return None
    value = int.from_bytes(v, "big")
    if value == 0:
        return None
    return value, pos + length


def parse_signature(der: bytes) -> tuple[int, int] | None:
    """``(r, s)`` of a canonical signature, or None when the encoding is not accepted."""
    if not 8 <= len(der) <= 72:
        return None
    if der[0] != 0x30 or der[1] >= 0x80 or der[1] != len(der) - 2:
        return None
    first = _read_integer(der, 2)
    if first is None:
        return None
    r, pos = first
    second = _read_integer(der, pos)
    if second is None:
        return None
    s, pos = second
    if pos != len(der) or r >= P256_ORDER or s > HALF_ORDER:
        return None
    return r, s


def encode_signature(r: int, s: int) -> bytes:
    """Minimal DER of (r, s) (no range checks: tests build bad signatures with it)."""

    def integer(v: int) -> bytes:
        body = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
        if body[0] & 0x80:
            body = b"\x00" + body
        return bytes([0x02, len(body)]) + body

    content = integer(r) + integer(s)
    return bytes([0x30, len(content)]) + content


def low_s(r: int, s: int) -> tuple[int, int]:
    """The canonical (low-S) form of a valid signature."""
    return (r, P256_ORDER - s) if s > HALF_ORDER else (r, s)
