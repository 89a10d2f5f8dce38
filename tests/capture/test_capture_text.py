"""Plain text lines: detection, truncated first line, and every kind of bad line counted."""

from __future__ import annotations

import numpy as np
import pytest

from core.capture import CaptureError, LinkLost, StreamEnded, TextSource
from core.capture.text import snap_rate


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class PacedText:
    """A board printing ``lines`` at ``rate`` Hz; each read advances the clock one poll (50 ms)
    and returns the bytes printed meanwhile. The end of the script is an unplugged cable."""

    def __init__(self, clock: Clock, lines: list[bytes], rate: float, poll: float = 0.05) -> None:
        self.name = "paced"
        self.clock = clock
        self.poll = poll
        self.start = clock.t
        self.rate = rate
        self.lines = lines
        self.sent = 0

    def read(self) -> bytes:
        self.clock.t += self.poll
        due = min(len(self.lines), int((self.clock.t - self.start) * self.rate))
        if self.sent >= len(self.lines):
            raise LinkLost("paced: unplugged")
        out = b"".join(self.lines[self.sent : due])
        self.sent = max(self.sent, due)
        return out

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def lines3(n: int, rng: np.random.Generator, fmt: str = "{:.4f},{:.4f},{:.4f}") -> list[bytes]:
    x = rng.normal(0.0, 0.5, (n, 3))
    return [(fmt.format(*row) + "\r\n").encode() for row in x]


def drain(src: TextSource) -> np.ndarray:
    out = []
    while True:
        try:
            out.append(src.read())
        except (LinkLost, StreamEnded):
            break
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [5.0, 50.0, 100.0, 400.0, 1000.0])
def test_rate_and_channels_are_detected_over_a_window_of_at_least_a_second(
    rate: float, rng: np.random.Generator
) -> None:
    clock = Clock()
    lines = [b"7,0.12\r\n", *lines3(int(rate * 4), rng)]  # a truncated first line
    src = TextSource(PacedText(clock, lines, rate), clock=clock)
    info = src.open()
    assert info.sample_rate == rate and info.rate_detected
    assert info.channels == 3 and info.channel_names == ("ch0", "ch1", "ch2")
    assert clock.t - 1000.0 >= 1.0
    x = drain(src)
    assert x.shape == (len(lines) - 1, 3)  # every reading, none lost to detection
    assert src.counters_.bad_lines == 0


def test_an_unusual_rate_is_kept_unsnapped(rng: np.random.Generator) -> None:
    clock = Clock()
    src = TextSource(PacedText(clock, lines3(400, rng), 137.0), clock=clock)
    assert abs(src.open().sample_rate - 137.0) / 137.0 < 0.03
    assert snap_rate(99.0) == 100.0 and snap_rate(137.2) == 137.0


def test_values_separated_by_tabs_spaces_or_semicolons_all_parse(rng: np.random.Generator) -> None:
    for fmt in ("{:.3f}\t{:.3f}\t{:.3f}", "{:.3f} {:.3f}  {:.3f}", "{:.3f};{:.3f};{:.3f}"):
        clock = Clock()
        src = TextSource(PacedText(clock, lines3(200, rng, fmt), 100.0), clock=clock)
        assert src.open().channels == 3
        assert drain(src).shape[0] == 199


def test_a_header_line_names_the_channels(rng: np.random.Generator) -> None:
    clock = Clock()
    lines = [b"junk\n", b"accX,accY,accZ\n", *lines3(300, rng)]
    src = TextSource(PacedText(clock, lines, 100.0), clock=clock)
    info = src.open()
    assert info.channel_names == ("accX", "accY", "accZ")
    assert drain(src).shape[0] == 300 and src.counters_.bad_lines == 0


def test_float_readings_are_scaled_and_integer_readings_kept_as_counts(
    rng: np.random.Generator,
) -> None:
    clock = Clock()
    src = TextSource(PacedText(clock, [b"x\n", b"0.5,-0.25,1\n"] * 100, 100.0), clock=clock)
    info = src.open()
    assert (info.fixed_point_scale, info.units) == (8000.0, "units")
    assert np.array_equal(drain(src)[0], [4000, -2000, 8000])
    clock = Clock()
    src = TextSource(PacedText(clock, [b"x\n", b"512 -3 20000\n"] * 100, 100.0), clock=clock)
    info = src.open()
    assert (info.fixed_point_scale, info.units) == (1.0, "counts")
    assert np.array_equal(drain(src)[0], [512, -3, 20000])


def test_bad_lines_are_counted_by_kind_and_never_stop_the_capture(
    rng: np.random.Generator,
) -> None:
    good = lines3(300, rng)
    bad = {
        10: b"1.0,2.0\n",  # wrong column count
        20: b"1.0,2.0,3.0,4.0\n",
        30: b"1.0,nan,3.0\n",  # NaN
        40: b"inf,1,2\n",
        50: b"\xff\xfe1.0,2.0,3.0\n",  # invalid UTF-8
        60: b"1.0,abc,3.0\n",  # not a number
        70: b"ERR: sensor not found\n",  # device error line
        80: b"9" * 5000 + b"\n",  # far too long
    }
    lines = list(good)
    for i in sorted(bad, reverse=True):
        lines.insert(i, bad[i])
    clock = Clock()
    src = TextSource(PacedText(clock, lines, 100.0), clock=clock, sample_rate=100.0)
    src.open()
    x = drain(src)
    c = src.counters()
    assert x.shape == (299, 3)  # all good lines but the first (partial-line rule)
    assert c["wrong_columns"] == 2 and c["not_finite"] == 2
    assert c["bad_utf8"] == 1 and c["not_numeric"] == 1
    assert c["too_long"] == 1 and c["device_errors"] == 1
    assert c["bad_lines"] == 7 and src.quality().bad_lines == 7
    assert src.last_device_error == "ERR: sensor not found"


def test_a_wrong_baud_rate_gives_a_clear_error_not_a_crash(rng: np.random.Generator) -> None:
    garbage = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    chunks = [garbage[i : i + 200] for i in range(0, len(garbage), 200)]
    clock = Clock()
    src = TextSource(PacedText(clock, chunks, 100.0), clock=clock, baud=9600)
    with pytest.raises(CaptureError, match="baud"):
        src.open()


def test_silence_on_the_port_gives_a_clear_error() -> None:
    clock = Clock()
    src = TextSource(PacedText(clock, [b""] * 1000, 100.0), clock=clock, baud=115200)
    with pytest.raises(CaptureError, match="no text line at 115200 baud"):
        src.open()


def test_below_two_hertz_the_user_must_give_the_rate(rng: np.random.Generator) -> None:
    clock = Clock()
    slow = lines3(20, rng)
    with pytest.raises(CaptureError, match="--rate"):
        TextSource(PacedText(clock, slow, 1.0), clock=clock, detect_s=3.0).open()
    clock = Clock()
    src = TextSource(PacedText(clock, slow, 1.0), clock=clock, sample_rate=1.0)
    info = src.open()
    assert info.sample_rate == 1.0 and not info.rate_detected and info.channels == 3
    assert drain(src).shape[0] == 19


def test_garbage_mid_capture_is_counted(rng: np.random.Generator) -> None:
    good = lines3(300, rng)
    noise = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    lines = [*good[:150], noise, *good[150:]]
    clock = Clock()
    src = TextSource(PacedText(clock, lines, 100.0), clock=clock)
    src.open()
    x = drain(src)
    assert 290 <= x.shape[0] <= 299
    assert src.counters_.bad_lines > 0
