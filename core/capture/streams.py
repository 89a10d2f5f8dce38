"""Byte streams under the capture sources: serial ports (any pyserial URL), files, memory.

``read()`` returns the bytes available within one poll interval (``b""`` when none), raises
``LinkLost`` when the connection breaks and ``StreamEnded`` at the end of a finite stream.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from core.capture.errors import LinkLost, PortError, StreamEnded
from core.link.simulator import SimulatedDevice

POLL_S = 0.05
READ_MAX = 1 << 16


class ByteStream(Protocol):
    name: str

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialStream:
    """A pyserial port or URL (``/dev/ttyACM0``, ``socket://host:port``, ``loop://``)."""

    def __init__(self, port: Any, name: str | None = None) -> None:
        self._port = port
        self.name = name or str(getattr(port, "port", None) or getattr(port, "name", "serial"))
        port.timeout = POLL_S

    @classmethod
    def open(cls, url: str, baud: int = 115200) -> SerialStream | SocketStream:
        """Open a port by name or pyserial URL (``socket://`` gets a ``SocketStream``)."""
        import serial

        if url.startswith("socket://"):
            return SocketStream.open(url)

        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=POLL_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            text = str(exc)
            if "Permission denied" in text:
                raise PortError(
                    f"port {url}: permission denied — add your user to the dialout group "
                    "(sudo usermod -aG dialout $USER) and log in again"
                ) from None
            if "No such file" in text or "could not open" in text.lower():
                raise PortError(
                    f"port {url}: cannot open it ({text}); check the cable and pick a port "
                    "from `fieldbench capture --list-ports`"
                ) from None
            raise PortError(f"port {url}: cannot open it ({text})") from None
        return cls(port, url)

    def read(self) -> bytes:
        # Read only what is waiting: pyserial's read(n) drops the bytes it already holds when
        # the device vanishes mid-call, so an unplug would lose up to one poll of data.
        import serial

        port = self._port
        try:
            waiting = port.in_waiting
            if not waiting:
                first = port.read(1)  # blocks up to one poll interval
                if not first:
                    return b""
                waiting = port.in_waiting
                return bytes(first) + (bytes(port.read(min(waiting, READ_MAX))) if waiting else b"")
            return bytes(port.read(min(waiting, READ_MAX)))
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.name}: connection lost ({exc})") from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.name}: connection lost while writing ({exc})") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._port.close()


class SocketStream:
    """A TCP byte stream (``socket://host:port``): a twin, a network bridge, a test device."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self._sock = sock
        self.name = name

    @classmethod
    def open(cls, url: str, timeout: float = 5.0) -> SocketStream:
        host, sep, port = url.removeprefix("socket://").rpartition(":")
        if not sep or not port.isdigit():
            raise PortError(f"{url}: write a socket URL as socket://host:port")
        try:
            sock = socket.create_connection((host or "localhost", int(port)), timeout=timeout)
        except OSError as exc:
            raise PortError(
                f"{url}: cannot connect ({exc.strerror or exc}); is the device or twin running?"
            ) from None
        sock.setblocking(False)
        return cls(sock, url)

    def read(self) -> bytes:
        try:
            ready, _, _ = select.select([self._sock], [], [], POLL_S)
            if not ready:
                return b""
            data = self._sock.recv(READ_MAX)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise LinkLost(f"{self.name}: connection lost ({exc.strerror or exc})") from None
        if not data:
            raise LinkLost(f"{self.name}: connection lost (closed by the other end)")
        return data

    def write(self, data: bytes) -> None:
        try:
            self._sock.setblocking(True)
            self._sock.sendall(data)
        except OSError as exc:
            raise LinkLost(f"{self.name}: connection lost while writing ({exc})") from None
        finally:
            self._sock.setblocking(False)

    def close(self) -> None:
        self._sock.close()


class FileStream:
    """A recorded byte log, read in chunks; ends with ``StreamEnded``."""

    def __init__(self, path: str | Path, chunk: int = READ_MAX) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._chunk = chunk
        try:
            self._file = self.path.open("rb")
        except OSError as exc:
            from core.errors import InputFileError

            raise InputFileError(f"{self.path}: cannot read ({exc.strerror})") from None

    def read(self) -> bytes:
        data = self._file.read(self._chunk)
        if not data:
            raise StreamEnded(self.name)
        return data

    def write(self, data: bytes) -> None:
        pass  # a log cannot answer

    def close(self) -> None:
        self._file.close()


class MemoryStream:
    """Bytes from memory, one chunk per read: a scripted transport for tests and tools."""

    def __init__(self, chunks: Iterable[bytes], name: str = "memory") -> None:
        self.name = name
        self._chunks = iter(chunks)
        self.written = bytearray()

    def read(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StreamEnded(self.name) from None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass


class LoopbackStream:
    """An in-process simulated device: answers HELLO, streams blocks on the device's schedule.

    With ``realtime`` blocks become due as the clock advances (the read sleeps up to one poll
    interval); without it each read returns ``burst`` blocks at once. ``seconds`` ends the
    stream (``StreamEnded``) after that much signal.
    """

    def __init__(
        self,
        device: SimulatedDevice | None = None,
        *,
        realtime: bool = True,
        burst: int = 16,
        seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.device = device or SimulatedDevice()
        self.name = "simulated device"
        self._realtime = realtime
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._out = self.device.boot()
        self._t0: float | None = None
        self._sent_blocks = 0
        info = self.device.info
        self._block_s = info.samples_per_block / info.sample_rate
        self._limit = None if seconds is None else max(1, round(seconds / self._block_s))

    def write(self, data: bytes) -> None:
        self._out += self.device.receive(data)

    def read(self) -> bytes:
        out, self._out = self._out, b""
        if not self.device.streaming:
            if not out and self._realtime:
                self._sleep(POLL_S)
            return out
        if self._limit is not None and self._sent_blocks >= self._limit:
            if out:
                return out
            raise StreamEnded(self.name)
        if self._realtime:
            now = self._clock()
            if self._t0 is None:
                self._t0 = now
            due = int((now - self._t0) / self._block_s) + 1
            if due <= self._sent_blocks and not out:
                self._sleep(POLL_S)
                due = int((self._clock() - self._t0) / self._block_s) + 1
            count = max(0, due - self._sent_blocks)
        else:
            count = self._burst
        if self._limit is not None:
            count = min(count, self._limit - self._sent_blocks)
        if count:
            out += self.device.blocks(count)
            self._sent_blocks += count
        return out

    def close(self) -> None:
        pass
