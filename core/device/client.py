"""A device client over any byte stream (serial port, pty, ``socket://`` twin): the link's
request/response layer.

Layers (STYLE.md §6): transport (``core.capture.streams``) → protocol (``core.link``) → this
client (request ids, timeouts, retries, typed errors) → ``core.device.commands`` and
``core.device.ota``. Every request is a frame with its own ``seq``; the device answers with
``FLAG_RESPONSE`` and, for commands and OTA, that ``seq`` as the first u32 of the payload, or
with an ``ERROR`` whose ``request_seq`` names it. Frames that answer nothing we asked
(sample blocks, telemetry, late answers to a request we gave up on) are counted and skipped.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.capture.errors import LinkLost, PortError, StreamEnded
from core.capture.streams import ByteStream
from core.errors import Cancelled, FieldbenchError
from core.link.frame import (
    DELIMITER,
    FLAG_RESPONSE,
    FLAG_SEQ_RESTART,
    MAX_ENCODED,
    Frame,
    FrameError,
    decode_frame,
    encode_frame,
)
from core.link.messages import Message, MessageError, MsgType, error_name, parse_message

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_RETRIES = 2
_U32 = struct.Struct("<I")


class DeviceError(FieldbenchError):
    """Talking to a device failed; the message says what to check."""


class DeviceTimeout(DeviceError):
    """The device did not answer a request in time (after the retries)."""


class DeviceDisconnected(DeviceError):
    """The port closed or the cable was unplugged mid-conversation."""


class DeviceRefused(DeviceError):
    """The device answered a request with a typed ``ERROR``: ``code`` and its ``reason``."""

    def __init__(self, what: str, code: int, reason: str, detail: str = "") -> None:
        text = f"{what}: the device refused ({reason}"
        text += f": {detail})" if detail and detail != reason else ")"
        super().__init__(text)
        self.code = code
        self.reason = reason
        self.detail = detail


@dataclass
class ClientCounters:
    """What the client saw on the link since it was opened."""

    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    frames_received: int = 0
    bad_frames: int = 0
    unrelated_frames: int = 0
    device_restarts: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass
class FrameReader:
    """Splits a byte stream into CRC-checked frames (flags kept); counts and drops bad ones."""

    bad_frames: int = 0
    _pending: bytes = b""
    _skipping: bool = False
    _frames: list[Frame] = field(default_factory=list)

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._pending + data if self._pending else data
        pieces = buf.split(DELIMITER)
        tail = pieces.pop()
        out: list[Frame] = []
        for piece in pieces:
            if self._skipping:
                self._skipping = False
                continue
            if not piece:
                continue
            try:
                out.append(decode_frame(piece))
            except FrameError:
                self.bad_frames += 1
        if len(tail) > MAX_ENCODED:
            self.bad_frames += 1
            self._skipping = True
            tail = b""
        self._pending = tail
        return out

    def reset(self) -> None:
        self._pending = b""
        self._skipping = False


Predicate = Callable[[Frame], bool]


class DeviceClient:
    """One conversation with one device over ``stream``.

    ``timeout`` bounds each attempt of a request; ``retries`` re-sends idempotent requests
    (a new ``seq`` each time, so a late answer to the first attempt is recognised and skipped).
    ``clock`` is injectable so tests never depend on wall-clock time.
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.timeout = timeout
        self.retries = retries
        self.counters = ClientCounters()
        self._clock = clock
        self._reader = FrameReader()
        self._seq = 0
        self._started = False
        self._inbox: list[Frame] = []
        self.on_frame: Callable[[Frame], None] | None = None  # unsolicited frames go here
        self.opener: Callable[[], ByteStream] | None = None  # set by open(): reconnects

    @property
    def name(self) -> str:
        return self.stream.name

    @classmethod
    def open(cls, port: str, *, baud: int = 115200, **kwargs: float | int) -> DeviceClient:
        """Open ``port`` (a serial device, a pyserial URL or ``socket://host:port``)."""
        from core.capture.streams import SerialStream

        try:
            stream = SerialStream.open(port, baud)
        except PortError as exc:
            raise DeviceError(str(exc)) from None
        client = cls(stream, **kwargs)  # type: ignore[arg-type]
        client.opener = lambda: SerialStream.open(port, baud)
        client.resync()
        return client

    def reconnect(self, timeout: float = 10.0, cancel: Callable[[], bool] | None = None) -> None:
        """Reopen the port after the device went away (a USB device re-enumerates on reset)."""
        if self.opener is None:
            raise DeviceDisconnected(f"{self.name}: the device went away and cannot be reopened")
        self.stream.close()
        deadline = self._clock() + timeout
        last = ""
        while True:
            if cancel is not None and cancel():
                raise Cancelled(f"{self.name}: cancelled while reconnecting")
            try:
                self.stream = self.opener()
                break
            except (PortError, DeviceError) as exc:
                last = str(exc)
            if self._clock() >= deadline:
                raise DeviceDisconnected(
                    f"{self.name}: the device did not come back ({last}); check the cable"
                )
            time.sleep(0.2)
        self._reader.reset()
        self._inbox.clear()
        self._started = False
        self.resync()

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sending ----------------------------------------------------------------------------
    def resync(self) -> None:
        """Send a lone delimiter so a device that holds half a frame drops it."""
        self._write(DELIMITER)

    def send(self, msg_type: int, payload: bytes = b"") -> int:
        """Send one frame; returns its ``seq`` (the request id answers carry)."""
        flags = 0 if self._started else FLAG_SEQ_RESTART
        self._started = True
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._write(encode_frame(msg_type, seq, payload, flags))
        return seq

    def _write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except LinkLost as exc:
            raise DeviceDisconnected(str(exc)) from None
        self.counters.bytes_sent += len(data)

    # ---- receiving --------------------------------------------------------------------------
    def poll(self) -> list[Frame]:
        """Read what the stream has (one poll interval at most) and return the frames in it."""
        try:
            data = self.stream.read()
        except (LinkLost, StreamEnded) as exc:
            raise DeviceDisconnected(f"{self.name}: the device went away ({exc})") from None
        if not data:
            return []
        self.counters.bytes_received += len(data)
        frames = self._reader.feed(data)
        self.counters.bad_frames = self._reader.bad_frames
        self.counters.frames_received += len(frames)
        for f in frames:
            if f.flags & FLAG_SEQ_RESTART:
                self.counters.device_restarts += 1
        return frames

    def wait_for(
        self,
        match: Predicate,
        timeout: float | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Frame | None:
        """The first frame ``match`` accepts within ``timeout``; others go to ``on_frame``."""
        deadline = self._clock() + (self.timeout if timeout is None else timeout)
        while True:
            while self._inbox:
                frame = self._inbox.pop(0)
                if match(frame):
                    return frame
                self.counters.unrelated_frames += 1
                if self.on_frame is not None:
                    self.on_frame(frame)
            if cancel is not None and cancel():
                raise Cancelled(f"{self.name}: cancelled while waiting for the device")
            if self._clock() >= deadline:
                return None
            self._inbox.extend(self.poll())

    def request(
        self,
        msg_type: int,
        payload: bytes = b"",
        *,
        what: str,
        response_type: int | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        echo_seq: bool = True,
        cancel: Callable[[], bool] | None = None,
    ) -> Frame:
        """Send a request and return its answer frame; raise a typed error otherwise.

        The answer is ``response_type`` (default ``msg_type + 1``) with ``FLAG_RESPONSE``; when
        ``echo_seq`` its payload starts with the request's ``seq``. An ``ERROR`` naming the
        request raises ``DeviceRefused``. ``retries`` (default: the client's) only suits
        idempotent requests; pass 0 for requests that must not run twice.
        """
        rtype = msg_type + 1 if response_type is None else response_type
        attempts = 1 + (self.retries if retries is None else retries)
        self.counters.requests += 1
        for attempt in range(attempts):
            if attempt:
                self.counters.retries += 1
                self.resync()
            seq = self.send(msg_type, payload)

            def answers(f: Frame, seq: int = seq) -> bool:
                if not f.flags & FLAG_RESPONSE:
                    return False
                if f.type == MsgType.ERROR:
                    return len(f.payload) >= 4 and _U32.unpack_from(f.payload)[0] == seq
                if f.type != rtype:
                    return False
                if not echo_seq:
                    return True
                return len(f.payload) >= 4 and _U32.unpack_from(f.payload)[0] == seq

            frame = self.wait_for(answers, timeout, cancel)
            if frame is None:
                continue
            if frame.type == MsgType.ERROR:
                raise refusal(what, frame.payload)
            return frame
        self.counters.timeouts += 1
        raise DeviceTimeout(
            f"{self.name}: no answer to {what} after {attempts} attempt(s); check that the "
            "device runs Fieldbench firmware (or start a twin) and that no other program holds "
            "the port"
        )

    def call(
        self,
        msg_type: int,
        payload: bytes = b"",
        *,
        what: str,
        **kwargs: object,
    ) -> Message:
        """``request`` and parse the answer; a malformed answer is a ``DeviceError``."""
        frame = self.request(msg_type, payload, what=what, **kwargs)  # type: ignore[arg-type]
        try:
            return parse_message(frame)
        except MessageError as exc:
            raise DeviceError(
                f"{self.name}: {what}: malformed answer from the device ({exc})"
            ) from None


def refusal(what: str, payload: bytes) -> DeviceRefused:
    """A ``DeviceRefused`` from an ERROR payload (request_seq u32, code u16, reserved, text)."""
    code = struct.unpack_from("<H", payload, 4)[0] if len(payload) >= 6 else 0
    text = payload[8:].decode("utf-8", "replace") if len(payload) > 8 else ""
    return DeviceRefused(what, code, error_name(code), text)
