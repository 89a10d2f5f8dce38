"""Long jobs the GUI runs in a ``Worker``: plain functions with ``progress``/``cancel``, no Qt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.dsp import PreprocessingConfig, compile_plan, extract_features
from core.dsp.fixed import CancelFn, ProgressFn
from core.errors import InputFileError
from gui.live_stream import RecordingSource


@dataclass(frozen=True)
class FeatureResult:
    """Feature frames computed for one recording."""

    source: Path
    frames: npt.NDArray[np.int16]  # (frames, frame_length)
    config: PreprocessingConfig


def recording_features(
    path: Path,
    config: PreprocessingConfig,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> FeatureResult:
    """Load ``path`` for ``config`` and extract every frame (docs/dsp.md §3)."""
    source = RecordingSource.load(path, config, loop=False)
    frames = extract_features(source.samples, compile_plan(config), progress, cancel)
    if frames.shape[0] == 0:
        raise InputFileError(f"{path.name}: no complete frame; nothing computed")
    return FeatureResult(Path(path), frames, config)
