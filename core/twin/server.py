"""Transports for the twin's ROM loader: a pty (POSIX) or a TCP socket (``socket://``)."""

from __future__ import annotations

import contextlib
import mmap
import os
import selectors
import socket
import threading
import time
from pathlib import Path

from core.device.errors import DeviceFormatError
from core.device.partitions import FLASH_SIZE
from core.twin.rom_loader import RomLoader


def open_flash(path: str | os.PathLike[str]) -> mmap.mmap:
    """Maps the flash image file (created blank when missing), shared with the C++ host port."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\xff" * FLASH_SIZE)
    if p.stat().st_size != FLASH_SIZE:
        raise DeviceFormatError(
            f"{p}: not an {FLASH_SIZE >> 20} MB flash image; delete it or pass another --flash path"
        )
    with open(p, "r+b") as handle:
        return mmap.mmap(handle.fileno(), FLASH_SIZE)


class TwinServer:
    """Serves one RomLoader over a pty or a local TCP port from a background thread.

    ``port`` is what pyserial / esptool open: a /dev/pts/N path or ``socket://127.0.0.1:P``.
    Over TCP each accepted connection starts in the ROM personality (a reset per connection);
    over a pty the device persists between esptool runs (the stub may stay running).
    """

    def __init__(self, flash_path: str | os.PathLike[str], transport: str = "socket") -> None:
        self.flash = open_flash(flash_path)
        self.loader = RomLoader(self.flash)
        self.transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self._listener: socket.socket | None = None
        self._last_activity = 0.0
        if transport == "pty":
            import pty
            import tty

            self._master, self._slave = pty.openpty()
            tty.setraw(self._slave)
            self.port = os.ttyname(self._slave)
        elif transport == "socket":
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(1)
            self.port = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        else:
            raise ValueError(f"unknown transport {transport!r}")

    def start(self) -> TwinServer:
        target = self._serve_pty if self.transport == "pty" else self._serve_socket
        self._thread = threading.Thread(target=target, name="twin-rom-loader", daemon=True)
        self._thread.start()
        return self

    def _serve_pty(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._master, selectors.EVENT_READ)
        while not self._stop.is_set():
            if not sel.select(timeout=0.1):
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:
                break
            self._last_activity = time.monotonic()
            reply = self.loader.feed(data)
            if reply:
                os.write(self._master, reply)
        sel.close()

    def _serve_socket(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.loader.reset()
            with conn:
                conn.settimeout(0.1)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while not self._stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    self._last_activity = time.monotonic()
                    reply = self.loader.feed(data)
                    if reply:
                        conn.sendall(reply)

    def loader_writes(self) -> int:
        """Flash erase/program operations the loader has done (esptool wrote something)."""
        return self.loader.mutations

    def busy(self, quiet_s: float = 1.0) -> bool:
        """A host talked to the loader within the last ``quiet_s`` seconds."""
        return time.monotonic() - self._last_activity < quiet_s

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._listener is not None:
            self._listener.close()
        self.flash.flush()
        self.flash.close()

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
