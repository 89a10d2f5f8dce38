"""A streaming receiver: feed it byte chunks of any size, get messages; it never raises.

Every byte that does not end up in a valid frame is accounted for in ``LinkCounters``: garbage
before the first delimiter, truncated or CRC-failing frames, oversize runs, unknown versions,
malformed payloads, and frames missing from the sequence (docs/protocol.md §1–2, §5).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.link.frame import FLAG_SEQ_RESTART, MAX_ENCODED, FrameError, FrameFault, decode_frame
from core.link.messages import (
    Info,
    Message,
    MessageError,
    SampleBlock,
    UnknownMessage,
    parse_message,
)


@dataclass
class LinkCounters:
    """What the decoder has seen so far; all counts since the decoder was created."""

    bytes_received: int = 0
    frames_received: int = 0
    frames_lost: int = 0
    frames_duplicated: int = 0
    crc_errors: int = 0
    truncated_frames: int = 0
    oversize_frames: int = 0
    version_errors: int = 0
    malformed_messages: int = 0
    unknown_messages: int = 0
    garbage_bytes: int = 0
    samples_received: int = 0
    samples_missing: int = 0
    sequence_restarts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    @property
    def bad_frames(self) -> int:
        return (
            self.crc_errors
            + self.truncated_frames
            + self.oversize_frames
            + self.version_errors
            + self.malformed_messages
        )


class StreamDecoder:
    """Turns a byte stream into messages; memory stays under two maximum frames."""

    def __init__(self) -> None:
        self.counters = LinkCounters()
        self._pending = b""
        self._synced = False  # seen a delimiter yet: bytes before it may be a partial frame
        self._skipping = False  # inside an oversize run: drop bytes up to the next delimiter
        self._next_seq: int | None = None
        self._next_sample: int | None = None
        self.info: Info | None = None

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Message]:
        """Decode the complete frames in ``pending + chunk``; keep the tail for next time."""
        c = self.counters
        c.bytes_received += len(chunk)
        data = self._pending + bytes(chunk) if self._pending else bytes(chunk)
        pieces = data.split(b"\x00")
        tail = pieces.pop()
        out: list[Message] = []
        for piece in pieces:
            if self._skipping:
                c.garbage_bytes += len(piece) + 1
                self._skipping = False
                self._synced = True
                continue
            if piece:
                msg = self._frame(piece)
                if msg is not None:
                    out.append(msg)
            self._synced = True
        if len(tail) > MAX_ENCODED:
            # No delimiter within a maximum frame: drop it now so memory stays bounded.
            if not self._skipping and self._synced:
                c.oversize_frames += 1
            c.garbage_bytes += len(tail)
            self._skipping = True
            tail = b""
        elif self._skipping:
            c.garbage_bytes += len(tail)
            tail = b""
        self._pending = tail
        return out

    def flush(self) -> int:
        """End of stream: count an unfinished frame as truncated; return its size in bytes."""
        left = len(self._pending)
        if left:
            self.counters.truncated_frames += 1
            self.counters.garbage_bytes += left
        self._pending = b""
        self._skipping = False
        return left

    def _frame(self, piece: bytes) -> Message | None:
        c = self.counters
        try:
            frame = decode_frame(piece)
        except FrameError as exc:
            c.garbage_bytes += len(piece) + 1
            if not self._synced:
                return None  # joined the stream mid-frame: plain garbage, not a bad frame
            if exc.fault is FrameFault.CRC:
                c.crc_errors += 1
            elif exc.fault is FrameFault.TRUNCATED:
                c.truncated_frames += 1
            elif exc.fault is FrameFault.OVERSIZE:
                c.oversize_frames += 1
            else:
                c.version_errors += 1
            return None
        c.frames_received += 1
        seq = frame.seq
        expected = self._next_seq
        if expected is None or frame.flags & FLAG_SEQ_RESTART:
            if expected is not None:
                c.sequence_restarts += 1
                self._next_sample = None
            self._next_seq = (seq + 1) & 0xFFFFFFFF
        else:
            gap = (seq - expected) & 0xFFFFFFFF
            if gap == 0:
                self._next_seq = (seq + 1) & 0xFFFFFFFF
            elif gap < 0x80000000:
                c.frames_lost += gap
                self._next_seq = (seq + 1) & 0xFFFFFFFF
            else:
                c.frames_duplicated += 1
        try:
            msg = parse_message(frame)
        except MessageError:
            c.malformed_messages += 1
            return None
        if isinstance(msg, SampleBlock):
            n = msg.samples.shape[0]
            nxt = self._next_sample
            if nxt is not None and msg.first_sample > nxt:
                c.samples_missing += msg.first_sample - nxt
            c.samples_received += n
            self._next_sample = msg.first_sample + n
        elif isinstance(msg, Info):
            self.info = msg
        elif isinstance(msg, UnknownMessage):
            c.unknown_messages += 1
        return msg
