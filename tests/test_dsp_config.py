"""Config validation: every rule gives one sentence naming the key and what is allowed."""

from __future__ import annotations

import pytest

from core.dsp import PreprocessingConfig, compile_plan
from core.errors import ConfigError

BASE = {"sampleRate": 16000.0, "windowSize": 512}


def make(**changes):
    return PreprocessingConfig.from_mapping({**BASE, **changes})


def test_defaults_resolve_to_the_spec_values() -> None:
    cfg = make()
    assert (cfg.hop, cfg.fft_size, cfg.warmup, cfg.buffer_size) == (256, 512, 0, 512)
    assert cfg.frame_length == 40


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bufferSize": 300}, "bufferSize = 300"),
        ({"hopLength": 600}, "hopLength = 600"),
        ({"fftSize": 500}, "fftSize = 500: must be a power of two"),
        ({"fftSize": 256}, "must be at least windowSize"),
        ({"fixedPointScale": 1000.0, "inputRange": 40.0}, "overflows int16"),
        ({"window": "hamming"}, "window = 'hamming': must be one of 'hann', 'rectangular'"),
        ({"channels": 9}, "channels = 9"),
        ({"sampleRate": float("nan")}, "sampleRate"),
        ({"filter": {"type": "notch"}}, "filter.type = 'notch'"),
        ({"filter": {"type": "lowpass", "cutoffHz": 9000.0}}, "filter.cutoffHz"),
        ({"bands": {"count": 65}}, "bands.count = 65"),
        ({"bands": {"fMin": 9000.0}}, "bands.fMin/fMax"),
        ({"stats": ["rms", "kurtosis"]}, "stats = 'kurtosis'"),
        ({"bands": {"scale": "none"}}, "produces no features"),
        ({"windowSize": "512"}, "windowSize = '512': must be a whole number"),
        ({"colour": 3}, "features.colour: unknown key"),
        ({"bands": {"colour": 3}}, "features.bands.colour: unknown key"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        make(**changes)
    assert message in str(info.value)


def test_a_band_without_fft_bins_is_refused_at_plan_time() -> None:
    cfg = make(windowSize=16, fftSize=16, bands={"scale": "mel", "count": 40})
    with pytest.raises(ConfigError, match="without FFT bins"):
        compile_plan(cfg)


def test_an_unstable_q14_coefficient_is_refused() -> None:
    cfg = make(filter={"type": "lowpass", "cutoffHz": 7999.99, "q": 100.0})
    with pytest.raises(ConfigError, match=r"outside \[-2, 2\)"):
        compile_plan(cfg)


def test_round_trip_through_a_mapping_keeps_the_config() -> None:
    cfg = make(filter={"type": "highpass", "cutoffHz": 20.0}, stats=["rms", "crest"])
    assert PreprocessingConfig.from_mapping(cfg.to_mapping()) == cfg


def test_missing_required_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"features\.windowSize: missing"):
        PreprocessingConfig.from_mapping({"sampleRate": 100.0})
