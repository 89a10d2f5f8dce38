"""A Python reference encoder of the protocol: a simulated device streaming INFO + SAMPLE_BLOCKs.

Used by tests, benchmarks and the ``--simulate`` capture source. It answers HELLO like the
firmware will, and can inject the faults a real cable produces (drop frames, flip bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from core.link.decoder import StreamDecoder
from core.link.frame import DELIMITER, FLAG_RESPONSE, FLAG_SEQ_RESTART, encode_frame
from core.link.messages import (
    Chip,
    ErrorCode,
    ErrorMessage,
    Hello,
    Info,
    SampleBlock,
    max_block_samples,
)
from core.signals import SignalGenerator

SIM_MAC = bytes.fromhex("02fb00c0ffee")  # locally administered: not a real vendor MAC


def default_info(
    sample_rate: float = 1600.0,
    channels: int = 3,
    samples_per_block: int = 64,
    fixed_point_scale: float = 8000.0,
) -> Info:
    names = ("accX", "accY", "accZ") if channels == 3 else tuple(f"ch{i}" for i in range(channels))
    return Info(
        sample_rate=sample_rate,
        channel_names=names,
        units="g",
        fixed_point_scale=fixed_point_scale,
        mac=SIM_MAC,
        chip=Chip.SIMULATOR,
        firmware_version="sim-1.0.0",
        bundle_version="",
        samples_per_block=samples_per_block,
    )


@dataclass
class SimulatedDevice:
    """Produces the device side of a link session as bytes.

    ``signal`` yields float samples in counts; they are rounded and clipped to int16. One
    period of ``table_seconds`` is generated up front and repeated, so sample ``i`` is the same
    however the stream is cut into blocks (tests compare recordings to ``next_samples``).
    """

    info: Info = field(default_factory=default_info)
    signal: SignalGenerator | None = None
    seq: int = 0
    sample_index: int = 0
    _booted: bool = False
    _streaming: bool = False
    table_seconds: float = 1.0
    _rx: StreamDecoder = field(default_factory=StreamDecoder)

    def __post_init__(self) -> None:
        if self.info.samples_per_block > max_block_samples(self.info.channels):
            raise ValueError(
                f"{self.info.samples_per_block} samples × {self.info.channels} channels "
                "do not fit in one frame"
            )
        if self.signal is None:
            self.signal = SignalGenerator(
                "fan",
                self.info.sample_rate,
                self.info.channels,
                frequency=25.0,
                amplitude=2000.0,
                noise=60.0,
            )
        n = max(self.info.samples_per_block, round(self.table_seconds * self.info.sample_rate))
        self._table = np.clip(np.rint(self.signal.next(n)), -32768, 32767).astype(np.int16)
        self._cursor = 0

    def _frame(self, msg_type: int, payload: bytes, flags: int = 0) -> bytes:
        if not self._booted:
            flags |= FLAG_SEQ_RESTART
            self._booted = True
        out = encode_frame(msg_type, self.seq, payload, flags)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return out

    def boot(self) -> bytes:
        """What the device sends after reset: a delimiter to resync, then an INFO."""
        return DELIMITER + self._frame(self.info.type, self.info.pack())

    def receive(self, data: bytes) -> bytes:
        """Feed bytes from the host; returns the device's answers (INFO to HELLO)."""
        out = b""
        for msg in self._rx.feed(data):
            if isinstance(msg, Hello):
                if msg.min_version <= self.info.protocol_version <= msg.max_version:
                    out += self._frame(self.info.type, self.info.pack(), FLAG_RESPONSE)
                    self._streaming = True
                else:
                    err = ErrorMessage(ErrorCode.UNSUPPORTED_VERSION, "protocol version 1 only")
                    out += self._frame(err.type, err.pack(), FLAG_RESPONSE)
        return out

    @property
    def streaming(self) -> bool:
        return self._streaming

    def start_streaming(self) -> None:
        self._streaming = True

    def next_samples(self, n: int) -> npt.NDArray[np.int16]:
        """The next ``n`` samples of the repeating signal (advances the device's cursor)."""
        size = self._table.shape[0]
        idx = (self._cursor + np.arange(n)) % size
        self._cursor = (self._cursor + n) % size
        out: npt.NDArray[np.int16] = self._table[idx]
        return out

    def block(self, samples: npt.NDArray[np.int16] | None = None) -> bytes:
        """One SAMPLE_BLOCK frame of the next ``samples_per_block`` samples (or the ones given)."""
        if samples is None:
            samples = self.next_samples(self.info.samples_per_block)
        blk = SampleBlock(self.sample_index, samples)
        self.sample_index += samples.shape[0]
        return self._frame(blk.type, blk.pack())

    def blocks(self, count: int) -> bytes:
        """``count`` consecutive blocks, generating the signal in one numpy call."""
        per = self.info.samples_per_block
        x = self.next_samples(per * count)
        return b"".join(self.block(x[i * per : (i + 1) * per]) for i in range(count))

    def stream_seconds(self, seconds: float) -> bytes:
        """Boot INFO plus whole blocks covering ``seconds`` of signal."""
        count = max(1, round(seconds * self.info.sample_rate / self.info.samples_per_block))
        return self.boot() + self.blocks(count)
