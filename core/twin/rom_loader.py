"""An emulation of the ESP32-S3 ROM serial loader (and the flasher stub) over a flash image.

Speaks esptool's SLIP protocol well enough that the unmodified esptool 5 (CLI or Python API)
can sync, detect the chip, attach and probe the SPI flash, write (plain and compressed), verify
by MD5, read (ROM slow path and stub streaming), erase and change baud, with or without the stub
(reference: esptool-rom-protocol.md). Flash is NOR: erase sets 0xFF, writes AND the data in.

The loader is a pure byte machine: ``feed(data)`` consumes host bytes and returns the reply
bytes. Transports (pty, TCP) live in ``core.twin.server``.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
import zlib
from collections.abc import Callable, MutableSequence
from typing import Protocol

SLIP_END, SLIP_ESC = 0xC0, 0xDB
CHIP_ID = 9
SYNC_VALUE = 0x55201207
FLASH_ID_8MB = 0x1740EF  # Winbond, capacity byte 0x17 = 8 MB

SPI1 = 0x60002000
SPI_CMD, SPI_ADDR, SPI_USR2, SPI_MISO_DLEN, SPI_W0 = (
    SPI1 + 0x00,
    SPI1 + 0x04,
    SPI1 + 0x20,
    SPI1 + 0x28,
    SPI1 + 0x58,
)
SPI_USR_BIT = 1 << 18

# READ_REG values esptool 5 reads on an ESP32-S3 (eFuse, MAC, strapping), §7 of the reference.
REGISTERS = {
    0x60007050: 0x01080000,  # wafer minor 2, pkg 0, blk minor 1
    0x6000706C: 0x00000001,  # blk major 1
    0x60007044: 0x53000001,  # MAC word 0
    0x60007048: 0x000002E5,  # MAC word 1 -> 02:e5:53:00:00:01
}

# ROM error codes (§2.4) and the stub's.
ROM_INVALID, ROM_FAILED, ROM_BAD_CRC, ROM_DEFLATE = 0x05, 0x06, 0x07, 0x0B
STUB_BAD_CHECKSUM, STUB_BAD_LEN, STUB_NOT_IMPL, STUB_INFLATE = 0xC1, 0xC0, 0xFF, 0xC7


class Flash(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, s: slice) -> bytes: ...
    def __setitem__(self, s: slice, v: bytes) -> None: ...


def slip_encode(payload: bytes) -> bytes:
    body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class RomLoader:
    """The loader's state machine over ``flash`` (a bytearray or an mmap of the flash file)."""

    def __init__(
        self, flash: MutableSequence[int] | mmap.mmap, on_reset: Callable[[], None] | None = None
    ) -> None:
        self.flash = flash
        self.on_reset = on_reset
        self.stub = False
        self.regs: dict[int, int] = {}
        self.flash_size = 2 * 1024 * 1024  # the ROM assumes 2 MB until SPI_SET_PARAMS
        self.baud = 115200
        self.commands = 0
        self.mutations = 0  # erase / program operations (the app side reboots after them)
        self._frame = bytearray()
        self._in_frame = False
        self._esc = False
        self._write: dict[str, int] | None = None
        self._inflate: zlib._Decompress | None = None

    # ---- framing -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the ROM personality (a new connection or a chip reset)."""
        self.stub = False
        self.flash_size = 2 * 1024 * 1024
        self._write = None
        self._inflate = None
        self._frame.clear()
        self._in_frame = self._esc = False

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            if not self._in_frame:
                if b == SLIP_END:
                    self._in_frame = True
                    self._frame.clear()
                continue
            if self._esc:
                self._esc = False
                self._frame.append({0xDC: SLIP_END, 0xDD: SLIP_ESC}.get(b, b))
            elif b == SLIP_ESC:
                self._esc = True
            elif b == SLIP_END:
                if len(self._frame) >= 8:  # empty frames and READ_FLASH acks are ignored
                    out += self._command(bytes(self._frame))
                    self._frame.clear()
                else:
                    self._frame.clear()  # stays "in frame": C0 C0 separates nothing
            else:
                self._frame.append(b)
        return bytes(out)

    # ---- responses -----------------------------------------------------------------------
    def _reply(self, op: int, data: bytes = b"", value: int = 0, error: int = 0) -> bytes:
        if self.stub:
            status = bytes([error, 0]) if error else b"\0\0"
        else:
            status = bytes([1 if error else 0, error, 0, 0])
        body = data + status
        return slip_encode(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _fail(self, op: int, rom_code: int, stub_code: int) -> bytes:
        return self._reply(op, error=stub_code if self.stub else rom_code)

    # ---- flash helpers -------------------------------------------------------------------
    def _erase(self, start: int, end: int) -> None:
        start -= start % 0x1000
        end = min(-(-end // 0x1000) * 0x1000, len(self.flash))
        if end > start:
            self.flash[start:end] = b"\xff" * (end - start)
            self.mutations += 1

    def _program(self, addr: int, data: bytes) -> None:
        data = data[: max(0, len(self.flash) - addr)]
        if not data:
            return
        old = bytes(self.flash[addr : addr + len(data)])
        n = len(data)
        self.mutations += 1
        self.flash[addr : addr + n] = (
            int.from_bytes(old, "little") & int.from_bytes(data, "little")
        ).to_bytes(n, "little")

    # ---- commands ------------------------------------------------------------------------
    def _command(self, pkt: bytes) -> bytes:
        direction, op, length, checksum = struct.unpack_from("<BBHI", pkt)
        data = pkt[8 : 8 + length]
        if direction != 0:
            return b""
        self.commands += 1
        handler = getattr(self, f"_op_{op:02x}", None)
        if handler is None:
            return self._fail(op, ROM_INVALID, STUB_NOT_IMPL)
        try:
            result: bytes = handler(op, data, checksum)
        except (struct.error, IndexError, ValueError):
            return self._fail(op, ROM_INVALID, STUB_BAD_LEN)
        return result

    def _op_08(self, op: int, data: bytes, _: int) -> bytes:  # SYNC
        value = 0 if self.stub else SYNC_VALUE
        return self._reply(op, value=value) * 8

    def _op_14(self, op: int, data: bytes, _: int) -> bytes:  # GET_SECURITY_INFO
        return self._reply(op, struct.pack("<IB7sII", 0, 0, b"\0" * 7, CHIP_ID, 0))

    def _op_0a(self, op: int, data: bytes, _: int) -> bytes:  # READ_REG
        (addr,) = struct.unpack_from("<I", data)
        return self._reply(op, value=self.regs.get(addr, REGISTERS.get(addr, 0)))

    def _op_09(self, op: int, data: bytes, _: int) -> bytes:  # WRITE_REG
        for i in range(0, len(data) - 15, 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
            old = self.regs.get(addr, REGISTERS.get(addr, 0))
            self.regs[addr] = (old & ~mask) | (value & mask)
            if addr == SPI_CMD and self.regs[addr] & SPI_USR_BIT:
                self._spi_user_command()
        return self._reply(op)

    def _spi_user_command(self) -> None:
        opcode = self.regs.get(SPI_USR2, 0) & 0xFFFF
        addr = self.regs.get(SPI_ADDR, 0)
        bits = (self.regs.get(SPI_MISO_DLEN, 0) & 0xFFFF) + 1
        result = 0
        if opcode == 0x9F:
            result = FLASH_ID_8MB
        elif opcode == 0x5A:
            result = 0x50444653 if addr == 0 else 0xFF
        self.regs[SPI_W0] = result & ((1 << min(bits, 32)) - 1)
        self.regs[SPI_CMD] = 0

    def _op_0d(self, op: int, data: bytes, _: int) -> bytes:  # SPI_ATTACH
        return self._reply(op)

    def _op_0b(self, op: int, data: bytes, _: int) -> bytes:  # SPI_SET_PARAMS
        _id, total, _block, _sector, _page, _mask = struct.unpack_from("<6I", data)
        self.flash_size = min(total, len(self.flash))
        return self._reply(op)

    def _op_0f(self, op: int, data: bytes, _: int) -> bytes:  # CHANGE_BAUDRATE
        (self.baud,) = struct.unpack_from("<I", data)
        return self._reply(op)

    def _begin(self, data: bytes, compressed: bool) -> None:
        size, _blocks, block_size, offset = struct.unpack_from("<4I", data)
        self._erase(offset, offset + size)
        self._write = {"offset": offset, "size": size, "block": block_size, "written": 0}
        self._inflate = zlib.decompressobj() if compressed else None

    def _op_02(self, op: int, data: bytes, _: int) -> bytes:  # FLASH_BEGIN
        self._begin(data, compressed=False)
        return self._reply(op)

    def _op_10(self, op: int, data: bytes, _: int) -> bytes:  # FLASH_DEFL_BEGIN
        self._begin(data, compressed=True)
        return self._reply(op)

    def _block(self, op: int, data: bytes, checksum: int) -> tuple[int, bytes] | bytes:
        if self._write is None:
            return self._fail(op, ROM_FAILED, STUB_BAD_LEN)
        dlen, seq = struct.unpack_from("<II", data)
        block = data[16 : 16 + dlen]
        ck = 0xEF
        for b in block:
            ck ^= b
        if len(block) != dlen or ck != (checksum & 0xFF):
            return self._fail(op, ROM_BAD_CRC, STUB_BAD_CHECKSUM)
        return seq, block

    def _op_03(self, op: int, data: bytes, checksum: int) -> bytes:  # FLASH_DATA
        got = self._block(op, data, checksum)
        if isinstance(got, bytes):
            return got
        seq, block = got
        w = self._write
        assert w is not None
        start = seq * w["block"]
        if self.stub:  # the stub writes exactly the announced size
            block = block[: max(0, w["size"] - start)]
        self._program(w["offset"] + start, block)
        return self._reply(op)

    def _op_11(self, op: int, data: bytes, checksum: int) -> bytes:  # FLASH_DEFL_DATA
        got = self._block(op, data, checksum)
        if isinstance(got, bytes):
            return got
        w = self._write
        assert w is not None and self._inflate is not None
        try:
            chunk = self._inflate.decompress(got[1])
        except zlib.error:
            return self._fail(op, ROM_DEFLATE, STUB_INFLATE)
        self._program(w["offset"] + w["written"], chunk)
        w["written"] += len(chunk)
        return self._reply(op)

    def _end(self, op: int, data: bytes) -> bytes:
        flag = struct.unpack_from("<I", data)[0] if len(data) >= 4 else 1
        reply = self._reply(op)
        self._write = None
        self._inflate = None
        if flag == 0:  # "reboot": back to the ROM loader, and the application side may boot
            self.reset()
            if self.on_reset is not None:
                self.on_reset()
        return reply

    def _op_04(self, op: int, data: bytes, _: int) -> bytes:  # FLASH_END
        return self._end(op, data)

    def _op_12(self, op: int, data: bytes, _: int) -> bytes:  # FLASH_DEFL_END
        return self._end(op, data)

    def _op_13(self, op: int, data: bytes, _: int) -> bytes:  # SPI_FLASH_MD5
        addr, size = struct.unpack_from("<II", data)
        digest = hashlib.md5(bytes(self.flash[addr : addr + size]))
        return self._reply(op, digest.digest() if self.stub else digest.hexdigest().encode())

    def _op_0e(self, op: int, data: bytes, _: int) -> bytes:  # READ_FLASH_SLOW
        addr, size = struct.unpack_from("<II", data)
        if size > 64:
            return self._fail(op, 0x0A, STUB_BAD_LEN)
        return self._reply(op, bytes(self.flash[addr : addr + size]).ljust(64, b"\xff"))

    def _op_05(self, op: int, data: bytes, _: int) -> bytes:  # MEM_BEGIN
        return self._reply(op)

    def _op_07(self, op: int, data: bytes, checksum: int) -> bytes:  # MEM_DATA
        dlen = struct.unpack_from("<I", data)[0]
        ck = 0xEF
        for b in data[16 : 16 + dlen]:
            ck ^= b
        return (
            self._fail(op, ROM_BAD_CRC, STUB_BAD_CHECKSUM)
            if ck != checksum & 0xFF
            else self._reply(op)
        )

    def _op_06(self, op: int, data: bytes, _: int) -> bytes:  # MEM_END: "run" the stub
        reply = self._reply(op)
        self.stub = True
        return reply + slip_encode(b"OHAI")

    # stub-only commands
    def _op_d0(self, op: int, data: bytes, _: int) -> bytes:  # ERASE_FLASH
        if not self.stub:
            return self._fail(op, ROM_INVALID, STUB_NOT_IMPL)
        self._erase(0, len(self.flash))
        return self._reply(op)

    def _op_d1(self, op: int, data: bytes, _: int) -> bytes:  # ERASE_REGION
        if not self.stub:
            return self._fail(op, ROM_INVALID, STUB_NOT_IMPL)
        offset, size = struct.unpack_from("<II", data)
        if offset % 0x1000 or size % 0x1000:
            return self._fail(op, ROM_INVALID, STUB_BAD_LEN)
        self._erase(offset, offset + size)
        return self._reply(op)

    def _op_d2(self, op: int, data: bytes, _: int) -> bytes:  # READ_FLASH (streaming)
        if not self.stub:
            return self._fail(op, ROM_INVALID, STUB_NOT_IMPL)
        offset, length, packet, _inflight = struct.unpack_from("<4I", data)
        blob = bytes(self.flash[offset : offset + length])
        out = bytearray(self._reply(op))
        for i in range(0, len(blob), packet):  # acks from the host are ignored (< 8 bytes)
            out += slip_encode(blob[i : i + packet])
        out += slip_encode(hashlib.md5(blob).digest())
        return bytes(out)
