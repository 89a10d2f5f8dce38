"""Serial ports the user can pick: name, USB VID:PID, description, serial number."""

from __future__ import annotations

from dataclasses import dataclass

# USB vendor ids worth naming in the port picker (ESP32 boards and their USB-UART bridges).
KNOWN_VENDORS = {
    0x303A: "Espressif",
    0x10C4: "Silicon Labs CP210x",
    0x1A86: "WCH CH34x",
    0x0403: "FTDI",
    0x2341: "Arduino",
    0x239A: "Adafruit",
}


TWIN_MANUFACTURER = "Fieldbench"


@dataclass(frozen=True)
class PortInfo:
    device: str  # what to open: /dev/ttyACM0, COM3
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    location: str | None = None

    @property
    def vid_pid(self) -> str:
        """``303A:1001`` for USB ports, empty otherwise."""
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04X}:{self.pid:04X}"

    @property
    def is_usb(self) -> bool:
        return self.vid is not None

    @property
    def vendor(self) -> str:
        return KNOWN_VENDORS.get(self.vid or -1, self.manufacturer or "")

    def label(self) -> str:
        """One line for a picker: ``/dev/ttyACM0  303A:1001  USB JTAG/serial debug unit``."""
        if self.manufacturer == TWIN_MANUFACTURER:
            return f"{self.description} ({self.device})"
        parts = [self.device]
        if self.vid_pid:
            parts.append(self.vid_pid)
        desc = self.description if self.description and self.description != "n/a" else ""
        if desc:
            parts.append(desc)
        elif self.vendor:
            parts.append(self.vendor)
        if self.serial_number:
            parts.append(f"SN {self.serial_number}")
        return "  ".join(parts)


def list_ports(include_legacy: bool = False) -> list[PortInfo]:
    """Serial ports on this machine, USB ports first, then by name; a running Fieldbench
    twin (``fieldbench twin``) comes before them.

    Plain legacy ports (``/dev/ttyS*`` without hardware behind them) are hidden unless
    ``include_legacy``.
    """
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports(include_links=False):
        if p.vid is None and not include_legacy and p.device.startswith("/dev/ttyS"):
            continue
        out.append(
            PortInfo(
                device=p.device,
                description=p.description or "",
                vid=p.vid,
                pid=p.pid,
                serial_number=p.serial_number,
                manufacturer=p.manufacturer,
                location=p.location,
            )
        )
    out.sort(key=lambda q: (not q.is_usb, q.device))
    return twin_ports() + out


def twin_ports() -> list[PortInfo]:
    """The running twin's app port (``fieldbench twin`` publishes it), listed first."""
    from core.twin.runtime import running_twin

    twin = running_twin()
    if twin is None:
        return []
    return [PortInfo(twin.app_port, "Fieldbench twin", manufacturer=TWIN_MANUFACTURER)]
