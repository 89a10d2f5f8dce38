"""Capture over the Fieldbench link protocol (docs/protocol.md) from any byte stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from core.capture.errors import CaptureError, LinkLost, StreamEnded
from core.capture.rate import RateTracker
from core.capture.source import Cancel, CaptureSource, StreamInfo
from core.capture.streams import ByteStream
from core.dataset.quality import CaptureQuality
from core.link.decoder import StreamDecoder
from core.link.frame import encode_frame
from core.link.messages import ErrorCode, ErrorMessage, Hello, Info, SampleBlock

HANDSHAKE_S = 3.0


class LinkSource(CaptureSource):
    """Sends HELLO, waits for INFO, then delivers the samples of SAMPLE_BLOCKs.

    Blocks that arrive before INFO are dropped (their rate is unknown); duplicated samples
    (a block overlapping what was delivered) are trimmed; a second INFO that changes the stream
    format ends the capture as interrupted. ``raw_log`` receives every byte as it arrived.
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        source_name: str = "link",
        live: bool = True,
        handshake_s: float = HANDSHAKE_S,
        raw_log: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.decoder = StreamDecoder()
        self._source_name = source_name
        self._live = live
        self._handshake_s = handshake_s
        self._clock = clock
        self._rate = RateTracker()
        self._delivered = 0
        self._next_sample: int | None = None
        self._pending: list[npt.NDArray[np.int16]] = []
        self._log_path = Path(raw_log) if raw_log else None
        self._log: BinaryIO | None = None
        self.device_errors = 0
        self.overruns = 0
        self.last_device_error = ""
        self.blocks_before_info = 0
        self.mismatched_blocks = 0
        self.samples_duplicated = 0

    # -- opening ------------------------------------------------------------------------------

    def open(self, cancel: Cancel | None = None) -> StreamInfo:
        if self._log_path is not None:
            self._log = self._log_path.open("wb")
        try:
            self.stream.write(encode_frame(Hello.type, 0, Hello().pack()))
        except LinkLost as exc:
            raise CaptureError(str(exc)) from None
        t0 = self._clock()
        while self.info is None:
            if cancel is not None and cancel():
                from core.errors import Cancelled

                raise Cancelled("capture cancelled while waiting for the device")
            try:
                self._take(self.stream.read())
            except (LinkLost, StreamEnded) as exc:
                raise CaptureError(
                    f"{self.stream.name}: the stream ended before the device described itself "
                    f"({exc or 'no INFO frame'})"
                ) from None
            if self.info is None and self._clock() - t0 > self._handshake_s:
                c = self.decoder.counters
                raise CaptureError(
                    f"{self.stream.name}: no Fieldbench INFO frame within {self._handshake_s:g} s "
                    f"({c.bytes_received} bytes, {c.bad_frames} bad frames, "
                    f"{c.garbage_bytes} garbage bytes): check the baud rate, or use --text if "
                    "the board prints plain text lines"
                )
        assert self.info is not None
        return self.info

    def _describe(self, info: Info) -> StreamInfo:
        live = "live" if self._live else "replayed"
        return StreamInfo(
            sample_rate=info.sample_rate,
            channel_names=info.channel_names,
            units=info.units or "counts",
            fixed_point_scale=info.fixed_point_scale if info.fixed_point_scale > 0 else 1.0,
            source=self._source_name,
            device_id=info.device_id if any(info.mac) else None,
            description=f"{live} link from {self.stream.name}: {info.firmware_version or '?'}, "
            f"{info.channels} ch at {info.sample_rate:g} Hz",
        )

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> npt.NDArray[np.int16]:
        if self._pending:
            out = np.concatenate(self._pending)
            self._pending = []
            self._delivered += out.shape[0]
            return out
        data = self.stream.read()
        self._take(data)
        if not self._pending:
            return self.empty()
        out = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending = []
        self._delivered += out.shape[0]
        if self._live:
            self._rate.add(self._delivered, self._clock())
        return out

    def _take(self, data: bytes) -> None:
        if not data:
            return
        if self._log is not None:
            self._log.write(data)
        for msg in self.decoder.feed(data):
            if isinstance(msg, SampleBlock):
                self._block(msg)
            elif isinstance(msg, Info):
                self._info(msg)
            elif isinstance(msg, ErrorMessage):
                self.device_errors += 1
                self.last_device_error = f"device error {msg.code}: {msg.message}"
                if msg.code == ErrorCode.OVERRUN:
                    self.overruns += 1

    def _info(self, info: Info) -> None:
        if self.info is None:
            self.info = self._describe(info)  # blocks in the same chunk already count
            return
        same = (
            info.channel_names == self.info.channel_names
            and abs(info.sample_rate - self.info.sample_rate) < 1e-6
        )
        if not same:
            raise LinkLost(
                f"{self.stream.name}: the device changed its stream to {info.channels} channels "
                f"at {info.sample_rate:g} Hz; start a new recording"
            )

    def _block(self, block: SampleBlock) -> None:
        if self.info is None:
            self.blocks_before_info += 1
            return
        x = block.samples
        if x.shape[1] != self.info.channels:
            self.mismatched_blocks += 1
            return
        nxt = self._next_sample
        if nxt is not None and block.first_sample < nxt:
            skip = min(nxt - block.first_sample, x.shape[0])
            self.samples_duplicated += skip
            x = x[skip:]
            if x.shape[0] == 0:
                return
        self._next_sample = block.first_sample + block.samples.shape[0]
        self._pending.append(x)

    # -- accounting ---------------------------------------------------------------------------

    def quality(self) -> CaptureQuality:
        c = self.decoder.counters
        return CaptureQuality(
            frames_received=c.frames_received,
            frames_lost=c.frames_lost,
            crc_errors=c.crc_errors,
            bad_lines=0,
            declared_rate_hz=self.info.sample_rate if self.info else None,
            measured_rate_hz=self._rate.rate_hz,
            jitter_ms=self._rate.jitter_ms,
        )

    def counters(self) -> dict[str, int]:
        out = self.decoder.counters.as_dict()
        out.update(
            device_errors=self.device_errors,
            device_overruns=self.overruns,
            blocks_before_info=self.blocks_before_info,
            mismatched_blocks=self.mismatched_blocks,
            samples_duplicated=self.samples_duplicated,
        )
        return out

    @property
    def frames(self) -> int:
        return self.decoder.counters.frames_received

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        self.stream.close()
