"""The fixed-point feature front-end (spec: docs/dsp.md)."""

from core.dsp.config import BandsConfig, FilterConfig, PreprocessingConfig
from core.dsp.fixed import extract_features, extract_segments, frame_count, quantize
from core.dsp.plan import FeaturePlan, compile_plan
from core.dsp.reference import feature_snr_db, log_band_error_db, reference_features
from core.dsp.stream import RingBuffer, StreamingExtractor

__all__ = [
    "BandsConfig",
    "FeaturePlan",
    "FilterConfig",
    "PreprocessingConfig",
    "RingBuffer",
    "StreamingExtractor",
    "compile_plan",
    "extract_features",
    "extract_segments",
    "feature_snr_db",
    "frame_count",
    "log_band_error_db",
    "quantize",
    "reference_features",
]
