"""The Qt-free live stream: real-time pacing and fixed vs float per tick."""

import numpy as np
import pytest

from core.dsp import BandsConfig, PreprocessingConfig, extract_features, reference_features
from core.signals import SignalGenerator
from gui.live_stream import (
    MAX_TICK_SECONDS,
    LiveFeatureStream,
    RealTimePacer,
    RecordingSource,
    quantize_counts,
)

pytestmark = pytest.mark.gui

CONFIG = PreprocessingConfig(
    sampleRate=1600.0,
    channels=2,
    windowSize=128,
    hopLength=48,
    fixedPointScale=1.0,
    bands=BandsConfig(scale="linear", count=8),
    stats=("rms", "peak"),
)


def test_streaming_in_uneven_ticks_gives_the_batch_frames_and_their_float_reference() -> None:
    samples = quantize_counts(SignalGenerator("fan", 1600.0, 2, frequency=37.0).next(4000))
    stream = LiveFeatureStream(CONFIG)
    rng = np.random.default_rng(3)
    frames, compared = [], []
    pos = 0
    while pos < samples.shape[0]:
        n = int(rng.integers(1, 300))
        update = stream.push(samples[pos : pos + n])
        pos += n
        frames.append(update.frames)
        if update.frames.shape[0]:
            compared.append((sum(f.shape[0] for f in frames) - 1, update.reference))
    batch = extract_features(samples, CONFIG)
    reference = reference_features(samples, CONFIG)
    assert np.array_equal(np.concatenate(frames), batch)
    assert compared
    for index, ref in compared:
        np.testing.assert_allclose(ref, reference[index])
    assert stream.snr_db is not None and stream.snr_db > 20.0


def test_pacer_releases_the_samples_due_and_carries_fractions() -> None:
    now = [0.0]
    pacer = RealTimePacer(1600.0, lambda: now[0])
    pacer.restart()
    total = 0
    for _ in range(30):
        now[0] += 1 / 30
        total += pacer.due()
    assert abs(total - 1600) <= 1


def test_pacer_drops_time_beyond_the_per_tick_cap() -> None:
    now = [0.0]
    pacer = RealTimePacer(1000.0, lambda: now[0])
    pacer.restart()
    now[0] += 10.0
    assert pacer.due() == int(MAX_TICK_SECONDS * 1000)


def test_recording_source_loops_or_stops_at_the_end() -> None:
    samples = np.arange(10, dtype=np.int16).reshape(-1, 1)
    looping = RecordingSource(samples, 10.0, "ten", loop=True)
    assert looping.read(7)[:, 0].tolist() == list(range(7))
    assert looping.read(7)[:, 0].tolist() == [7, 8, 9, 0, 1, 2, 3]
    once = RecordingSource(samples, 10.0, "ten", loop=False)
    assert once.read(7).shape[0] == 7
    assert once.read(7).shape[0] == 3
    assert once.exhausted
