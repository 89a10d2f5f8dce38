"""Evaluation sets from a workspace's dataset store: features, tags and labels per window.

The quantization report, the calibration draw and the sample models read the same thing: the
recordings of one part of a saved split (``core.dataset.splits``), passed through the workspace's
fixed-point front-end (``core.dsp`` with its ``[features]``), cut into model windows, each row
carrying its recording's tags (the schema's temperature / orientation / noise / age plus user
tags) and label from the catalog.

* A model input ``[1, D]`` takes one feature frame per row (``D`` = the frame length).
* A model input ``[1, F, 1, T]`` takes ``T`` consecutive frames of one recording, feature-major
  (``frames.T[:, None, :]``), every ``hop`` frames (default ``T``: no overlap).
* Labels: a recording's label, or for a segmented recording the label of the segment that holds
  a whole window. Noise-profile recordings (``[dataset] noiseLabel``) and unlabelled windows are
  left out. ``task="anomaly"`` maps the normal label to 0 and every other label to 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.dataset.store import Dataset, RecordingInfo
from core.dsp.config import PreprocessingConfig
from core.dsp.fixed import extract_segments, segments_view
from core.dsp.plan import FeaturePlan, compile_plan
from core.errors import Cancelled, FieldbenchError
from core.model.calibration import EvalSet
from core.workspace import Workspace

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]

DEFAULT_INPUT_SCALE = 1.0 / 256.0  # Q8 log2 band energies → log2 units
PARTS = ("train", "val", "test")


class DatasetEvalError(FieldbenchError):
    """The workspace's dataset cannot give the evaluation set asked for."""


@dataclass(frozen=True)
class WindowLayout:
    """How feature frames become one model input row."""

    frames: int  # consecutive frames per row
    conv: bool  # True: ``[F, 1, T]`` (feature-major); False: ``[D]``

    @classmethod
    def for_shape(cls, sample_shape: Sequence[int], frame_length: int) -> WindowLayout:
        """The layout of a model's input shape without its batch dimension."""
        shape = tuple(int(s) for s in sample_shape)
        if len(shape) == 1 and shape[0] == frame_length:
            return cls(1, False)
        if len(shape) == 3 and shape[0] == frame_length and shape[1] == 1 and shape[2] >= 1:
            return cls(shape[2], True)
        raise DatasetEvalError(
            f"the model takes inputs of shape {list(shape)}, but the workspace's [features] "
            f"make frames of {frame_length} values; a model for these features takes "
            f"[{frame_length}] (one frame) or [{frame_length}, 1, T] (T frames). Change "
            "[features] or pick the model made for them"
        )

    def rows(self, frames: npt.NDArray[np.int16], hop: int | None = None) -> npt.NDArray[np.int16]:
        """``(rows, *sample_shape)`` windows of one recording's ``(n, D)`` frames."""
        if not self.conv:
            return frames
        step = hop or self.frames
        starts = range(0, frames.shape[0] - self.frames + 1, step)
        if not starts:
            return np.zeros((0, frames.shape[1], 1, self.frames), dtype=np.int16)
        return np.stack([frames[s : s + self.frames].T[:, None, :] for s in starts])

    def row_spans(self, n_frames: int, hop: int | None = None) -> list[tuple[int, int]]:
        """``(first frame, frames)`` of every row, in the order of ``rows``."""
        if not self.conv:
            return [(i, 1) for i in range(n_frames)]
        step = hop or self.frames
        return [(s, self.frames) for s in range(0, n_frames - self.frames + 1, step)]


