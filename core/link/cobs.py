"""COBS (Consistent Overhead Byte Stuffing) without the zero-pair extension (protocol §1).

Both directions work block by block with C-level ``bytes`` operations (``split``, ``find``,
slicing), so a frame of ~1 kB of sensor data costs a handful of Python steps.
"""

from __future__ import annotations

import numpy as np

DENSE_BLOCKS = 32


class CobsError(ValueError):
    """An encoded frame is not valid COBS (a zero inside, or a code pointing past the end)."""


def cobs_encode(data: bytes) -> bytes:
    """Encode ``data``; the result holds no 0x00 byte and is at most ⌈n/254⌉ + 1 bytes longer."""
    out = bytearray()
    for piece in data.split(b"\x00"):
        # Each zero-separated piece becomes 254-byte 0xFF blocks plus a final short block.
        while len(piece) >= 254:
            out.append(0xFF)
            out += piece[:254]
            piece = piece[254:]
        out.append(len(piece) + 1)
        out += piece
    return bytes(out)


def cobs_decode(encoded: bytes | bytearray | memoryview) -> bytes:
    """Decode one COBS frame (without its 0x00 delimiter); raise ``CobsError`` if invalid."""
    enc = bytes(encoded)
    n = len(enc)
    if n == 0:
        raise CobsError("empty frame")
    if b"\x00" in enc:
        raise CobsError("zero byte inside a frame")
    # Walk the code chain once (cheap), then cut: by slices when blocks are few (sensor data
    # has few zeros), with numpy when they are many (silence: one block per byte).
    starts: list[int] = []
    i = 0
    while i < n:
        starts.append(i)
        i += enc[i]
    if i != n:
        raise CobsError(f"code byte at {starts[-1]} points past the end of the frame")
    if len(starts) <= DENSE_BLOCKS:
        parts: list[bytes] = []
        last = len(starts) - 1
        for k, p in enumerate(starts):
            code = enc[p]
            parts.append(enc[p + 1 : p + code])
            if k != last and code != 0xFF:
                parts.append(b"\x00")
        return b"".join(parts)
    a = np.frombuffer(enc, dtype=np.uint8).copy()
    pos = np.array(starts)
    codes = a[pos]
    a[pos] = 0  # each later code byte stands where a zero was ...
    keep = np.ones(n, dtype=bool)
    keep[0] = False
    keep[pos[1:][codes[:-1] == 0xFF]] = False  # ... unless the block before was a full 254
    return a[keep].tobytes()
