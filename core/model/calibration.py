"""Calibration data: stratified draws across tags, onnxruntime readers, real entropy ranges.

A labelled evaluation set (``EvalSet``) is what calibration, validation and the report share:
int16 feature windows shaped like the model input (without the batch dimension), the float
``input_scale`` that turns them into model inputs (``x = f32(feature) * f32(input_scale)``, see
the INT8 conventions), optional integer labels, and one tag mapping per row.
"""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.atomic import atomic_open
from core.errors import Cancelled, FieldbenchError, InputFileError

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
Tags = Mapping[str, str]


class CalibrationError(FieldbenchError):
    """Calibration cannot run with the data or options given."""


class CalibrationMethod(enum.StrEnum):
    MINMAX = "minmax"
    PERCENTILE = "percentile"
    ENTROPY = "entropy"

    @classmethod
    def parse(cls, value: str | CalibrationMethod) -> CalibrationMethod:
        try:
            return cls(str(value).lower())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise CalibrationError(
                f"calibration method {value!r} is unknown; choose one of {allowed}"
            ) from None


@dataclass
class EvalSet:
    """Feature windows + labels + tags: the data calibration and validation draw from.

    ``features``: int16 ``[n, *sample_shape]``; ``labels``: int ``[n]`` (classifier: class index;
    anomaly: 0 normal, 1 anomaly) or None; ``tags``: one ``{name: value}`` per row.
    """

    features: npt.NDArray[np.int16]
    input_scale: float
    labels: npt.NDArray[np.int64] | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = int(self.features.shape[0])
        if self.features.dtype != np.int16:
            raise InputFileError(f"features are {self.features.dtype}; expected int16 frames")
        if not np.isfinite(self.input_scale) or self.input_scale <= 0:
            raise InputFileError(f"input_scale = {self.input_scale}: must be a positive number")
        if not self.tags:
            self.tags = [{} for _ in range(n)]
        if len(self.tags) != n:
            raise InputFileError(f"{len(self.tags)} tag rows for {n} feature windows")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if self.labels.shape != (n,):
                raise InputFileError(f"labels have shape {self.labels.shape}; expected ({n},)")

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def inputs(self, rows: npt.ArrayLike | None = None) -> npt.NDArray[np.float32]:
        """Float model inputs ``[n, 1, *sample_shape]`` (batch dimension of 1 per row)."""
        f = self.features if rows is None else self.features[np.asarray(rows)]
        x = f.astype(np.float32) * np.float32(self.input_scale)
        return x[:, None]

    def subset(self, rows: npt.ArrayLike) -> EvalSet:
        idx = np.asarray(rows, dtype=np.int64)
        return EvalSet(
            self.features[idx],
            self.input_scale,
            None if self.labels is None else self.labels[idx],
            [self.tags[int(i)] for i in idx],
            list(self.class_names),
        )

    def tag_keys(self) -> list[str]:
        keys: set[str] = set()
        for t in self.tags:
            keys.update(t)
        return sorted(keys)

    def save(self, path: str | Path) -> None:
        """An ``.npz`` with ``features``, ``input_scale``, ``labels``, ``tags`` (JSON)."""
        arrays: dict[str, Any] = {
            "features": self.features,
            "input_scale": np.float64(self.input_scale),
            "tags_json": np.array(json.dumps(self.tags)),
            "class_names_json": np.array(json.dumps(self.class_names)),
        }
        if self.labels is not None:
            arrays["labels"] = self.labels
        with atomic_open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> EvalSet:
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                feats = np.asarray(z["features"])
                scale = float(z["input_scale"])
                labels = np.asarray(z["labels"]) if "labels" in z else None
                tags = json.loads(str(z["tags_json"])) if "tags_json" in z else []
                names = json.loads(str(z["class_names_json"])) if "class_names_json" in z else []
        except (OSError, ValueError, KeyError) as exc:
            raise InputFileError(
                f"{p}: not an evaluation set (.npz with features, input_scale, labels, "
                f"tags_json): {exc}"
            ) from None
        return cls(feats.astype(np.int16, copy=False), scale, labels, tags, names)


