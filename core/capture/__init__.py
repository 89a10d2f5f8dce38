"""Capture sources behind one interface, and a session that records them into the dataset.

Sources: ``LinkSource`` (the Fieldbench link protocol over a serial port or any byte stream),
``TextSource`` (plain text lines at any baud), ``RecordingReplay`` / ``replay_source`` (a
WAV/CSV/NPY file or a raw link log) and ``simulated_source`` (an in-process simulated device).
"""

from core.capture.errors import CaptureError, LinkLost, PortError, StreamEnded
from core.capture.link_source import LinkSource
from core.capture.ports import PortInfo, list_ports
from core.capture.replay import RecordingReplay, replay_source
from core.capture.session import CaptureResult, CaptureSession, CaptureStatus, LiveRing
from core.capture.source import CaptureSource, StreamInfo
from core.capture.streams import (
    FileStream,
    LoopbackStream,
    MemoryStream,
    SerialStream,
    SocketStream,
)
from core.capture.text import TextSource

__all__ = [
    "CaptureError",
    "CaptureResult",
    "CaptureSession",
    "CaptureSource",
    "CaptureStatus",
    "FileStream",
    "LinkLost",
    "LinkSource",
    "LiveRing",
    "LoopbackStream",
    "MemoryStream",
    "PortError",
    "PortInfo",
    "RecordingReplay",
    "SerialStream",
    "SocketStream",
    "StreamEnded",
    "StreamInfo",
    "TextSource",
    "list_ports",
    "replay_source",
    "serial_source",
    "simulated_source",
]


def serial_source(
    port: str, baud: int = 115200, *, text: bool = False, **kwargs: object
) -> CaptureSource:
    """A link (default) or text-line source on a serial port or pyserial URL."""
    stream = SerialStream.open(port, baud)
    if text:
        return TextSource(stream, baud=baud, **kwargs)  # type: ignore[arg-type]
    return LinkSource(stream, **kwargs)  # type: ignore[arg-type]


def simulated_source(
    sample_rate: float = 1600.0,
    channels: int = 3,
    *,
    realtime: bool = True,
    seconds: float | None = None,
    samples_per_block: int = 64,
    raw_log: str | None = None,
) -> LinkSource:
    """The in-process loopback: a simulated device speaking the link protocol."""
    from core.link.simulator import SimulatedDevice, default_info

    device = SimulatedDevice(default_info(sample_rate, channels, samples_per_block))
    stream = LoopbackStream(device, realtime=realtime, seconds=seconds)
    return LinkSource(stream, source_name="simulated", raw_log=raw_log, live=realtime)
