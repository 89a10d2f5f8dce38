"""The running twin's ports, published in a small file so that port pickers list it.

``fieldbench twin`` writes ``<user data dir>/twin/runtime.json`` (atomic) with the app port
(the firmware's link: Devices and Capture tabs, ``fieldbench device``/``capture``), the ROM
loader port (esptool) and its process id, and removes it when it stops. A file left behind by
a killed twin is ignored: its process id no longer runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import atomic_write_text

RUNTIME_FILE = "runtime.json"


@dataclass(frozen=True)
class TwinPorts:
    app_port: str
    rom_port: str
    pid: int
    flash: str


def runtime_path(folder: Path | None = None) -> Path:
    from core.twin.factory import twin_dir

    return (folder or twin_dir()) / RUNTIME_FILE


def publish(ports: TwinPorts, folder: Path | None = None) -> Path:
    path = runtime_path(folder)
    atomic_write_text(path, json.dumps(asdict(ports), indent=1) + "\n")
    return path


def withdraw(pid: int, folder: Path | None = None) -> None:
    """Removes the runtime file if it is this process's (another twin may have replaced it)."""
    path = runtime_path(folder)
    current = running_twin(folder, check_alive=False)
    if current is not None and current.pid == pid:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_twin(folder: Path | None = None, *, check_alive: bool = True) -> TwinPorts | None:
    """The twin published in the runtime file, or None (no file, unreadable, or stale)."""
    try:
        raw = json.loads(runtime_path(folder).read_text(encoding="utf-8"))
        ports = TwinPorts(str(raw["app_port"]), str(raw["rom_port"]), int(raw["pid"]),
                          str(raw.get("flash", "")))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive and not _alive(ports.pid):
        return None
    return ports
