"""Where Fieldbench finds its resources and keeps per-user files."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """``resources/`` of a source checkout, or its copy inside a PyInstaller bundle."""
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def user_data_dir() -> Path:
    """Per-user data (sample workspace copy): ``$XDG_DATA_HOME/fieldbench``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fieldbench"


def user_config_dir() -> Path:
    """Per-user configuration (signing keys later): ``$XDG_CONFIG_HOME/fieldbench``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fieldbench"


def native_library_candidates() -> list[Path]:
    """Where the C ABI library of the firmware host build may be."""
    env = os.environ.get("FIELDBENCH_NATIVE_LIB")
    root = Path(__file__).resolve().parent.parent
    names = [root / "build" / "host" / "libedge_runtime_capi.so"]
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        names.insert(0, Path(bundled) / "libedge_runtime_capi.so")
    return ([Path(env)] if env else []) + names


def fan_vibration_dir() -> Path:
    """The real fan recordings (tests, benchmarks): ``$FIELDBENCH_FAN_DATA``, else
    ``../shared/data/fan-vibration`` beside the checkout. Read in place, never copied here."""
    env = os.environ.get("FIELDBENCH_FAN_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "fan-vibration"
