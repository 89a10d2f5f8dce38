"""Errors of the device platform (formats, flash images, the twin)."""

from __future__ import annotations

from core.errors import FieldbenchError


class DeviceFormatError(FieldbenchError):
    """A partition table, otadata sector, app image or slot manifest is malformed."""