def strata_of(tags: Sequence[Tags], keys: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """The stratum of every row: its values for ``keys`` (missing tags read as "-")."""
    use = sorted({k for t in tags for k in t}) if keys is None else list(keys)
    return [tuple(str(t.get(k, "-")) for k in use) for t in tags]


def stratified_indices(
    tags: Sequence[Tags],
    n: int,
    seed: int = 0,
    keys: Sequence[str] | None = None,
    labels: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """Draw ``n`` rows spread evenly across the strata (tag combinations, and labels if given).

    Every stratum first gets an equal share (capped at its size); what is left over goes to the
    strata that still have rows, round-robin, so small strata are fully represented and large
    ones are not over-drawn. Deterministic for a given seed. Returns sorted row indices.
    """
    total = len(tags)
    if n <= 0:
        raise CalibrationError(f"calibration size {n}: must be at least 1")
    if n >= total:
        return np.arange(total, dtype=np.int64)
    keyed = strata_of(tags, keys)
    if labels is not None:
        lab = np.asarray(labels).tolist()
        keyed = [(*k, f"label={v}") for k, v in zip(keyed, lab, strict=True)]
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, k in enumerate(keyed):
        groups[k].append(i)
    rng = np.random.default_rng(seed)
    order = {k: rng.permutation(np.asarray(v, dtype=np.int64)) for k, v in sorted(groups.items())}
    taken = dict.fromkeys(order, 0)
    remaining = n
    while remaining > 0:
        open_keys = [k for k in order if taken[k] < order[k].size]
        share = max(1, remaining // len(open_keys))
        for k in open_keys:
            if remaining == 0:
                break
            add = min(share, order[k].size - taken[k], remaining)
            taken[k] += add
            remaining -= add
    picked = np.concatenate([order[k][: taken[k]] for k in order])
    return np.sort(picked)


class ArrayReader:
    """A one-shot ``CalibrationDataReader`` over ``[n, 1, ...]`` float inputs."""

    def __init__(
        self,
        input_name: str,
        x: npt.NDArray[np.float32],
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> None:
        self._name = input_name
        self._x = x
        self._i = 0
        self._progress = progress
        self._cancel = cancel

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        if self._i >= self._x.shape[0]:
            return None
        if self._cancel is not None and self._i % 32 == 0 and self._cancel():
            raise Cancelled("calibration cancelled")
        if self._progress is not None and self._i % 32 == 0:
            self._progress(self._i / self._x.shape[0])
        item = {self._name: self._x[self._i]}
        self._i += 1
        return item

    def __len__(self) -> int:
        return int(self._x.shape[0])

    def set_range(self, start_index: int, end_index: int) -> None:
        self._x = self._x[start_index:end_index]
        self._i = 0


def make_reader(
    input_name: str,
    x: npt.NDArray[np.float32],
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Any:
    """An ``ArrayReader`` registered as an onnxruntime ``CalibrationDataReader``."""
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(ArrayReader, CalibrationDataReader):  # type: ignore[misc]
        pass

    return _Reader(input_name, x, progress, cancel)


def entropy_ranges(
    model_path: str | Path,
    input_name: str,
    x: npt.NDArray[np.float32],
    cache_path: str | Path,
    work_dir: str | Path,
    num_bins: int = 2048,
    num_quantized_bins: int = 128,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Path:
    """Real entropy (KL) calibration, saved as a ``calibration_cache_path`` JSON (ref §3.3).

    ``quantize_static`` alone calls the entropy calibrator with 128 bins and 128 quantized bins,
    which leaves one candidate threshold (= MinMax); here the histogram has ``num_bins``.
    """
    from onnxruntime.quantization import CalibrationMethod as OrtMethod
    from onnxruntime.quantization import create_calibrator, save_tensors_data

    augmented = Path(work_dir) / "entropy_augmented.onnx"
    calibrator = create_calibrator(
        str(model_path),
        None,
        augmented_model_path=str(augmented),
        calibrate_method=OrtMethod.Entropy,
        extra_options={"num_bins": num_bins, "num_quantized_bins": num_quantized_bins},
    )
    calibrator.collect_data(make_reader(input_name, x, progress, cancel))
    data = calibrator.compute_data()
    out = Path(cache_path)
    save_tensors_data(data, str(out))
    return out
