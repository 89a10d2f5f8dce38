"""A workspace is a plain folder: a human-readable ``fieldbench.toml`` plus data beside it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from core.atomic import atomic_write_text
from core.dataset.schema import DatasetConfig
from core.dsp.config import PreprocessingConfig
from core.errors import ConfigError, WorkspaceError
from core.recording import SUPPORTED

CONFIG_NAME = "fieldbench.toml"
FORMAT_VERSION = 1
TABLES = ("workspace", "features", "dataset", "train")
WORKSPACE_KEYS = ("name", "format", "description")

DEFAULT_FEATURES: dict[str, Any] = {
    "sampleRate": 1600.0,
    "channels": 3,
    "windowSize": 256,
    "hopLength": 128,
    "fixedPointScale": 8000.0,
    "inputRange": 4.0,
    "window": "hann",
    "fftSize": 256,
    "dcRemoval": True,
    "filter": {"type": "highpass", "cutoffHz": 10.0, "q": 0.7071, "warmup": 128},
    "bands": {"scale": "linear", "count": 16, "fMin": 0.0, "fMax": 800.0},
    "compression": "log2",
    "stats": ["rms", "peak", "crest"],
}


@dataclass
class Workspace:
    """An open workspace folder."""

    path: Path
    name: str
    description: str
    features: PreprocessingConfig
    raw: dict[str, Any]
    dataset: DatasetConfig = field(default_factory=DatasetConfig)  # [dataset], docs/dataset.md

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def recordings_dir(self) -> Path:
        return self.path / "recordings"

    def recordings(self) -> list[Path]:
        """Recording files in the workspace, sorted by name."""
        if not self.recordings_dir.is_dir():
            return []
        return sorted(p for p in self.recordings_dir.iterdir() if p.suffix.lower() in SUPPORTED)

    @classmethod
    def create(
        cls, path: str | Path, name: str, features: PreprocessingConfig | None = None
    ) -> Workspace:
        """Create a new workspace folder (it may exist but must not hold a workspace yet)."""
        p = Path(path)
        if (p / CONFIG_NAME).exists():
            raise WorkspaceError(f"{p}: already holds a workspace; open it instead")
        if p.exists() and not p.is_dir():
            raise WorkspaceError(f"{p}: exists and is not a folder")
        try:
            (p / "recordings").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"{p}: cannot create the folder ({exc.strerror})") from None
        feats = features or PreprocessingConfig.from_mapping(DEFAULT_FEATURES)
        raw = {
            "workspace": {"name": name, "format": FORMAT_VERSION},
            "features": feats.to_mapping(),
        }
        ws = cls(p, name, "", feats, raw)
        ws.save()
        return ws

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        """Open and validate a workspace; errors name the file, the key and the fix."""
        p = Path(path)
        cfg = p / CONFIG_NAME if p.is_dir() or not p.name.endswith(".toml") else p
        p = cfg.parent
        if not cfg.is_file():
            raise WorkspaceError(f"{p}: no {CONFIG_NAME} here; this folder is not a workspace")
        try:
            raw = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"{cfg}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise WorkspaceError(f"{cfg}: cannot read ({exc.strerror})") from None
        try:
            return cls._from_raw(p, raw)
        except ConfigError as exc:
            raise WorkspaceError(f"{cfg}: {exc}") from None

    @classmethod
    def _from_raw(cls, path: Path, raw: dict[str, Any]) -> Workspace:
        for key in raw:
            if key not in TABLES:
                raise ConfigError(f"{key}: unknown table; allowed tables are {', '.join(TABLES)}")
        meta = raw.get("workspace", {})
        if not isinstance(meta, dict):
            raise ConfigError("workspace: expected a table")
        for key in meta:
            if key not in WORKSPACE_KEYS:
                raise ConfigError(
                    f"workspace.{key}: unknown key; allowed keys are {', '.join(WORKSPACE_KEYS)}"
                )
        fmt = meta.get("format", FORMAT_VERSION)
        if fmt != FORMAT_VERSION:
            raise ConfigError(
                f"workspace.format = {fmt!r}: this Fieldbench reads format {FORMAT_VERSION}"
            )
        name = meta.get("name", path.name)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"workspace.name = {name!r}: must be a non-empty string")
        if "features" not in raw:
            raise ConfigError("features: missing table; add a [features] table (see docs/dsp.md)")
        features = PreprocessingConfig.from_mapping(raw["features"])
        dataset = DatasetConfig.from_mapping(raw.get("dataset", {}))
        return cls(path, name, str(meta.get("description", "")), features, raw, dataset)

    def set_features(self, features: PreprocessingConfig) -> None:
        """Replace the feature config and save the workspace."""
        self.features = features
        self.raw["features"] = features.to_mapping()
        self.save()

    def set_dataset(self, dataset: DatasetConfig) -> None:
        """Replace the ``[dataset]`` table (tag schema, coverage target, mix) and save."""
        self.dataset = dataset
        self.raw["dataset"] = dataset.to_mapping()
        self.save()

    def save(self) -> None:
        text = (
            "# Fieldbench workspace: edit by hand or in the app.\n"
            "# [features] is specified in docs/dsp.md, [dataset] in docs/dataset.md.\n\n"
            + tomli_w.dumps(self.raw)
        )
        try:
            atomic_write_text(self.config_path, text)
        except OSError as exc:
            raise WorkspaceError(f"{self.config_path}: cannot write ({exc.strerror})") from None
