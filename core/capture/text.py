"""Plain text lines from any board: one reading per line, comma, tab, semicolon or space separated.

The Edge Impulse data-forwarder convention (docs/protocol.md §8). Channel count and sample rate
are detected over at least one second unless given; a truncated first line is dropped; bad lines
(wrong column count, not numbers, NaN, invalid UTF-8, too long) are counted, never fatal.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from core.capture.errors import CaptureError, LinkLost, StreamEnded
from core.capture.rate import RateTracker
from core.capture.source import Cancel, CaptureSource, StreamInfo
from core.capture.streams import ByteStream
from core.dataset.quality import CaptureQuality

MAX_LINE = 4096
MIN_AUTO_RATE_HZ = 2.0
DETECT_S = 1.5
NO_DATA_S = 5.0
COMMON_RATES = (
    2, 4, 5, 8, 10, 12.5, 16, 20, 25, 32, 40, 50, 60, 62.5, 64, 80, 100, 120, 125, 128, 160, 200,
    250, 256, 300, 320, 400, 500, 512, 600, 640, 800, 1000, 1024, 1200, 1250, 1600, 2000, 2048,
    2500, 3200, 4000, 4096, 5000, 6400, 8000, 10000, 11025, 12800, 16000, 22050, 25600, 32000,
    44100, 48000,
)  # fmt: skip
_TRANS = str.maketrans({",": " ", "\t": " ", ";": " "})


@dataclass
class LineCounters:
    lines: int = 0  # good readings
    wrong_columns: int = 0
    not_numeric: int = 0
    not_finite: int = 0
    bad_utf8: int = 0
    too_long: int = 0
    device_errors: int = 0
    clipped_values: int = 0

    @property
    def bad_lines(self) -> int:
        return (
            self.wrong_columns + self.not_numeric + self.not_finite + self.bad_utf8 + self.too_long
        )

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)} | {
            "bad_lines": self.bad_lines
        }


def split_values(text: str) -> list[str]:
    return text.translate(_TRANS).split()


class LineSplitter:
    """Cuts a byte stream into lines; drops what precedes the first newline (a partial line)."""

    def __init__(self, counters: LineCounters, drop_first: bool = True) -> None:
        self.counters = counters
        self._buf = b""
        self._started = not drop_first
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data if self._buf else data
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if not self._started and lines:
            lines = lines[1:]  # the port may have opened in the middle of a line
            self._started = True
        if self._skipping and lines:
            lines = lines[1:]  # the rest of an overlong line
            self._skipping = False
        if any(len(line) > MAX_LINE for line in lines):
            self.counters.too_long += sum(len(line) > MAX_LINE for line in lines)
            lines = [line for line in lines if len(line) <= MAX_LINE]
        if len(self._buf) > MAX_LINE:
            if self._started and not self._skipping:
                self.counters.too_long += 1
            self._buf = b""
            self._skipping = True
        return lines


class TextLineParser:
    """Parses lines of ``channels`` numbers into float rows, counting every rejected line."""

    def __init__(self, channels: int, counters: LineCounters) -> None:
        self.channels = channels
        self.counters = counters
        self.last_device_error = ""

    def parse(self, lines: list[bytes]) -> npt.NDArray[np.float64]:
        c = self.counters
        rows: list[list[float]] = []
        n = self.channels
        for raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                c.bad_utf8 += 1
                continue
            text = text.strip()
            if not text:
                continue
            if text.startswith(("ERR", "<ERR")):
                c.device_errors += 1
                self.last_device_error = text[:200]
                continue
            tokens = split_values(text)
            if len(tokens) != n:
                c.wrong_columns += 1
                continue
            try:
                values = [float(t) for t in tokens]
            except ValueError:
                c.not_numeric += 1
                continue
            if not all(math.isfinite(v) for v in values):
                c.not_finite += 1
                continue
            rows.append(values)
        c.lines += len(rows)
        if not rows:
            return np.empty((0, n))
        return np.array(rows, dtype=np.float64)


def snap_rate(rate: float, tolerance: float = 0.02) -> float:
    """The nearest common sample rate if within ``tolerance``, else ``rate`` to 3 digits."""
    best = min(COMMON_RATES, key=lambda r: abs(r - rate))
    if abs(best - rate) <= tolerance * best:
        return float(best)
    return float(f"{rate:.3g}")


def _is_name(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return bool(token) and not token.startswith(("ERR", "<ERR"))
    return False


class TextSource(CaptureSource):
    """Readings as text lines from ``stream``.

    Parameters
    ----------
    sample_rate, channels:
        Give them to skip detection (the rate is required below 2 Hz).
    fixed_point_scale:
        Counts per unit for the int16 payload. ``None``: integer readings in int16 range are
        taken as counts (scale 1), anything else is scaled by ``default_scale``.
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        sample_rate: float | None = None,
        channels: int | None = None,
        channel_names: tuple[str, ...] | None = None,
        units: str | None = None,
        fixed_point_scale: float | None = None,
        default_scale: float = 8000.0,
        detect_s: float = DETECT_S,
        no_data_s: float = NO_DATA_S,
        baud: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if sample_rate is not None and not (math.isfinite(sample_rate) and sample_rate > 0):
            raise CaptureError(f"sample rate {sample_rate!r}: give a positive number of Hz")
        self.stream = stream
        self.counters_ = LineCounters()
        self._splitter = LineSplitter(self.counters_)
        self._rate_given = sample_rate
        self._channels = channels
        self._names = channel_names
        self._units = units
        self._scale = fixed_point_scale
        self._default_scale = default_scale
        self._detect_s = max(1.0, detect_s)
        self._no_data_s = no_data_s
        self._baud = baud
        self._clock = clock
        self._rate = RateTracker()
        self._parser: TextLineParser | None = None
        self._backlog: list[bytes] = []
        self._delivered = 0

    # -- detection ----------------------------------------------------------------------------

    def open(self, cancel: Cancel | None = None) -> StreamInfo:
        t0 = self._clock()
        first: float | None = None  # arrival of the first complete line
        arrivals: list[tuple[int, float]] = []  # (lines so far, time) per read
        lines: list[bytes] = []
        while True:
            if cancel is not None and cancel():
                from core.errors import Cancelled

                raise Cancelled("capture cancelled during detection")
            try:
                data = self.stream.read()
            except LinkLost as exc:
                raise CaptureError(str(exc)) from None
            except StreamEnded:
                break
            now = self._clock()
            new = self._splitter.feed(data)
            if new:
                if first is None:
                    first = now
                lines += new
                arrivals.append((len(lines), now))
            elapsed = now - (first if first is not None else t0)
            if first is None and now - t0 > self._no_data_s:
                raise CaptureError(self._no_lines_message(now - t0))
            if first is not None and elapsed >= self._detect_s and len(lines) >= 3:
                break
            if self._rate_given and len(lines) >= (2 if self._channels else 4):
                break
        return self._describe(lines, arrivals, first)

    def _no_lines_message(self, waited: float) -> str:
        baud = f" at {self._baud} baud" if self._baud else ""
        return (
            f"{self.stream.name}: no text line{baud} in {waited:.0f} s; check the baud rate and "
            "that the board prints one reading per line ending in a newline"
        )

    def _describe(
        self, lines: list[bytes], arrivals: list[tuple[int, float]], first: float | None
    ) -> StreamInfo:
        decoded = []
        for raw in lines:
            try:
                decoded.append(split_values(raw.decode("utf-8").strip()))
            except UnicodeDecodeError:
                decoded.append([])
        numeric = [t for t in decoded if t and not any(_is_name(x) for x in t)]
        if len(numeric) < max(1, len(lines) // 2):
            # mostly junk: at a wrong baud rate a UART prints exactly this
            baud = f" at {self._baud} baud" if self._baud else ""
            raise CaptureError(
                f"{self.stream.name}: {len(numeric)} of {len(lines)} line(s){baud} hold numbers; "
                "a wrong baud rate prints garbage like this — try 115200, 230400 or 921600"
            )
        channels = self._channels or Counter(len(t) for t in numeric).most_common(1)[0][0]
        names = self._names
        if names is None:
            header = next(
                (t for t in decoded if len(t) == channels and all(_is_name(x) for x in t)), None
            )
            names = tuple(header) if header else tuple(f"ch{i}" for i in range(channels))
        if len(names) != channels:
            raise CaptureError(f"{len(names)} channel names given for {channels} channels")
        rate = self._rate_given
        detected = rate is None
        if rate is None:
            rate = self._detect_rate(lines, numeric, arrivals, first)
        self._parser = TextLineParser(channels, self.counters_)
        good = [
            raw for raw, t in zip(lines, decoded, strict=True) if not (t and all(map(_is_name, t)))
        ]
        self._backlog = good
        values = [float(x) for t in numeric if len(t) == channels for x in t]
        scale = self._scale
        units = self._units
        if scale is None:
            as_counts = all(v.is_integer() and -32768 <= v <= 32767 for v in values)
            scale = 1.0 if as_counts else self._default_scale
            units = units or ("counts" if as_counts else "units")
        self.info = StreamInfo(
            sample_rate=rate,
            channel_names=names,
            units=units or "units",
            fixed_point_scale=scale,
            source="text",
            rate_detected=detected,
            description=f"text lines from {self.stream.name}: {channels} ch at "
            f"{rate:g} Hz{' (detected)' if detected else ''}",
        )
        return self.info

    def _detect_rate(
        self,
        lines: list[bytes],
        numeric: list[list[str]],
        arrivals: list[tuple[int, float]],
        first: float | None,
    ) -> float:
        if first is None or len(arrivals) < 2:
            raise CaptureError(
                f"{self.stream.name}: too few lines to measure the sample rate; give it with --rate"
            )
        # Lines per second of host time: a least-squares line through (lines so far, arrival)
        # averages out the read granularity; the first arrival only anchors the count.
        counts = np.array([n for n, _ in arrivals], dtype=np.float64)
        times = np.array([t for _, t in arrivals])
        span = float(times[-1] - times[0])
        if len(arrivals) >= 3 and span > 0:
            slope = float(np.polyfit(times - times[0], counts, 1)[0])
        else:
            slope = (counts[-1] - counts[0]) / span if span > 0 else 0.0
        per_line = len(numeric) / max(len(lines), 1)  # headers and junk do not count
        rate = slope * per_line
        if rate < MIN_AUTO_RATE_HZ:
            raise CaptureError(
                f"{self.stream.name}: about {rate:.2g} readings per second; rates below "
                f"{MIN_AUTO_RATE_HZ:g} Hz cannot be detected — give the rate with --rate"
            )
        return snap_rate(rate)

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> npt.NDArray[np.int16]:
        assert self._parser is not None and self.info is not None
        if self._backlog:
            lines, self._backlog = self._backlog, []
        else:
            lines = self._splitter.feed(self.stream.read())
        if not lines:
            return self.empty()
        values = self._parser.parse(lines)
        if values.shape[0] == 0:
            return self.empty()
        scaled = np.rint(values * self.info.fixed_point_scale)
        clipped = (scaled < -32768) | (scaled > 32767)
        if clipped.any():
            self.counters_.clipped_values += int(clipped.sum())
            np.clip(scaled, -32768, 32767, out=scaled)
        out = scaled.astype(np.int16)
        self._delivered += out.shape[0]
        self._rate.add(self._delivered, self._clock())
        return out

    # -- accounting ---------------------------------------------------------------------------

    def quality(self) -> CaptureQuality:
        c = self.counters_
        return CaptureQuality(
            frames_received=c.lines,
            frames_lost=0,
            crc_errors=0,
            bad_lines=c.bad_lines,
            declared_rate_hz=self.info.sample_rate if self.info else self._rate_given,
            measured_rate_hz=self._rate.rate_hz,
            jitter_ms=self._rate.jitter_ms,
        )

    def counters(self) -> dict[str, int]:
        return self.counters_.as_dict()

    @property
    def last_device_error(self) -> str:
        return self._parser.last_device_error if self._parser else ""

    @property
    def frames(self) -> int:
        return self.counters_.lines

    def close(self) -> None:
        self.stream.close()
