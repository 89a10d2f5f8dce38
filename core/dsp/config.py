"""The feature front-end configuration (``PreprocessingConfig``) and its validation.

The arithmetic every field drives is specified in docs/dsp.md; the keys are the seed's
camelCase names so a ``[features]`` table in ``fieldbench.toml`` reads like the spec.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import ConfigError

FILTER_TYPES = ("none", "lowpass", "highpass", "bandpass")
BAND_SCALES = ("mel", "linear", "none")
WINDOWS = ("hann", "rectangular")
COMPRESSIONS = ("log2", "none")
STATS = ("rms", "peak", "crest")
MAX_CHANNELS = 8
MAX_WINDOW = 4096
MAX_BUFFER = 16384
MAX_BANDS = 64


@dataclass(frozen=True)
class FilterConfig:
    """An optional biquad applied to every segment (docs/dsp.md §4.2)."""

    type: str = "none"
    cutoffHz: float = 0.0
    q: float = 0.7071
    warmup: int | None = None


@dataclass(frozen=True)
class BandsConfig:
    """Spectral band energies (docs/dsp.md §4.7)."""

    scale: str = "mel"
    count: int = 40
    fMin: float = 0.0
    fMax: float | None = None


@dataclass(frozen=True)
class PreprocessingConfig:
    """Everything that defines a feature frame; validated on construction."""

    sampleRate: float
    windowSize: int
    hopLength: int | None = None
    channels: int = 1
    bufferSize: int | None = None
    fixedPointScale: float = 1.0
    inputRange: float | None = None
    dcRemoval: bool = True
    window: str = "hann"
    fftSize: int | None = None
    filter: FilterConfig = field(default_factory=FilterConfig)
    bands: BandsConfig = field(default_factory=BandsConfig)
    compression: str = "log2"
    stats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)
        # Frames carry the stats in the spec's fixed order (rms, peak, crest), as the device does.
        object.__setattr__(self, "stats", tuple(s for s in STATS if s in self.stats))

    # ---- derived values (defaults resolved) -------------------------------------------
    @property
    def hop(self) -> int:
        return self.hopLength if self.hopLength is not None else max(1, self.windowSize // 2)

    @property
    def warmup(self) -> int:
        if self.filter.type == "none":
            return 0
        return self.filter.warmup if self.filter.warmup is not None else self.windowSize // 2

    @property
    def segment_length(self) -> int:
        """Samples per channel one frame reads: warm-up plus window (spec §3)."""
        return self.warmup + self.windowSize

    @property
    def buffer_size(self) -> int:
        return self.bufferSize if self.bufferSize is not None else self.segment_length

    @property
    def fft_size(self) -> int:
        if self.fftSize is not None:
            return self.fftSize
        return max(16, 1 << (self.windowSize - 1).bit_length())

    @property
    def n_bands(self) -> int:
        return 0 if self.bands.scale == "none" else self.bands.count

    @property
    def f_max(self) -> float:
        return self.bands.fMax if self.bands.fMax is not None else self.sampleRate / 2

    @property
    def input_range(self) -> float:
        if self.inputRange is not None:
            return self.inputRange
        return 32767.0 / self.fixedPointScale

    @property
    def features_per_channel(self) -> int:
        return self.n_bands + len(self.stats)

    @property
    def frame_length(self) -> int:
        return self.channels * self.features_per_channel

    def feature_names(self) -> list[str]:
        """Human-readable names of the int16 values in one frame, in order."""
        names: list[str] = []
        for c in range(self.channels):
            prefix = f"ch{c}." if self.channels > 1 else ""
            names += [f"{prefix}{self.bands.scale}{b}" for b in range(self.n_bands)]
            names += [f"{prefix}{s}" for s in self.stats]
        return names

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_mapping(self) -> dict[str, Any]:
        """A TOML-ready mapping (None values dropped, so defaults stay defaults)."""
        raw = asdict(self)
        raw["stats"] = list(self.stats)
        return _drop_none(raw)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "features") -> PreprocessingConfig:
        """Build from a ``[features]`` table; errors name ``where.key`` and the allowed values."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table of settings")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key; allowed keys are {', '.join(sorted(known))}"
            )
        for required in ("sampleRate", "windowSize"):
            if required not in data:
                raise ConfigError(f"{where}.{required}: missing (required)")
        kwargs: dict[str, Any] = dict(data)
        kwargs["filter"] = _sub(FilterConfig, data.get("filter", {}), f"{where}.filter")
        kwargs["bands"] = _sub(BandsConfig, data.get("bands", {}), f"{where}.bands")
        stats = data.get("stats", ())
        if isinstance(stats, str) or not isinstance(stats, list | tuple):
            raise ConfigError(f"{where}.stats = {stats!r}: must be a list of {', '.join(STATS)}")
        kwargs["stats"] = tuple(stats)
        _check_types(kwargs, where)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> PreprocessingConfig:
        """Read a standalone TOML config (either a ``[features]`` table or bare keys)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
        table = data.get("features", data)
        try:
            return cls.from_mapping(table)
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None

    def replace(self, **changes: Any) -> PreprocessingConfig:
        return replace(self, **changes)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _drop_none(v)
        elif v is not None:
            out[k] = v
    return out


def _sub(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table of settings")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown key; allowed keys are {', '.join(sorted(known))}"
        )
    _check_types(dict(data), where, cls)
    return cls(**data)


_INT_KEYS = {"windowSize", "hopLength", "channels", "bufferSize", "fftSize", "warmup", "count"}
_FLOAT_KEYS = {"sampleRate", "fixedPointScale", "inputRange", "cutoffHz", "q", "fMin", "fMax"}
_STR_KEYS = {"window", "compression", "type", "scale"}


def _check_types(data: Mapping[str, Any], where: str, cls: type[Any] | None = None) -> None:
    for key, value in data.items():
        if value is None:
            continue
        if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}.{key} = {value!r}: must be a whole number")
        if key in _FLOAT_KEYS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{where}.{key} = {value!r}: must be a number")
        if key in _STR_KEYS and not isinstance(value, str):
            raise ConfigError(f"{where}.{key} = {value!r}: must be a string")
        if key == "dcRemoval" and not isinstance(value, bool):
            raise ConfigError(f"{where}.dcRemoval = {value!r}: must be true or false")


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} = {value!r}: must be one of {', '.join(map(repr, allowed))}")


def _validate(c: PreprocessingConfig) -> None:
    def finite_positive(key: str, v: float) -> None:
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{key} = {v!r}: must be a finite number greater than 0")

    finite_positive("sampleRate", c.sampleRate)
    if not 1 <= c.channels <= MAX_CHANNELS:
        raise ConfigError(f"channels = {c.channels}: must be between 1 and {MAX_CHANNELS}")
    if not 8 <= c.windowSize <= MAX_WINDOW:
        raise ConfigError(f"windowSize = {c.windowSize}: must be between 8 and {MAX_WINDOW}")
    if not 1 <= c.hop <= c.windowSize:
        raise ConfigError(
            f"hopLength = {c.hop}: must be between 1 and windowSize ({c.windowSize}); "
            "a hop larger than the window would skip samples"
        )
    finite_positive("fixedPointScale", c.fixedPointScale)
    finite_positive("inputRange", c.input_range)
    if c.input_range * c.fixedPointScale > 32767.0 + 1e-9:
        raise ConfigError(
            f"fixedPointScale = {c.fixedPointScale:g}: inputRange {c.input_range:g} × scale = "
            f"{c.input_range * c.fixedPointScale:.0f} overflows int16 (max 32767); "
            f"use a scale ≤ {32767.0 / c.input_range:g}"
        )
    _one_of("window", c.window, WINDOWS)
    _one_of("compression", c.compression, COMPRESSIONS)
    for s in c.stats:
        _one_of("stats", s, STATS)
    if len(set(c.stats)) != len(c.stats):
        raise ConfigError(f"stats = {list(c.stats)}: each statistic may appear once")
    _one_of("filter.type", c.filter.type, FILTER_TYPES)
    if c.filter.type != "none":
        nyquist = c.sampleRate / 2
        if not 0 < c.filter.cutoffHz < nyquist:
            raise ConfigError(
                f"filter.cutoffHz = {c.filter.cutoffHz:g}: must be between 0 and "
                f"{nyquist:g} Hz (half the sample rate)"
            )
        finite_positive("filter.q", c.filter.q)
        if not 0 <= c.warmup <= MAX_WINDOW:
            raise ConfigError(f"filter.warmup = {c.warmup}: must be between 0 and {MAX_WINDOW}")
    _one_of("bands.scale", c.bands.scale, BAND_SCALES)
    if c.bufferSize is not None and not c.segment_length <= c.bufferSize <= MAX_BUFFER:
        raise ConfigError(
            f"bufferSize = {c.bufferSize}: must hold windowSize + filter.warmup = "
            f"{c.segment_length} samples (window larger than buffer) and be ≤ {MAX_BUFFER}"
        )
    if c.n_bands:
        n = c.fft_size
        if n < 16 or n > MAX_WINDOW or n & (n - 1):
            raise ConfigError(f"fftSize = {n}: must be a power of two between 16 and {MAX_WINDOW}")
        if n < c.windowSize:
            raise ConfigError(f"fftSize = {n}: must be at least windowSize ({c.windowSize})")
        if not 1 <= c.bands.count <= MAX_BANDS:
            raise ConfigError(f"bands.count = {c.bands.count}: must be between 1 and {MAX_BANDS}")
        if not 0 <= c.bands.fMin < c.f_max <= c.sampleRate / 2:
            raise ConfigError(
                f"bands.fMin/fMax = {c.bands.fMin:g}/{c.f_max:g}: need 0 ≤ fMin < fMax ≤ "
                f"{c.sampleRate / 2:g} Hz (half the sample rate)"
            )
    if c.frame_length == 0:
        raise ConfigError("bands.scale = 'none' and stats = []: the recipe produces no features")