def split_recordings(ds: Dataset, split: str | None, part: str | Sequence[str]) -> list[int]:
    """Recording ids of ``part`` (one or several of train/val/test) of a saved split.

    ``split=None``: every complete or interrupted recording (``part`` is ignored).
    """
    if split is None:
        return [int(i) for i in ds.filter_ids()]
    from core.dataset.splits import load_split

    parts = (part,) if isinstance(part, str) else tuple(part)
    for p in parts:
        if p not in PARTS:
            raise DatasetEvalError(f"split part {p!r} is unknown; choose one of {', '.join(PARTS)}")
    saved = load_split(ds, split)
    ids = sorted({int(r) for p in parts for r in saved.parts.get(p, np.zeros(0, np.int64))})
    if not ids:
        raise DatasetEvalError(
            f"split {split!r} has no recordings in {'/'.join(parts)}; make the split again with "
            "more recordings or other fractions (fieldbench dataset split)"
        )
    return ids


def _window_label(info: RecordingInfo, start: int, stop: int) -> str | None:
    """The label of samples ``[start, stop)``: the recording's, or the segment holding them."""
    if info.segments:
        for seg in info.segments:
            if seg.start <= start and stop <= seg.stop:
                return seg.label
        return None
    return info.label


def recording_windows(
    ds: Dataset,
    info: RecordingInfo,
    plan: FeaturePlan,
    layout: WindowLayout,
    hop: int | None = None,
) -> tuple[npt.NDArray[np.int16], list[str | None]]:
    """One recording's model rows and each row's label (None: unlabelled)."""
    cfg = plan.config
    if abs(info.sample_rate - cfg.sampleRate) > 1e-6 * cfg.sampleRate:
        raise DatasetEvalError(
            f"recording {info.id}: {info.sample_rate:g} Hz but [features] sampleRate is "
            f"{cfg.sampleRate:g} Hz; resample it or use a feature config for that rate"
        )
    if info.channels != cfg.channels:
        raise DatasetEvalError(
            f"recording {info.id}: {info.channels} channel(s) but [features] channels is "
            f"{cfg.channels}"
        )
    samples = np.asarray(ds.load(info.id))
    if info.fixed_point_scale != cfg.fixedPointScale:
        # Same physical units, other counts per unit: rescale as the device's capture would.
        ratio = cfg.fixedPointScale / info.fixed_point_scale
        samples = np.clip(np.rint(samples.astype(np.float64) * ratio), -32768, 32767).astype(
            np.int16
        )
    segs = segments_view(samples, cfg)
    frames = extract_segments(np.ascontiguousarray(segs), plan) if segs.shape[0] else None
    if frames is None:
        return np.zeros((0, *_shape(cfg, layout)), dtype=np.int16), []
    rows = layout.rows(frames, hop)
    labels = []
    for first, count in layout.row_spans(frames.shape[0], hop):
        start = first * cfg.hop
        stop = (first + count - 1) * cfg.hop + cfg.segment_length
        labels.append(_window_label(info, start, stop))
    return rows, labels


def _shape(cfg: PreprocessingConfig, layout: WindowLayout) -> tuple[int, ...]:
    return (cfg.frame_length, 1, layout.frames) if layout.conv else (cfg.frame_length,)


