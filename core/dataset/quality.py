"""Capture-quality figures that travel with every recording.

A capture source fills these in (the link protocol counts frames and CRC errors, the text-line
source counts bad lines); the catalog stores them beside the recording so a coverage view can
show which cells were recorded over a bad cable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CaptureQuality:
    """Accounting of one capture: every frame or line received, lost or rejected.

    ``declared_rate_hz`` is what the device (or user) said; ``measured_rate_hz`` is what arrived;
    ``jitter_ms`` is the standard deviation of block arrival times around the least-squares line
    through (samples so far, host arrival time); polling cadence does not inflate it.
    """

    frames_received: int = 0
    frames_lost: int = 0
    crc_errors: int = 0
    bad_lines: int = 0  # text sources: wrong column count, NaN, bad UTF-8 ...
    declared_rate_hz: float | None = None
    measured_rate_hz: float | None = None
    jitter_ms: float | None = None

    @property
    def loss_ratio(self) -> float:
        """Lost frames over expected frames (0 when nothing was expected)."""
        expected = self.frames_received + self.frames_lost
        return self.frames_lost / expected if expected else 0.0

    @property
    def rate_error(self) -> float | None:
        """Relative difference of measured and declared rate, when both are known."""
        if not self.declared_rate_hz or self.measured_rate_hz is None:
            return None
        return (self.measured_rate_hz - self.declared_rate_hz) / self.declared_rate_hz

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CaptureQuality:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def summary(self) -> str:
        """One line for tables and logs."""
        parts = [f"{self.frames_received} frames", f"{self.frames_lost} lost"]
        if self.crc_errors:
            parts.append(f"{self.crc_errors} CRC errors")
        if self.bad_lines:
            parts.append(f"{self.bad_lines} bad lines")
        if self.measured_rate_hz is not None:
            declared = f" (declared {self.declared_rate_hz:g})" if self.declared_rate_hz else ""
            parts.append(f"{self.measured_rate_hz:.4g} Hz{declared}")
        if self.jitter_ms is not None:
            parts.append(f"jitter {self.jitter_ms:.3g} ms")
        return ", ".join(parts)
