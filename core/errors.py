"""Errors a user can meet: one sentence that names the thing and the fix."""

from __future__ import annotations


class FieldbenchError(Exception):
    """Base class for errors shown to users (GUI message box, CLI stderr line)."""


class ConfigError(FieldbenchError):
    """A configuration value is missing, of the wrong type or out of range."""


class InputFileError(FieldbenchError):
    """An input file (recording, config) cannot be read or holds bad data."""


class WorkspaceError(FieldbenchError):
    """A workspace folder cannot be created, opened or written."""


class Cancelled(FieldbenchError):
    """Long work stopped because the user cancelled it."""