def dataset_eval_set(
    workspace: Workspace | str | Path,
    *,
    split: str | None = None,
    part: str | Sequence[str] = "val",
    sample_shape: Sequence[int] | None = None,
    features: PreprocessingConfig | None = None,
    task: str = "classifier",
    class_names: Sequence[str] | None = None,
    normal_label: str = "normal",
    input_scale: float = DEFAULT_INPUT_SCALE,
    hop: int | None = None,
    recording_ids: Sequence[int] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> EvalSet:
    """An ``EvalSet`` from the recordings of ``part`` of the saved ``split`` (see module doc).

    ``sample_shape``: the model input without the batch dimension (default: one frame).
    ``features``: default the workspace's ``[features]``. ``class_names`` (classifier): default
    ``[dataset] labels``, else the labels found, sorted. ``recording_ids`` overrides the split.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    cfg = features or ws.features
    plan = compile_plan(cfg)
    layout = WindowLayout.for_shape(sample_shape or (cfg.frame_length,), cfg.frame_length)
    if task not in ("classifier", "anomaly"):
        raise DatasetEvalError(f"task {task!r} is unknown; choose classifier or anomaly")
    with Dataset.open(ws.path, ws.dataset) as ds:
        ids = (
            [int(i) for i in recording_ids]
            if recording_ids is not None
            else split_recordings(ds, split, part)
        )
        noise = ds.config.noise_label
        rows: list[npt.NDArray[np.int16]] = []
        labels: list[str] = []
        tags: list[dict[str, str]] = []
        for k, rid in enumerate(ids):
            if cancel is not None and cancel():
                raise Cancelled("building the evaluation set cancelled")
            info = ds.get(rid)
            if info.label == noise and not info.segments:
                continue
            x, labs = recording_windows(ds, info, plan, layout, hop)
            keep = [i for i, lab in enumerate(labs) if lab is not None and lab != noise]
            if keep:
                rows.append(x[keep])
                labels += [str(labs[i]) for i in keep]
                tags += [dict(info.tags) for _ in keep]
            if progress is not None:
                progress((k + 1) / len(ids))
        allowed = ds.config.labels
    if not rows:
        where = f"split {split!r} part {part}" if split is not None else "the dataset"
        raise DatasetEvalError(
            f"{where} gives no labelled windows for these [features] "
            f"(segment length {cfg.segment_length} samples); record more or check the labels"
        )
    feats = np.concatenate(rows).astype(np.int16, copy=False)
    if task == "anomaly":
        names = [normal_label, "anomaly"]
        others = [lab for lab in allowed if lab not in (normal_label, noise)]
        anomalous = others or sorted({lab for lab in labels if lab != normal_label})
        if len(anomalous) == 1:
            names[1] = anomalous[0]
        y = np.asarray([0 if lab == normal_label else 1 for lab in labels], dtype=np.int64)
    else:
        names = list(class_names or allowed or sorted(set(labels)))
        unknown = sorted(set(labels) - set(names))
        if unknown:
            raise DatasetEvalError(
                f"labels {', '.join(unknown)} are not among the classes {', '.join(names)}; "
                "pass the model's class names or relabel the recordings"
            )
        index = {n: i for i, n in enumerate(names)}
        y = np.asarray([index[lab] for lab in labels], dtype=np.int64)
    return EvalSet(feats, input_scale, y, tags, names)


@dataclass(frozen=True)
class WorkspaceSets:
    """Calibration rows (the split's train part) and validation rows (another part)."""

    calibration: EvalSet
    validation: EvalSet
    features: PreprocessingConfig


def workspace_sets(
    workspace: Workspace | str | Path,
    split: str,
    *,
    sample_shape: Sequence[int] | None = None,
    part: str = "val",
    calibration_part: str = "train",
    task: str = "classifier",
    class_names: Sequence[str] | None = None,
    features: PreprocessingConfig | None = None,
    input_scale: float = DEFAULT_INPUT_SCALE,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> WorkspaceSets:
    """Both sets of a saved split: calibrate on ``calibration_part``, validate on ``part``.

    The calibration draw itself (``quantize_model``) is stratified across the rows' tags and
    labels, so every tag combination of the training part is represented.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    cfg = features or ws.features

    def sub(lo: float, hi: float) -> ProgressFn | None:
        if progress is None:
            return None
        return lambda f: progress(lo + (hi - lo) * f)

    def part_set(which: str, lo: float, hi: float) -> EvalSet:
        return dataset_eval_set(
            ws,
            split=split,
            part=which,
            sample_shape=sample_shape,
            features=cfg,
            task=task,
            class_names=class_names,
            input_scale=input_scale,
            progress=sub(lo, hi),
            cancel=cancel,
        )

    calibration = part_set(calibration_part, 0.0, 0.5)
    validation = part_set(part, 0.5, 1.0)
    return WorkspaceSets(calibration, validation, cfg)
