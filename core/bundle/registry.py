"""The workspace's registry of built bundles (``bundles/registry.json``), with rollback targets.

Entries are ordered by a build ordinal, not by wall-clock time (no timestamps in workspaces).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.bundle.build import BuiltBundle
from core.errors import WorkspaceError

REGISTRY_NAME = "registry.json"


@dataclass(frozen=True)
class RegistryEntry:
    ordinal: int
    bundle_id: str
    file: str
    sha256: str
    size: int
    versions: dict[str, str]
    epoch: int
    rollback_target: str | None
    profile: str
    key_id: str
    gate_override: str | None


class BundleRegistry:
    def __init__(self, workspace: str | Path) -> None:
        self.folder = Path(workspace) / "bundles"
        self.path = self.folder / REGISTRY_NAME

    def entries(self) -> list[RegistryEntry]:
        if not self.path.is_file():
            return []
        try:
            raw: Any = json.loads(self.path.read_text(encoding="utf-8"))
            return [RegistryEntry(**e) for e in raw["bundles"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"{self.path}: unreadable bundle registry ({exc})") from None

    def add(self, built: BuiltBundle) -> RegistryEntry:
        """Record a built bundle (replacing an older entry with the same bundle id)."""
        m = built.manifest
        entries = [e for e in self.entries() if e.bundle_id != m.bundle_id]
        try:
            rel = str(built.path.resolve().relative_to(self.folder.resolve().parent))
        except ValueError:
            rel = str(built.path.resolve())
        entry = RegistryEntry(
            ordinal=max((e.ordinal for e in entries), default=0) + 1,
            bundle_id=m.bundle_id,
            file=rel,
            sha256=built.sha256.hex(),
            size=built.size,
            versions={
                "firmware": m.firmware_version,
                "model": m.model_version,
                "threshold": m.threshold_version,
                "calibration": m.calibration_version,
            },
            epoch=m.epoch,
            rollback_target=m.rollback_target,
            profile=m.profile,
            key_id=m.key_id[:8].hex(),
            gate_override=m.gate_override,
        )
        entries.append(entry)
        text = json.dumps({"format": 1, "bundles": [asdict(e) for e in entries]}, indent=2)
        atomic_write_text(self.path, text + "\n")
        return entry
