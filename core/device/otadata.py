"""ESP-IDF otadata: two 4 KiB sectors, each opening with one ``esp_ota_select_entry_t``.

``{u32 ota_seq, u8 seq_label[20], u32 ota_state, u32 crc}``, crc = CRC-32 of the 4 bytes of
``ota_seq`` only, as ``esp_rom_crc32_le(UINT32_MAX, …)`` computes it
(``zlib.crc32(seq_bytes, 0xFFFFFFFF)``). The valid entry with the larger sequence number selects
``ota_[(seq - 1) % app_count]``. C++ twin: ``firmware/components/node/src/otadata.cpp``.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

ENTRY = struct.Struct("<I20sII")
SECTOR = 0x1000
BLANK_SEQ = 0xFFFFFFFF


class OtaState(enum.IntEnum):
    """``esp_ota_img_states_t``."""

    NEW = 0
    PENDING_VERIFY = 1
    VALID = 2
    INVALID = 3
    ABORTED = 4
    UNDEFINED = 0xFFFFFFFF


def seq_crc(seq: int) -> int:
    return zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF)


@dataclass(frozen=True)
class OtaEntry:
    seq: int = BLANK_SEQ
    state: int = OtaState.UNDEFINED
    crc: int = 0xFFFFFFFF
    label: bytes = b"\xff" * 20

    @classmethod
    def select(cls, seq: int, state: OtaState) -> OtaEntry:
        return cls(seq=seq, state=int(state), crc=seq_crc(seq))

    def to_bytes(self) -> bytes:
        return ENTRY.pack(self.seq, self.label, self.state, self.crc)

    @classmethod
    def from_bytes(cls, raw: bytes) -> OtaEntry:
        seq, label, state, crc = ENTRY.unpack(raw[: ENTRY.size])
        return cls(seq=seq, state=state, crc=crc, label=label)

    @property
    def valid(self) -> bool:
        return (
            self.seq != BLANK_SEQ
            and self.state not in (OtaState.INVALID, OtaState.ABORTED)
            and self.crc == seq_crc(self.seq)
        )

    @property
    def state_name(self) -> str:
        try:
            return OtaState(self.state).name
        except ValueError:
            return f"0x{self.state:08x}"


def read_entries(otadata: bytes) -> tuple[OtaEntry, OtaEntry]:
    """Both entries from the 0x2000 bytes of the otadata partition."""
    return OtaEntry.from_bytes(otadata[:32]), OtaEntry.from_bytes(otadata[SECTOR : SECTOR + 32])


def active_index(entries: tuple[OtaEntry, OtaEntry]) -> int | None:
    """``bootloader_common_get_active_otadata``: the valid entry with the larger seq."""
    valid = [i for i in (0, 1) if entries[i].valid]
    if not valid:
        return None
    if len(valid) == 2:
        return 0 if entries[0].seq >= entries[1].seq else 1
    return valid[0]


def boot_slot(entries: tuple[OtaEntry, OtaEntry], app_count: int) -> int:
    """The app slot the bootloader picks (ota_0 when otadata is blank and there is no factory)."""
    i = active_index(entries)
    return 0 if i is None else (entries[i].seq - 1) % app_count


def otadata_selecting(slot: int, state: OtaState = OtaState.VALID) -> bytes:
    """A fresh 0x2000-byte otadata image whose copy 0 selects ``slot`` (seq = slot + 1)."""
    entry = OtaEntry.select(slot + 1, state).to_bytes()
    sector = entry.ljust(SECTOR, b"\xff")
    return sector + b"\xff" * SECTOR
