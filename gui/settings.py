"""Persistent per-user GUI settings (QSettings): recent workspaces, last workspace, layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from core.workspace import CONFIG_NAME

ORGANIZATION = "Fieldbench"
APPLICATION = "Fieldbench"
MAX_RECENT = 8
RECENT_KEY = "workspaces/recent"


def _as_list(value: object) -> list[str]:
    # QSettings (INI backend) gives a str for one entry, a list for several, None for none.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[attr-defined]


def recent_workspaces(settings: QSettings) -> list[str]:
    """Most recent first, at most ``MAX_RECENT``."""
    return _as_list(settings.value(RECENT_KEY))[:MAX_RECENT]


def set_recent_workspaces(settings: QSettings, paths: list[str]) -> None:
    settings.setValue(RECENT_KEY, list(paths[:MAX_RECENT]))


def add_recent_workspace(settings: QSettings, path: Path) -> list[str]:
    """Move ``path`` to the front of the list (deduplicated) and return the new list."""
    key = str(Path(path).resolve())
    paths = [key] + [p for p in recent_workspaces(settings) if p != key]
    set_recent_workspaces(settings, paths)
    return paths[:MAX_RECENT]


def prune_missing(settings: QSettings) -> list[str]:
    """Drop entries whose folder no longer holds a workspace; return the dropped ones."""
    paths = recent_workspaces(settings)
    keep = [p for p in paths if (Path(p) / CONFIG_NAME).is_file()]
    if len(keep) != len(paths):
        set_recent_workspaces(settings, keep)
    return [p for p in paths if p not in keep]
