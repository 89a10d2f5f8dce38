"""The tag schema and the dataset settings of ``fieldbench.toml`` (the ``[dataset]`` table).

Four built-in tags describe the operating envelope — temperature band, mounting orientation,
background noise profile, sensor age stage — each with a default vocabulary a workspace may
replace. Users declare further tags with their allowed values. Every tag a recording carries is
checked against this schema: an unknown tag or value is refused with the allowed values named.
See docs/dataset.md for the TOML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError, FieldbenchError


class TagError(FieldbenchError):
    """A recording's tag is not declared in the workspace's tag schema, or has a bad value."""


BUILTIN_TAGS: dict[str, tuple[str, ...]] = {
    "temperature": ("cold", "ambient", "hot"),
    "orientation": ("horizontal", "vertical", "inverted"),
    "noise": ("quiet", "hvac", "machinery"),
    "age": ("new", "aged", "worn"),
}
BUILTIN_DESCRIPTIONS = {
    "temperature": "temperature band (cold < 5 °C ≤ ambient ≤ 35 °C < hot)",
    "orientation": "mounting orientation of the sensor",
    "noise": "background noise profile",
    "age": "sensor age stage",
}
DATASET_KEYS = ("tags", "labels", "coverage", "deployment", "noiseLabel")
TAG_KEYS = ("values", "description")
COVERAGE_KEYS = ("axes", "minRecordings", "minSeconds")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
# Values and labels: 1–40 printable characters without , = ; quotes or edge spaces.
_VALUE = re.compile(r"^[^\s,=;\"'](?:[^\x00-\x1f,=;\"']{0,38}[^\s,=;\"'])?$")


@dataclass(frozen=True)
class TagSpec:
    name: str
    values: tuple[str, ...]
    description: str = ""
    builtin: bool = False


@dataclass(frozen=True)
class CoverageTarget:
    """What every cell of the coverage matrix (tag combination × label) should hold."""

    axes: tuple[str, ...] = ("temperature", "orientation", "noise", "age")
    min_recordings: int = 1
    min_seconds: float = 0.0


@dataclass(frozen=True)
class DatasetConfig:
    """The ``[dataset]`` table: tag schema, allowed labels, coverage target, deployment mix."""

    tags: tuple[TagSpec, ...] = field(
        default_factory=lambda: tuple(
            TagSpec(k, v, BUILTIN_DESCRIPTIONS[k], True) for k, v in BUILTIN_TAGS.items()
        )
    )
    labels: tuple[str, ...] = ()  # empty: any label
    coverage: CoverageTarget = field(default_factory=CoverageTarget)
    deployment: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    noise_label: str = "background"

    @property
    def tag_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tags)

    def tag(self, name: str) -> TagSpec:
        for spec in self.tags:
            if spec.name == name:
                return spec
        raise TagError(f"tag {name!r} is not declared; declared tags are {_list(self.tag_names)}")

    def validate_tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        """Return the tags in schema order, or raise ``TagError`` naming the allowed values."""
        out: dict[str, str] = {}
        for key, value in tags.items():
            spec = self.tag(key)
            if value not in spec.values:
                raise TagError(
                    f"tag {key} = {value!r} is not allowed; allowed values are {_list(spec.values)}"
                    " (declare more under [dataset.tags] in fieldbench.toml)"
                )
        for name in self.tag_names:
            if name in tags:
                out[name] = str(tags[name])
        return out

    def validate_label(self, label: str | None) -> str | None:
        if label is None or label == "":
            return None
        if not _VALUE.match(label):
            raise TagError(f"label {label!r}: 1–40 characters without , = ; quotes or edge spaces")
        if self.labels and label not in self.labels and label != self.noise_label:
            raise TagError(
                f"label {label!r} is not allowed; allowed labels are {_list(self.labels)}"
            )
        return label

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> DatasetConfig:
        """Parse and validate the ``[dataset]`` table; errors name the key and the fix."""
        if not isinstance(raw, Mapping):
            raise ConfigError("dataset: expected a table")
        for key in raw:
            if key not in DATASET_KEYS:
                raise ConfigError(
                    f"dataset.{key}: unknown key; allowed keys are {', '.join(DATASET_KEYS)}"
                )
        specs = {k: TagSpec(k, v, BUILTIN_DESCRIPTIONS[k], True) for k, v in BUILTIN_TAGS.items()}
        tags_raw = raw.get("tags", {})
        if not isinstance(tags_raw, Mapping):
            raise ConfigError("dataset.tags: expected a table of tag tables")
        for name, spec in tags_raw.items():
            specs[name] = _tag_spec(name, spec, name in BUILTIN_TAGS)
        labels = _strings(raw.get("labels", []), "dataset.labels")
        for label in labels:
            if not _VALUE.match(label):
                raise ConfigError(f"dataset.labels: {label!r} is not a valid label")
        noise_label = raw.get("noiseLabel", "background")
        if not isinstance(noise_label, str) or not _VALUE.match(noise_label):
            raise ConfigError(f"dataset.noiseLabel = {noise_label!r}: must be a label string")
        coverage = _coverage(raw.get("coverage", {}), specs)
        deployment = _deployment(raw.get("deployment", {}), specs)
        return cls(tuple(specs.values()), labels, coverage, deployment, noise_label)

    def to_mapping(self) -> dict[str, Any]:
        """The TOML form (only what differs from the built-ins is needed, but all is written)."""
        out: dict[str, Any] = {
            "noiseLabel": self.noise_label,
            "tags": {
                t.name: {"values": list(t.values), "description": t.description} for t in self.tags
            },
            "coverage": {
                "axes": list(self.coverage.axes),
                "minRecordings": self.coverage.min_recordings,
                "minSeconds": self.coverage.min_seconds,
            },
        }
        if self.labels:
            out["labels"] = list(self.labels)
        if self.deployment:
            out["deployment"] = {k: dict(v) for k, v in self.deployment.items()}
        return out


def _tag_spec(name: str, raw: Any, builtin: bool) -> TagSpec:
    where = f"dataset.tags.{name}"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: tag names start with a letter (letters, digits, _ . -)")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table with values = [...]")
    for key in raw:
        if key not in TAG_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key; allowed keys are {', '.join(TAG_KEYS)}")
    values = _strings(raw.get("values"), f"{where}.values")
    if not values:
        raise ConfigError(f"{where}.values: declare at least one allowed value")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}.values: values must be unique")
    for v in values:
        if not _VALUE.match(v):
            raise ConfigError(
                f"{where}.values: {v!r}: 1–40 characters without , = ; quotes or edge spaces"
            )
    desc = raw.get("description", BUILTIN_DESCRIPTIONS.get(name, ""))
    if not isinstance(desc, str):
        raise ConfigError(f"{where}.description: must be a string")
    return TagSpec(name, values, desc, builtin)


def _coverage(raw: Any, specs: Mapping[str, TagSpec]) -> CoverageTarget:
    if not isinstance(raw, Mapping):
        raise ConfigError("dataset.coverage: expected a table")
    for key in raw:
        if key not in COVERAGE_KEYS:
            raise ConfigError(
                f"dataset.coverage.{key}: unknown key; allowed keys are {', '.join(COVERAGE_KEYS)}"
            )
    axes = _strings(raw.get("axes", list(BUILTIN_TAGS)), "dataset.coverage.axes")
    for axis in axes:
        if axis not in specs:
            raise ConfigError(
                f"dataset.coverage.axes: {axis!r} is not a declared tag; "
                f"declared tags are {_list(tuple(specs))}"
            )
    n = raw.get("minRecordings", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"dataset.coverage.minRecordings = {n!r}: must be an integer ≥ 0")
    s = raw.get("minSeconds", 0.0)
    if not isinstance(s, int | float) or isinstance(s, bool) or s < 0:
        raise ConfigError(f"dataset.coverage.minSeconds = {s!r}: must be a number ≥ 0")
    return CoverageTarget(axes, n, float(s))


def _deployment(raw: Any, specs: Mapping[str, TagSpec]) -> dict[str, dict[str, float]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("dataset.deployment: expected a table of tag = { value = share }")
    out: dict[str, dict[str, float]] = {}
    for tag, mix in raw.items():
        where = f"dataset.deployment.{tag}"
        if tag not in specs:
            raise ConfigError(f"{where}: {tag!r} is not a declared tag")
        if not isinstance(mix, Mapping) or not mix:
            raise ConfigError(f"{where}: expected an inline table such as {{ hot = 0.2 }}")
        shares: dict[str, float] = {}
        for value, share in mix.items():
            if value not in specs[tag].values:
                raise ConfigError(
                    f"{where}.{value}: not an allowed value of {tag}; "
                    f"allowed values are {_list(specs[tag].values)}"
                )
            if not isinstance(share, int | float) or isinstance(share, bool) or share < 0:
                raise ConfigError(f"{where}.{value} = {share!r}: must be a number ≥ 0")
            shares[value] = float(share)
        total = sum(shares.values())
        if total <= 0:
            raise ConfigError(f"{where}: the shares add up to 0")
        out[tag] = {k: v / total for k, v in shares.items()}
    return out


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigError(f"{where}: expected a list of strings")
    if not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(raw)


def _list(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values) if values else "(none)"
