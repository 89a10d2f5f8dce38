"""Training hyper-parameters: the ``[train]`` table of ``fieldbench.toml``.

Keys are camelCase like the rest of the workspace config (docs/training.md lists them). Every
value is checked when loaded, so a typo fails with the key's name and the allowed range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError

FAMILIES: dict[str, str] = {
    "dense_ae": "dense autoencoder (anomaly detection; one feature frame in, reconstruction out)",
    "conv1d": "1-D CNN classifier over consecutive feature frames",
    "dscnn": "depthwise-separable 1-D CNN classifier over consecutive feature frames",
}
ANOMALY_FAMILIES = ("dense_ae",)
#: How QAT sets the activation ranges (both start from the PTQ calibration ranges).
RANGE_MODES: dict[str, str] = {
    "learned": "range ends trained with the weights (LSQ-style step-size gradient)",
    "ema": "moving average of the batch min/max, frozen after freezeRangesAfter of the epochs",
}

#: Default target false-alarm rates per deployment profile (core.bundle.profiles names).
PROFILE_FALSE_ALARM: dict[str, float] = {
    "industrial-sensors": 0.01,
    "consumer-wearables": 0.02,
    "safety-critical": 0.005,
    "battery-iot": 0.01,
}


@dataclass(frozen=True)
class TrainConfig:
    """What a training run uses; ``seed`` makes it reproducible (same data → same model)."""

    family: str = "dense_ae"
    name: str = ""  # model name in the workspace; default: "trained_<family>"
    hidden: tuple[int, ...] = (24, 8, 24)  # dense_ae layer widths
    channels: int = 12  # conv1d / dscnn filters
    blocks: int = 2  # dscnn depthwise-separable blocks
    frames: int = 8  # classifier window: consecutive feature frames
    hop: int = 2  # classifier training windows: hop in frames
    epochs: int = 80
    qat_epochs: int = 15
    patience: int = 25  # stop when the validation metric has not improved for this many epochs
    batch_size: int = 64
    learning_rate: float = 3e-3
    qat_learning_rate: float = 3e-4
    weight_decay: float = 1e-4  # AdamW decoupled weight decay (float and QAT)
    qat_ranges: str = "learned"  # RANGE_MODES
    range_learning_rate: float = 0.01  # learned ranges: Adam step on log(range end)
    learn_input_range: bool = True  # learned ranges: the input (and AE output) range too
    seed: int = 0
    split_seed: int = 0
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    augment: bool = True
    augment_probability: float = 0.5  # share of training recordings augmented each epoch
    snr_db: tuple[float, float] | None = (10.0, 30.0)  # None: no recorded noise added
    gain: tuple[float, float] = (0.9, 1.1)
    offset: tuple[float, float] = (-0.02, 0.02)
    shift: int = 0
    normal_label: str = "normal"
    target_false_alarm: float | None = None  # None: the profile's default
    profiles: tuple[str, ...] = tuple(PROFILE_FALSE_ALARM)
    band_tags: tuple[str, ...] = ()  # () = every tag of the data
    range_momentum: float = 0.9  # EMA of activation ranges during QAT
    freeze_ranges_after: float = 0.5  # share of QAT epochs after which ranges stop moving
    calibration_size: int = 512
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(
                f"train.family = {self.family!r} is unknown; choose one of {', '.join(FAMILIES)}"
            )
        _positive_ints(
            hidden=self.hidden,
            channels=(self.channels,),
            frames=(self.frames,),
            hop=(self.hop,),
            epochs=(self.epochs,),
            batchSize=(self.batch_size,),
            calibrationSize=(self.calibration_size,),
        )
        if self.blocks < 0 or self.qat_epochs < 0 or self.shift < 0 or self.patience < 0:
            raise ConfigError(
                "train.blocks, train.qatEpochs, train.shift and train.patience must be ≥ 0"
            )
        if self.qat_ranges not in RANGE_MODES:
            raise ConfigError(
                f"train.qatRanges = {self.qat_ranges!r} is unknown; choose one of "
                f"{', '.join(RANGE_MODES)}"
            )
        if not (math.isfinite(self.weight_decay) and 0 <= self.weight_decay < 1):
            raise ConfigError(f"train.weightDecay = {self.weight_decay}: give a value in [0, 1)")
        if self.family != "dense_ae" and self.frames < 3:
            raise ConfigError(f"train.frames = {self.frames}: a CNN window needs ≥ 3 frames")
        for key, v in (
            ("learningRate", self.learning_rate),
            ("qatLearningRate", self.qat_learning_rate),
            ("rangeLearningRate", self.range_learning_rate),
        ):
            if not (math.isfinite(v) and 0 < v < 1):
                raise ConfigError(f"train.{key} = {v}: give a value in (0, 1), e.g. 0.003")
        if len(self.split_fractions) != 3 or min(self.split_fractions) < 0:
            raise ConfigError("train.splitFractions: give three shares ≥ 0 (train, val, test)")
        if self.split_fractions[0] <= 0 or self.split_fractions[1] <= 0:
            raise ConfigError("train.splitFractions: train and validation shares must be > 0")
        for key, v in (
            ("augmentProbability", self.augment_probability),
            ("rangeMomentum", self.range_momentum),
            ("freezeRangesAfter", self.freeze_ranges_after),
        ):
            if not 0 <= v <= 1:
                raise ConfigError(f"train.{key} = {v}: give a share between 0 and 1")
        if self.target_false_alarm is not None and not 0 < self.target_false_alarm < 0.5:
            raise ConfigError(
                f"train.targetFalseAlarm = {self.target_false_alarm}: give a rate in (0, 0.5), "
                "e.g. 0.01 for one false alarm per hundred normal windows"
            )
        for p in self.profiles:
            if p not in PROFILE_FALSE_ALARM:
                raise ConfigError(
                    f"train.profiles: {p!r} is unknown; "
                    f"choose from {', '.join(PROFILE_FALSE_ALARM)}"
                )

    @property
    def task(self) -> str:
        return "anomaly" if self.family in ANOMALY_FAMILIES else "classifier"

    @property
    def model_name(self) -> str:
        return self.name or f"trained_{self.family}"

    def false_alarm_for(self, profile: str) -> float:
        return self.target_false_alarm or PROFILE_FALSE_ALARM[profile]

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    # ---- TOML ------------------------------------------------------------------------------
    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if v is None:
                if f.name == "snr_db":
                    out["snrDb"] = []
                continue  # TOML has no null: absent means default
            out[_CAMEL[f.name]] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TrainConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError("train: expected a table")
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            name = _SNAKE.get(key)
            if name is None:
                raise ConfigError(
                    f"train.{key}: unknown key; allowed keys are {', '.join(sorted(_SNAKE))}"
                )
            kwargs[name] = _coerce(name, key, value)
        return cls(**kwargs)


def load_train_config(raw_workspace: Mapping[str, Any]) -> TrainConfig:
    """The ``[train]`` table of a workspace's raw config (defaults when absent)."""
    return TrainConfig.from_mapping(raw_workspace.get("train", {}))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


