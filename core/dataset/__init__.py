"""The dataset: recordings with tags, a coverage matrix, splits, augmentation and interchange.

Public API (see docs/dataset.md)::

    from core.dataset import Dataset, CaptureQuality
    with Dataset.open(workspace_root) as ds:
        session = ds.new_session()
        with ds.start_recording(label="normal", tags={"temperature": "hot"}, sample_rate=1600,
                                channel_names=("x", "y", "z"), units="g",
                                fixed_point_scale=8000, session=session) as w:
            w.append(block)            # int16 (n, 3)
            w.finish(CaptureQuality(frames_received=...))
"""

from core.dataset.quality import CaptureQuality
from core.dataset.schema import DatasetConfig, TagError, TagSpec
from core.dataset.store import Dataset, DatasetError, RecordingInfo, RecordingWriter, Segment

__all__ = [
    "CaptureQuality",
    "Dataset",
    "DatasetConfig",
    "DatasetError",
    "RecordingInfo",
    "RecordingWriter",
    "Segment",
    "TagError",
    "TagSpec",
]
