"""Errors and end-of-stream signals of capture sources."""

from __future__ import annotations

from core.errors import FieldbenchError


class CaptureError(FieldbenchError):
    """A capture cannot start: no port, no data, no rate. Nothing was written."""


class PortError(CaptureError):
    """A serial port cannot be opened (missing, busy, permission)."""


class LinkLost(FieldbenchError):
    """The byte stream broke mid-capture (cable unplugged, socket closed): keep what arrived."""


class StreamEnded(Exception):
    """A finite source (a replayed file) has delivered everything: a normal end."""