_CAMEL = {f.name: _camel(f.name) for f in dataclasses.fields(TrainConfig) if f.name != "extra"}
_SNAKE = {v: k for k, v in _CAMEL.items()}
_TUPLES = {"hidden", "split_fractions", "snr_db", "gain", "offset", "profiles", "band_tags"}
_FLOATS = {
    "learning_rate",
    "qat_learning_rate",
    "augment_probability",
    "target_false_alarm",
    "range_momentum",
    "freeze_ranges_after",
    "weight_decay",
    "range_learning_rate",
}
_STRS = {"family", "name", "normal_label", "qat_ranges"}


def _coerce(name: str, key: str, value: Any) -> Any:
    try:
        if name == "snr_db" and isinstance(value, list | tuple) and not value:
            return None  # snrDb = [] : augment without recorded noise
        if name in _TUPLES:
            if not isinstance(value, list | tuple):
                raise TypeError
            items = tuple(value)
            if name in ("profiles", "band_tags"):
                if not all(isinstance(i, str) for i in items):
                    raise TypeError
                return items
            if name == "hidden":
                if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
                    raise TypeError
                return items
            if not all(isinstance(i, int | float) and not isinstance(i, bool) for i in items):
                raise TypeError
            return tuple(float(i) for i in items)
        if name in _FLOATS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError
            return float(value)
        if name in _STRS:
            if not isinstance(value, str):
                raise TypeError
            return value
        if name in ("augment", "learn_input_range"):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    except TypeError:
        default = getattr(TrainConfig(), name)
        kind = type(default).__name__ if default is not None else "number"
        raise ConfigError(
            f"train.{key} = {value!r}: wrong type; expected {kind} like {default!r}"
        ) from None


def _positive_ints(**groups: tuple[int, ...]) -> None:
    for key, values in groups.items():
        if not values or any(v < 1 for v in values):
            raise ConfigError(f"train.{key} = {list(values)}: give whole numbers ≥ 1")
