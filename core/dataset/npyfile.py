"""A ``.npy`` file that grows in place and is a valid ``.npy`` after every flush.

The header has a fixed size (128 bytes, format 1.0) with room for any row count, so appending
rows means: write the rows at the end, then rewrite the header's shape. A process killed at any
point leaves a file whose header names at most the rows on disk; ``repair`` recounts rows from
the file size and rewrites the header, dropping a torn last row.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

HEADER_BYTES = 128
MAGIC = b"\x93NUMPY\x01\x00"
DTYPE = np.dtype("<i2")


def header(rows: int, channels: int) -> bytes:
    """The 128-byte ``.npy`` 1.0 header of an int16 C-order ``(rows, channels)`` array."""
    text = f"{{'descr': '<i2', 'fortran_order': False, 'shape': ({rows}, {channels}), }}"
    body_len = HEADER_BYTES - len(MAGIC) - 2
    padded = text.ljust(body_len - 1) + "\n"
    return MAGIC + body_len.to_bytes(2, "little") + padded.encode("latin-1")


class GrowingNpy:
    """Append int16 rows to a new ``.npy`` file; unbuffered writes, header rewritten per append."""

    def __init__(self, path: Path, channels: int) -> None:
        self.path = path
        self.channels = channels
        self.rows = 0
        # O_EXCL: never overwrite an existing payload.
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.pwrite(self.fd, header(0, channels), 0)

    def append(self, rows: npt.NDArray[np.int16]) -> None:
        data = np.ascontiguousarray(rows, dtype=DTYPE).tobytes()
        n = rows.shape[0]
        if n == 0:
            return
        offset = HEADER_BYTES + self.rows * self.channels * DTYPE.itemsize
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view = view[written:]
            offset += written
        self.rows += n
        os.pwrite(self.fd, header(self.rows, self.channels), 0)

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def repair(path: Path, channels: int) -> int:
    """Make ``path`` a valid ``.npy`` of the whole rows it holds; return that row count."""
    size = path.stat().st_size
    row_bytes = channels * DTYPE.itemsize
    rows = max(0, size - HEADER_BYTES) // row_bytes
    with open(path, "r+b") as handle:
        handle.truncate(HEADER_BYTES + rows * row_bytes)
        handle.seek(0)
        handle.write(header(rows, channels))
    return rows
